"""`Stream` / `AsyncStream`: a call to the run host's ``/stream`` path (server-sent events).

``POST <run_url>/<endpoint id>/stream`` with the input as JSON (ids that already end with the
path, like ``fal-ai/flux-lora/stream``, are not given it twice); every SSE ``data:`` line is one
JSON partial output and the last event is the final result (PROTOCOL.md section 7). Iterating a
stream yields each event as a dict; :meth:`Stream.result` drains the rest and parses the last
event into the endpoint's ``Output``.

Errors are those of the queue calls: a non-2xx answer raises the typed
:class:`~fal_typed.FalHTTPError` subclass (422 -> FalValidationError...), and so does an event
named ``error`` (its data is read as an error body; its ``status_code``, else 500, picks the
class). A stream that ends without any event, or with undecodable data, raises
:class:`~fal_typed.ProtocolError`; one cut mid-way raises :class:`~fal_typed.FalConnectionError`:
a truncated stream is never mistaken for a final result.

File inputs given as local sources (``Path``, ``bytes``, file objects, PIL images) are checked
when the stream is created and uploaded when it opens, as the queue calls do.

Opening is retried like the other calls when fal provably did not start the work (429, ingress
5xx, a connection that never opened); once events flow nothing is retried, and closing the stream
(leaving the ``with`` block) closes the connection, which cancels the run on fal's side.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import BaseModel, ValidationError
from typing_extensions import Self, override

from ._client import Client, default_client
from ._errors import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    InvalidArgumentError,
    OutputValidationError,
    ProtocolError,
    error_for_response,
)
from ._retry import NEVER_RETRIED_ERRORS, NOT_SENT_ERRORS, parse_retry_after
from ._urls import endpoint_url
from .files._arguments import extract_uploads, resolve_uploads, resolve_uploads_async
from .files._input import FileInput

if TYPE_CHECKING:
    from ._endpoint import Endpoint

__all__ = ["AsyncStream", "Stream"]

OutputT = TypeVar("OutputT", bound=BaseModel)

_EVENT_STREAM: Final = "text/event-stream"
_ERROR_EVENT: Final = "error"


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
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise InvalidArgumentError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
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

    def _request(
        self, http: httpx.Client | httpx.AsyncClient, body: dict[str, Any]
    ) -> httpx.Request:
        client = self.client
        headers = client.request_headers(
            {"Accept": _EVENT_STREAM, "Cache-Control": "no-store", **self.headers}
        )
        timeout = client.timeout if self.timeout is None else httpx.Timeout(self.timeout)
        url = endpoint_url(
            client.run_url, self.endpoint.endpoint_id, _route(self.endpoint.endpoint_id, self.path)
        )
        return http.build_request("POST", url, json=body, headers=headers, timeout=timeout)

    def _started(self, response: httpx.Response) -> bool:
        """Record the response; ``True`` for an event stream, ``False`` for a plain JSON body."""
        self.request_id = response.headers.get("x-fal-request-id")
        content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type == _EVENT_STREAM:
            return True
        if content_type.endswith("json"):
            return False
        raise ProtocolError(
            f"expected an event stream from {self.endpoint.endpoint_id}, got {content_type or 'no content type'!r}",
            request_id=self.request_id,
        )

    def _event(self, sse: ServerSentEvent, response: httpx.Response) -> dict[str, Any] | None:
        """Decode one SSE event: a partial output dict, ``None`` to skip, or raise its error."""
        if not sse.data.strip():
            return None
        try:
            data: Any = json.loads(sse.data)
        except ValueError:
            data = None if sse.event != _ERROR_EVENT else sse.data
            if data is None:
                raise self._fail(
                    ProtocolError(
                        f"event {self.events_received + 1} of {self.endpoint.endpoint_id} is not JSON",
                        request_id=self.request_id,
                    )
                ) from None
        if sse.event == _ERROR_EVENT:
            raise self._fail(_error_event(data, response, self.request_id))
        return self._accept(data)

    def _accept(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self._fail(
                ProtocolError(
                    f"event {self.events_received + 1} of {self.endpoint.endpoint_id} is not a JSON object",
                    request_id=self.request_id,
                )
            )
        event = cast(dict[str, Any], data)
        self.events_received += 1
        self._last = event
        return event

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

    def _transport_error(self, exc: httpx.TransportError) -> FalError:
        where = f"the stream of {self.endpoint.endpoint_id}"
        if isinstance(exc, httpx.TimeoutException):
            seconds = (
                self.timeout if self.timeout is not None else (self.client.timeout.read or 0.0)
            )
            return self._fail(
                FalTimeoutError(
                    f"{where} timed out ({type(exc).__name__} after {seconds:g}s)",
                    timeout=seconds,
                    request_id=self.request_id,
                )
            )
        after = f" after {self.events_received} events" if self.events_received else ""
        return self._fail(
            FalConnectionError(
                f"{where} broke{after}: {type(exc).__name__}", request_id=self.request_id
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
        except ValidationError as exc:
            raise OutputValidationError(
                f"final event of {self.endpoint.endpoint_id} does not match {self.endpoint.Output.__name__}: {exc}",
                data=self._last,
                request_id=self.request_id,
            ) from None
        return self._final

    def _retry_wait(
        self, attempt: int, outcome: httpx.Response | httpx.TransportError
    ) -> float | None:
        """Seconds to wait before opening again, or ``None`` if this failure is final."""
        policy = self.client.retry
        if attempt >= policy.max_attempts:
            return None
        if isinstance(outcome, httpx.Response):
            if not policy.should_retry_response(outcome):
                return None
            return policy.delay(attempt, parse_retry_after(outcome.headers.get("retry-after")))
        if isinstance(outcome, NEVER_RETRIED_ERRORS) or not isinstance(outcome, NOT_SENT_ERRORS):
            return None
        return policy.delay(attempt)


def _route(endpoint_id: str, path: str) -> str:
    """``path``, unless the id already ends with it (``fal-ai/flux-lora/stream`` is its own stream)."""
    suffix = path.strip("/")
    return "" if suffix and endpoint_id.strip("/").endswith("/" + suffix) else path


def _error_event(data: Any, response: httpx.Response, request_id: str | None) -> FalHTTPError:
    status = 500
    if isinstance(data, dict):
        body = cast(dict[str, Any], data)
        for key in ("status_code", "status"):
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
                status = value
                break
    return error_for_response(status, data, response.headers, request_id=request_id)


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
        self._response: httpx.Response | None = None
        self._events: Iterator[ServerSentEvent] | None = None

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
        if self._ended or self._closed:
            raise StopIteration
        response = self._open()
        events = self._events
        while True:
            if events is None:  # a plain JSON answer: one event, then the end
                self._ended = True
                self.close()
                return self._accept(response.json())
            try:
                sse = next(events)
            except StopIteration:
                self.close()
                self._end()
                raise
            except httpx.TransportError as exc:
                self.close()
                raise self._transport_error(exc) from None
            try:
                event = self._event(sse, response)
            except FalError:
                self.close()
                raise
            if event is not None:
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
        response, self._response, self._events = self._response, None, None
        if response is not None:
            response.close()

    def _open(self) -> httpx.Response:
        if self._response is not None:
            return self._response
        if self._closed:
            raise FalError(
                f"the stream of {self.endpoint.endpoint_id} is closed", error_type="stream_closed"
            )
        http = self.client.http
        body = (
            resolve_uploads(self.arguments, self._uploads, self.client)
            if self._uploads
            else self.arguments
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                response = http.send(self._request(http, body), stream=True)
            except httpx.TransportError as exc:
                wait = self._retry_wait(attempt, exc)
                if wait is None:
                    raise self._transport_error(exc) from None
                time.sleep(wait)
                continue
            if response.is_success:
                break
            response.read()
            response.close()
            wait = self._retry_wait(attempt, response)
            if wait is None:
                raise self._fail(self.client.error_for(response))
            time.sleep(wait)
        try:
            sse = self._started(response)
        except FalError as exc:
            response.close()
            raise self._fail(exc) from None
        if not sse:
            response.read()
        self._response = response
        self._events = EventSource(response).iter_sse() if sse else None
        return response


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
        self._response: httpx.Response | None = None
        self._events: AsyncGenerator[ServerSentEvent, None] | None = None

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
        if self._ended or self._closed:
            raise StopAsyncIteration
        response = await self._open()
        events = self._events
        while True:
            if events is None:  # a plain JSON answer: one event, then the end
                self._ended = True
                await self.aclose()
                return self._accept(response.json())
            try:
                sse = await anext(events)
            except StopAsyncIteration:
                await self.aclose()
                self._end()
                raise
            except httpx.TransportError as exc:
                await self.aclose()
                raise self._transport_error(exc) from None
            try:
                event = self._event(sse, response)
            except FalError:
                await self.aclose()
                raise
            if event is not None:
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
        events, self._events = self._events, None
        if events is not None:
            await events.aclose()
        if response is not None:
            await response.aclose()

    async def _open(self) -> httpx.Response:
        if self._response is not None:
            return self._response
        if self._closed:
            raise FalError(
                f"the stream of {self.endpoint.endpoint_id} is closed", error_type="stream_closed"
            )
        http = self.client.async_http
        body = self.arguments
        if self._uploads:
            body = await resolve_uploads_async(self.arguments, self._uploads, self.client)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await http.send(self._request(http, body), stream=True)
            except httpx.TransportError as exc:
                wait = self._retry_wait(attempt, exc)
                if wait is None:
                    raise self._transport_error(exc) from None
                await asyncio.sleep(wait)
                continue
            if response.is_success:
                break
            await response.aread()
            await response.aclose()
            wait = self._retry_wait(attempt, response)
            if wait is None:
                raise self._fail(self.client.error_for(response))
            await asyncio.sleep(wait)
        try:
            sse = self._started(response)
        except FalError as exc:
            await response.aclose()
            raise self._fail(exc) from None
        if not sse:
            await response.aread()
        self._response = response
        self._events = EventSource(response).aiter_sse() if sse else None
        return response
