"""``POST <run>/<endpoint id>/stream``: server-sent events, as fal's streaming apps answer.

Each call validates the input like a direct run (422 with fal's ``detail`` list), then sends
``partial_events`` partial outputs and the final output, one SSE ``data:`` event each, and ends
the response. A partial event is the final output with every top-level string cut to a growing
prefix (text "typed out" as an LLM streams it) plus ``"partial": true`` and its ``"index"``; the
final event is exactly the endpoint's output (synthesised or from a registered handler).

:class:`StreamSettings` (global or per endpoint, read on every call) injects what clients must
survive: a failure before the stream starts (any status and body), an ``event: error`` after
some events, a connection cut mid-stream, slow events, an empty stream. Every call is recorded
server-side in a :class:`StreamRecord`, including whether the client went away before the end.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from .._checks import check_bool, check_count, check_seconds
from ._controls import MAX_SECONDS, Failure
from ._queue_routes import annotate

__all__ = ["StreamBackend", "StreamRecord", "StreamService", "StreamSettings", "partial_events"]

Outcome = Literal["streaming", "completed", "disconnected", "failed", "cut"]


class StreamBackend(Protocol):
    """What the streaming routes need from the local server."""

    def auth_error(self, request: Request) -> Response | None:
        """A 401 response when the request is not authorised, else ``None``."""
        ...

    def find_endpoint(self, path: str) -> str | None:
        """The longest known endpoint id that prefixes ``path``."""
        ...

    def input_errors(self, endpoint_id: str, body: Any) -> list[dict[str, Any]]:
        """fal's 422 ``detail`` entries for ``body`` (empty when valid)."""
        ...

    def output(self, endpoint_id: str, body: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        """The endpoint's output for ``body`` (a registered handler's, else synthesised);
        raises :class:`~._controls.Failure` when the endpoint is configured to fail."""
        ...

    def check_served(self, endpoint_id: object, setting: str) -> str:
        """``endpoint_id`` if the server serves it, else an error naming it and ids close to it."""
        ...


@dataclass
class StreamSettings:
    """How ``/stream`` answers. Read on every call, so a test may change it at any time.

    ``partial_events``: partial events before the final one; ``final_event``: whether the final
    output is sent (with no partials either, the stream ends empty). ``interval``: seconds between
    events. ``fail_next``: the next N calls answer ``fail_status`` with ``fail_body`` (JSON)
    instead of streaming (consumed as they fire). ``error_after``: after this many events, send
    ``event: error`` (``error_status`` and ``error_body``) and end. ``cut_after``: after this many
    events, drop the connection without ending the response properly.
    """

    partial_events: int = 3
    final_event: bool = True
    interval: float = 0.0
    fail_next: int = 0
    fail_status: int = 500
    fail_body: Any = field(
        default_factory=lambda: {
            "detail": "Internal server error",
            "error_type": "internal_server_error",
        }
    )
    error_after: int | None = None
    error_status: int = 500
    error_body: dict[str, Any] = field(
        default_factory=lambda: {
            "detail": "Internal server error",
            "error_type": "internal_server_error",
        }
    )
    cut_after: int | None = None

    def __post_init__(self) -> None:
        # Read by the checks the other settings use: NaN passed ``interval < 0`` (a NaN sleep
        # between events), and "3" for a count raised a bare TypeError.
        check_count("partial_events", self.partial_events, minimum=0)
        check_count("fail_next", self.fail_next, minimum=0)
        check_seconds("interval", self.interval, maximum=MAX_SECONDS)
        check_bool("final_event", self.final_event)
        check_count("fail_status", self.fail_status, minimum=100, maximum=599)
        check_count("error_status", self.error_status, minimum=100, maximum=599)
        for name in ("error_after", "cut_after"):
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name), minimum=0)


@dataclass
class StreamRecord:
    """One ``/stream`` call as the server saw it."""

    endpoint_id: str
    input: Any
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    total_events: int = 0
    events_sent: int = 0
    outcome: Outcome = "streaming"
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def finish(self, outcome: Outcome) -> None:
        """Record how the call ended and wake whoever waits on ``finished``."""
        self.outcome = outcome
        self.finished.set()


def partial_events(output: Mapping[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` partial versions of ``output`` (growing string prefixes), in order."""
    events: list[dict[str, Any]] = []
    for index in range(count):
        share = (index + 1) / (count + 1)
        event = {
            key: value[: math.ceil(len(value) * share)] if isinstance(value, str) else value
            for key, value in output.items()
        }
        event.update(partial=True, index=index)
        events.append(event)
    return events


class _CutStream(Exception):
    """Raised inside a response to drop its connection mid-way (the server closes the socket)."""


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class StreamService:
    """The ``/stream`` routes of the local server, their settings and their records."""

    def __init__(self, backend: StreamBackend, settings: StreamSettings | None = None) -> None:
        self.backend = backend
        self.settings: StreamSettings = settings or StreamSettings()
        self.per_endpoint: dict[str, StreamSettings] = {}
        self._records: list[StreamRecord] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def configure(self, endpoint_id: str | None = None, **changes: Any) -> StreamSettings:
        """Change the settings of one endpoint (or the defaults) and return them."""
        with self._lock:
            if endpoint_id is None:
                self.settings = replace(self.settings, **changes)
                return self.settings
            self.backend.check_served(endpoint_id, "streams.configure")
            current = self.per_endpoint.get(endpoint_id, self.settings)
            self.per_endpoint[endpoint_id] = replace(current, **changes)
            return self.per_endpoint[endpoint_id]

    def _take_failure(self, endpoint_id: str) -> bool:
        """Consume one of the ``fail_next`` failures of the settings that apply."""
        with self._lock:
            per = self.per_endpoint.get(endpoint_id)
            settings = per if per is not None else self.settings
            if settings.fail_next <= 0:
                return False
            updated = replace(settings, fail_next=settings.fail_next - 1)
            if per is not None:
                self.per_endpoint[endpoint_id] = updated
            else:
                self.settings = updated
            return True

    def settings_for(self, endpoint_id: str) -> StreamSettings:
        with self._lock:
            return self.per_endpoint.get(endpoint_id, self.settings)

    def reset(self) -> None:
        """Back to the default settings; forget every record."""
        with self._lock:
            self.settings = StreamSettings()
            self.per_endpoint.clear()
            self._records.clear()

    @property
    def records(self) -> list[StreamRecord]:
        """Every call so far, oldest first."""
        with self._lock:
            return list(self._records)

    def wait_for_record(self, count: int = 1, *, timeout: float = 10.0) -> list[StreamRecord]:
        """Block until at least ``count`` calls were received (bounded by ``timeout``)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._records) >= count, timeout):
                raise TimeoutError(f"expected {count} stream calls, got {len(self._records)}")
            return list(self._records)

    def routes(self, prefix: str = "/run") -> list[BaseRoute]:
        """``POST <prefix>/<id>/stream`` (register before the plain run route)."""
        return [Route(prefix + "/{path:path}/stream", self._handle, methods=["POST"])]

    async def _handle(self, request: Request) -> Response:
        denied = self.backend.auth_error(request)
        if denied is not None:
            return denied
        path = request.path_params["path"] + "/stream"
        endpoint_id = self.backend.find_endpoint(path)
        if endpoint_id is None:
            return JSONResponse({"detail": f"Application '{path}' not found"}, status_code=404)
        try:
            body: Any = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        settings = self.settings_for(endpoint_id)
        record = StreamRecord(endpoint_id, body)
        annotate(request, endpoint_id=endpoint_id, request_id=record.request_id)
        request_header = {"x-fal-request-id": record.request_id}
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()
        if self._take_failure(endpoint_id):
            record.finish("failed")
            return JSONResponse(
                settings.fail_body,
                status_code=settings.fail_status,
                headers={"x-fal-request-id": record.request_id},
            )
        if not isinstance(body, dict):
            record.finish("failed")
            detail = [
                {"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}
            ]
            return JSONResponse({"detail": detail}, status_code=422, headers=request_header)
        arguments = cast(dict[str, Any], body)
        errors = self.backend.input_errors(endpoint_id, arguments)
        if errors:
            record.finish("failed")
            return JSONResponse({"detail": errors}, status_code=422, headers=request_header)
        try:
            output = await self.backend.output(endpoint_id, arguments)
        except Failure as failure:
            record.finish("failed")
            headers = {**failure.headers, "x-fal-request-id": record.request_id}
            return JSONResponse(failure.body, status_code=failure.status_code, headers=headers)
        events = partial_events(output, settings.partial_events)
        if settings.final_event:
            events.append(output)
        record.total_events = len(events)
        return StreamingResponse(
            self._events(record, events, settings),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "x-fal-request-id": record.request_id},
        )

    async def _events(
        self, record: StreamRecord, events: list[dict[str, Any]], settings: StreamSettings
    ) -> AsyncIterator[bytes]:
        try:
            for index, event in enumerate(events):
                if index and settings.interval:
                    await asyncio.sleep(settings.interval)
                if settings.cut_after is not None and index >= settings.cut_after:
                    record.finish("cut")
                    raise _CutStream(f"stream of {record.endpoint_id} cut after {index} events")
                if settings.error_after is not None and index >= settings.error_after:
                    record.finish("failed")
                    yield _sse(
                        {**settings.error_body, "status_code": settings.error_status}, "error"
                    )
                    return
                yield _sse(event)
                record.events_sent += 1
            record.finish("completed")
        except (asyncio.CancelledError, GeneratorExit):
            record.finish("disconnected")
            raise
