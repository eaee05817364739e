"""CORS for a proxy that a front end on another origin calls.

fal's clients send ``x-fal-*`` headers (so every call is preflighted) and read headers of the
answers (``x-fal-request-id``, the timeout type...): a browser shows a cross-origin script only
the response headers the server exposes, so the exposed list is fal's, not the bare default.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from .._checks import check_bool, check_count, check_items
from .._errors import InvalidArgumentError

__all__ = ["CORS", "EXPOSED_HEADERS", "origin_problem"]

#: The response headers fal's clients read.
EXPOSED_HEADERS: tuple[str, ...] = (
    "x-fal-request-id",
    "x-fal-request-timeout-type",
    "x-fal-error-type",
    "x-fal-billable-units",
    "x-fal-served-from",
    "retry-after",
    "etag",
)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` cannot be an allowed origin, or None.

    A browser's ``Origin`` header is compared as written, so an origin is allowed only in the
    one form browsers send: ``scheme://host[:port]``, lower case, without a path, a trailing
    dot or the scheme's default port (``https://App.example.com/`` would never match, leaving
    the front end refused). ``null`` is what every sandboxed frame, ``file:`` page and
    ``data:`` document sends, so allowing it allows any page that makes one.
    """
    if origin == "*":
        return None
    if origin.strip().lower() == "null":
        return (
            "is refused: sandboxed frames, file: pages and data: documents all send "
            "'Origin: null', so any site could make requests that pass for it"
        )
    try:
        parts = urllib.parse.urlsplit(origin)
        port = parts.port
    except ValueError:
        return "is not an origin: write scheme://host[:port]"
    host = parts.hostname or ""
    if not (_SCHEME.fullmatch(parts.scheme.lower()) and host and parts.netloc):
        return "is not an origin: write scheme://host[:port]"
    shown = f"[{host}]" if ":" in host else host.rstrip(".")
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        shown += f":{port}"
    serialized = f"{parts.scheme.lower()}://{shown}"
    if parts.username is not None or parts.password is not None:
        return "is not an origin: it holds credentials"
    if not serialized.isascii():
        return "never matches the Origin a browser sends: write its host in punycode (xn--...)"
    if origin != serialized:
        return (
            f"never matches the Origin a browser sends (no path, lower case, no trailing dot or "
            f"default port): write {serialized!r}"
        )
    return None


@dataclass(frozen=True)
class CORS:
    """Which origins may call the proxy from a browser.

    ``origins`` lists them (``"https://app.example.com"``; ``"*"`` for any, which cannot be
    combined with ``allow_credentials``); ``allow_credentials`` lets the browser send the app's
    cookies along (needed when ``authenticate`` reads a session cookie across origins).
    """

    origins: Sequence[str] = field(default_factory=tuple[str, ...])
    allow_credentials: bool = False
    max_age: int = 600

    def __post_init__(self) -> None:
        origins = check_items("CORS origins", self.origins, "origins")
        for origin in origins:
            if not isinstance(origin, str) or not origin.strip():
                raise InvalidArgumentError(
                    f"CORS origins must be non-empty strings, got {type(origin).__name__} "
                    f"{origin!r}"
                )
            problem = origin_problem(origin)
            if problem is not None:
                raise InvalidArgumentError(f"CORS origin {origin!r} {problem}")
        check_bool("CORS allow_credentials", self.allow_credentials)
        check_count("CORS max_age", self.max_age, minimum=0)
        if not isinstance(self.origins, Sequence):  # pyright: ignore[reportUnnecessaryIsInstance]  # an iterator, read once above
            object.__setattr__(self, "origins", tuple(origins))
        if self.allow_credentials and "*" in origins:
            raise InvalidArgumentError(
                "CORS with allow_credentials needs the origins spelled out, not '*'"
            )

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return CORSMiddleware(
            app,
            allow_origins=list(self.origins),
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["*"],
            allow_credentials=self.allow_credentials,
            expose_headers=list(EXPOSED_HEADERS),
            max_age=self.max_age,
        )
