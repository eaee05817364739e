"""The queue host (``queue.fal.run``) under ``/queue``: PROTOCOL.md sections 1 and 2.

* ``POST /queue/{id}[/{sub-path}]`` submits (the longest known id prefixing the path wins);
* ``GET .../requests/{rid}/status`` (202 until COMPLETED, then 200), ``.../status/stream`` (SSE),
  ``GET .../requests/{rid}[/response]`` (the result), ``PUT .../requests/{rid}/cancel``, where
  ``...`` is the app root or the full id (both are accepted; URLs handed out use the app root).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from .._checks import declared_length
from ._controls import Failure
from ._endpoints import app_root
from ._middleware import ENTRY_KEY
from ._produce import Outcome
from ._queue import QueuedRequest, QueueFullError
from ._requestlog import RecordedRequest
from ._state import ServerState

__all__ = ["MAX_BODY_BYTES", "parse_body", "parse_start_timeout", "read_body", "routes"]

_LOG_FLAGS: Final[Mapping[str, bool]] = {
    "1": True,
    "true": True,
    "0": False,
    "false": False,
    "": False,
}
_PRIORITIES: Final = frozenset({"normal", "low"})
_NOT_FOUND: Final = {"status": "NOT_FOUND"}


def _bad_request(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "error_type": "bad_request"},
        status_code=400,
        headers={"x-fal-error-type": "bad_request"},
    )


def annotate(
    request: Request, *, endpoint_id: str | None = None, request_id: str | None = None
) -> None:
    """Fill in the request log entry of this request."""
    entry = request.scope.get(ENTRY_KEY)
    if isinstance(entry, RecordedRequest):
        entry.endpoint_id = endpoint_id or entry.endpoint_id
        entry.request_id = request_id or entry.request_id


MAX_BODY_BYTES: Final = 64 * 1024 * 1024
"""Largest JSON body accepted on submit and run (larger inputs belong in uploaded files)."""


async def read_body(request: Request) -> bytes | JSONResponse:
    """The request body, or a 413 response once it exceeds :data:`MAX_BODY_BYTES` (the rest is
    never read into memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            detail = (
                f"Request body larger than {MAX_BODY_BYTES} bytes; upload large inputs as files"
            )
            return JSONResponse({"detail": detail}, status_code=413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(raw: bytes) -> tuple[Any, Outcome | None]:
    """The JSON body (an empty body is ``{}``), or the 422 outcome fal gives for bad JSON."""
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as exc:
        error: dict[str, Any] = {
            "loc": ["body"],
            "msg": f"JSON decode error: {exc}",
            "type": "json_invalid",
            "input": {},
        }
        detail = [error]
        return None, Outcome.from_failure(Failure(422, detail))


def parse_start_timeout(request: Request) -> float | JSONResponse | None:
    """``X-Fal-Request-Timeout`` in seconds, None if absent, or a 400 response if malformed."""
    raw = request.headers.get("x-fal-request-timeout")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return _bad_request(f"X-Fal-Request-Timeout must be a number of seconds, got {raw!r}")
    if not math.isfinite(value) or value <= 0:
        return _bad_request(f"X-Fal-Request-Timeout must be positive, got {raw!r}")
    return value


def key_owner(request: Request) -> str:
    """Whose request this is, for per-key limits: a digest of the credential, never the key."""
    header = request.headers.get("authorization", "")
    return hashlib.sha256(header.strip().encode()).hexdigest()[:16]


def _validation_outcome(errors: list[dict[str, Any]]) -> Outcome:
    return Outcome.from_failure(Failure(422, errors))


class _QueueRoutes:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def urls(self, request: Request, queued: QueuedRequest) -> dict[str, str]:
        base = f"{request.url.scheme}://{request.url.netloc}/queue/{queued.app_root}/requests/{queued.request_id}"
        return {
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }

    def find(self, request: Request) -> QueuedRequest | None:
        """The request named by the path, if its app root matches (app-root or full-id form)."""
        queued = self.state.queue.get(request.path_params["request_id"])
        if queued is None or app_root(request.path_params["path"]) != queued.app_root:
            return None
        annotate(request, endpoint_id=queued.endpoint_id, request_id=queued.request_id)
        return queued

    @staticmethod
    def with_logs(request: Request) -> bool | JSONResponse:
        raw = request.query_params.get("logs", "").strip().lower()
        if raw not in _LOG_FLAGS:
            return _bad_request(f"logs must be 1, 0, true or false, got {raw!r}")
        return _LOG_FLAGS[raw]

    async def submit(self, request: Request) -> Response:
        denied = self.state.auth_error(request)
        if denied is not None:
            return denied
        path = request.path_params["path"]
        resolved = self.state.resolve(path)
        if resolved is None:
            return JSONResponse({"detail": f"Application '{path}' not found"}, status_code=404)
        endpoint_id, _ = resolved
        annotate(request, endpoint_id=endpoint_id)
        webhook_url = request.query_params.get("fal_webhook")
        if webhook_url is not None:
            try:
                parts = urlsplit(webhook_url)
                readable = parts.scheme in ("http", "https") and bool(parts.netloc)
            except ValueError:  # 'http://[x' (Invalid IPv6 URL): a 500 before
                readable = False
            if not readable:
                return _bad_request(f"fal_webhook must be an http(s) URL, got {webhook_url!r}")
        max_queue = request.query_params.get("fal_max_queue_length")
        # A count in ASCII digits, read as a body length is ('²' passes isdigit(), not int()).
        if max_queue is not None and declared_length((max_queue,)) is None:
            return _bad_request(
                f"fal_max_queue_length must be a non-negative integer, got {max_queue!r}"
            )
        priority = request.headers.get("x-fal-queue-priority")
        if priority is not None and priority not in _PRIORITIES:
            return _bad_request(f"X-Fal-Queue-Priority must be 'normal' or 'low', got {priority!r}")
        start_timeout = parse_start_timeout(request)
        if isinstance(start_timeout, JSONResponse):
            return start_timeout
        raw = await read_body(request)
        if isinstance(raw, JSONResponse):
            return raw
        arguments, rejection = parse_body(raw)
        if rejection is None:
            errors = self.state.input_errors(endpoint_id, arguments)
            rejection = _validation_outcome(errors) if errors else None
        if max_queue is not None and self.state.queue.waiting(endpoint_id) >= int(max_queue):
            return JSONResponse(
                {"detail": "The queue is full", "error_type": "queue_full"},
                status_code=429,
                headers={"x-fal-error-type": "queue_full"},
            )
        owner = key_owner(request)
        limit = self.state.controls.behaviour(endpoint_id).max_concurrent_per_key
        if limit is not None and self.state.queue.active(owner) >= limit:
            return JSONResponse(
                {
                    "detail": f"Concurrent requests limit ({limit}) reached",
                    "error_type": "concurrent_requests_limit",
                },
                status_code=429,
                headers={
                    "x-fal-error-type": "concurrent_requests_limit",
                    "x-fal-needs-retry": "1",
                    "retry-after": "1",
                },
            )
        try:
            queued = self.state.queue.submit(
                endpoint_id,
                arguments,
                webhook_url=webhook_url,
                start_timeout=start_timeout,
                rejection=rejection,
                owner=owner,
            )
        except QueueFullError as exc:
            return JSONResponse({"detail": str(exc), "error_type": "queue_full"}, status_code=429)
        annotate(request, request_id=queued.request_id)
        body = {
            "request_id": queued.request_id,
            "gateway_request_id": queued.request_id,
            **self.urls(request, queued),
            "queue_position": queued.position,
        }
        return JSONResponse(body, headers={"x-fal-request-id": queued.request_id})

    async def status(self, request: Request) -> Response:
        denied = self.state.auth_error(request)
        if denied is not None:
            return denied
        queued = self.find(request)
        if queued is None:
            return JSONResponse(_NOT_FOUND, status_code=404)
        with_logs = self.with_logs(request)
        if isinstance(with_logs, JSONResponse):
            return with_logs
        body = queued.status_body(
            self.urls(request, queued), logs=list(queued.logs) if with_logs else None
        )
        code = 200 if queued.status == "COMPLETED" else 202
        return JSONResponse(body, status_code=code, headers={"x-fal-request-id": queued.request_id})

    async def status_stream(self, request: Request) -> Response:
        denied = self.state.auth_error(request)
        if denied is not None:
            return denied
        queued = self.find(request)
        if queued is None:
            return JSONResponse(_NOT_FOUND, status_code=404)
        with_logs = self.with_logs(request)
        if isinstance(with_logs, JSONResponse):
            return with_logs
        urls = self.urls(request, queued)
        queue = self.state.queue

        async def events() -> AsyncIterator[str]:
            sent_logs = 0
            seen = -1
            while not queue.closed:
                if queued.version != seen:
                    seen = queued.version
                    new_logs = queued.logs[sent_logs:]
                    sent_logs += len(new_logs)
                    body = queued.status_body(urls, logs=new_logs if with_logs else None)
                    yield f"data: {json.dumps(body, separators=(',', ':'))}\n\n"
                    if queued.status == "COMPLETED":
                        return
                await queued.wait_for_change(seen)

        headers = {"x-fal-request-id": queued.request_id, "cache-control": "no-cache"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def result(self, request: Request) -> Response:
        denied = self.state.auth_error(request)
        if denied is not None:
            return denied
        queued = self.find(request)
        if queued is None:
            return JSONResponse(_NOT_FOUND, status_code=404)
        outcome = queued.outcome
        if outcome is None:
            return JSONResponse(
                {"detail": "Request is still in progress"},
                status_code=400,
                headers={"x-fal-request-id": queued.request_id},
            )
        headers = {**outcome.headers, "x-fal-request-id": queued.request_id}
        return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)

    async def cancel(self, request: Request) -> Response:
        denied = self.state.auth_error(request)
        if denied is not None:
            return denied
        queued = self.find(request)
        if queued is None:
            return JSONResponse(_NOT_FOUND, status_code=404)
        headers = {"x-fal-request-id": queued.request_id}
        if self.state.queue.cancel(queued.request_id) == "completed":
            return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400, headers=headers)
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202, headers=headers)


def routes(state: ServerState) -> list[BaseRoute]:
    """The queue routes, most specific first (the submit route catches every other POST)."""
    handlers = _QueueRoutes(state)
    requests = "/queue/{path:path}/requests/{request_id}"
    return [
        Route(
            requests + "/status/stream",
            handlers.status_stream,
            methods=["GET"],
            name="queue.status_stream",
        ),
        Route(requests + "/status", handlers.status, methods=["GET"], name="queue.status"),
        Route(requests + "/cancel", handlers.cancel, methods=["PUT"], name="queue.cancel"),
        Route(requests + "/response", handlers.result, methods=["GET"], name="queue.result"),
        Route(requests, handlers.result, methods=["GET"], name="queue.result"),
        Route("/queue/{path:path}", handlers.submit, methods=["POST"], name="queue.submit"),
    ]
