"""The waiter's rules no other test held (each kills a mutant of ``_wait.py`` that survived, issue 12).

- A poll's logs repeat every line, whatever the stream did before it: only lines past those
  already emitted are new, even when the repeated ones come back different.
- After a stream break the waiter checks status at once, then backs off exponentially
  (``poll_interval * 2 ** (breaks - 1)``, at most 5 s); once it settles for polling it polls every
  ``poll_interval``.
- A deadline that passes while the waiter is between streams or polls names the request.
- Why the stream was given up is logged (debug per break, info when settling for polling).
- ``with_logs`` reaches both the status stream and the polls (``logs=1``), and is off by default.

Units on ``_Waiter`` where the rule is a decision; flows over real sockets against a scripted
peer on 127.0.0.1 (tests/peers/sse.py), sync and async, where it is what goes on the wire.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed import (
    AuthenticationError,
    Client,
    Completed,
    FalTimeoutError,
    InProgress,
    Limits,
    ProtocolError,
    Queued,
    RetryPolicy,
    Status,
)
from fal_typed._deadline import Deadline
from fal_typed._status import parse_status
from fal_typed._wait import (
    MAX_STREAM_DROPS,
    _Waiter,  # pyright: ignore[reportPrivateUsage]
    iter_status,
    iter_status_async,
)

from ..peers.sse import KEY, Exchange, Script, ScriptedPeer, serving

RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
APP = "tests/paid"
MODES = ["sync", "async"]


def line(message: str, timestamp: str = "2026-05-01T12:00:00Z") -> dict[str, Any]:
    return {"message": message, "level": "INFO", "source": "USER", "timestamp": timestamp}


def status(kind: str, *lines: dict[str, Any]) -> Status:
    return parse_status({"status": kind, "logs": list(lines)})


def messages(update: Status | None) -> list[str]:
    assert isinstance(update, (InProgress, Completed)) and update.logs is not None
    return [entry.message for entry in update.logs]


def waiter(*, poll_interval: float = 0.1, deadline: Deadline | None = None) -> _Waiter:
    client = Client(key="waiter-key-123", poll_interval=poll_interval)
    return _Waiter(client, APP, RID, with_logs=True, deadline=deadline)


# -- which log lines are new ------------------------------------------------------------------


def test_a_poll_after_stream_events_emits_only_the_lines_not_yet_emitted() -> None:
    w = waiter()
    assert messages(w.accept(status("IN_PROGRESS", line("a")), "stream")) == ["a"]
    # The stream is still open (no break): a poll's logs are cumulative all the same.
    assert messages(w.accept(status("IN_PROGRESS", line("a"), line("b")), "poll")) == ["b"]


def test_the_first_stream_event_after_polls_may_repeat_their_lines() -> None:
    w = waiter()
    assert messages(w.accept(status("IN_PROGRESS", line("a")), "poll")) == ["a"]
    assert messages(w.accept(status("IN_PROGRESS", line("a"), line("b")), "stream")) == ["b"]


def test_a_poll_counts_repeated_lines_even_when_they_come_back_different() -> None:
    w = waiter()
    assert messages(w.accept(status("IN_PROGRESS", line("a")), "poll")) == ["a"]
    rewritten = line("a", timestamp="2026-05-01T12:00:01Z")
    update = w.accept(status("IN_PROGRESS", rewritten, line("b")), "poll")
    assert messages(update) == ["b"]


def sse(*bodies: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(body)}\n\n".encode() for body in bodies)


def test_stream_events_are_deltas_so_a_line_logged_twice_is_emitted_twice() -> None:
    w = waiter()
    decoder = w.decoder()
    first = w.events(decoder, sse({"status": "IN_PROGRESS", "logs": [line("step")]}))
    again = w.events(decoder, sse({"status": "IN_PROGRESS", "logs": [line("step")]}))
    assert [messages(u) for u in first + again] == [["step"], ["step"]]


def test_an_event_read_from_the_stream_resets_the_break_count() -> None:
    w = waiter(poll_interval=0.25)
    w.dropped("reset")
    w.dropped("reset")
    assert w.pause() == 0.5
    updates = w.events(w.decoder(), sse({"status": "IN_QUEUE", "queue_position": 4}))
    assert updates == [Queued(position=4)]
    assert w.drops == 0 and w.pause() == 0.0


# -- how long to wait between polls -------------------------------------------------------------


def test_after_stream_breaks_the_waiter_checks_at_once_then_backs_off_exponentially() -> None:
    w = waiter(poll_interval=0.25)
    assert w.pause() == 0.0  # streaming, no break yet
    pauses: list[float] = []
    for _ in range(MAX_STREAM_DROPS - 1):
        w.dropped("reset")
        pauses.append(w.pause())
    assert pauses == [0.0, 0.5, 1.0, 2.0]
    w.dropped("reset")  # settles for polling: every poll_interval from now on
    assert not w.streaming and w.pause() == 0.25


def test_the_reconnect_back_off_is_capped_at_five_seconds() -> None:
    w = waiter(poll_interval=2.0)
    pauses: list[float] = []
    for _ in range(MAX_STREAM_DROPS - 1):
        w.dropped("reset")
        pauses.append(w.pause())
    assert pauses == [0.0, 4.0, 5.0, 5.0]


# -- a deadline that passes between streams or polls ----------------------------------------------


def test_a_break_after_the_deadline_raises_the_deadline_s_error_naming_the_request() -> None:
    w = waiter(deadline=Deadline(0.0))
    with pytest.raises(FalTimeoutError) as caught:
        w.dropped("reset")
    assert caught.value.message == f"waiting for request {RID} did not complete within 0s"
    assert w.drops == 0  # raised before counting the break


def test_a_deadline_checked_between_polls_names_the_request() -> None:
    waiter(deadline=Deadline(60.0)).check_deadline()  # in time: nothing raised
    with pytest.raises(FalTimeoutError) as caught:
        waiter(deadline=Deadline(0.0)).check_deadline()
    assert caught.value.message == f"waiting for request {RID} did not complete within 0s"


# -- why the stream was given up is logged --------------------------------------------------------


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "fal_typed"]


def test_each_break_and_the_switch_to_polling_are_logged_with_their_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    w = waiter()
    for number in range(MAX_STREAM_DROPS):
        w.dropped(f"reset {number}")
    breaks = [
        (
            logging.DEBUG,
            f"fal_typed: status stream broke (reset {n}); checking status, then resuming",
        )
        for n in range(MAX_STREAM_DROPS - 1)
    ]
    settled = (
        logging.INFO,
        f"fal_typed: status stream broke {MAX_STREAM_DROPS} times in a row "
        f"(reset {MAX_STREAM_DROPS - 1}); polling instead",
    )
    assert logged(caplog) == [*breaks, settled]


def test_a_refused_stream_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    w = waiter()
    w.refused("HTTP 404")
    assert not w.streaming
    assert logged(caplog) == [
        (logging.DEBUG, "fal_typed: status stream unavailable (HTTP 404); polling instead")
    ]


# -- flows over a socket ----------------------------------------------------------------------------


SSE_HEAD = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}


def event(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body)}\n\n".encode()


class Queue:
    """The status stream and status poll of one request; keeps each request's path and query."""

    def __init__(self, peer: ScriptedPeer) -> None:
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.stream: Script = self.closing_early
        self.polls: list[dict[str, Any]] = [{"status": "COMPLETED"}]
        peer.script = self.route

    async def route(self, exchange: Exchange) -> None:
        self.paths.append(exchange.path)
        self.headers.append({k.lower(): v for k, v in exchange.headers.items()})
        if exchange.path.partition("?")[0].endswith("/status/stream"):
            await self.stream(exchange)
        else:
            polled = sum(1 for p in self.paths if "/status?" in p)
            body = self.polls[min(polled, len(self.polls)) - 1]
            await exchange.answer(
                200, json.dumps(body).encode(), {"Content-Type": "application/json"}
            )

    @staticmethod
    async def closing_early(exchange: Exchange) -> None:
        """One event, then the end of the stream, before COMPLETED."""
        await exchange.head(200, SSE_HEAD)
        await exchange.chunk(event({"status": "IN_QUEUE", "queue_position": 0}))
        await exchange.end_chunks()

    @staticmethod
    async def refused(exchange: Exchange) -> None:
        await exchange.answer(404, b'{"detail": "no stream"}', {"Content-Type": "application/json"})

    @staticmethod
    async def cut_mid_event(exchange: Exchange) -> None:
        await exchange.head(200, {"Content-Type": "text/event-stream", "Connection": "close"})
        await exchange.write(b'data: {"status": "IN_PROGRESS", "lo')
        exchange.close()


def statuses(mode: str, url: str, *, limits: Limits | None = None, **options: Any) -> list[Status]:
    """Every update of one wait, against the peer at ``url``."""
    client = Client(
        KEY,
        queue_url=url,
        run_url=url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        poll_interval=0.01,
        limits=limits,
    )
    if mode == "sync":
        with client:
            return list(iter_status(client, APP, RID, **options))

    async def main() -> list[Status]:
        async with client:
            return [s async for s in iter_status_async(client, APP, RID, **options)]

    return asyncio.run(main())


@pytest.fixture
def url() -> Iterator[tuple[str, Queue]]:
    with serving() as peer:
        yield peer.url, Queue(peer)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_logs", [None, False, True])
def test_with_logs_reaches_the_stream_and_the_polls_and_is_off_by_default(
    url: tuple[str, Queue], mode: str, with_logs: bool | None
) -> None:
    address, queue = url
    options: dict[str, Any] = {} if with_logs is None else {"with_logs": with_logs}
    updates = statuses(mode, address, **options)
    assert updates == [Queued(position=0), Completed()]
    flag = "1" if with_logs else "0"
    assert queue.paths == [
        f"/{APP}/requests/{RID}/status/stream?logs={flag}",
        f"/{APP}/requests/{RID}/status?logs={flag}",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_polled_logs_that_come_back_different_are_not_emitted_twice(
    url: tuple[str, Queue], mode: str
) -> None:
    address, queue = url
    queue.stream = Queue.refused
    rewritten = line("a", timestamp="2026-05-01T12:00:01Z")
    queue.polls = [
        {"status": "IN_PROGRESS", "logs": [line("a")]},
        {"status": "IN_PROGRESS", "logs": [rewritten, line("b")]},
        {"status": "COMPLETED", "logs": [rewritten, line("b"), line("c")]},
    ]
    updates = statuses(mode, address, with_logs=True)
    assert [messages(u) for u in updates] == [["a"], ["b"], ["c"]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        ("closing early", "closed before COMPLETED"),
        ("cut mid-event", "ended in the middle of an event"),
    ],
)
def test_a_stream_break_is_logged_with_what_ended_it(
    url: tuple[str, Queue], caplog: pytest.LogCaptureFixture, mode: str, stream: str, reason: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    address, queue = url
    queue.stream = Queue.closing_early if stream == "closing early" else Queue.cut_mid_event
    assert statuses(mode, address)[-1] == Completed()
    assert (
        logging.DEBUG,
        f"fal_typed: status stream broke ({reason}); checking status, then resuming",
    ) in logged(caplog)


def answering(
    status: int, headers: dict[str, str], body: bytes = event({"status": "COMPLETED"})
) -> Script:
    """A stream answered ``status`` with ``headers``; its body reads like events (one
    COMPLETED), so a client that took it for a stream would finish without a poll."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(status, body, headers)

    return script


def stream_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [entry for entry in logged(caplog) if "status stream" in entry[1]]


UNAVAILABLE = "fal_typed: status stream unavailable ({}); polling instead"
BROKE = "fal_typed: status stream broke ({}); checking status, then resuming"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("answer", "record"),
    [
        (
            answering(200, {"Content-Type": "application/json"}),
            UNAVAILABLE.format("content type 'application/json'"),
        ),
        (answering(200, {}), UNAVAILABLE.format("content type None")),
        (answering(404, {"Content-Type": "text/event-stream"}), UNAVAILABLE.format("HTTP 404")),
        (answering(500, {"Content-Type": "text/event-stream"}), BROKE.format("HTTP 500")),
        (answering(429, {"Content-Type": "application/json"}), BROKE.format("HTTP 429")),
    ],
    ids=["200 JSON", "200 without a content type", "404", "500", "429"],
)
def test_a_stream_answer_that_is_no_stream_is_never_read_as_one_and_logged_once(
    url: tuple[str, Queue], caplog: pytest.LogCaptureFixture, mode: str, answer: Script, record: str
) -> None:
    """A success that is not ``text/event-stream``, or a refusal status, means polling from then
    on; another error status is one break (checked by a poll at once). Either way its body is
    not taken for events, and one record says why."""
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    address, queue = url
    queue.stream = answer
    assert statuses(mode, address) == [Completed()]
    assert queue.paths == [
        f"/{APP}/requests/{RID}/status/stream?logs=0",
        f"/{APP}/requests/{RID}/status?logs=0",
    ]
    assert stream_records(caplog) == [(logging.DEBUG, record)]


@pytest.mark.parametrize("mode", MODES)
def test_an_error_answer_past_the_response_limit_is_a_break_saying_which_limit(
    url: tuple[str, Queue], caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    address, queue = url
    queue.stream = answering(500, {"Content-Type": "text/plain"}, b"x" * 5000)
    assert statuses(mode, address, limits=Limits(max_response_bytes=1000)) == [Completed()]
    reason = "the body is larger than the limit of 1000 bytes"
    assert stream_records(caplog) == [(logging.DEBUG, BROKE.format(reason))]


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_failing_otherwise_is_logged_by_the_error_s_type_not_its_text(
    url: tuple[str, Queue], caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    address, queue = url

    async def endless_line(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        await exchange.chunk(b"data: " + b"x" * 5000)
        await exchange.end_chunks()

    queue.stream = endless_line
    assert statuses(mode, address, limits=Limits(max_sse_line_bytes=1000)) == [Completed()]
    assert stream_records(caplog) == [(logging.DEBUG, BROKE.format("SSELimitError"))]


async def blank_then_end(exchange: Exchange) -> None:
    """An event with nothing in it (not progress), then the end of the stream."""
    await exchange.head(200, SSE_HEAD)
    await exchange.chunk(b"data:  \n\n")
    await exchange.end_chunks()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (answering(502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>"), "HTTP 502"),
        (blank_then_end, "closed before COMPLETED"),
    ],
    ids=["502 each time", "a blank event, then the end, each time"],
)
def test_a_stream_that_keeps_breaking_is_given_up_after_max_stream_drops_each_counted_once(
    url: tuple[str, Queue], caplog: pytest.LogCaptureFixture, mode: str, stream: Script, reason: str
) -> None:
    """Each break counts once, and only progress read from the stream (a status that changed)
    clears the count: after ``MAX_STREAM_DROPS`` breaks in a row the wait settles for polling."""
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    address, queue = url
    queue.stream = stream
    queue.polls = [{"status": "IN_PROGRESS"}] * (MAX_STREAM_DROPS + 2) + [{"status": "COMPLETED"}]
    assert statuses(mode, address) == [InProgress(logs=None), Completed()]
    opened = [p for p in queue.paths if "/status/stream" in p]
    assert len(opened) == MAX_STREAM_DROPS
    assert stream_records(caplog) == [(logging.DEBUG, BROKE.format(reason))] * (
        MAX_STREAM_DROPS - 1
    ) + [
        (
            logging.INFO,
            f"fal_typed: status stream broke {MAX_STREAM_DROPS} times in a row ({reason}); "
            "polling instead",
        )
    ]


@pytest.mark.parametrize("mode", MODES)
def test_an_event_of_blank_data_is_skipped_and_the_stream_kept(
    url: tuple[str, Queue], caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="fal_typed")
    address, queue = url

    async def blank_then_completed(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        await exchange.chunk(b"data:  \n\n")  # the data is one space: nothing to parse
        await exchange.chunk(event({"status": "COMPLETED"}))
        await exchange.end_chunks()

    queue.stream = blank_then_completed
    assert statuses(mode, address) == [Completed()]
    assert queue.paths == [f"/{APP}/requests/{RID}/status/stream?logs=0"]
    assert stream_records(caplog) == []


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_status_on_the_stream_is_a_protocol_error_naming_the_request(
    url: tuple[str, Queue], mode: str
) -> None:
    """As when polled (the status is not one the client can act on, not a broken stream)."""
    address, queue = url

    async def unknown(exchange: Exchange) -> None:
        await exchange.head(200, SSE_HEAD)
        await exchange.chunk(event({"status": "FAILED"}))
        await exchange.end_chunks()

    queue.stream = unknown
    with pytest.raises(ProtocolError, match="unknown request status 'FAILED'") as caught:
        statuses(mode, address)
    assert caught.value.request_id == RID


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_refused_for_the_key_raises_with_the_server_s_answer(
    url: tuple[str, Queue], mode: str
) -> None:
    """Polling would be refused the same way: the error is raised at once, carrying what the
    server said (its body was read within the limits, then handed to the error)."""
    address, queue = url

    async def unauthorised(exchange: Exchange) -> None:
        body = b'{"detail": "invalid key credentials"}'
        await exchange.answer(401, body, {"Content-Type": "application/json"})

    queue.stream = unauthorised
    with pytest.raises(AuthenticationError) as caught:
        statuses(mode, address)
    assert caught.value.body == {"detail": "invalid key credentials"}
    assert "invalid key credentials" in caught.value.message
    assert queue.paths == [f"/{APP}/requests/{RID}/status/stream?logs=0"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stage", ["headers", "events"])
def test_a_deadline_passing_on_the_stream_names_the_request(
    url: tuple[str, Queue], mode: str, stage: str
) -> None:
    """Whether the stream's headers never come or its events never end, the deadline's error
    names the request being waited for."""
    address, queue = url

    async def keepalives(exchange: Exchange) -> None:
        if stage == "events":
            await exchange.head(200, SSE_HEAD)
        while not exchange.closed:
            if stage == "events":
                await exchange.chunk(b": keepalive\n\n")
            await asyncio.sleep(0.05)

    queue.stream = keepalives
    with pytest.raises(FalTimeoutError) as caught:
        statuses(mode, address, deadline=Deadline(1.0))
    assert caught.value.message == f"waiting for request {RID} did not complete within 1s"


@pytest.mark.parametrize("mode", MODES)
def test_status_stream_headers_trickled_past_the_deadline_are_given_up(
    url: tuple[str, Queue], mode: str
) -> None:
    """Each read of the headers is bounded by httpx, not their sum: the wait for them is held to
    the deadline as a whole. The peer would need 400 pauses of 50 ms to finish one header line;
    the client leaves at its 1 s deadline, long before (shown by what the peer sent, not by a
    clock)."""
    address, queue = url
    filler = 400
    progress = {"sent": 0, "finished": False}

    async def trickled_head(exchange: Exchange) -> None:
        try:
            await exchange.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(filler):
                if exchange.closed:
                    return
                await exchange.write(b"a")
                progress["sent"] += 1
                await asyncio.sleep(0.05)
            await exchange.write(
                b"\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            await exchange.write(event({"status": "COMPLETED"}))
            progress["finished"] = True
            exchange.close()
        except (ConnectionError, OSError):
            return

    queue.stream = trickled_head
    with pytest.raises(FalTimeoutError) as caught:
        statuses(mode, address, deadline=Deadline(1.0))
    assert caught.value.message == f"waiting for request {RID} did not complete within 1s"
    assert not progress["finished"] and progress["sent"] < filler


@pytest.mark.parametrize("mode", MODES)
def test_the_status_stream_asks_for_events_never_a_cached_answer(
    url: tuple[str, Queue], mode: str
) -> None:
    address, queue = url
    statuses(mode, address)
    stream = queue.headers[0]
    assert stream["accept"] == "text/event-stream" and stream["cache-control"] == "no-store"
    assert stream["authorization"] == f"Key {KEY}"


def test_the_status_stream_keeps_the_client_s_timeouts_with_a_read_limit(
    url: tuple[str, Queue],
) -> None:
    """Read from an httpx request hook: the stream's connect, write and pool phases are the
    client's; its read phase is at most ``STREAM_IDLE_TIMEOUT`` (30 s)."""
    address, queue = url
    seen: list[dict[str, float | None]] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.extensions["timeout"])

    timeout = httpx.Timeout(60.0, connect=7.0, write=8.0, pool=9.0)
    with (
        httpx.Client(event_hooks={"request": [hook]}) as http,
        Client(KEY, queue_url=address, http_client=http, timeout=timeout, backup_hosts={}) as c,
    ):
        assert list(iter_status(c, APP, RID))[-1] == Completed()
    assert queue.paths[0].startswith(f"/{APP}/requests/{RID}/status/stream")
    assert seen[0] == {"connect": 7.0, "read": 30.0, "write": 8.0, "pool": 9.0}


def test_the_stream_s_idle_capped_timeouts_are_built_once_each_and_stay_bounded() -> None:
    """The capped timeout is remembered per client timeout (a client's is the same on every
    call), and the memo does not grow with the number of timeouts a process uses."""
    from fal_typed import _wait

    memo = _wait._IDLE_CAPPED  # pyright: ignore[reportPrivateUsage]
    for n in range(100):
        base = httpx.Timeout(float(n + 1), connect=1.0)
        capped = _wait._idle_capped(base)  # pyright: ignore[reportPrivateUsage]
        whole = n + 1.0
        assert capped == httpx.Timeout(whole, connect=1.0, read=min(whole, 30.0))
        assert _wait._idle_capped(base) is capped  # pyright: ignore[reportPrivateUsage]
        assert len(memo) <= 64
    unbounded = _wait._idle_capped(httpx.Timeout(None))  # pyright: ignore[reportPrivateUsage]
    assert unbounded == httpx.Timeout(None, read=30.0)


@pytest.mark.parametrize("mode", MODES)
def test_the_status_stream_carries_fal_typed_s_user_agent_through_the_application_s_httpx(
    url: tuple[str, Queue], mode: str
) -> None:
    """The application's httpx clients (both given) carry no User-Agent of ours: the stream
    request adds it, as every request through them does."""
    from fal_typed._client import user_agent

    address, queue = url

    async def main() -> None:
        async with httpx.AsyncClient() as async_http:
            with httpx.Client() as http:
                client = Client(
                    KEY,
                    queue_url=address,
                    http_client=http,
                    async_http_client=async_http,
                    backup_hosts={},
                    poll_interval=0.01,
                )
                if mode == "sync":
                    assert list(iter_status(client, APP, RID))[-1] == Completed()
                else:
                    updates = [u async for u in iter_status_async(client, APP, RID)]
                    assert updates[-1] == Completed()

    asyncio.run(main())
    assert queue.paths[0].startswith(f"/{APP}/requests/{RID}/status/stream")
    assert queue.headers[0]["user-agent"] == user_agent()
    assert queue.headers[0]["authorization"] == f"Key {KEY}"
