"""JWKS fetching and caching over real sockets: reuse, rotation, cooldown, caching headers, failures."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import threading
import time
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fal_typed import webhooks as wh
from fal_typed.webhooks._jwks import freshness_lifetime

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


def _forgery_flood(verifier: wh.WebhookVerifier, count: int = 50) -> None:
    forged = make_delivery(Ed25519PrivateKey.generate())
    for _ in range(count):
        with pytest.raises(wh.InvalidSignatureError):
            verifier.verify(*forged)


def test_refetch_cooldown_stops_a_forgery_flood(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    verifier = wh.WebhookVerifier(jwks_host.url)  # default cooldown: 30 s
    verifier.verify(*make_delivery(signing_key))
    _forgery_flood(verifier)
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


# Caching headers of the JWKS response. A fake monotonic clock moves time; HTTP stays real.

DAY = 86400.0


class _Clock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _clocked(verifier: wh.WebhookVerifier) -> _Clock:
    clock = _Clock()
    assert verifier.cache is not None
    verifier.cache.clock = clock
    return clock


def _lifetime(verifier: wh.WebhookVerifier) -> float:
    assert verifier.cache is not None
    keys = verifier.cache.cached()
    assert keys is not None
    return keys.lifetime


def _check_keys_reused_until(
    verifier: wh.WebhookVerifier,
    jwks_host: JWKSHost,
    signing_key: Ed25519PrivateKey,
    before: float,
    after: float,
) -> None:
    """The keys fetched for a first delivery are reused ``before`` seconds later and refetched
    ``after`` seconds later."""
    clock = _clocked(verifier)
    verifier.verify(*make_delivery(signing_key))
    clock.advance(before)
    verifier.verify(*make_delivery(signing_key))
    assert jwks_host.hits == 1
    clock.advance(after - before)
    verifier.verify(*make_delivery(signing_key))
    assert jwks_host.hits == 2


HTTP_DATE = "Wed, 21 Oct 2026 07:28:00 GMT"
LATER = "Wed, 21 Oct 2026 07:38:00 GMT"  # HTTP_DATE + 600 s


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Cache-Control": "max-age=60"}, 60),
        ({"cache-control": "public, max-age=600, must-revalidate"}, 600),
        ({"Cache-Control": "S-MaxAge=30"}, 30),
        ({"Cache-Control": "max-age=600, s-maxage=30"}, 30),
        ({"Cache-Control": "max-age=600, max-age=90"}, 90),
        ({"Cache-Control": 'max-age="120"'}, 120),
        ({"Cache-Control": "max-age=99999999999999999999999"}, 2**31),  # RFC 9111's ceiling
        # neither int()'s 4300-digit limit nor an OverflowError from float()
        ({"Cache-Control": "max-age=" + "9" * 5000}, 2**31),
        ({"Cache-Control": "no-store"}, 0),
        ({"Cache-Control": "private, no-cache"}, 0),
        ({"Cache-Control": 'no-cache="Set-Cookie"'}, 0),
        ({"Cache-Control": "max-age=600, no-store"}, 0),
        ({"Cache-Control": "max-age=0"}, 0),
        ({"Cache-Control": "max-age=600", "Age": "100"}, 500),
        ({"Cache-Control": "max-age=600", "Age": "900"}, 0),
        ({"Cache-Control": "max-age=600", "Age": "soon"}, 600),
        ({"Expires": LATER, "Date": HTTP_DATE}, 600),
        ({"Expires": LATER, "Date": HTTP_DATE, "Age": "60"}, 540),
        ({"Expires": HTTP_DATE, "Date": LATER}, 0),  # already expired
        ({"Expires": LATER, "Date": HTTP_DATE, "Cache-Control": "max-age=30"}, 30),
        ({"Expires": LATER}, 600),  # no Date: relative to `now`
        ({"Expires": LATER, "Date": "yesterday"}, 600),
        ({"Expires": "Wed, 21 Oct 2026 07:38:00 -0000", "Date": HTTP_DATE}, 600),
        # malformed: ignored, so the caller keeps its ttl
        ({"Cache-Control": "max-age=abc"}, None),
        ({"Cache-Control": "max-age=-5"}, None),
        ({"Cache-Control": "max-age="}, None),
        ({"Cache-Control": "max-age"}, None),
        ({"Cache-Control": "max-age=1.5"}, None),
        ({"Cache-Control": "max-age=1e3"}, None),
        ({"Cache-Control": "max-age=\u00b2"}, None),  # a digit to str.isdigit, not to int()
        ({"Cache-Control": "max-age=60 30"}, None),
        ({"Cache-Control": ",,;=,"}, None),
        ({"Cache-Control": "max-age=abc, max-age=45"}, 45),
        ({"Expires": "0"}, None),
        ({"Expires": "not a date", "Date": HTTP_DATE}, None),
        ({"Expires": "Mon, 99 Foo 2026 99:99:99 GMT"}, None),
        ({"Expires": ""}, None),
    ],
)
def test_freshness_lifetime_reads_caching_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    now = 1792567680.0  # HTTP_DATE as unix time
    lifetime = freshness_lifetime(headers, now=now)
    assert lifetime == expected
    assert lifetime is None or isinstance(lifetime, float)


def test_freshness_lifetime_reads_repeated_header_lines_as_httpx_joins_them() -> None:
    headers = httpx.Headers(
        [("Cache-Control", "public, max-age=600"), ("cache-control", "max-age=60")]
    )
    assert freshness_lifetime(headers, now=0.0) == 60
    headers = httpx.Headers([("Cache-Control", "max-age=600"), ("Cache-Control", "no-cache")])
    assert freshness_lifetime(headers, now=0.0) == 0


def test_max_age_shorter_than_ttl_refetches_once_it_elapses(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Cache-Control": "public, max-age=60"}
    verifier = wh.WebhookVerifier(jwks_host.url, cache_ttl=3600)
    _check_keys_reused_until(verifier, jwks_host, signing_key, before=59, after=61)
    assert _lifetime(verifier) == 60
    verifier.verify(*make_delivery(signing_key))  # the refetched keys are fresh for 60 s again
    assert jwks_host.hits == 2


@pytest.mark.parametrize(
    ("cache_control", "ttl", "lifetime"),
    [
        ("max-age=864000", DAY, DAY),  # ten days asked, 24 h kept
        ("s-maxage=864000", DAY, DAY),
        ("max-age=7200", 3600.0, 3600.0),  # the configured ttl is a cap too
    ],
)
def test_long_max_age_is_capped(
    jwks_host: JWKSHost, cache_control: str, ttl: float, lifetime: float
) -> None:
    jwks_host.headers = {"Cache-Control": cache_control}
    clock = _Clock()
    cache = wh.JWKSCache(jwks_host.url, ttl=ttl, clock=clock)
    assert cache.get().lifetime == lifetime
    clock.advance(lifetime - 1)
    cache.get()
    assert jwks_host.hits == 1
    clock.advance(2)
    assert cache.get().generation == 2
    assert jwks_host.hits == 2


@pytest.mark.parametrize(
    "cache_control", ["no-store", "no-cache", "max-age=0", "private, no-store"]
)
def test_no_store_refetches_on_the_next_verification(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey, cache_control: str
) -> None:
    jwks_host.headers = {"Cache-Control": cache_control}
    verifier = wh.WebhookVerifier(jwks_host.url)  # default ttl, default cooldown: time stands still
    for n in range(1, 4):
        verifier.verify(*make_delivery(signing_key, request_id=f"r{n}"))
        assert jwks_host.hits == n
    assert _lifetime(verifier) == 0


def test_no_store_keys_are_confirmed_before_they_are_trusted(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Cache-Control": "no-store"}
    verifier = wh.WebhookVerifier(jwks_host.url)
    old = make_delivery(signing_key)
    verifier.verify(*old)
    jwks_host.document = jwks_of(Ed25519PrivateKey.generate())  # signing_key revoked
    with pytest.raises(wh.InvalidSignatureError):
        verifier.verify(*old)
    assert jwks_host.hits == 2  # one confirming fetch; the cooldown forbids a second


def test_no_store_keeps_the_refetch_cooldown_against_forgeries(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Cache-Control": "no-store"}
    verifier = wh.WebhookVerifier(jwks_host.url)  # default cooldown: 30 s
    clock = _clocked(verifier)
    verifier.verify(*make_delivery(signing_key))
    _forgery_flood(verifier)
    assert jwks_host.hits == 1
    clock.advance(31)
    _forgery_flood(verifier)
    assert jwks_host.hits == 2  # one refetch per cooldown, however many forgeries
    verifier.verify(*make_delivery(signing_key))  # a genuine one is still confirmed
    assert jwks_host.hits == 3


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "max-age=abc"},
        {"Cache-Control": "max-age=-1"},
        {"Cache-Control": "max-age=1.5, public"},
        {"Cache-Control": "max-age"},
        {"Expires": "0"},
        {"Expires": "not a date"},
        {"Age": "100"},
    ],
    ids=lambda headers: ";".join(f"{k}={v}" for k, v in headers.items()),
)
def test_malformed_caching_headers_fall_back_to_the_ttl(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey, headers: dict[str, str]
) -> None:
    jwks_host.headers = headers
    verifier = wh.WebhookVerifier(jwks_host.url, cache_ttl=3600)
    _check_keys_reused_until(verifier, jwks_host, signing_key, before=3599, after=3601)
    assert _lifetime(verifier) == 3600


def test_expires_sets_the_lifetime_when_there_is_no_max_age(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Expires": email.utils.formatdate(time.time() + 600, usegmt=True)}
    verifier = wh.WebhookVerifier(jwks_host.url)
    _check_keys_reused_until(verifier, jwks_host, signing_key, before=580, after=620)
    assert 590 <= _lifetime(verifier) <= 610  # Expires minus the server's Date, whole seconds


@pytest.mark.parametrize(
    ("headers", "expected_hits"),
    [
        ({"Cache-Control": "max-age=60"}, [1, 1, 1, 1, 2, 2]),
        ({"Cache-Control": "no-store"}, [1, 2, 2, 3, 4, 4]),
        ({}, [1, 1, 1, 1, 1, 2]),
    ],
    ids=["max-age=60", "no-store", "no-headers"],
)
async def test_async_path_agrees_with_sync(
    jwks_host: JWKSHost,
    signing_key: Ed25519PrivateKey,
    headers: dict[str, str],
    expected_hits: list[int],
) -> None:
    """One script, run through verify and verify_async: the same fetches at the same steps."""
    jwks_host.headers = headers
    genuine, forged = make_delivery(signing_key), make_delivery(Ed25519PrivateKey.generate())
    steps: list[tuple[float, tuple[bytes, dict[str, str]]]] = [
        (0, genuine),  # first fetch
        (10, genuine),  # fresh under max-age=60 and the ttl; no-store confirms
        (0, forged),  # no fetch within the cooldown
        (45, genuine),  # t=55: still fresh under max-age=60; no-store confirms
        (10, genuine),  # t=65: max-age=60 expired, so confirmed; no-store confirms
        (0, forged),  # a refetch only where the last fetch is 30 s old (the ttl case)
    ]
    runs: dict[str, list[int]] = {}
    for mode in ("sync", "async"):
        jwks_host.hits = 0
        verifier = wh.WebhookVerifier(jwks_host.url)
        clock = _clocked(verifier)
        hits: list[int] = []
        for advance, (body, delivery_headers) in steps:
            clock.advance(advance)
            try:
                if mode == "sync":
                    verifier.verify(body, delivery_headers)
                else:
                    await verifier.verify_async(body, delivery_headers)
            except wh.InvalidSignatureError:
                assert (body, delivery_headers) == forged
            hits.append(jwks_host.hits)
        runs[mode] = hits
    assert runs["sync"] == runs["async"] == expected_hits


async def test_async_no_store_concurrent_verifications_share_one_fetch(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Cache-Control": "no-store"}
    verifier = wh.WebhookVerifier(jwks_host.url)
    deliveries = [make_delivery(signing_key, request_id=f"r{n}") for n in range(8)]
    await asyncio.gather(*(verifier.verify_async(b, h) for b, h in deliveries))
    assert jwks_host.hits == 1
    await asyncio.gather(*(verifier.verify_async(b, h) for b, h in deliveries))
    assert jwks_host.hits == 2  # stale keys confirmed once for the whole burst
