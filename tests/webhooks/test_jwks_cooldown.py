"""While the JWKS URL fails, deliveries cannot turn into JWKS requests: after a failed fetch none is
made for failure_cooldown seconds, whoever asks (forged deliveries, replays of a genuine one,
threads waiting on the lock), and the failure is answered at once. Once keys are fetched again,
the refetch cooldown after an unknown signature works as before. A real JWKS server on
127.0.0.1 counts the requests; a fake monotonic clock moves time."""

from __future__ import annotations

import socket
import threading
import time
from typing import Literal

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel

from fal_typed import webhooks as wh

from .helpers import JWKSHost, Receiver, make_delivery, serve, serve_raw

Mode = Literal["sync", "async"]
FLOOD = 20


class Text(BaseModel):
    text: str
    seed: int


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _clocked(verifier: wh.WebhookVerifier) -> _Clock:
    clock = _Clock()
    assert verifier.cache is not None
    verifier.cache.clock = clock
    return clock


def _forged() -> tuple[bytes, dict[str, str]]:
    """Well-formed headers, a fresh timestamp, a signature by a key fal never published."""
    return make_delivery(Ed25519PrivateKey.generate())


async def _verify(
    verifier: wh.WebhookVerifier, mode: Mode, delivery: tuple[bytes, dict[str, str]]
) -> None:
    if mode == "sync":
        verifier.verify(*delivery)
    else:
        await verifier.verify_async(*delivery)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_failing_jwks_is_asked_once_per_failure_cooldown(
    mode: Mode, jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.status = 503
    verifier = wh.WebhookVerifier(jwks_host.url)
    clock = _clocked(verifier)
    for n in range(FLOOD):
        with pytest.raises(wh.JWKSFetchError, match="HTTP 503") as caught:
            await _verify(verifier, mode, _forged())
        assert ("not asked again" in str(caught.value)) is (n > 0)
    assert jwks_host.hits == 1

    clock.now += wh.DEFAULT_FAILURE_COOLDOWN - 0.5  # not yet
    with pytest.raises(wh.JWKSFetchError, match="not asked again for 0 s"):
        await _verify(verifier, mode, _forged())
    assert jwks_host.hits == 1
    clock.now += 0.5  # now: one more request, failing again
    with pytest.raises(wh.JWKSFetchError):
        await _verify(verifier, mode, _forged())
    assert jwks_host.hits == 2

    jwks_host.status = 200  # it recovers: the first delivery after the cooldown fetches
    clock.now += wh.DEFAULT_FAILURE_COOLDOWN
    await _verify(verifier, mode, make_delivery(signing_key))
    assert jwks_host.hits == 3
    # and after a success, forged deliveries meet the refetch cooldown as before
    for _ in range(FLOOD):
        with pytest.raises(wh.InvalidSignatureError):
            await _verify(verifier, mode, _forged())
    assert jwks_host.hits == 3
    clock.now += 30.0  # refresh_cooldown: one refetch for an unknown signature
    for _ in range(FLOOD):
        with pytest.raises(wh.InvalidSignatureError):
            await _verify(verifier, mode, _forged())
    assert jwks_host.hits == 4


def test_a_forged_flood_at_the_receiver_costs_one_jwks_request(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    """The probe's case, through the ASGI endpoint: every forged delivery is answered 503 (fal
    retries real ones later) and the JWKS URL is asked once."""
    jwks_host.status = 503
    receiver = Receiver(Text, wh.WebhookVerifier(jwks_host.url))
    with serve(receiver.app) as base, httpx.Client(timeout=30) as http:
        for _ in range(FLOOD):
            body, headers = _forged()
            answer = http.post(f"{base}/hook", content=body, headers=headers)
            assert answer.status_code == 503
            assert answer.json()["error_type"] == "webhook_jwks_unavailable"
    assert jwks_host.hits == 1
    assert receiver.handled == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_replays_of_a_genuine_delivery_cost_one_request_while_it_fails(
    mode: Mode, jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    """Keys served with no-store are confirmed by a fetch before each delivery they verify:
    replays of one genuine delivery (anyone who saw it can send it again within the window)
    must not turn into a request each while the JWKS URL fails."""
    jwks_host.headers = {"Cache-Control": "no-store"}
    verifier = wh.WebhookVerifier(jwks_host.url)
    _clocked(verifier)
    genuine = make_delivery(signing_key)
    await _verify(verifier, mode, genuine)
    jwks_host.status = 503
    for _ in range(FLOOD):
        with pytest.raises(wh.JWKSFetchError):
            await _verify(verifier, mode, genuine)
    assert jwks_host.hits == 2


def test_threads_waiting_on_a_hanging_fetch_fail_with_it(signing_key: Ed25519PrivateKey) -> None:
    """A JWKS URL that never finishes answering: the fetch ends at its timeout, and the threads
    queued on the cache's lock behind it get its failure at once instead of a timeout each."""
    requests: list[bytes] = []

    def hanging(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        requests.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        stop.wait(30)

    threads_count = 12
    errors: list[BaseException] = []
    with serve_raw(hanging) as base:
        verifier = wh.WebhookVerifier(f"{base}/jwks.json", timeout=1.0)
        barrier = threading.Barrier(threads_count)

        def deliver() -> None:
            barrier.wait()
            try:
                verifier.verify(*_forged())
            except BaseException as exc:  # collected and checked below
                errors.append(exc)

        threads = [threading.Thread(target=deliver) for _ in range(threads_count)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - started
    assert len(errors) == threads_count
    assert all(isinstance(error, wh.JWKSFetchError) for error in errors), errors
    assert len(requests) == 1
    assert elapsed < 4.0, f"{threads_count} deliveries took {elapsed:.1f} s (one timeout: 1 s)"


def test_a_zero_failure_cooldown_asks_every_time(jwks_host: JWKSHost) -> None:
    jwks_host.status = 503
    verifier = wh.WebhookVerifier(jwks_host.url, failure_cooldown=0)
    for _ in range(3):
        with pytest.raises(wh.JWKSFetchError):
            verifier.verify(*_forged())
    assert jwks_host.hits == 3
    assert verifier.cache is not None and verifier.cache.failure_cooldown == 0.0
