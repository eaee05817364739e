"""``client_timeout`` and ``run(timeout=)`` are wall-clock limits whatever the server sends.

A queue peer on 127.0.0.1 (tests/peers/sse.py) whose status stream never ends: ``IN_PROGRESS``
repeated, log lines, ``: keepalive`` comments, every 50 ms. Each call must end at its timeout,
sync and async, with the request named and its cancellation sent. A request seen COMPLETED in
time has its result returned even if the result arrives after the deadline (and is not
cancelled). The elapsed-time bounds are correctness bounds with generous slack (without the
limits these calls run until the peer stops), not performance assertions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed import Client, FalError, FalTimeoutError, Limits, RetryPolicy, untyped
from fal_typed._deadline import Deadline

from ..peers.sse import KEY, Exchange, MiB, Script, ScriptedPeer, serving

RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
ENDPOINT = untyped("tests/paid")
MODES = ["sync", "async"]
OUTPUT = {"images": [{"url": "https://v3.fal.media/files/a.png"}]}
#: Seconds a call may overrun its timeout on a loaded machine (without the limit: until the end).
SLACK = 3.0
SSE_HEAD = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}


def status_event(status: str, **fields: Any) -> bytes:
    return f"data: {json.dumps({'status': status, **fields})}\n\n".encode()


LOG = {"message": "step", "level": "INFO", "source": "USER", "timestamp": "2026-01-01T00:00:00Z"}
FOREVER = {
    "IN_PROGRESS repeated": status_event("IN_PROGRESS"),
    "log lines": status_event("IN_PROGRESS", logs=[LOG]),
    "keepalive comments": b": keepalive\n\n",
}


def every(block: bytes, interval: float = 0.05, first: bytes = b"") -> Script:
    """A status stream: ``first``, then ``block`` every ``interval`` seconds until the client leaves."""

    async def script(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        await exchange.chunk(first or status_event("IN_QUEUE", queue_position=0))
        while True:
            await asyncio.sleep(interval)
            await exchange.chunk(block)

    return script


class QueuePeer:
    """Routes a queue call's requests: submit, status stream, status poll, result, cancel."""

    def __init__(self, peer: ScriptedPeer) -> None:
        self.peer = peer
        self.stream: Script = every(FOREVER["IN_PROGRESS repeated"])
        self.status: Script = self.json({"status": "IN_PROGRESS"})
        self.result: Script = self.json(OUTPUT)
        self.cancels = 0
        peer.script = self.route

    @staticmethod
    def json(value: Any, status: int = 200, delay: float = 0.0) -> Script:
        async def script(exchange: Exchange) -> None:
            if delay:
                await asyncio.sleep(delay)
            await exchange.answer(
                status,
                json.dumps(value).encode(),
                {"Content-Type": "application/json", "x-fal-request-id": RID},
            )

        return script

    async def route(self, exchange: Exchange) -> None:
        path = exchange.path.partition("?")[0]
        if exchange.method == "POST":
            await self.json({"request_id": RID})(exchange)
        elif path.endswith("/cancel"):
            self.cancels += 1
            await self.json({"status": "CANCELLATION_REQUESTED"}, 202)(exchange)
        elif path.endswith("/status/stream"):
            await self.stream(exchange)
        elif path.endswith("/status"):
            await self.status(exchange)
        else:
            await self.result(exchange)


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


@pytest.fixture
def queue(peer: ScriptedPeer) -> QueuePeer:
    return QueuePeer(peer)


def client_of(peer: ScriptedPeer, **options: Any) -> Client:
    options.setdefault("retry", RetryPolicy(max_attempts=1))
    return Client(KEY, queue_url=peer.url, run_url=peer.url, backup_hosts={}, **options)


def subscribe(mode: str, client: Client, **options: Any) -> tuple[Any, float]:
    """``ENDPOINT.subscribe`` (or its async twin): what it returned or raised, and its seconds."""
    start = time.monotonic()
    outcome: Any
    try:
        if mode == "sync":
            with client:
                outcome = ENDPOINT.subscribe({"prompt": "x"}, client=client, **options)
        else:

            async def main() -> Any:
                async with client:
                    return await ENDPOINT.subscribe_async({"prompt": "x"}, client=client, **options)

            outcome = asyncio.run(main())
    except FalError as exc:
        outcome = exc
    return outcome, time.monotonic() - start


def timed_out(mode: str, client: Client, **options: Any) -> tuple[FalTimeoutError, float]:
    error, elapsed = subscribe(mode, client, **options)
    assert isinstance(error, FalTimeoutError), error
    return error, elapsed


# -- the status stream cannot extend client_timeout -------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(FOREVER))
@pytest.mark.parametrize("with_logs", [False, True])
def test_client_timeout_holds_against_a_status_stream_that_never_ends(
    peer: ScriptedPeer, queue: QueuePeer, mode: str, kind: str, with_logs: bool
) -> None:
    queue.stream = every(FOREVER[kind])
    error, elapsed = timed_out(mode, client_of(peer), client_timeout=2.0, with_logs=with_logs)
    assert elapsed < 2.0 + SLACK, f"a 2 s client_timeout took {elapsed:.1f}s"
    assert error.request_id == RID and error.timeout == 2.0
    assert "cancellation was requested" in str(error) and queue.cancels == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_status_stream_whose_events_come_further_apart_is_cut_at_the_deadline(
    peer: ScriptedPeer, queue: QueuePeer, mode: str
) -> None:
    """Each event comes before a read times out (4.5 s apart, under the 5 s left when the stream
    opened), so neither the read timeout nor a check between events ends the wait in time: the
    read in progress is cut when the deadline passes (the next event would come at 9 s)."""
    queue.stream = every(FOREVER["IN_PROGRESS repeated"], interval=4.5)
    error, elapsed = timed_out(mode, client_of(peer), client_timeout=5.0)
    assert elapsed < 5.0 + SLACK, f"a 5 s client_timeout took {elapsed:.1f}s"
    assert error.request_id == RID and queue.cancels == 1


@pytest.mark.parametrize("mode", MODES)
def test_handle_wait_timeout_holds_against_log_lines(
    peer: ScriptedPeer, queue: QueuePeer, mode: str
) -> None:
    queue.stream = every(FOREVER["log lines"])
    start = time.monotonic()
    with client_of(peer) as client, pytest.raises(FalTimeoutError):
        if mode == "sync":
            ENDPOINT.handle(RID, client=client).wait(with_logs=True, timeout=1.0)
        else:
            asyncio.run(ENDPOINT.handle_async(RID, client=client).wait(with_logs=True, timeout=1.0))
    assert time.monotonic() - start < 1.0 + SLACK
    assert queue.cancels == 0  # wait(timeout=) leaves the request running


@pytest.mark.parametrize("mode", MODES)
def test_client_timeout_holds_against_a_status_stream_error_trickled_in(
    peer: ScriptedPeer, queue: QueuePeer, mode: str
) -> None:
    async def trickled_500(exchange: Exchange) -> None:
        await exchange.head(500, {"Content-Type": "application/json", "Content-Length": "100000"})
        while True:
            await exchange.write(b" ")
            await asyncio.sleep(0.2)

    queue.stream = trickled_500
    error, elapsed = timed_out(mode, client_of(peer), client_timeout=1.0)
    assert elapsed < 1.0 + SLACK and error.request_id == RID and queue.cancels == 1


# -- a result completed in time is returned, not cancelled --------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_logs", [False, True])
def test_a_request_completed_before_the_deadline_returns_its_result(
    peer: ScriptedPeer, queue: QueuePeer, mode: str, with_logs: bool
) -> None:
    """COMPLETED at ~1.0 s of a 3 s client_timeout (room for a loaded machine); the result
    answers 4 s after it is asked for, past the deadline but within RESULT_GRACE (10 s) of
    the completion."""

    async def stream(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        for _ in range(10):
            await exchange.chunk(FOREVER["log lines"])
            await asyncio.sleep(0.1)
        await exchange.chunk(status_event("COMPLETED", logs=[LOG]))
        await exchange.end_chunks()

    queue.stream = stream
    queue.result = QueuePeer.json(OUTPUT, delay=4.0)
    out, elapsed = subscribe(mode, client_of(peer), client_timeout=3.0, with_logs=with_logs)
    assert out["images"] == OUTPUT["images"]
    assert queue.cancels == 0
    assert elapsed > 3.0  # the result did come after the deadline


async def trickle(exchange: Exchange) -> None:
    """An answer whose body comes a byte every 0.2 s, for ever."""
    await exchange.head(200, {"Content-Type": "application/json", "Content-Length": "100000"})
    while True:
        await exchange.write(b" ")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("slow", ["late", "trickled"])
def test_a_result_that_never_arrives_after_completion_names_the_request_and_is_not_cancelled(
    peer: ScriptedPeer, queue: QueuePeer, mode: str, slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fal_typed._handle.RESULT_GRACE", 1.0)
    queue.stream = every(b"", first=status_event("COMPLETED"))
    queue.result = QueuePeer.json(OUTPUT, delay=60) if slow == "late" else trickle
    error, elapsed = timed_out(mode, client_of(peer), client_timeout=1.0)
    assert error.request_id == RID and "completed" in str(error) and ".result()" in str(error)
    assert queue.cancels == 0
    assert elapsed < 1.0 + 1.0 + SLACK  # the timeout, then at most RESULT_GRACE


# -- per-request timeouts and pauses are clipped to the time left ------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_status_poll_that_never_answers_ends_at_the_client_timeout(
    peer: ScriptedPeer, queue: QueuePeer, mode: str
) -> None:
    """The client's per-request timeout is 60 s: only the clip to the time left ends it sooner."""

    async def silent(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    queue.stream = QueuePeer.json({"detail": "no stream"}, 404)
    queue.status = silent
    error, elapsed = timed_out(mode, client_of(peer, timeout=60.0), client_timeout=1.0)
    assert elapsed < 1.0 + SLACK and error.request_id == RID and queue.cancels == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_poll_interval_is_clipped_to_the_time_left(
    peer: ScriptedPeer, queue: QueuePeer, mode: str
) -> None:
    queue.stream = QueuePeer.json({"detail": "no stream"}, 404)
    queue.status = QueuePeer.json({"status": "IN_QUEUE", "queue_position": 3})
    client = client_of(peer, poll_interval=30.0)
    error, elapsed = timed_out(mode, client, client_timeout=1.0)
    assert elapsed < 1.0 + SLACK and error.request_id == RID and queue.cancels == 1


# -- the status stream's idle timeout -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_silent_status_stream_is_dropped_at_the_idle_timeout_and_polled(
    peer: ScriptedPeer, queue: QueuePeer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no read timeout of its own, the client still gives up on a silent stream after
    ``STREAM_IDLE_TIMEOUT`` and polls (which finds the request completed)."""
    monkeypatch.setattr("fal_typed._wait.STREAM_IDLE_TIMEOUT", 0.5)
    monkeypatch.setattr("fal_typed._wait._IDLE_CAPPED", {})  # built with 30 s by earlier tests

    async def silent(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        await exchange.until_client_leaves()

    queue.stream = silent
    queue.status = QueuePeer.json({"status": "COMPLETED"})
    out, elapsed = subscribe(mode, client_of(peer, timeout=None), client_timeout=30.0)
    # Far below the 30 s deadline (however loaded the machine): the idle timeout ended it.
    assert out["images"] == OUTPUT["images"] and elapsed < 15.0


# -- run(timeout=) --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_run_timeout_holds_against_an_answer_that_never_comes(
    peer: ScriptedPeer, mode: str
) -> None:
    async def silent(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    peer.script = silent
    client = client_of(peer, timeout=60.0)
    start = time.monotonic()
    with pytest.raises(FalTimeoutError, match="did not answer within 1s"):
        if mode == "sync":
            with client:
                ENDPOINT.run({"prompt": "x"}, client=client, timeout=1.0)
        else:
            asyncio.run(ENDPOINT.run_async({"prompt": "x"}, client=client, timeout=1.0))
    assert time.monotonic() - start < 1.0 + SLACK


# -- Deadline itself -------------------------------------------------------------------------------


def test_a_deadline_never_has_negative_time_left() -> None:
    deadline = Deadline(0.01)
    time.sleep(0.05)
    assert deadline.expired and deadline.remaining() == 0.0 and deadline.bound(5.0) == 0.0
    time.sleep(deadline.bound(5.0))  # a negative value would raise ValueError here
    capped = deadline.cap(httpx.Timeout(30.0))
    phases = [capped.connect, capped.read, capped.write, capped.pool]
    assert phases == [0.001] * 4  # never 0 (httpx's "no wait") nor negative
    with pytest.raises(FalTimeoutError, match=r"x did not complete within 0\.01s"):
        deadline.check("x")


def test_a_live_deadline_caps_each_phase_to_the_time_left() -> None:
    deadline = Deadline(5.0)
    capped = deadline.cap(httpx.Timeout(60.0, connect=1.0))
    assert capped.connect == 1.0
    assert capped.read is not None and 4.0 < capped.read <= 5.0
    assert 4.0 < deadline.cap(httpx.Timeout(None)).pool <= 5.0  # type: ignore[operator]
    assert deadline.bound(1.0) == 1.0 and not deadline.expired


@pytest.mark.parametrize("mode", MODES)
def test_run_timeout_holds_against_an_answer_trickled_a_byte_at_a_time(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = trickle
    client = client_of(peer, timeout=60.0)
    start = time.monotonic()
    with pytest.raises(FalTimeoutError, match="did not answer within 1s"):
        if mode == "sync":
            with client:
                ENDPOINT.run({"prompt": "x"}, client=client, timeout=1.0)
        else:
            asyncio.run(ENDPOINT.run_async({"prompt": "x"}, client=client, timeout=1.0))
    assert time.monotonic() - start < 1.0 + SLACK


# -- the status stream holds a bounded amount of memory --------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cut", ["endless line", "cut mid-event"])
def test_a_broken_status_stream_is_dropped_and_the_request_polled(
    peer: ScriptedPeer, queue: QueuePeer, mode: str, cut: str
) -> None:
    """A line that never ends is dropped at ``Limits.max_sse_line_bytes`` (the peer could send
    no more than that plus the socket buffers); a stream cut inside an event is not taken for
    an end. Either way the wait polls and finds the request completed."""

    async def endless(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        await exchange.chunk(b"data: ")
        while exchange.sent < 64 * MiB:
            await exchange.chunk(b"x" * 65536)

    async def cut_mid_event(exchange: Exchange) -> None:
        await exchange.head(200, {"Content-Type": "text/event-stream", "Connection": "close"})
        await exchange.write(b'data: {"status": "COMPLETED", "error": "tru')
        exchange.close()

    queue.stream = endless if cut == "endless line" else cut_mid_event
    queue.status = QueuePeer.json({"status": "COMPLETED"})
    client = client_of(peer, limits=Limits(max_sse_line_bytes=MiB))
    out, _ = subscribe(mode, client, client_timeout=30.0)
    assert out["images"] == OUTPUT["images"]
    streams = [e for e in peer.exchanges if e.path.partition("?")[0].endswith("/status/stream")]
    assert streams and all(e.sent < MiB + 16 * MiB for e in streams)
