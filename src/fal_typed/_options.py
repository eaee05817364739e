"""Call options -> fal's request headers and query, checked before anything is sent.

Each check raises :class:`~fal_typed.InvalidArgumentError` naming the option and what is wrong,
so a typo in ``priority`` or a one-second ``start_timeout`` never costs a request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import httpx

from ._checks import (
    check_bool,
    check_callable,
    check_count,
    check_seconds,
)
from ._errors import InvalidArgumentError

__all__ = [
    "MIN_START_TIMEOUT",
    "Priority",
    "check_bool",
    "check_callable",
    "check_count",
    "check_positive",
    "check_seconds",
    "check_webhook_url",
    "request_headers",
    "webhook_params",
]

Priority = Literal["normal", "low"]
_PRIORITIES = ("normal", "low")

#: fal rejects ``X-Fal-Request-Timeout`` values of one second or less (as fal-client does).
MIN_START_TIMEOUT = 1.0

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

#: Headers a call's ``headers`` may not set: they frame the message or route it (a ``Host`` of
#: the caller's choosing would hand the key to another virtual host at fal's address; a wrong
#: ``Content-Length`` breaks the framing), or carry credentials the client owns.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "authorization",
        "proxy-authorization",
        "proxy-connection",
    }
)


def check_positive(name: str, value: object) -> float:
    """A finite number of seconds > 0 (not a bool), as a float: :func:`check_seconds`'s rule
    (an int no float holds is not finite), its messages naming ``name``."""
    return check_seconds(name, value, positive=True)


def _check_header_text(what: str, text: object) -> str:
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(text).__name__}")
    if any(ch in text for ch in "\r\n\0"):
        raise InvalidArgumentError(f"{what} must not contain line breaks")
    if not text.isascii():  # httpx sends header text as ASCII; its error would quote the value
        raise InvalidArgumentError(f"{what} must be ASCII (HTTP headers carry no other characters)")
    return text


def request_headers(
    *,
    priority: Priority | None = None,
    hint: str | None = None,
    start_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of a submit or run: the caller's ``headers`` plus the explicit options.

    Explicit options win over the same header given in ``headers``.
    """
    result: dict[str, str] = {}
    if headers is not None:
        if not isinstance(headers, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(f"headers must be a mapping, got {type(headers).__name__}")
        for name, value in headers.items():
            _check_header_text("header name", name)
            if not _TOKEN.fullmatch(name):  # RFC 9110's token: what h11 would refuse to send
                raise InvalidArgumentError(f"invalid header name {name!r}")
            if name.lower() in _RESERVED_HEADERS:
                owner = "the key (Client(key=...))" if "authorization" in name.lower() else "httpx"
                raise InvalidArgumentError(
                    f"header {name!r} cannot be set through headers: {owner} sets it"
                )
            result[name] = _check_header_text(f"header {name!r}", value)
    if priority is not None:
        if priority not in _PRIORITIES:
            raise InvalidArgumentError(f"priority must be 'normal' or 'low', got {priority!r}")
        result["X-Fal-Queue-Priority"] = priority
    if hint is not None:
        if not _check_header_text("hint", hint).strip():
            raise InvalidArgumentError("hint must be a non-empty string")
        result["X-Fal-Runner-Hint"] = hint
    if start_timeout is not None:
        seconds = check_positive("start_timeout", start_timeout)
        if seconds <= MIN_START_TIMEOUT:
            raise InvalidArgumentError(
                f"start_timeout must be more than {MIN_START_TIMEOUT:g} second, got {start_timeout!r}"
            )
        result["X-Fal-Request-Timeout"] = str(seconds)
    return result


def check_with_logs(with_logs: object) -> bool:
    """``with_logs``, refused unless a bool (``"no"`` would ask for the logs)."""
    return check_bool("with_logs", with_logs)


def check_wait_options(
    with_logs: object, on_enqueue: object, on_queue_update: object, *, sync: bool = False
) -> None:
    """Refuse a wait's own options of the wrong kind before anything is sent: a callback that
    cannot be called would fail only once the request was queued (and paid for). A ``sync``
    wait calls its callbacks and cannot await them: an ``async def`` one would only make a
    coroutine, dropped with a "never awaited" warning, and the caller's code would never run."""
    check_with_logs(with_logs)
    for name, callback in (("on_enqueue", on_enqueue), ("on_queue_update", on_queue_update)):
        check_callable(name, callback)
        if sync and _is_async_callable(callback):
            raise InvalidArgumentError(
                f"{name} is an async function, which this call cannot await: use the call's "
                "_async twin (await subscribe_async(...)), or a plain function"
            )


def _is_async_callable(value: object) -> bool:
    """An ``async def`` function, a partial of one, or an object whose ``__call__`` is one."""
    import inspect

    return inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
        getattr(value, "__call__", None)  # noqa: B004 - the method itself is looked at
    )


def webhook_params(webhook_url: str | None) -> dict[str, str]:
    """``{"fal_webhook": url}`` for a submit, after checking it is an absolute http(s) URL."""
    if webhook_url is None:
        return {}
    return {"fal_webhook": check_webhook_url(webhook_url)}


def check_webhook_url(webhook_url: object, name: str = "webhook_url") -> str:
    """``webhook_url`` if it is an absolute http(s) URL fal can post to, else an error naming
    ``name`` (the option it was given as)."""
    if not isinstance(webhook_url, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(webhook_url).__name__}")
    if any(ch.isspace() or not ch.isprintable() for ch in webhook_url):
        raise InvalidArgumentError(
            f"{name} must not contain spaces or control characters, got {webhook_url!r}"
        )
    try:
        url = httpx.URL(webhook_url)
    except httpx.InvalidURL as exc:
        raise InvalidArgumentError(f"{name} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidArgumentError(f"{name} must be an absolute http(s) URL, got {webhook_url!r}")
    return webhook_url
