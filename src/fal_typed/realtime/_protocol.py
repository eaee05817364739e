"""The realtime wire format: URLs, msgpack/JSON frames and the error they may carry.

Pure functions shared by the sync and async connections (PROTOCOL.md section 8). The client
sends msgpack binary frames; the server answers binary (msgpack) or text (JSON) frames, where
``{"type": "x-fal-error", "error", "reason"}`` is an error, ``{"type": "x-fal-message"}`` is a
meta notice to skip (as is the ``x-fal-error`` ``TIMEOUT`` notice fal sends before closing an idle
socket, which fal-js ignores too), and anything else is a result.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, cast
from urllib.parse import urlencode

import msgpack  # type: ignore[import-untyped]
from typing_extensions import override
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from .._errors import FalConnectionError, FalError, InvalidArgumentError, error_for_response
from .._urls import endpoint_url, parse_endpoint_id
from ..files._arguments import BodyWithUploads, inline_uploads

__all__ = [
    "CONNECTION_CLOSED",
    "MAX_BUFFERING_RANGE",
    "UNAUTHORIZED",
    "RealtimeError",
    "check_max_buffering",
    "check_path",
    "check_throttle_interval",
    "closed_error",
    "decode_frame",
    "encode_frame",
    "handshake_error",
    "is_clean_close",
    "realtime_url",
    "redact_token",
    "socket_logger",
]

# msgpack ships no type information.
_packb = cast(Callable[..., bytes], msgpack.packb)  # pyright: ignore[reportUnknownMemberType]
_unpackb = cast(Callable[..., Any], msgpack.unpackb)  # pyright: ignore[reportUnknownMemberType]

MAX_BUFFERING_RANGE: Final = (1, 60)
_PATH_SEGMENT: Final = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
_TOKEN_PARAM: Final = "fal_jwt_token"
#: ``RealtimeError.error`` when the socket closed (see ``RealtimeError.code``).
CONNECTION_CLOSED: Final = "CONNECTION_CLOSED"
#: The gateway's rejection of a stale or foreign token; the connection drops its token on it.
UNAUTHORIZED: Final = "Unauthorized"
#: fal's notice before it closes an idle socket: not an error (the next send reconnects).
_IDLE_NOTICE: Final = "TIMEOUT"


class RealtimeError(FalError):
    """The realtime connection failed, or the app sent ``x-fal-error``.

    ``error`` is fal's error code (e.g. ``"VALIDATION_ERROR"``, or ``"CONNECTION_CLOSED"`` when the
    socket closed abnormally), ``reason`` the human text, ``payload`` the whole error frame and
    ``code`` the WebSocket close code when the connection closed.
    """

    def __init__(
        self,
        error: str,
        reason: str = "",
        *,
        payload: Mapping[str, Any] | None = None,
        code: int | None = None,
    ) -> None:
        self.error = error
        self.reason = reason
        self.payload: dict[str, Any] = dict(payload or {})
        self.code = code
        message = f"{error}: {reason}" if reason else error
        if code is not None:
            message = f"{message} (close code {code})"
        super().__init__(message, error_type=error)


def check_max_buffering(value: int | None) -> int | None:
    """Reject a ``max_buffering`` fal would refuse, before anything is sent."""
    low, high = MAX_BUFFERING_RANGE
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int)  # pyright: ignore[reportUnnecessaryIsInstance]
        or not low <= value <= high
    ):
        raise InvalidArgumentError(
            f"max_buffering must be an int from {low} to {high}, got {value!r}"
        )
    return value


def check_throttle_interval(value: float | None) -> float | None:
    """Reject a negative or non-numeric throttle interval; ``None`` or ``0`` mean no throttle."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))  # pyright: ignore[reportUnnecessaryIsInstance]
        or value < 0
    ):
        raise InvalidArgumentError(f"throttle_interval must be seconds >= 0 or None, got {value!r}")
    return float(value) or None


def check_path(path: str) -> str:
    """Reject a ``path`` that is not ``/segment[/segment...]`` (or empty), before anything is sent."""
    if not isinstance(path, str) or (  # pyright: ignore[reportUnnecessaryIsInstance]
        path.strip("/") and not all(_PATH_SEGMENT.fullmatch(p) for p in path.strip("/").split("/"))
    ):
        raise InvalidArgumentError(f"invalid path {path!r}: expected '/segment[/segment...]'")
    return path


def realtime_url(
    base: str, endpoint_id: str, path: str, token: str, max_buffering: int | None
) -> str:
    """``<base>/<endpoint id><path>?fal_jwt_token=...[&max_buffering=n]``.

    ``path`` is skipped when the id already ends with it (as fal-js does), so an id like
    ``decart/lucy2-vton/realtime`` does not become ``.../realtime/realtime``.
    """
    suffix = path.strip("/")
    if suffix and parse_endpoint_id(endpoint_id).full.endswith("/" + suffix):
        path = ""
    query: dict[str, str] = {_TOKEN_PARAM: token}
    if max_buffering is not None:
        query["max_buffering"] = str(max_buffering)
    return f"{endpoint_url(base, endpoint_id, path)}?{urlencode(query)}"


def redact_token(text: str) -> str:
    """Hide the JWT in a URL or log line: tokens are credentials, if short-lived ones."""
    marker = f"{_TOKEN_PARAM}="
    start = text.find(marker)
    while start != -1:
        value_start = start + len(marker)
        end = value_start
        while end < len(text) and text[end] not in "& \t\r\n\"'":
            end += 1
        text = f"{text[:value_start]}***{text[end:]}"
        start = text.find(marker, value_start + 3)
    return text


def encode_frame(arguments: Mapping[str, Any]) -> bytes:
    """msgpack-encode one input (``bytes`` values travel as msgpack binary, not base64).

    Realtime inputs are sent inline, never uploaded: the local files of file fields (a body built
    by ``Endpoint.arguments`` carries them) become ``data:`` URIs; any other value msgpack cannot
    carry is rejected here, naming its type, before anything is sent.
    """
    if isinstance(arguments, BodyWithUploads):
        arguments = inline_uploads(arguments)
    try:
        return _packb(dict(arguments), use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(
            f"realtime input cannot be sent as msgpack ({exc}); pass bytes, str, numbers, "
            "lists and dicts (read files into bytes first)"
        ) from None


def decode_frame(frame: bytes | str) -> dict[str, Any] | None:
    """Decode one server frame: a result dict, ``None`` for a meta message to skip, or raise.

    Raises :class:`RealtimeError` for ``x-fal-error`` frames, for the gateway's
    ``{"status": "error", "error": "Unauthorized"}`` rejection and for frames that do not decode
    to an object.
    """
    try:
        payload: Any = json.loads(frame) if isinstance(frame, str) else _unpackb(frame, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise RealtimeError(
            "INVALID_FRAME", f"undecodable {type(frame).__name__} frame: {exc}"
        ) from None
    if not isinstance(payload, dict):
        raise RealtimeError("INVALID_FRAME", f"expected an object, got {type(payload).__name__}")
    message = cast(dict[str, Any], payload)
    kind = message.get("type")
    if kind == "x-fal-message":
        return None
    if kind == "x-fal-error":
        error = str(message.get("error") or "UNKNOWN_ERROR")
        if error == _IDLE_NOTICE:
            return None
        _raise_error(message, error)
    if message.get("status") == "error" and message.get("error") == UNAUTHORIZED:
        _raise_error(message, UNAUTHORIZED)
    return message


def _raise_error(message: dict[str, Any], error: str) -> NoReturn:
    reason = message.get("reason")
    raise RealtimeError(error, "" if reason is None else str(reason), payload=message)


class _RedactTokens(logging.Filter):
    """Rewrites each record so the handshake path logged by websockets never shows the JWT."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN_PARAM in message:
            record.msg, record.args = redact_token(message), None
        return True


def socket_logger() -> logging.Logger:
    """The logger handed to websockets (``fal_typed.realtime``), with the token filter attached."""
    logger = logging.getLogger("fal_typed.realtime")
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())
    return logger


def handshake_error(exc: BaseException) -> FalError:
    """Map a failed WebSocket opening to the library's errors (never showing the URL).

    An HTTP rejection becomes the same :class:`~fal_typed.FalHTTPError` subclass an HTTP call
    would raise (401 -> AuthenticationError, 404 -> NotFoundError, ...); a refused or timed-out
    connection becomes :class:`~fal_typed.FalConnectionError`.
    """
    if isinstance(exc, InvalidStatus):
        response = exc.response
        raw = bytes(response.body or b"")
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k: v for k, v in response.headers.raw_items()}
        return error_for_response(response.status_code, body, headers)
    if isinstance(exc, (OSError, TimeoutError)):
        return FalConnectionError(
            f"could not open the realtime connection: {type(exc).__name__}: {exc}"
        )
    if isinstance(exc, InvalidURI):
        return RealtimeError("INVALID_URL", "the realtime URL is not a ws:// or wss:// URL")
    return RealtimeError("HANDSHAKE_FAILED", redact_token(str(exc)))


def closed_error(exc: ConnectionClosed) -> RealtimeError:
    """The error for a socket that closed (``code`` 1000/1001 means a clean close)."""
    frame = exc.rcvd or exc.sent
    code = frame.code if frame is not None else 1006
    reason = frame.reason if frame is not None else "the connection was dropped"
    return RealtimeError(CONNECTION_CLOSED, reason, code=code)


def is_clean_close(error: RealtimeError) -> bool:
    """Whether ``error`` reports a normal end of the connection rather than a failure."""
    return error.error == CONNECTION_CLOSED and error.code in (1000, 1001)
