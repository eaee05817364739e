"""The realtime wire format: URLs, msgpack/JSON frames and the error they may carry.

Pure functions shared by the sync and async connections (PROTOCOL.md section 8). The client
sends msgpack binary frames; the server answers binary (msgpack) or text (JSON) frames, where
``{"type": "x-fal-error", "error", "reason"}`` is an error, ``{"type": "x-fal-message"}`` is a
meta notice to skip (as is the ``x-fal-error`` ``TIMEOUT`` notice fal sends before closing an idle
socket, which fal-js ignores too), and anything else is a result.

What a server sends back is bounded and scrubbed here: a frame may decode into at most
``Limits.max_realtime_objects`` objects (counted before decoding, so a frame of millions of empty
maps is refused without building them), and every error built from the server's words (a
handshake rejection, a close reason, an ``x-fal-error`` frame) has the key and the token taken
out, whether they are echoed as values, object keys or inside a URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NoReturn, cast
from urllib.parse import urlencode

from typing_extensions import override

from .._auth import redact, redact_json
from .._checks import check_seconds
from .._errors import (
    FalConnectionError,
    FalError,
    FalTimeoutError,
    InvalidArgumentError,
    error_for_response,
)
from .._limits import DEFAULT_LIMITS
from .._urls import endpoint_url, parse_endpoint_id
from ..files._arguments import BodyWithUploads, inline_uploads

if TYPE_CHECKING:
    from websockets.exceptions import ConnectionClosed

__all__ = [
    "CONNECTION_CLOSED",
    "MAX_BUFFERING_RANGE",
    "UNAUTHORIZED",
    "RealtimeError",
    "check_max_buffering",
    "check_path",
    "check_recv_timeout",
    "check_throttle_interval",
    "closed_error",
    "count_objects",
    "decode_frame",
    "encode_frame",
    "handshake_error",
    "is_clean_close",
    "realtime_url",
    "redact_token",
    "socket_logger",
]


def _msgpack() -> tuple[Callable[..., bytes], Callable[..., Any], type[Exception]]:
    """msgpack's ``packb``, ``unpackb`` and ``UnpackException``, imported at the first frame
    (msgpack ships no type information), not by every endpoint module's import."""
    import msgpack  # type: ignore[import-untyped]

    return (
        cast(Callable[..., bytes], msgpack.packb),  # pyright: ignore[reportUnknownMemberType]
        cast(Callable[..., Any], msgpack.unpackb),  # pyright: ignore[reportUnknownMemberType]
        cast(type[Exception], msgpack.UnpackException),
    )


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
    """Reject a throttle interval that is not a finite number of seconds >= 0 (a NaN one
    held every send after the first for ever); ``None`` or ``0`` mean no throttle."""
    if value is None:
        return None
    return check_seconds("throttle_interval", value) or None


def check_recv_timeout(value: float | None) -> float | None:
    """A receive's ``timeout``: ``None`` (wait as long as it takes) or a finite number of
    seconds >= 0 (``0`` takes a result only if one is there). A NaN one never timed out."""
    if value is None:
        return None
    return check_seconds("timeout", value)


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
        return _msgpack()[0](dict(arguments), use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(
            f"realtime input cannot be sent as msgpack ({exc}); pass bytes, str, numbers, "
            "lists and dicts (read files into bytes first)"
        ) from None


def decode_frame(
    frame: bytes | str,
    *,
    max_objects: int = DEFAULT_LIMITS.max_realtime_objects,
    secrets: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Decode one server frame: a result dict, ``None`` for a meta message to skip, or raise.

    Raises :class:`RealtimeError` for ``x-fal-error`` frames (``secrets`` scrubbed out of them),
    for the gateway's ``{"status": "error", "error": "Unauthorized"}`` rejection, for frames that
    do not decode to an object, and (``TOO_MANY_OBJECTS``) for frames holding more than
    ``max_objects`` objects, refused before any of them is built.
    """
    found = count_objects(frame, max_objects)
    if found > max_objects:
        raise RealtimeError(
            "TOO_MANY_OBJECTS",
            f"a {len(frame)}-byte frame holds more than {max_objects} objects "
            "(Limits.max_realtime_objects)",
        )
    if isinstance(frame, str):
        loads: Callable[[str | bytes], Any] = json.loads
        undecodable: tuple[type[Exception], ...] = (ValueError, RecursionError)
    else:
        _, unpackb, unpack_error = _msgpack()
        loads = lambda data: unpackb(data, raw=False)  # noqa: E731
        undecodable = (ValueError, RecursionError, unpack_error)
    try:
        payload: Any = loads(frame)
    except undecodable as exc:
        raise RealtimeError(
            "INVALID_FRAME", f"undecodable {type(frame).__name__} frame: {type(exc).__name__}"
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
        _raise_error(message, error, secrets)
    if message.get("status") == "error" and message.get("error") == UNAUTHORIZED:
        _raise_error(message, UNAUTHORIZED, secrets)
    return message


def _raise_error(message: dict[str, Any], error: str, secrets: tuple[str, ...]) -> NoReturn:
    try:
        scrubbed = cast("dict[str, Any]", _scrub_json(message, secrets))
    except RecursionError:  # nested too deep to walk: keep only the fields that are read
        scrubbed = {k: message.get(k) for k in ("type", "error", "reason")}
        scrubbed = {k: scrub(str(v), secrets) for k, v in scrubbed.items() if v is not None}
    reason = scrubbed.get("reason")
    raise RealtimeError(
        scrub(error, secrets),
        "" if reason is None else scrub(str(reason), secrets),
        payload=scrubbed,
    )


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` without the secrets (the key, the token) nor any ``fal_jwt_token=`` value."""
    return redact(redact_token(text), secrets)


def count_objects(frame: bytes | str, limit: int) -> int:
    """How many objects ``frame`` decodes into, counted up to ``limit + 1`` without decoding.

    msgpack is walked header by header (every container, key and value counts; payloads of
    strings and binaries are skipped). JSON text is bounded from above by its punctuation: a key
    follows ``{`` or ``,``, a value follows ``:``, ``[`` or ``,`` (or starts the text), which is
    exact enough to refuse a bomb and cheap enough for any frame.
    """
    if isinstance(frame, str):
        commas = frame.count(",")
        return 1 + frame.count(":") + frame.count("[") + frame.count("{") + 2 * commas
    return _count_msgpack(frame, limit)


# Fixed extra bytes after the first byte of each msgpack type (bin/str/ext lengths aside).
_FIXED = {
    0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,
    0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}  # fmt: skip
# Types followed by an n-byte length, then that many bytes (bin, str) or one type byte and them (ext).
_SIZED = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),
          0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)}  # fmt: skip
# Containers with an n-byte count: (count bytes, objects per entry).
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def _count_msgpack(data: bytes, limit: int) -> int:
    count, pending, pos, end = 0, 1, 0, len(data)
    while pending and pos < end:
        pending -= 1
        count += 1
        if count > limit:
            break
        head = data[pos]
        pos += 1
        if head <= 0x7F or head >= 0xE0 or head in (0xC0, 0xC1, 0xC2, 0xC3):
            continue  # fixint, nil, bool (0xC1 is invalid: left to the decoder)
        if head <= 0x8F:
            pending += 2 * (head & 0x0F)  # fixmap
        elif head <= 0x9F:
            pending += head & 0x0F  # fixarray
        elif head <= 0xBF:
            pos += head & 0x1F  # fixstr
        elif head in _FIXED:
            pos += _FIXED[head]
        elif head in _SIZED:
            width, extra = _SIZED[head]
            pos += width + extra + int.from_bytes(data[pos : pos + width], "big")
        else:
            width, per_entry = _CONTAINERS[head]
            pending += per_entry * int.from_bytes(data[pos : pos + width], "big")
            pos += width
    return count


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


def handshake_error(
    exc: BaseException, *, secrets: tuple[str, ...] = (), open_timeout: float | None = None
) -> FalError:
    """Map a failed WebSocket opening to the library's errors (never showing the URL).

    An HTTP rejection becomes the same :class:`~fal_typed.FalHTTPError` subclass an HTTP call
    would raise (401 -> AuthenticationError, 404 -> NotFoundError, ...) with ``secrets`` (the key,
    the token) scrubbed out of its body and headers; a handshake that did not finish within
    ``open_timeout`` becomes :class:`~fal_typed.FalTimeoutError`; a refused connection
    :class:`~fal_typed.FalConnectionError`.
    """
    import asyncio

    from websockets.exceptions import InvalidStatus, InvalidURI

    if isinstance(exc, InvalidStatus):
        response = exc.response
        raw = bytes(response.body or b"")
        # Not JSON, or nested past what can be walked: the scrubbed text.
        body: Any = scrub(raw.decode("utf-8", "replace"), secrets) if raw else None
        with contextlib.suppress(ValueError, RecursionError):
            body = _scrub_json(json.loads(raw), secrets) if raw else None
        headers = {k: scrub(v, secrets) for k, v in response.headers.raw_items()}
        return error_for_response(response.status_code, body, headers)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        seconds = open_timeout or 0.0
        return FalTimeoutError(
            f"the realtime connection did not open within {seconds:g}s "
            "(Limits.realtime_open_timeout)",
            timeout=seconds,
        )
    if isinstance(exc, OSError):
        return FalConnectionError(
            f"could not open the realtime connection: {type(exc).__name__}: "
            f"{scrub(str(exc), secrets)}"
        )
    if isinstance(exc, InvalidURI):
        return RealtimeError("INVALID_URL", "the realtime URL is not a ws:// or wss:// URL")
    return RealtimeError("HANDSHAKE_FAILED", scrub(str(exc), secrets))


def _scrub_json(value: Any, secrets: tuple[str, ...]) -> Any:
    """Parsed JSON with the secrets and any ``fal_jwt_token=`` value out of every string and key
    (raises ``RecursionError`` for values nested too deep to walk)."""
    return redact_json(json.loads(redact_token(json.dumps(value))), secrets)


def closed_error(
    exc: ConnectionClosed, *, secrets: tuple[str, ...] = (), max_frame_bytes: int | None = None
) -> RealtimeError:
    """The error for a socket that closed (``code`` 1000/1001 means a clean close); the close
    reason has ``secrets`` scrubbed out. A 1009 the client sent means a frame went past
    ``max_frame_bytes``."""
    frame = exc.rcvd or exc.sent
    code = frame.code if frame is not None else 1006
    reason = scrub(frame.reason, secrets) if frame is not None else "the connection was dropped"
    if exc.rcvd is None and code == 1009 and max_frame_bytes is not None:
        reason = (
            f"the server sent a frame larger than the limit of {max_frame_bytes} bytes "
            "(Limits.max_realtime_frame_bytes)"
        )
    return RealtimeError(CONNECTION_CLOSED, reason, code=code)


def is_clean_close(error: RealtimeError) -> bool:
    """Whether ``error`` reports a normal end of the connection rather than a failure."""
    return error.error == CONNECTION_CLOSED and error.code in (1000, 1001)
