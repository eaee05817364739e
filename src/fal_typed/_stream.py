"""`Stream` / `AsyncStream`: a call to the run host's ``/stream`` path (server-sent events).

``POST <run_url>/<endpoint id>/stream`` with the input as JSON (ids that already end with the
path, like ``fal-ai/flux-lora/stream``, are not given it twice); every SSE ``data:`` line is one
JSON partial output and the last event is the final result (PROTOCOL.md section 7). Iterating a
stream yields each event as a dict; :meth:`Stream.result` drains the rest and parses the last
event into the endpoint's ``Output``.

Errors are those of the queue calls: a non-2xx answer raises the typed
:class:`~fal_typed.FalHTTPError` subclass (422 -> FalValidationError...), and so does an event
named ``error`` (its data is read as an error body; its ``status_code``, else 500, picks the
class), the client's key scrubbed out of both. A stream that ends without any event, with
undecodable data, or past a limit raises :class:`~fal_typed.ProtocolError` (``text`` keeps what
could not be read); one cut mid-way, or ended in the middle of an event, raises
:class:`~fal_typed.FalConnectionError`: a truncated stream is never mistaken for a final result.

Bounds (docs/streaming.md): ``timeout`` is a wall-clock limit on the whole call (uploads,
opening, every event), however often the server sends something; without it only the silence
between two reads is bounded (the client's read timeout). A line longer than
``Limits.max_sse_line_bytes`` or an event larger than ``Limits.max_sse_event_bytes`` ends the
stream before more of it is held, and a plain JSON answer is read within
``Limits.max_response_bytes``; compressed bodies within ``Limits.max_decompression_ratio``.

File inputs given as local sources (``Path``, ``bytes``, file objects, PIL images) are checked
when the stream is created and uploaded when it opens, as the queue calls do.

Opening is retried like the other calls when fal provably did not start the work (429, ingress
5xx, a connection that never opened); once events flow nothing is retried, and closing the stream
(leaving the ``with`` block) closes the connection, which cancels the run on fal's side.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError
from typing_extensions import Self, override

from ._attempts import deadline_cut, named
from ._auth import redact
from ._bounded import (
    BodyGuard,
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
from ._client import Client, default_client
from ._deadline import Deadline
from ._errors import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    InvalidArgumentError,
    OutputValidationError,
    PossiblyAcceptedError,
    ProtocolError,
    error_for_response,
)
from ._jsonbody import json_depth_exceeds
from ._options import check_positive
from ._request_json import encode_json, with_json_type
from ._retry import (
    Backoff,
    Kind,
    Outcome,
    decide,
    observe_error,
    observe_response,
    parse_retry_after,
)
from ._sse import SSEDecoder, SSEEvent, SSELimitError
from ._urls import endpoint_url
from ._wallclock import Exchange, exchanges_seen
from .files._arguments import extract_uploads, resolve_uploads, resolve_uploads_async
from .files._input import FileInput

if TYPE_CHECKING:
    from ._endpoint import Endpoint

__all__ = ["AsyncStream", "Stream"]

logger = logging.getLogger("fal_typed")

OutputT = TypeVar("OutputT", bound=BaseModel)

_EVENT_STREAM: Final = "text/event-stream"
_ERROR_EVENT: Final = "error"
#: Characters of an unreadable body quoted in an error message (all of it is kept in ``text``).
_QUOTED: Final = 200


class _StreamBase(Generic[OutputT]):
    """State and decoding shared by the sync and async streams (no I/O here)."""

    endpoint: Endpoint[Any, OutputT]

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        arguments: Mapping[str, Any],
        *,
        client: Client | None = None,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        uploads: Mapping[str, FileInput] | None = None,
    ) -> None:
        if timeout is not None:
            timeout = check_positive("timeout", timeout)
        if not isinstance(path, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(f"path must be a string, got {type(path).__name__}")
        self.endpoint = endpoint
        # Local files, bytes and images become placeholders now (a bad source fails here, before
        # any request) and are uploaded when the stream opens. ``uploads`` maps placeholders an
        # earlier extract_uploads() already put in ``arguments`` to their sources.
        arguments_with_placeholders, found = extract_uploads(arguments)
        self.arguments: dict[str, Any] = arguments_with_placeholders
        self._uploads: dict[str, FileInput] = {**(uploads or {}), **found}
        self.path = path
        self.headers: dict[str, str] = dict(headers or {})
        self.timeout = timeout
        self._client = client
        self.request_id: str | None = None
        """fal's ``x-fal-request-id`` for this call, once the response has started."""
        self.events_received: int = 0
        self._last: dict[str, Any] | None = None
        self._final: OutputT | None = None
        self._ended = False
        self._closed = False
        self._error: FalError | None = None
        self._deadline: Deadline | None = None
        self._decoder: SSEDecoder | None = None
        self._guard: BodyGuard | None = None
        self._pending: deque[SSEEvent] = deque()
        self._plain: bytes | None = None  # a plain JSON answer, read, not yet handed out
        self._response: httpx.Response | None = None
        self._exchanges: list[Exchange] = []  # the requests that opened it, and how far each got

    @override
    def __repr__(self) -> str:
        state = (
            "failed"
            if self._error
            else "ended"
            if self._ended
            else "closed"
            if self._closed
            else "open"
        )
        return f"{type(self).__name__}({self.endpoint.endpoint_id!r}, events={self.events_received}, {state})"

    @property
    def client(self) -> Client:
        """The client given, else the default client built from the environment."""
        if self._client is None:
            self._client = default_client()
        return self._client

    @property
    def _where(self) -> str:
        return f"the stream of {self.endpoint.endpoint_id}"

    _backoff: Backoff | None = None

    def _begin(self) -> Deadline | None:
        """Start the wall clock of ``timeout`` (once: the first open)."""
        if self._deadline is None and self.timeout is not None:
            self._deadline = Deadline(self.timeout)
        return self._deadline

    def _request(
        self, http: httpx.Client | httpx.AsyncClient, body: dict[str, Any]
    ) -> httpx.Request:
        client = self.client
        headers = client.request_headers(
            {"Accept": _EVENT_STREAM, "Cache-Control": "no-store", **self.headers}
        )
        deadline = self._deadline
        timeout = client.timeout if deadline is None else deadline.cap(client.timeout)
        url = endpoint_url(
            client.run_url, self.endpoint.endpoint_id, _route(self.endpoint.endpoint_id, self.path)
        )
        content = encode_json(self.endpoint.endpoint_id, body)
        return http.build_request(
            "POST", url, content=content, headers=with_json_type(headers), timeout=timeout
        )

    def _started(self, response: httpx.Response) -> bool:
        """Record the response; ``True`` for an event stream, ``False`` for a plain JSON body."""
        self.request_id = response.headers.get("x-fal-request-id")
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type == _EVENT_STREAM:
            limits = self.client.limits
            self._decoder = SSEDecoder(
                max_line_bytes=limits.max_sse_line_bytes,
                max_event_bytes=limits.max_sse_event_bytes,
            )
            # A stream may run for hours: only its compression ratio is bounded, not its length.
            self._guard = BodyGuard(
                response, max_bytes=sys.maxsize, max_ratio=limits.max_decompression_ratio
            )
            return True
        if content_type.endswith("json"):
            return False
        raise ProtocolError(
            f"expected an event stream from {self.endpoint.endpoint_id}, got {content_type or 'no content type'!r}",
            request_id=self.request_id,
        )

    # -- decoding ----------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        """What must never appear in an error: the client's key (resolved by the request)."""
        return self.client.secrets

    def _scrub(self, text: str) -> str:
        return redact(text, self._secrets())

    def _take(self, chunk: bytes) -> None:
        """Feed the next bytes of the event stream to the decoder, within the limits."""
        assert self._decoder is not None and self._guard is not None
        problem = self._guard.add(len(chunk))
        if problem is not None:
            raise self._fail(ProtocolError(f"{self._where}: {problem}", request_id=self.request_id))
        try:
            self._pending.extend(self._decoder.feed(chunk))
        except SSELimitError as exc:
            raise self._fail(
                ProtocolError(
                    f"{self._where} was abandoned after {self.events_received} events: {exc} "
                    f"(Limits.{exc.limit})",
                    request_id=self.request_id,
                    error_type="limit_exceeded",
                )
            ) from None

    def _body_ended(self) -> None:
        """The body ended: fail if it stopped inside an event, or carried none."""
        assert self._decoder is not None
        if not self._decoder.finish():
            raise self._fail(
                FalConnectionError(
                    f"{self._where} ended in the middle of an event, after "
                    f"{self.events_received} complete events: the last event is lost, so "
                    "there is no final result",
                    request_id=self.request_id,
                )
            )
        self._end()

    def _next_pending(self) -> dict[str, Any] | None:
        """The next decoded event already received, or ``None`` when more must be read."""
        while self._pending:
            event = self._event(self._pending.popleft())
            if event is not None:
                return event
        return None

    def _event(self, sse: SSEEvent) -> dict[str, Any] | None:
        """Decode one SSE event: a partial output dict, ``None`` to skip, or raise its error."""
        if not sse.data.strip():
            return None
        try:
            data: Any = json.loads(sse.data)
        except (ValueError, RecursionError):
            if sse.event != _ERROR_EVENT:
                raise self._fail(
                    self._unreadable(f"event {self.events_received + 1}", "is not JSON", sse.data)
                ) from None
            data = sse.data
        if sse.event == _ERROR_EVENT:
            raise self._fail(self._error_event(data, sse.data))
        self._check_depth(data, f"event {self.events_received + 1}", sse.data)
        return self._accept(data, sse.data)

    def _plain_event(self, raw: bytes) -> dict[str, Any]:
        """The one event of a plain JSON answer."""
        self._ended = True
        text = raw.decode("utf-8", "replace")
        try:
            data: Any = json.loads(text)
        except (ValueError, RecursionError):
            raise self._fail(self._unreadable("the JSON answer", "is not JSON", text)) from None
        self._check_depth(data, "the JSON answer", text)
        return self._accept(data, text)

    def _check_depth(self, data: Any, what: str, text: str) -> None:
        """Refuse an event nested past ``Limits.max_json_depth`` (its text kept on the error)."""
        limit = self.client.limits.max_json_depth
        if json_depth_exceeds(data, limit):
            error = self._unreadable(
                what, f"is nested deeper than Limits.max_json_depth ({limit})", text
            )
            error.error_type = "limit_exceeded"
            raise self._fail(error)

    def _accept(self, data: Any, text: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self._fail(
                self._unreadable(f"event {self.events_received + 1}", "is not a JSON object", text)
            )
        event = cast(dict[str, Any], data)
        self.events_received += 1
        self._last = event
        return event

    def _unreadable(self, what: str, problem: str, text: str) -> ProtocolError:
        scrubbed = self._scrub(text)
        quoted = scrubbed[:_QUOTED] + ("..." if len(scrubbed) > _QUOTED else "")
        return ProtocolError(
            f"{what} of {self.endpoint.endpoint_id} {problem}: {quoted!r}",
            request_id=self.request_id,
            text=scrubbed,
        )

    def _error_event(self, data: Any, text: str) -> FalHTTPError:
        status = 500
        if isinstance(data, dict):
            fields = cast(dict[str, Any], data)
            for key in ("status_code", "status"):
                value = fields.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
                    status = value
                    break
        # Only the response's own headers: the request's (with the key) are never kept. The
        # error scrubs the key (and tokens) out of them and of the body itself.
        return error_for_response(
            status, data, self._response_headers(), request_id=self.request_id
        )

    def _response_headers(self) -> Mapping[str, str]:
        return self._response.headers if self._response is not None else {}

    # -- ending ------------------------------------------------------------------------------

    def _end(self) -> None:
        """The stream finished normally: fail if it carried nothing."""
        self._ended = True
        if self._last is None:
            raise self._fail(
                ProtocolError(
                    f"the stream of {self.endpoint.endpoint_id} ended without any event",
                    request_id=self.request_id,
                )
            )

    def _fail(self, error: FalError) -> FalError:
        """End the stream with ``error``; :meth:`_output` raises it again (never a partial)."""
        self._ended = True
        self._error = error
        return error

    def _timed_out(self) -> FalError:
        """The error of a stream its ``timeout`` ended: possibly accepted once its request was
        sent (the retry table's deadline column)."""
        seconds = self.timeout or 0.0
        after = f" ({self.events_received} events received)" if self.events_received else ""
        error = FalTimeoutError(
            f"{self._where} did not end within {seconds:g}s{after}; it was closed, which "
            "cancels the run",
            timeout=seconds,
            request_id=self.request_id,
        )
        cut = deadline_cut(error, self._exchanges, kind=Kind.STREAM, redact=self.client.redact)
        return self._fail(named(cut, self.endpoint.endpoint_id))

    def _too_large(self, what: str, problem: str) -> FalError:
        return self._fail(
            ProtocolError(
                f"{what} of {self.endpoint.endpoint_id}: {problem}",
                request_id=self.request_id,
                error_type="limit_exceeded",
            )
        )

    _sent_at: float | None = None

    def _open_error(self, exc: httpx.TransportError, attempt: int) -> FalError:
        """The error of a request that could not be opened, as the retry table's stream row says:
        after it may have reached fal, :class:`PossiblyAcceptedError` (it is a paid POST)."""
        deadline = self._deadline
        if deadline is not None and deadline.expired:
            return self._timed_out()
        outcome = observe_error(exc)
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            request: httpx.Request | None = exc.request
        except RuntimeError:
            request = None
        if outcome is not None and decide(Kind.STREAM, outcome).error is PossiblyAcceptedError:
            content = request.content if request is not None else b""
            return self._fail(
                PossiblyAcceptedError(
                    f"{self._where} failed after the request was sent ({detail}); fal may have "
                    "accepted it, so it was not sent again",
                    endpoint_id=self.endpoint.endpoint_id,
                    method="POST",
                    url=None if request is None else str(request.url),
                    payload_sha256=hashlib.sha256(content).hexdigest(),
                    payload_size=len(content),
                    sent_at=self._sent_at,
                    failed_at=time.time(),
                )
            )
        if outcome is Outcome.DNS_FAILURE and request is not None:
            return self._fail(
                FalConnectionError(
                    f"{self._where}: cannot resolve the host name {request.url.host!r} "
                    f"({detail}); nothing was sent"
                )
            )
        tried = f" after {attempt} attempts" if attempt > 1 else ""
        return self._fail(FalConnectionError(f"{self._where} could not be opened{tried}: {detail}"))

    def _transport_error(self, exc: httpx.HTTPError) -> FalError:
        deadline = self._deadline
        if deadline is not None and deadline.expired:
            return self._timed_out()
        if isinstance(exc, httpx.TimeoutException):
            seconds = self.client.timeout.read or 0.0
            return self._fail(
                FalTimeoutError(
                    f"{self._where} timed out ({type(exc).__name__} after {seconds:g}s)",
                    timeout=seconds,
                    request_id=self.request_id,
                )
            )
        if isinstance(exc, httpx.DecodingError):
            return self._fail(
                ProtocolError(
                    f"{self._where} has a body that cannot be decoded ({exc})",
                    request_id=self.request_id,
                )
            )
        after = f" after {self.events_received} events" if self.events_received else ""
        return self._fail(
            FalConnectionError(
                f"{self._where} broke{after}: {type(exc).__name__}", request_id=self.request_id
            )
        )

    def _output(self) -> OutputT:
        if self._final is not None:
            return self._final
        if self._error is not None:
            raise self._error
        if not self._ended or self._last is None:
            raise FalError(
                f"the stream of {self.endpoint.endpoint_id} was closed before its final event",
                request_id=self.request_id,
                error_type="stream_closed",
            )
        try:
            self._final = self.endpoint.Output.model_validate(self._last)
        except (ValidationError, RecursionError) as exc:
            raise OutputValidationError(
                f"final event of {self.endpoint.endpoint_id} does not match {self.endpoint.Output.__name__}: {exc}",
                data=self._last,
                request_id=self.request_id,
            ) from None
        return self._final

    def _answer_error(self, answer: httpx.Response) -> FalError:
        """The error of a final answer: a gateway 502/504 may come after fal accepted the
        stream's request, so it is the table's :class:`PossiblyAcceptedError`."""
        outcome = observe_response(answer, retry_statuses=self.client.retry.retry_statuses)
        if outcome is not None and decide(Kind.STREAM, outcome).error is PossiblyAcceptedError:
            return PossiblyAcceptedError(
                f"{self._where}: answered HTTP {answer.status_code} by a gateway, which can come "
                "after fal accepted the request; it was not sent again",
                endpoint_id=self.endpoint.endpoint_id,
                method="POST",
                url=str(answer.request.url),
                status_code=answer.status_code,
                payload_sha256=hashlib.sha256(answer.request.content).hexdigest(),
                payload_size=len(answer.request.content),
                sent_at=self._sent_at,
                failed_at=time.time(),
            )
        return self.client.error_for(answer)

    def _retry_wait(
        self, attempt: int, outcome: httpx.Response | httpx.TransportError
    ) -> float | None:
        """Seconds to wait before opening again, or ``None`` if this failure is final (the
        retry table's stream row; backoff per outcome, within ``max_elapsed``)."""
        policy = self.client.retry
        if attempt == 1 or self._backoff is None:
            self._backoff = Backoff(policy)
        if attempt >= policy.max_attempts:
            return None
        if isinstance(outcome, httpx.Response):
            observed = observe_response(outcome, retry_statuses=policy.retry_statuses)
            retry_after = parse_retry_after(outcome.headers.get("retry-after"))
        else:
            observed = observe_error(outcome)
            retry_after = None
        if observed is None or not policy.decision(Kind.STREAM, observed).retry:
            return None
        wait = self._backoff.wait(observed, retry_after)
        if wait is None:
            return None
        logger.info(
            "fal_typed: retrying %s in %.2fs after %s (attempt %d of %d)",
            self._where,
            wait,
            observed.value,
            attempt + 1,
            policy.max_attempts,
        )
        deadline = self._deadline
        if deadline is not None and wait >= deadline.remaining():
            raise self._timed_out()
        return wait

    def _body_bounds(self) -> dict[str, Any]:
        limits = self.client.limits
        return {
            "max_bytes": limits.max_response_bytes,
            "max_ratio": limits.max_decompression_ratio,
            "deadline": self._deadline,
        }

    def _closed_error(self) -> FalError:
        return FalError(f"{self._where} is closed", error_type="stream_closed")


def _route(endpoint_id: str, path: str) -> str:
    """``path``, unless the id already ends with it (``fal-ai/flux-lora/stream`` is its own stream)."""
    suffix = path.strip("/")
    return "" if suffix and endpoint_id.strip("/").endswith("/" + suffix) else path


class Stream(_StreamBase[OutputT]):
    """The partial events of a ``/stream`` call, then its typed final output.

    Use it as a context manager so leaving early closes the connection::

        with endpoint.stream(args) as stream:
            for event in stream:      # dicts, in order
                ...
            out = stream.result()     # the endpoint's Output, from the last event
    """

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        arguments: Mapping[str, Any],
        *,
        client: Client | None = None,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        uploads: Mapping[str, FileInput] | None = None,
    ) -> None:
        super().__init__(
            endpoint,
            arguments,
            client=client,
            path=path,
            headers=headers,
            timeout=timeout,
            uploads=uploads,
        )
        self._chunks: Iterator[bytes] | None = None
        self._interrupter: Interrupter | None = None

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._ended:
            raise StopIteration
        if self._closed:  # before its end: say so (with the request id), not "no more events"
            self._output()
            raise StopIteration
        self._open()
        try:
            event = self._next_event()
        except BaseException:
            self.close()
            raise
        if event is None:
            self.close()
            raise StopIteration
        return event

    @property
    def final(self) -> OutputT:
        """The typed final output; drains the stream first (same as :meth:`result`)."""
        return self.result()

    def result(self) -> OutputT:
        """Consume the remaining events and return the last one parsed into ``Output``."""
        for _ in self:
            pass
        return self._output()

    def close(self) -> None:
        """Close the connection (cancelling the run if it is still going). Idempotent."""
        self._closed = True
        response, self._response, self._chunks = self._response, None, None
        interrupter, self._interrupter = self._interrupter, None
        if interrupter is not None:
            interrupter.cancel()
        if response is not None:
            response.close()

    def _next_event(self) -> dict[str, Any] | None:
        """The next event, or ``None`` at the end of a complete stream."""
        if self._plain is not None:
            raw, self._plain = self._plain, None
            return self._plain_event(raw)
        while True:
            event = self._next_pending()
            if event is not None:
                return event
            chunk = self._read()
            if chunk is None:
                self._body_ended()
                return None
            self._take(chunk)

    def _read(self) -> bytes | None:
        """The next chunk of the body, ``None`` at its end; bounded by ``timeout``."""
        deadline, chunks = self._deadline, self._chunks
        assert chunks is not None
        if deadline is not None and deadline.expired:
            raise self._timed_out()
        interrupter = self._interrupter
        try:
            chunk = next(chunks, None)
        except httpx.HTTPError as exc:
            if interrupter is not None and interrupter.fired:
                raise self._timed_out() from None
            raise self._transport_error(exc) from None
        if chunk is None and interrupter is not None and interrupter.fired:
            raise self._timed_out()  # the shutdown looks like the end of a close-delimited body
        return chunk

    def _open(self) -> httpx.Response:
        if self._response is not None:
            return self._response
        if self._closed:
            raise self._closed_error()
        deadline = self._begin()
        http = self.client.http
        body = (
            resolve_uploads(self.arguments, self._uploads, self.client, deadline=deadline)
            if self._uploads
            else self.arguments
        )
        attempt = 0
        with exchanges_seen(http, deadline) as self._exchanges:
            while True:
                attempt += 1
                self._sent_at = time.time()
                try:
                    response = send_within(http, self._request(http, body), deadline)
                except TimedOut:
                    raise self._timed_out() from None
                except httpx.TransportError as exc:
                    wait = self._retry_wait(attempt, exc)
                    if wait is None:
                        raise self._open_error(exc, attempt) from None
                    time.sleep(wait)
                    continue
                if response.is_success:
                    break
                answer = self._read_error(response)
                wait = self._retry_wait(attempt, answer)
                if wait is None:
                    raise self._fail(self._answer_error(answer))
                time.sleep(wait)
        try:
            sse = self._started(response)
            if not sse:
                self._plain = self._read_plain(response)
        except BaseException:
            response.close()
            raise
        self._response = response
        if sse:
            self._chunks = response.iter_bytes()
            self._interrupter = Interrupter(response, deadline)
        else:
            response.close()
        return response

    def _read_plain(self, response: httpx.Response) -> bytes:
        try:
            return read_body(response, **self._body_bounds())
        except LimitExceeded as exc:
            raise self._too_large("the JSON answer", str(exc)) from None
        except TimedOut:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    def _read_error(self, response: httpx.Response) -> httpx.Response:
        try:
            body = read_body(response, **self._body_bounds())
        except LimitExceeded as exc:
            raise self._too_large(f"the HTTP {response.status_code} answer", str(exc)) from None
        except TimedOut:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        finally:
            response.close()
        return read_answer(response, body)


class AsyncStream(_StreamBase[OutputT]):
    """Async twin of :class:`Stream`: ``async with``, ``async for``, ``await result()``."""

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        arguments: Mapping[str, Any],
        *,
        client: Client | None = None,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        uploads: Mapping[str, FileInput] | None = None,
    ) -> None:
        super().__init__(
            endpoint,
            arguments,
            client=client,
            path=path,
            headers=headers,
            timeout=timeout,
            uploads=uploads,
        )
        self._chunks: AsyncGenerator[bytes, None] | None = None

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._ended:
            raise StopAsyncIteration
        if self._closed:  # before its end: say so (with the request id), not "no more events"
            self._output()
            raise StopAsyncIteration
        await self._open()
        try:
            event = await self._next_event()
        except BaseException:
            await self.aclose()
            raise
        if event is None:
            await self.aclose()
            raise StopAsyncIteration
        return event

    async def result(self) -> OutputT:
        """Consume the remaining events and return the last one parsed into ``Output``."""
        async for _ in self:
            pass
        return self._output()

    async def aclose(self) -> None:
        """Close the connection (cancelling the run if it is still going). Idempotent."""
        self._closed = True
        response, self._response = self._response, None
        chunks, self._chunks = self._chunks, None
        if chunks is not None:
            await chunks.aclose()
        if response is not None:
            await response.aclose()

    async def _next_event(self) -> dict[str, Any] | None:
        if self._plain is not None:
            raw, self._plain = self._plain, None
            return self._plain_event(raw)
        while True:
            event = self._next_pending()
            if event is not None:
                return event
            chunk = await self._read()
            if chunk is None:
                self._body_ended()
                return None
            self._take(chunk)

    async def _read(self) -> bytes | None:
        chunks = self._chunks
        assert chunks is not None
        try:
            return await next_within(chunks, self._deadline)
        except StopAsyncIteration:
            return None
        except TimedOut:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    async def _open(self) -> httpx.Response:
        import asyncio  # not at module level: only async streams need it

        if self._response is not None:
            return self._response
        if self._closed:
            raise self._closed_error()
        deadline = self._begin()
        http = self.client.async_http
        body = self.arguments
        if self._uploads:
            body = await resolve_uploads_async(
                self.arguments, self._uploads, self.client, deadline=deadline
            )
        attempt = 0
        with exchanges_seen(http, deadline) as self._exchanges:
            while True:
                attempt += 1
                self._sent_at = time.time()
                try:
                    response = await self._send(http, body)
                except httpx.TransportError as exc:
                    wait = self._retry_wait(attempt, exc)
                    if wait is None:
                        raise self._open_error(exc, attempt) from None
                    await asyncio.sleep(wait)
                    continue
                if response.is_success:
                    break
                answer = await self._read_error(response)
                wait = self._retry_wait(attempt, answer)
                if wait is None:
                    raise self._fail(self._answer_error(answer))
                await asyncio.sleep(wait)
        try:
            sse = self._started(response)
            if not sse:
                self._plain = await self._read_plain(response)
        except BaseException:
            await response.aclose()
            raise
        self._response = response
        if sse:
            self._chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
        else:
            await response.aclose()
        return response

    async def _send(self, http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
        """Send the request; the wait for the answer's headers counts against ``timeout`` too."""
        try:
            return await await_within(
                http.send(self._request(http, body), stream=True), self._deadline
            )
        except TimedOut:
            raise self._timed_out() from None

    async def _read_plain(self, response: httpx.Response) -> bytes:
        try:
            return await aread_body(response, **self._body_bounds())
        except LimitExceeded as exc:
            raise self._too_large("the JSON answer", str(exc)) from None
        except TimedOut:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    async def _read_error(self, response: httpx.Response) -> httpx.Response:
        try:
            body = await aread_body(response, **self._body_bounds())
        except LimitExceeded as exc:
            raise self._too_large(f"the HTTP {response.status_code} answer", str(exc)) from None
        except TimedOut:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        finally:
            await response.aclose()
        return read_answer(response, body)
