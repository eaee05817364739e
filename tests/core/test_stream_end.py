"""The status stream is read to its end after ``COMPLETED``, within bounds, so its connection
fetches the result (no new TCP and TLS handshake per call), and nothing that follows
``COMPLETED`` can hold the call.

fal ends the stream right after ``COMPLETED``; a stream closed before its end takes its
connection with it. The waiter reads on for ``_END_GRACE`` seconds and ``_END_SLACK`` bytes at
most, never past the call's deadline, and handles nothing it reads there: a stream that stays
open, or floods, is closed as before and the call goes on. Over real sockets, sync and async:
the local fal server for whole calls, a scripted peer (tests/peers/sse.py) for what a server
might send after ``COMPLETED``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, Completed, Queued, RetryPolicy, Status
from fal_typed._deadline import Deadline
from fal_typed._queue import get_status, get_status_async
from fal_typed._wait import (
    _END_GRACE,  # pyright: ignore[reportPrivateUsage]
    _END_SLACK,  # pyright: ignore[reportPrivateUsage]
    STREAM_IDLE_TIMEOUT,
    _end_bound,  # pyright: ignore[reportPrivateUsage]
    iter_status,
    iter_status_async,
)
from fal_typed.testing import LocalFal

from ..peers.sse import KEY, Exchange, MiB, Script, ScriptedPeer, event, serving

RID = "0b6d2f3e-4c1a-4e8b-9f7a-1d2c3b4a5e6f"
APP = "tests/paid"
MODES = ["sync", "async"]
SSE_HEAD = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}
COMPLETED = event({"status": "COMPLETED"})


# -- whole calls on the local fal server -------------------------------------------------------


def connections(local_fal: LocalFal) -> set[tuple[str, int] | None]:
    return {r.client_address for r in local_fal.requests}


def calls(mode: str, how: str, client: Client) -> list[flux_dev.FluxDevOutput]:
    """Three calls, by ``subscribe`` or by ``submit`` and the handle's ``result``."""
    prompts = [f"cat {i}" for i in range(3)]
    if mode == "sync":
        if how == "subscribe":
            return [flux_dev.subscribe(prompt=p, client=client) for p in prompts]
        return [flux_dev.submit(prompt=p, client=client).result() for p in prompts]

    async def main() -> list[flux_dev.FluxDevOutput]:
        async with client:
            if how == "subscribe":
                return [await flux_dev.subscribe_async(prompt=p, client=client) for p in prompts]
            return [
                await (await flux_dev.submit_async(prompt=p, client=client)).result()
                for p in prompts
            ]

    return asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["subscribe", "handle"])
def test_a_call_s_submit_status_stream_and_result_share_one_connection(
    local_fal: LocalFal, mode: str, how: str
) -> None:
    local_fal.configure(processing_time=0.05)  # still running when the handle first asks
    with local_fal.client() as client:
        outputs = calls(mode, how, client)
    assert [o.prompt for o in outputs] == ["cat 0", "cat 1", "cat 2"]
    operations = [r.operation for r in local_fal.requests]
    assert operations.count("queue.status_stream") == 3
    assert operations.count("queue.result") >= 3
    # Every request, one connection: the stream's end was read, so it went back to the pool.
    assert len(connections(local_fal)) == 1
    assert None not in connections(local_fal)


# -- what a server may send after COMPLETED ----------------------------------------------------


class Queue:
    """A status stream whose ending is the test's, and status polls answering COMPLETED."""

    def __init__(self, peer: ScriptedPeer, stream: Script) -> None:
        self.peer = peer
        self.stream = stream
        peer.script = self.route

    async def route(self, exchange: Exchange) -> None:
        if exchange.path.partition("?")[0].endswith("/status/stream"):
            await self.stream(exchange)
        else:
            body = json.dumps({"status": "COMPLETED"}).encode()
            await exchange.answer(200, body, {"Content-Type": "application/json"})

    def exchanges(self) -> tuple[Exchange, Exchange]:
        """The status stream's exchange and the poll's that followed it."""
        stream, poll = self.peer.exchanges
        return stream, poll


async def completed_then(exchange: Exchange, *after: bytes) -> None:
    await exchange.head(200, SSE_HEAD)
    await exchange.chunk(event({"status": "IN_QUEUE", "queue_position": 0}))
    await exchange.chunk(COMPLETED)
    for chunk in after:
        await exchange.chunk(chunk)


async def ends_at_once(exchange: Exchange) -> None:
    await completed_then(exchange)
    await exchange.end_chunks()


async def ends_a_moment_later(exchange: Exchange) -> None:
    await completed_then(exchange)
    await asyncio.sleep(_END_GRACE / 5)
    await exchange.end_chunks()


async def never_ends(exchange: Exchange) -> None:
    await completed_then(exchange)
    await exchange.until_client_leaves()


async def completed_late(exchange: Exchange) -> None:
    await exchange.head(200, SSE_HEAD)
    await exchange.chunk(event({"status": "IN_QUEUE", "queue_position": 0}))
    await asyncio.sleep(2.0)
    await exchange.chunk(COMPLETED)
    await exchange.until_client_leaves()


async def closes_after_completed(exchange: Exchange) -> None:
    """A close-delimited stream: its end is the connection's, which cannot be kept."""
    await exchange.head(200, {"Content-Type": "text/event-stream", "Connection": "close"})
    await exchange.write(event({"status": "IN_QUEUE", "queue_position": 0}) + COMPLETED)
    exchange.close()


async def cut_after_completed(exchange: Exchange) -> None:
    """The connection closed after COMPLETED, in the middle of the chunked body."""
    await completed_then(exchange)
    await exchange.write(b"5\r\n: x")
    exchange.close()


def comments_after_completed(size: int) -> Script:
    """``size`` bytes of SSE comments after COMPLETED, in chunks of at most 16 KiB, then the end."""

    async def script(exchange: Exchange) -> None:
        await completed_then(exchange)
        left = size
        while left:
            step = min(left, 16 * 1024)
            await exchange.chunk(b":" + b"x" * (step - 2) + b"\n")
            left -= step
        await exchange.end_chunks()

    return script


async def floods(exchange: Exchange) -> None:
    """Events after COMPLETED (never handled), then as many bytes as the client takes."""
    await completed_then(exchange, event({"status": "IN_PROGRESS", "logs": []}))
    filler = b": " + b"x" * (MiB - 3) + b"\n"
    while exchange.sent < 64 * MiB:
        await exchange.chunk(filler)


def wait_then_poll(
    mode: str, url: str, deadline: Deadline | None = None
) -> tuple[list[Status], float]:
    """The updates of one wait, and its seconds; then one status poll on the same client."""
    client = Client(
        KEY, queue_url=url, run_url=url, retry=RetryPolicy(max_attempts=1), backup_hosts={}
    )
    if mode == "sync":
        with client:
            start = time.monotonic()
            updates = list(iter_status(client, APP, RID, deadline=deadline))
            took = time.monotonic() - start
            assert isinstance(get_status(client, APP, RID), Completed)
            return updates, took

    async def main() -> tuple[list[Status], float]:
        async with client:
            start = time.monotonic()
            updates = [s async for s in iter_status_async(client, APP, RID, deadline=deadline)]
            took = time.monotonic() - start
            assert isinstance(await get_status_async(client, APP, RID), Completed)
            return updates, took

    return asyncio.run(main())


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as peer:
        yield peer


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ending", [ends_at_once, ends_a_moment_later])
def test_a_stream_that_ends_after_completed_hands_its_connection_on(
    peer: ScriptedPeer, mode: str, ending: Script
) -> None:
    queue = Queue(peer, ending)
    updates, _ = wait_then_poll(mode, peer.url)
    assert updates == [Queued(position=0), Completed()]
    stream, poll = queue.exchanges()
    assert not stream.client_left
    assert poll.connection == stream.connection


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("deadline", [None, 30.0])
def test_a_stream_left_open_after_completed_is_closed_after_the_grace_not_the_idle_timeout(
    peer: ScriptedPeer, mode: str, deadline: float | None
) -> None:
    queue = Queue(peer, never_ends)
    updates, took = wait_then_poll(
        mode, peer.url, deadline=None if deadline is None else Deadline(deadline)
    )
    # COMPLETED is the call's, whatever follows it: no timeout error, no wait for the stream.
    assert updates == [Queued(position=0), Completed()]
    assert took < STREAM_IDLE_TIMEOUT / 3
    stream, poll = queue.exchanges()
    assert stream.client_left  # the client hung up on the open stream...
    assert poll.connection != stream.connection  # ...and its connection went with it


@pytest.mark.parametrize("mode", MODES)
def test_the_end_is_never_awaited_past_the_call_s_deadline(
    peer: ScriptedPeer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A grace far past the deadline: only the deadline can end the wait for the end. COMPLETED
    # comes 2 s into a 3 s deadline: a wait for the end bounded by each read's own timeout (the
    # time left when the stream was opened, 3 s) would end at 5 s, not 3.
    monkeypatch.setattr("fal_typed._wait._END_GRACE", 20.0)
    queue = Queue(peer, completed_late)
    updates, took = wait_then_poll(mode, peer.url, deadline=Deadline(3.0))
    assert updates == [Queued(position=0), Completed()]  # and no timeout error: it completed
    assert took < 4.0
    stream, poll = queue.exchanges()
    assert stream.client_left
    assert poll.connection != stream.connection


@pytest.mark.parametrize("mode", MODES)
def test_what_follows_completed_is_never_handled_and_read_only_up_to_the_slack(
    peer: ScriptedPeer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A grace long enough to read all 64 MiB on loopback: only the slack can stop the reading.
    monkeypatch.setattr("fal_typed._wait._END_GRACE", 20.0)
    queue = Queue(peer, floods)
    updates, _ = wait_then_poll(mode, peer.url)
    assert updates == [Queued(position=0), Completed()]  # the IN_PROGRESS after it: not handled
    stream, poll = queue.exchanges()
    assert stream.client_left
    assert poll.connection != stream.connection
    # The peer could write no more than the slack, one chunk past it and the socket buffers
    # (a few MiB on loopback), not the 64 MiB it offered.
    assert stream.sent < _END_SLACK + 16 * MiB


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ending", [cut_after_completed, closes_after_completed])
def test_a_stream_cut_or_closed_after_completed_still_completes_the_wait(
    peer: ScriptedPeer, mode: str, ending: Script
) -> None:
    queue = Queue(peer, ending)
    updates, _ = wait_then_poll(mode, peer.url)
    assert updates == [Queued(position=0), Completed()]
    stream, poll = queue.exchanges()
    assert poll.connection != stream.connection


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("size", "kept"), [(_END_SLACK, True), (_END_SLACK + 2, False)])
def test_up_to_the_slack_is_read_after_completed_and_not_a_byte_more(
    peer: ScriptedPeer, mode: str, size: int, kept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fal_typed._wait._END_GRACE", 5.0)  # only the slack decides
    queue = Queue(peer, comments_after_completed(size))
    updates, _ = wait_then_poll(mode, peer.url)
    assert updates == [Queued(position=0), Completed()]
    stream, poll = queue.exchanges()
    assert (poll.connection == stream.connection) is kept


def test_the_end_is_awaited_for_the_grace_and_never_past_the_call_s_deadline() -> None:
    assert _end_bound(None).seconds == _END_GRACE
    assert _end_bound(Deadline(60)).seconds == _END_GRACE
    deadline = Deadline(_END_GRACE / 4)
    assert _end_bound(deadline) is deadline


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_with_no_socket_to_bound_the_wait_is_not_waited_for_after_completed(
    mode: str,
) -> None:
    """A transport with no socket (a user's own, a mock): the sync wait for the end could not
    be cut, so it is not waited for; the async one is cut by the event loop all the same."""
    release = threading.Event()

    def events() -> Iterator[bytes]:
        yield event({"status": "IN_QUEUE", "queue_position": 0})
        yield COMPLETED
        release.wait(10)  # held open, for 10 s at most (the test's own bound)

    async def events_async() -> AsyncIterator[bytes]:
        yield event({"status": "IN_QUEUE", "queue_position": 0})
        yield COMPLETED
        await asyncio.sleep(10)

    def answer(request: httpx.Request) -> httpx.Response:
        body = events() if mode == "sync" else events_async()
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=body)

    url = "http://fal.test"
    transport = httpx.MockTransport(answer)
    client = Client(
        KEY,
        queue_url=url,
        run_url=url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
    )
    start = time.monotonic()
    try:
        if mode == "sync":
            updates = list(iter_status(client, APP, RID))
        else:

            async def main() -> list[Status]:
                return [s async for s in iter_status_async(client, APP, RID)]

            updates = asyncio.run(main())
    finally:
        release.set()
    assert updates == [Queued(position=0), Completed()]
    assert time.monotonic() - start < 5.0
