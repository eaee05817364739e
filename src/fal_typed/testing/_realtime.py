"""Realtime on the local server: the tokens endpoint and ``<run>/<app>/realtime`` WebSockets.

* ``POST <rest>/tokens/`` (``Authorization: Key``) with ``{"allowed_apps": [alias],
  "token_expiration": seconds}`` answers a JSON string: an HS256 JWT (see ``_jwt``) whose
  lifetime is the one asked for, unless :attr:`RealtimeService.token_lifetime` overrides it.
* A WebSocket under the run prefix is accepted only with a valid, unexpired
  ``?fal_jwt_token=`` for the app's alias (else the handshake is refused with 401, as fal's
  gateway does). Each msgpack (or JSON text) message is validated against the endpoint's input
  schema and answered with a msgpack frame holding the endpoint's output; a bad input is answered
  with an ``x-fal-error`` text frame.

:class:`RealtimeSettings` (global or per endpoint, read per message) injects ``x-fal-message``
notices, ``x-fal-error`` answers, dropped connections (no close frame) and clean closes; the
``*_next`` counters are consumed as they fire. Connections and their inputs are recorded
server-side (:class:`RealtimeConnectionRecord`) so tests can see what really arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import msgpack  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._checks import check_bool, check_count, check_seconds
from ._controls import MAX_SECONDS, Failure
from ._jwt import TokenError, TokenSigner
from ._stream import StreamBackend

__all__ = ["RealtimeConnectionRecord", "RealtimeService", "RealtimeSettings"]

_packb = cast(Callable[..., bytes], msgpack.packb)  # pyright: ignore[reportUnknownMemberType]
_unpackb = cast(Callable[..., Any], msgpack.unpackb)  # pyright: ignore[reportUnknownMemberType]

CloseReason = Literal["open", "client", "dropped", "server"]


@dataclass
class RealtimeSettings:
    """How realtime sockets answer. Read per message, so a test may change it at any time.

    ``text_frames``: answer JSON text frames instead of msgpack. ``meta_messages``: send an
    ``x-fal-message`` before each result. ``delay``: seconds before each answer.
    ``fail_next``: the next N messages get an ``x-fal-error`` (``error`` / ``reason``) instead of
    a result. ``drop_next``: the next N messages make the server drop the socket without answering
    or closing it. ``close_after``: close a socket cleanly (1000) once it has sent this many
    results.
    """

    text_frames: bool = False
    meta_messages: bool = False
    delay: float = 0.0
    fail_next: int = 0
    error: str = "INTERNAL_ERROR"
    reason: str = "injected failure"
    drop_next: int = 0
    close_after: int | None = None

    def __post_init__(self) -> None:
        # As the stream settings: NaN passed as a delay, and a string as a count.
        check_bool("text_frames", self.text_frames)
        check_bool("meta_messages", self.meta_messages)
        check_seconds("delay", self.delay, maximum=MAX_SECONDS)
        check_count("fail_next", self.fail_next, minimum=0)
        check_count("drop_next", self.drop_next, minimum=0)
        if self.close_after is not None:
            check_count("close_after", self.close_after, minimum=0)


@dataclass
class RealtimeConnectionRecord:
    """One accepted realtime socket as the server saw it."""

    endpoint_id: str
    path: str
    max_buffering: str | None = None
    """The ``max_buffering`` query parameter the client asked for, if any."""
    inputs: list[Any] = field(default_factory=list[Any])
    results_sent: int = 0
    close_reason: CloseReason = "open"
    closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def close(self, reason: CloseReason) -> None:
        """Record how the socket ended and wake whoever waits on ``closed``."""
        self.close_reason = reason
        self.closed.set()


def _alias(endpoint_id: str) -> str:
    segments = endpoint_id.split("/")
    return (
        segments[2] if segments[0] in ("workflows", "comfy") and len(segments) > 2 else segments[1]
    )


def _error_frame(error: str, reason: str, **extra: Any) -> str:
    return json.dumps({"type": "x-fal-error", "error": error, "reason": reason, **extra})


class RealtimeService:
    """The tokens endpoint and the realtime sockets of the local server."""

    def __init__(self, backend: StreamBackend, settings: RealtimeSettings | None = None) -> None:
        self.backend = backend
        self.settings: RealtimeSettings = settings or RealtimeSettings()
        self.per_endpoint: dict[str, RealtimeSettings] = {}
        self.token_lifetime: float | None = None
        """Lifetime (s) of issued tokens; ``None``: the ``token_expiration`` asked for."""
        self.signer: TokenSigner = TokenSigner()
        self.tokens_issued: int = 0
        self.handshakes_refused: int = 0
        self._connections: list[RealtimeConnectionRecord] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    # -- configuration and records -----------------------------------------------------------

    def configure(self, endpoint_id: str | None = None, **changes: Any) -> RealtimeSettings:
        """Change the settings of one endpoint (or the defaults) and return them."""
        with self._lock:
            if endpoint_id is None:
                self.settings = replace(self.settings, **changes)
                return self.settings
            self.backend.check_served(endpoint_id, "realtime.configure")
            current = self.per_endpoint.get(endpoint_id, self.settings)
            self.per_endpoint[endpoint_id] = replace(current, **changes)
            return self.per_endpoint[endpoint_id]

    def reset(self) -> None:
        """Default settings, no token override, counters and records cleared."""
        with self._lock:
            self.settings = RealtimeSettings()
            self.per_endpoint.clear()
            self.token_lifetime = None
            self.signer = TokenSigner()
            self.tokens_issued = 0
            self.handshakes_refused = 0
            self._connections.clear()

    def rotate_secret(self) -> None:
        """Sign with a new secret: every token issued so far is refused from now on."""
        with self._lock:
            self.signer = TokenSigner()

    @property
    def connections(self) -> list[RealtimeConnectionRecord]:
        """Every accepted socket so far, oldest first."""
        with self._lock:
            return list(self._connections)

    def wait_for(
        self, predicate: Callable[[RealtimeService], bool], *, timeout: float = 10.0
    ) -> None:
        """Block until ``predicate(self)`` holds (re-checked on every server event), or raise."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError("the realtime server did not reach the expected state")

    def inputs(self) -> list[Any]:
        """Every input received, across connections, in order."""
        return [item for record in self.connections for item in record.inputs]

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _take(self, endpoint_id: str, counter: str) -> bool:
        """Consume one unit of a ``*_next`` counter of the settings that apply."""
        with self._lock:
            per = self.per_endpoint.get(endpoint_id)
            settings = per if per is not None else self.settings
            left: int = getattr(settings, counter)
            if left <= 0:
                return False
            updated = replace(settings)
            setattr(updated, counter, left - 1)
            if per is not None:
                self.per_endpoint[endpoint_id] = updated
            else:
                self.settings = updated
            return True

    def _settings_for(self, endpoint_id: str) -> RealtimeSettings:
        with self._lock:
            return self.per_endpoint.get(endpoint_id, self.settings)

    # -- routes ------------------------------------------------------------------------------

    def routes(self, *, rest_prefix: str = "/rest", run_prefix: str = "/run") -> list[BaseRoute]:
        """The tokens endpoint and the realtime WebSocket route."""
        return [
            Route(rest_prefix + "/tokens/", self._tokens, methods=["POST"]),
            WebSocketRoute(run_prefix + "/{path:path}", self._socket),
        ]

    async def _tokens(self, request: Request) -> Response:
        denied = self.backend.auth_error(request)
        if denied is not None:
            return denied
        try:
            body: Any = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        fields = cast(dict[str, Any], body) if isinstance(body, dict) else {}
        apps: Any = fields.get("allowed_apps")
        expiration: Any = fields.get("token_expiration", 120)
        detail: list[dict[str, Any]] = []
        names = _app_names(apps)
        if names is None:
            detail.append(
                {
                    "loc": ["body", "allowed_apps"],
                    "msg": "a non-empty list of app names is required",
                    "type": "value_error",
                }
            )
        if (
            isinstance(expiration, bool)
            or not isinstance(expiration, (int, float))
            or expiration <= 0
        ):
            detail.append(
                {
                    "loc": ["body", "token_expiration"],
                    "msg": "a positive number of seconds is required",
                    "type": "value_error",
                }
            )
        if detail or names is None:
            return JSONResponse({"detail": detail}, status_code=422)
        with self._lock:
            asked = cast(float, expiration)
            lifetime = self.token_lifetime if self.token_lifetime is not None else float(asked)
            self.tokens_issued += 1
            signer = self.signer
        self._notify()
        return JSONResponse(signer.issue(names, lifetime))

    async def _socket(self, websocket: WebSocket) -> None:
        path: str = websocket.path_params["path"]
        endpoint_id = self.backend.find_endpoint(path)
        if endpoint_id is None:
            await self._refuse(websocket, 404, f"Application '{path}' not found")
            return
        with self._lock:
            signer = self.signer
        try:
            signer.check(websocket.query_params.get("fal_jwt_token"), _alias(endpoint_id))
        except TokenError as exc:
            await self._refuse(websocket, 401, str(exc))
            return
        await websocket.accept()
        record = RealtimeConnectionRecord(
            endpoint_id, path, websocket.query_params.get("max_buffering")
        )
        with self._changed:
            self._connections.append(record)
            self._changed.notify_all()
        try:
            await self._serve(websocket, record)
        finally:
            if record.close_reason == "open":
                record.close("client")
            self._notify()

    async def _refuse(self, websocket: WebSocket, status: int, detail: str) -> None:
        with self._lock:
            self.handshakes_refused += 1
        self._notify()
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))

    async def _serve(self, websocket: WebSocket, record: RealtimeConnectionRecord) -> None:
        endpoint_id = record.endpoint_id
        while True:
            try:
                message = await websocket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            try:
                body = _decode(message)
            except ValueError as exc:
                await websocket.send_text(_error_frame("INVALID_MESSAGE", str(exc)))
                continue
            record.inputs.append(body)
            self._notify()
            if self._take(endpoint_id, "drop_next"):
                record.close("dropped")
                return  # the ASGI server closes the TCP connection without a close frame
            settings = self._settings_for(endpoint_id)
            if settings.delay:
                await asyncio.sleep(settings.delay)
            if self._take(endpoint_id, "fail_next"):
                await websocket.send_text(_error_frame(settings.error, settings.reason))
                continue
            errors = self.backend.input_errors(endpoint_id, body)
            if errors:
                reason = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
                    for e in errors
                )
                await websocket.send_text(_error_frame("VALIDATION_ERROR", reason, detail=errors))
                continue
            if settings.meta_messages:
                await websocket.send_text(
                    json.dumps({"type": "x-fal-message", "message": "processing"})
                )
            try:
                output = await self.backend.output(endpoint_id, body)
            except Failure as failure:
                frame = _error_frame(
                    failure.error_type, failure.message, status_code=failure.status_code
                )
                await websocket.send_text(frame)
                continue
            if settings.text_frames:
                await websocket.send_text(json.dumps(output))
            else:
                await websocket.send_bytes(_packb(output, use_bin_type=True))
            record.results_sent += 1
            self._notify()
            close_after = self._settings_for(endpoint_id).close_after
            if close_after is not None and record.results_sent >= close_after:
                record.close("server")
                await websocket.close(1000)
                return


def _app_names(value: object) -> list[str] | None:
    """``allowed_apps`` if it is a non-empty list of non-empty strings, else ``None``."""
    if not isinstance(value, list):
        return None
    items = cast("list[object]", value)
    names = [item for item in items if isinstance(item, str) and item]
    return names if names and len(names) == len(items) else None


def _decode(message: Any) -> dict[str, Any]:
    """The input carried by one received WebSocket message (msgpack binary or JSON text)."""
    raw_bytes: Any = message.get("bytes")
    raw_text: Any = message.get("text")
    try:
        data: Any = (
            _unpackb(raw_bytes, raw=False) if raw_bytes is not None else json.loads(raw_text or "")
        )
    except (ValueError, msgpack.UnpackException) as exc:
        raise ValueError(f"undecodable message: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("a realtime message must be an object")
    return cast(dict[str, Any], data)
