"""The retry table's last column over real sockets: a paid POST the deadline ends.

Submit, run and stream, sync and async, against peers on 127.0.0.1. The table
(``Outcome.DEADLINE_AFTER_SENT``) says a paid request the deadline cuts after it was written
whole, or after fal answered it with success, may have been accepted: it is
``PossiblyAcceptedTimeoutError`` (a timeout *and* possibly accepted, with what reconciles it).
Cut before it was written whole, or after an answer proving it was not received, it is a plain
``FalTimeoutError``: nothing was accepted, and the error must not say it might have been.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fal_typed import (
    AsyncStream,
    Client,
    FalTimeoutError,
    PossiblyAcceptedError,
    PossiblyAcceptedTimeoutError,
    RetryPolicy,
    Stream,
)
from fal_typed._deadline import Deadline
from fal_typed._queue import submit, submit_async
from fal_typed._retry import Kind, Outcome, decide
from fal_typed._run import run, run_async
from tests.endpoints import LCM
from tests.peers.sse import KEY, Exchange, ScriptedPeer

ID = "fal-ai/flux/dev"
RID = "0b5d4e2a-1c3f-4a6b-9d8e-7f6a5b4c3d2e"
DEADLINE = 1.0


@dataclass(frozen=True)
class Paid:
    """One paid call with a deadline of ``DEADLINE`` seconds, sync and async."""

    sync: Callable[[Client, str], Any]
    async_: Callable[[Client, str], Awaitable[Any]]
    endpoint_id: str


async def _stream_async(client: Client, prompt: str) -> Any:
    return await AsyncStream(LCM, {"prompt": prompt}, client=client, timeout=DEADLINE).result()


PAID: dict[Kind, Paid] = {
    Kind.SUBMIT: Paid(
        lambda c, p: submit(c, ID, {"prompt": p}, deadline=Deadline(DEADLINE)),
        lambda c, p: submit_async(c, ID, {"prompt": p}, deadline=Deadline(DEADLINE)),
        ID,
    ),
    Kind.RUN: Paid(
        lambda c, p: run(c, ID, {"prompt": p}, timeout=DEADLINE),
        lambda c, p: run_async(c, ID, {"prompt": p}, timeout=DEADLINE),
        ID,
    ),
    Kind.STREAM: Paid(
        lambda c, p: Stream(LCM, {"prompt": p}, client=c, timeout=DEADLINE).result(),
        _stream_async,
        LCM.endpoint_id,
    ),
}
MODES = ["sync", "async"]


def _client(url: str) -> Client:
    return Client(
        key=KEY,
        queue_url=url,
        run_url=url,
        rest_url=url,
        cdn_url=url,
        timeout=httpx.Timeout(5.0),
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01),
        backup_hosts={},
    )


def _call(kind: Kind, mode: str, url: str, prompt: str = "a cat") -> Any:
    client = _client(url)
    try:
        if mode == "sync":
            return PAID[kind].sync(client, prompt)

        async def go() -> Any:
            async with client:
                return await PAID[kind].async_(client, prompt)

        return asyncio.run(go())
    finally:
        client.close()


@pytest.fixture
def peer() -> Generator[ScriptedPeer, None, None]:
    p = ScriptedPeer()
    p.start()
    try:
        yield p
    finally:
        p.stop()


def test_the_column_is_possibly_accepted_for_paid_kinds_only() -> None:
    for kind in Kind:
        decision = decide(kind, Outcome.DEADLINE_AFTER_SENT)
        assert not decision.retry
        paid = kind in PAID
        assert decision.error is (PossiblyAcceptedTimeoutError if paid else FalTimeoutError)


def test_the_error_is_both_a_timeout_and_possibly_accepted() -> None:
    error = PossiblyAcceptedTimeoutError("cut", timeout=2.5, request_id=RID, payload_size=3)
    assert isinstance(error, FalTimeoutError) and isinstance(error, PossiblyAcceptedError)
    assert isinstance(error, TimeoutError)
    assert (error.timeout, error.request_id, error.payload_size) == (2.5, RID, 3)
    assert error.error_type == "possibly_accepted"


def _check_possibly_accepted(
    error: BaseException, kind: Kind, peer: ScriptedPeer, started: float
) -> PossiblyAcceptedTimeoutError:
    """The error holds what reconciles the one request the peer received."""
    assert len(peer.exchanges) == 1, "a paid request the deadline cut was sent again"
    exchange = peer.last()
    assert isinstance(error, PossiblyAcceptedTimeoutError), repr(error)
    assert error.timeout == DEADLINE
    assert error.endpoint_id == PAID[kind].endpoint_id
    assert error.method == "POST"
    assert error.url is not None and error.url.startswith(peer.url)
    assert error.payload_sha256 == hashlib.sha256(exchange.body).hexdigest()
    assert error.payload_size == len(exchange.body)
    assert error.sent_at is not None and error.failed_at is not None
    assert started <= error.sent_at <= error.failed_at
    assert "before sending it again" in error.message
    return error


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(PAID), ids=[k.name for k in PAID])
def test_sent_whole_and_unanswered_is_possibly_accepted(
    peer: ScriptedPeer, kind: Kind, mode: str
) -> None:
    async def silent(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    peer.script = silent
    started = time.time()
    with pytest.raises(FalTimeoutError) as caught:
        _call(kind, mode, peer.url)
    error = _check_possibly_accepted(caught.value, kind, peer, started)
    assert error.status_code is None and error.request_id is None
    assert "no answer came" in error.message


def _answered(kind: Kind) -> Callable[[Exchange], Awaitable[None]]:
    """A 200 whose head names the request and whose body never completes in time."""

    async def script(exchange: Exchange) -> None:
        headers = {"x-fal-request-id": RID}
        if kind is Kind.STREAM:
            await exchange.head(200, {**headers, "Content-Type": "text/event-stream"})
            chunk = b": keepalive\n\n"
        else:
            await exchange.head(200, {**headers, "Content-Type": "application/json"})
            chunk = b" "
        while not exchange.closed:
            try:
                await exchange.write(chunk)
            except (ConnectionError, OSError):
                return
            await asyncio.sleep(0.1)

    return script


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(PAID), ids=[k.name for k in PAID])
def test_answered_with_success_then_cut_is_possibly_accepted_with_its_request_id(
    peer: ScriptedPeer, kind: Kind, mode: str
) -> None:
    peer.script = _answered(kind)
    started = time.time()
    with pytest.raises(FalTimeoutError) as caught:
        _call(kind, mode, peer.url)
    error = _check_possibly_accepted(caught.value, kind, peer, started)
    assert (error.status_code, error.request_id) == (200, RID)
    assert "fal answered HTTP 200, so it was accepted" in error.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(PAID), ids=[k.name for k in PAID])
def test_refused_then_cut_while_backing_off_is_a_plain_timeout(
    peer: ScriptedPeer, kind: Kind, mode: str
) -> None:
    """A 429 proves the request was not taken; the deadline passing during the wait it asks for
    is a timeout with nothing to reconcile."""

    async def rate_limited(exchange: Exchange) -> None:
        body = b'{"detail": "rate limited"}'
        await exchange.answer(429, body, {"Content-Type": "application/json", "Retry-After": "30"})

    peer.script = rate_limited
    with pytest.raises(FalTimeoutError) as caught:
        _call(kind, mode, peer.url)
    assert not isinstance(caught.value, PossiblyAcceptedError), repr(caught.value)
    assert len(peer.exchanges) == 1


@pytest.fixture
def unread_url() -> Generator[str, None, None]:
    """A port that accepts connections (the kernel does) and never reads from them."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(PAID), ids=[k.name for k in PAID])
def test_cut_while_the_body_is_still_being_written_is_a_plain_timeout(
    unread_url: str, kind: Kind, mode: str
) -> None:
    """A body larger than the socket buffers cannot be written whole to a peer that never reads:
    the server cannot have acted on it."""
    with pytest.raises(FalTimeoutError) as caught:
        _call(kind, mode, unread_url, prompt="x" * (48 * 1024 * 1024))
    assert not isinstance(caught.value, PossiblyAcceptedError), repr(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_subscribe_passes_on_a_submit_its_client_timeout_cut_after_sending(
    peer: ScriptedPeer, mode: str
) -> None:
    """``subscribe`` words its own timeout errors, but never hides that the job may be queued."""

    async def silent(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    peer.script = silent
    client = _client(peer.url)

    async def go() -> Any:
        async with client:
            return await LCM.subscribe_async(
                {"prompt": "a cat"}, client=client, client_timeout=DEADLINE
            )

    with pytest.raises(PossiblyAcceptedTimeoutError) as caught:
        if mode == "sync":
            LCM.subscribe({"prompt": "a cat"}, client=client, client_timeout=DEADLINE)
        else:
            asyncio.run(go())
    client.close()
    assert caught.value.endpoint_id == LCM.endpoint_id
    assert caught.value.timeout == DEADLINE
    assert len(peer.exchanges) == 1 and peer.exchanges[0].method == "POST"
