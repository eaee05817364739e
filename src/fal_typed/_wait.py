"""Waiting for a queued request: the status SSE stream first, polling when it is unavailable.

``GET .../requests/<id>/status/stream`` sends one event per status change and closes after
``COMPLETED``, so completion is seen as soon as fal announces it, with no poll interval in the
way. When the stream breaks (reset, idle timeout, closed before ``COMPLETED``, 429/5xx) the
waiter polls status once, to catch what happened while it was disconnected, then reopens the
stream, backing off if it keeps breaking; after ``MAX_STREAM_DROPS`` breaks in a row without an
event it settles for polling. A refused stream (404/405/501, not an event stream) switches to
polling at once, every ``Client.poll_interval`` seconds.

After ``COMPLETED`` the stream is read on to its end, briefly (``_END_GRACE``, ``_END_SLACK``),
so that its connection is kept and fetches the result: a response closed before its end takes
its connection with it.

Updates are emitted once per change. Their ``logs`` hold only the lines not seen before, whether
they came from the stream (which sends new lines) or from polling (which repeats all of them).

A ``deadline`` (``client_timeout``) is a wall-clock limit whatever the server sends: the wait for
the stream's headers and every read of its body end when it passes (sync: the socket is shut
down; async: the read is cancelled), so log lines, repeated statuses or ``: keepalive``
comments never extend it. Events already received are handled first, so a ``COMPLETED`` that
arrived in time is never dropped. Lines and events are held within the client's ``Limits``
(``max_sse_line_bytes``, ``max_sse_event_bytes``); a stream cut mid-event counts as broken.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import aclosing, closing, suppress
from dataclasses import replace
from typing import Literal, TypedDict, cast

import httpx

from ._bounded import (
    Interrupter,
    LimitExceeded,
    TimedOut,
    aread_body,
    await_within,
    next_within,
    read_answer,
    read_body,
    send_within,
)
from ._client import Client, parsed_url
from ._deadline import Deadline
from ._errors import FalTimeoutError
from ._queue import get_status, get_status_async, status_params
from ._sse import SSEDecoder, SSELimitError
from ._status import Completed, InProgress, Log, Queued, Status, parse_status
from ._urls import request_url

__all__ = ["MAX_STREAM_DROPS", "STREAM_IDLE_TIMEOUT", "iter_status", "iter_status_async"]

logger = logging.getLogger("fal_typed")

#: Consecutive stream breaks (with no event in between) before falling back to polling.
MAX_STREAM_DROPS = 5
#: Longest silence on the status stream before it is treated as broken and checked by a poll.
STREAM_IDLE_TIMEOUT = 30.0
_MAX_RECONNECT_DELAY = 5.0
_REFUSED_STATUSES = frozenset({400, 404, 405, 406, 410, 501})
_SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
#: How long the status stream's end is awaited after ``COMPLETED`` (fal ends the stream right
#: after it), and how many more bytes are read for it. A stream read to its end hands its
#: connection back to the pool, so the result is fetched on it rather than on a new connection
#: (a TCP and TLS handshake saved per call). Past either bound the stream is closed, and its
#: connection with it, as before: the wait is over either way.
_END_GRACE = 0.1
_END_SLACK = 64 * 1024

_StreamFailure = (httpx.TransportError, SSELimitError, ValueError)


class _BrokenStream(ValueError):
    """The status stream ended inside an event, or answered an error other than a refusal: a
    broken stream (checked by a poll), not a clean close. Its message is the logged reason."""


def _break_reason(exc: Exception) -> str:
    """What the log says broke the stream: a broken stream's own reason, else the error's type
    (a transport error's text may quote the URL, not worth a log line)."""
    return str(exc) if isinstance(exc, _BrokenStream) else type(exc).__name__


class _Waiter:
    """The decisions both wait loops share: log deltas, change detection, stream or poll."""

    def __init__(
        self,
        client: Client,
        endpoint_id: str,
        request_id: str,
        *,
        with_logs: bool,
        deadline: Deadline | None,
    ) -> None:
        self.client = client
        self.request_id = request_id
        self.deadline = deadline
        self.stream_url = request_url(client.queue_url, endpoint_id, request_id, "status/stream")
        self.query = tuple(status_params(with_logs).items())
        self.streaming = True
        self.drops = 0
        self._seen: list[Log] = []
        self._last_state: object = None
        self._fresh_stream = True

    # -- what to emit ------------------------------------------------------------------------

    def accept(self, status: Status, source: Literal["poll", "stream"]) -> Status | None:
        """The update to emit for a received status, or None if nothing changed."""
        new_lines = False
        if isinstance(status, (InProgress, Completed)) and status.logs is not None:
            status = replace(status, logs=self._new_logs(status.logs, source))
            new_lines = bool(status.logs)
        if source == "stream":
            self._fresh_stream = False
        state = status if isinstance(status, Queued) else type(status)
        if state == self._last_state and not new_lines and not isinstance(status, Completed):
            return None
        self._last_state = state
        if source == "stream":
            # Only progress clears the break count: a stream that keeps repeating the same
            # status and closing must still back off and end up polled.
            self.drops = 0
        return status

    def _new_logs(self, logs: list[Log], source: Literal["poll", "stream"]) -> list[Log]:
        seen = len(self._seen)
        if source == "poll" or self._fresh_stream:
            # Polled logs repeat every line; a reopened stream may too. Drop what was emitted.
            if logs[:seen] == self._seen:
                new = logs[seen:]
            else:
                new = logs[seen:] if source == "poll" else logs
        else:
            new = logs
        self._seen.extend(new)
        return new

    # -- stream or poll ----------------------------------------------------------------------

    def stream_timeout(self) -> httpx.Timeout:
        timeout = _idle_capped(self.client.timeout)
        return self.deadline.cap(timeout) if self.deadline else timeout

    def stream_opened(self, response: httpx.Response) -> bool:
        """Whether the response is a usable event stream; False when it is refused (the wait
        polls from then on). Any other error answer is a break (:class:`_BrokenStream`), counted
        once by the wait loop like every other.

        Auth failures are raised (polling would fail the same way); the body must be read.
        """
        if response.is_success:
            if "text/event-stream" in response.headers.get("content-type", ""):
                return True
            self.refused(f"content type {response.headers.get('content-type')!r}")
            return False
        if response.status_code in (401, 403):
            raise self.client.error_for(response)
        if response.status_code not in _REFUSED_STATUSES:
            raise _BrokenStream(f"HTTP {response.status_code}")
        self.refused(f"HTTP {response.status_code}")
        return False

    def refused(self, why: str) -> None:
        logger.debug("fal_typed: status stream unavailable (%s); polling instead", why)
        self.streaming = False

    def dropped(self, why: str) -> None:
        if self.deadline is not None:
            self.deadline.check(f"waiting for request {self.request_id}")
        self.drops += 1
        self._fresh_stream = True
        if self.drops >= MAX_STREAM_DROPS:
            logger.info(
                "fal_typed: status stream broke %d times in a row (%s); polling instead",
                self.drops,
                why,
            )
            self.streaming = False
        else:
            logger.debug("fal_typed: status stream broke (%s); checking status, then resuming", why)

    def pause(self) -> float:
        """Seconds to wait after a poll that did not complete."""
        if not self.streaming:
            delay = self.client.poll_interval
        elif self.drops <= 1:
            delay = 0.0
        else:
            delay = min(self.client.poll_interval * 2 ** (self.drops - 1), _MAX_RECONNECT_DELAY)
        return self.deadline.bound(delay) if self.deadline else delay

    def check_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.check(f"waiting for request {self.request_id}")

    def timed_out(self) -> FalTimeoutError:
        assert self.deadline is not None
        return self.deadline.error(f"waiting for request {self.request_id}")

    def decoder(self) -> SSEDecoder:
        limits = self.client.limits
        return SSEDecoder(
            max_line_bytes=limits.max_sse_line_bytes, max_event_bytes=limits.max_sse_event_bytes
        )

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            "GET",
            parsed_url(self.stream_url, self.query),
            headers=self.client.headers_for(http, _SSE_HEADERS),
            timeout=self.stream_timeout(),
        )

    def events(self, decoder: SSEDecoder, chunk: bytes) -> list[Status]:
        """The updates to emit for the next bytes of the stream, up to a ``Completed``."""
        updates: list[Status] = []
        for event in decoder.feed(chunk):
            status = _event_status(event.data, self.request_id)
            update = None if status is None else self.accept(status, "stream")
            if update is not None:
                updates.append(update)
                if isinstance(update, Completed):
                    break
        return updates


_IDLE_CAPPED: dict[tuple[float | None, ...], httpx.Timeout] = {}


def _idle_capped(base: httpx.Timeout) -> httpx.Timeout:
    """``base`` with its read phase cut to ``STREAM_IDLE_TIMEOUT``, built once per timeout (a
    client's is the same on every call)."""
    phases = (base.connect, base.read, base.write, base.pool)
    timeout = _IDLE_CAPPED.get(phases)
    if timeout is None:
        read = STREAM_IDLE_TIMEOUT if base.read is None else min(base.read, STREAM_IDLE_TIMEOUT)
        timeout = httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)
        if len(_IDLE_CAPPED) >= 64:
            _IDLE_CAPPED.clear()
        _IDLE_CAPPED[phases] = timeout
    return timeout


class _ErrorBounds(TypedDict):
    max_bytes: int
    max_ratio: float
    deadline: Deadline | None


def _error_bounds(waiter: _Waiter) -> _ErrorBounds:
    """How much of an error answer to the status stream is read, and for how long."""
    limits = waiter.client.limits
    return {
        "max_bytes": limits.max_response_bytes,
        "max_ratio": limits.max_decompression_ratio,
        "deadline": waiter.deadline,
    }


def _event_status(data: str, request_id: str) -> Status | None:
    return parse_status(json.loads(data), request_id=request_id) if data.strip() else None


def iter_status(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    with_logs: bool = False,
    deadline: Deadline | None = None,
) -> Generator[Status, None, None]:
    """Yield each status change of a request, ending with its :class:`Completed`."""
    waiter = _Waiter(client, endpoint_id, request_id, with_logs=with_logs, deadline=deadline)
    while True:
        if waiter.streaming:
            try:
                with closing(_read_stream(waiter)) as stream:
                    for status in stream:
                        yield status
                        if isinstance(status, Completed):
                            return
                if waiter.streaming:
                    waiter.dropped("closed before COMPLETED")
            except _StreamFailure as exc:
                waiter.dropped(_break_reason(exc))
        status = get_status(client, endpoint_id, request_id, with_logs=with_logs, deadline=deadline)
        update = waiter.accept(status, "poll")
        if update is not None:
            yield update
            if isinstance(update, Completed):
                return
        time.sleep(waiter.pause())
        waiter.check_deadline()


def _read_stream(waiter: _Waiter) -> Generator[Status, None, None]:
    """One status stream connection's updates. ``Completed`` is yielded only once the stream is
    closed, so its connection is not held while the caller fetches the result."""
    http = waiter.client.http
    deadline = waiter.deadline
    try:
        response = send_within(http, waiter.request(http), deadline)
    except TimedOut:
        raise waiter.timed_out() from None
    final: Completed | None = None
    try:
        if not response.is_success:
            try:
                body = read_body(response, **_error_bounds(waiter))
            except TimedOut:
                raise waiter.timed_out() from None
            except LimitExceeded as exc:
                raise _BrokenStream(str(exc)) from None
            response = read_answer(response, body)
        if not waiter.stream_opened(response):
            return
        decoder = waiter.decoder()
        chunks = response.iter_bytes()
        with Interrupter(response, deadline) as interrupter:
            while final is None:
                if deadline is not None and deadline.expired:
                    raise waiter.timed_out()
                try:
                    chunk = next(chunks, None)
                except httpx.TransportError:
                    if interrupter.fired:
                        raise waiter.timed_out() from None
                    raise
                if chunk is None:
                    if interrupter.fired:  # the shutdown looks like a close-delimited end
                        raise waiter.timed_out()
                    if not decoder.finish():
                        raise _BrokenStream("ended in the middle of an event") from None
                    return
                for update in waiter.events(decoder, chunk):
                    if isinstance(update, Completed):
                        final = update
                        break
                    yield update
        _read_to_end(response, chunks, deadline)
    finally:
        response.close()
    yield final


def _end_bound(deadline: Deadline | None) -> Deadline:
    """How long the stream's end is awaited: ``_END_GRACE``, or the call's deadline if sooner."""
    grace = Deadline(_END_GRACE)
    return deadline if deadline is not None and deadline.end < grace.end else grace


def _read_to_end(
    response: httpx.Response, chunks: Iterator[bytes], deadline: Deadline | None
) -> None:
    """Read the rest of a stream that sent ``COMPLETED``, within ``_END_GRACE`` and
    ``_END_SLACK`` (not as events: nothing after ``COMPLETED`` is handled), so that its
    connection can serve the result. Whatever ends it early is no failure. A response with no
    socket to shut down (a custom transport) is not waited for: nothing could bound the wait."""
    left = _END_SLACK
    with Interrupter(response, _end_bound(deadline)) as bound, suppress(httpx.HTTPError):
        if not bound.armed:
            return
        for chunk in chunks:
            left -= len(chunk)
            if left < 0:
                return


async def iter_status_async(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    with_logs: bool = False,
    deadline: Deadline | None = None,
) -> AsyncGenerator[Status, None]:
    """Async twin of :func:`iter_status`."""
    waiter = _Waiter(client, endpoint_id, request_id, with_logs=with_logs, deadline=deadline)
    while True:
        if waiter.streaming:
            try:
                async with aclosing(_read_stream_async(waiter)) as stream:
                    async for status in stream:
                        yield status
                        if isinstance(status, Completed):
                            return
                if waiter.streaming:
                    waiter.dropped("closed before COMPLETED")
            except _StreamFailure as exc:
                waiter.dropped(_break_reason(exc))
        status = await get_status_async(
            client, endpoint_id, request_id, with_logs=with_logs, deadline=deadline
        )
        update = waiter.accept(status, "poll")
        if update is not None:
            yield update
            if isinstance(update, Completed):
                return
        import asyncio

        await asyncio.sleep(waiter.pause())
        waiter.check_deadline()


async def _read_stream_async(waiter: _Waiter) -> AsyncGenerator[Status, None]:
    """Async twin of :func:`_read_stream`."""

    http = waiter.client.async_http
    deadline = waiter.deadline
    try:
        response = await await_within(http.send(waiter.request(http), stream=True), deadline)
    except TimedOut:
        raise waiter.timed_out() from None
    final: Completed | None = None
    try:
        if not response.is_success:
            try:
                body = await aread_body(response, **_error_bounds(waiter))
            except TimedOut:
                raise waiter.timed_out() from None
            except LimitExceeded as exc:
                raise _BrokenStream(str(exc)) from None
            response = read_answer(response, body)
        if not waiter.stream_opened(response):
            return
        decoder = waiter.decoder()
        chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
        async with aclosing(chunks):
            while final is None:
                try:
                    chunk = await next_within(chunks, deadline)
                except StopAsyncIteration:
                    if not decoder.finish():
                        raise _BrokenStream("ended in the middle of an event") from None
                    return
                except TimedOut:
                    raise waiter.timed_out() from None
                for update in waiter.events(decoder, chunk):
                    if isinstance(update, Completed):
                        final = update
                        break
                    yield update
            await _read_to_end_async(chunks, deadline)
    finally:
        await response.aclose()
    yield final


async def _read_to_end_async(chunks: AsyncIterator[bytes], deadline: Deadline | None) -> None:
    """Async twin of :func:`_read_to_end`."""
    left = _END_SLACK
    bound = _end_bound(deadline)
    with suppress(httpx.HTTPError, TimedOut, StopAsyncIteration):
        while left >= 0:
            left -= len(await next_within(chunks, bound))
