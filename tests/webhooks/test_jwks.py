"""JWKS fetching and caching over real sockets: one fetch, refetch on rotation, cooldown, failures."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fal_typed import webhooks as wh

from .helpers import JWKSHost, jwks_of, make_delivery


class _Source:
    """A Client stand-in exposing httpx clients whose requests we can count."""

    def __init__(self, rest_url: str) -> None:
        self.rest_url = rest_url
        self.seen: list[str] = []
        self.http = httpx.Client(event_hooks={"request": [self._record]})
        self.async_http = httpx.AsyncClient(event_hooks={"request": [self._arecord]})

    def _record(self, request: httpx.Request) -> None:
        self.seen.append(str(request.url))

    async def _arecord(self, request: httpx.Request) -> None:
        self.seen.append(str(request.url))


def test_keys_are_fetched_once_and_reused(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url)
    for n in range(20):
        body, headers = make_delivery(signing_key, request_id=f"r{n}")
        assert verifier.verify(body, headers).request_id == f"r{n}"
    assert jwks_host.hits == 1
    assert verifier.cache is not None and verifier.cache.fetch_count == 1


def test_expired_cache_is_refetched(jwks_host: JWKSHost, signing_key: Ed25519PrivateKey) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url, cache_ttl=0)
    body, headers = make_delivery(signing_key)
    verifier.verify(body, headers)
    verifier.verify(body, headers)
    assert jwks_host.hits == 2


def test_redirects_are_followed(jwks_host: JWKSHost, signing_key: Ed25519PrivateKey) -> None:
    moved = jwks_host.url.replace("/.well-known/", "/old/")
    assert wh.WebhookVerifier(moved).verify(*make_delivery(signing_key))
    assert jwks_host.hits == 1


def test_cache_ttl_is_capped_at_24_hours(jwks_host: JWKSHost) -> None:
    assert wh.MAX_CACHE_TTL == 86400
    wh.WebhookVerifier(jwks_host.url, cache_ttl=86400)
    with pytest.raises(ValueError, match="24 h"):
        wh.WebhookVerifier(jwks_host.url, cache_ttl=86401)
    with pytest.raises(ValueError, match="http"):
        wh.WebhookVerifier("file:///etc/jwks.json")


def test_rotated_key_triggers_one_refetch(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url, refresh_cooldown=0)
    body, headers = make_delivery(signing_key)
    verifier.verify(body, headers)
    rotated = Ed25519PrivateKey.generate()
    jwks_host.document = jwks_of(rotated)
    body, headers = make_delivery(rotated)
    assert verifier.verify(body, headers)
    assert jwks_host.hits == 2
    verifier.verify(body, headers)  # the new keys are cached now
    assert jwks_host.hits == 2


def test_unknown_signature_refetches_once_then_fails(jwks_host: JWKSHost) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url, refresh_cooldown=0)
    body, headers = make_delivery(Ed25519PrivateKey.generate())
    with pytest.raises(wh.InvalidSignatureError):
        verifier.verify(body, headers)
    assert jwks_host.hits == 2  # first fetch + exactly one refetch


def test_refetch_cooldown_stops_a_forgery_flood(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url)  # default cooldown: 30 s
    verifier.verify(*make_delivery(signing_key))
    forged = make_delivery(Ed25519PrivateKey.generate())
    for _ in range(50):
        with pytest.raises(wh.InvalidSignatureError):
            verifier.verify(*forged)
    assert jwks_host.hits == 1


def test_concurrent_threads_share_one_fetch(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url)
    body, headers = make_delivery(signing_key)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        try:
            verifier.verify(body, headers)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and jwks_host.hits == 1


async def test_async_fetch_caches_and_shares_one_fetch(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url)
    deliveries = [make_delivery(signing_key, request_id=f"r{n}") for n in range(10)]
    signed = await asyncio.gather(*(verifier.verify_async(b, h) for b, h in deliveries))
    assert [s.request_id for s in signed] == [f"r{n}" for n in range(10)]
    assert jwks_host.hits == 1


async def test_async_rotation_and_failure(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url, refresh_cooldown=0)
    await verifier.verify_async(*make_delivery(signing_key))
    rotated = Ed25519PrivateKey.generate()
    jwks_host.document = jwks_of(signing_key, rotated)
    assert await verifier.verify_async(*make_delivery(rotated))
    with pytest.raises(wh.InvalidSignatureError):
        await verifier.verify_async(*make_delivery(Ed25519PrivateKey.generate()))
    assert jwks_host.hits == 3


def test_verifier_works_across_event_loops(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url, cache_ttl=0)
    for _ in range(2):
        assert asyncio.run(verifier.verify_async(*make_delivery(signing_key)))
    assert jwks_host.hits == 2


def test_jwks_url_defaults_to_the_clients_rest_host(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    rest = jwks_host.url.removesuffix("/.well-known/jwks.json")
    source = _Source(rest + "/")
    verifier = wh.WebhookVerifier(client=source)
    assert verifier.jwks_url == jwks_host.url
    verifier.verify(*make_delivery(signing_key))
    assert source.seen == [jwks_host.url]  # fetched through the client's own httpx client
    source.http.close()


async def test_async_fetch_goes_through_the_clients_async_http(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    source = _Source(jwks_host.url.removesuffix("/.well-known/jwks.json"))
    verifier = wh.WebhookVerifier(client=source)
    await verifier.verify_async(*make_delivery(signing_key))
    assert source.seen == [jwks_host.url]
    await source.async_http.aclose()
    source.http.close()


@pytest.mark.parametrize(
    ("status", "raw", "message"),
    [
        (500, b'{"detail":"boom"}', "HTTP 500"),
        (404, b"not found", "HTTP 404"),
        (200, b"<html>", "unusable"),
        (200, b'{"keys": []}', "no Ed25519"),
        (200, b'{"keys": [{"kty": "OKP", "crv": "X25519", "x": "AAAA"}]}', "no Ed25519"),
        (200, b"[1, 2]", "not a JSON object"),
    ],
)
def test_bad_jwks_responses_raise_jwks_fetch_error(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey, status: int, raw: bytes, message: str
) -> None:
    jwks_host.status, jwks_host.raw = status, raw
    verifier = wh.WebhookVerifier(jwks_host.url)
    with pytest.raises(wh.JWKSFetchError, match=message) as caught:
        verifier.verify(*make_delivery(signing_key))
    assert caught.value.url == jwks_host.url


async def test_unreachable_jwks_is_a_transient_error(signing_key: Ed25519PrivateKey) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = wh.WebhookVerifier(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=2)
    with pytest.raises(wh.JWKSFetchError, match="ConnectError"):
        verifier.verify(*make_delivery(signing_key))
    with pytest.raises(wh.JWKSFetchError, match="ConnectError"):
        await verifier.verify_async(*make_delivery(signing_key))


def test_header_checks_run_before_any_fetch(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url)
    body, headers = make_delivery(signing_key, timestamp=int(time.time()) - 10_000)
    with pytest.raises(wh.StaleTimestampError):
        verifier.verify(body, headers)
    with pytest.raises(wh.MissingHeadersError):
        verifier.verify(body, {})
    assert jwks_host.hits == 0


def test_module_level_verify_shares_a_cache_per_url(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    url = f"{jwks_host.url}?test={uuid.uuid4().hex}"  # a URL no other test has cached
    for n in range(3):
        wh.verify(*make_delivery(signing_key, request_id=f"r{n}"), jwks=url)
    assert jwks_host.hits == 1
