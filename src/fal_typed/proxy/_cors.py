"""CORS for a proxy that a front end on another origin calls.

fal's clients send ``x-fal-*`` headers (so every call is preflighted) and read headers of the
answers (``x-fal-request-id``, the timeout type...): a browser shows a cross-origin script only
the response headers the server exposes, so the exposed list is fal's, not the bare default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from .._checks import check_bool, check_count, check_items
from .._errors import InvalidArgumentError

__all__ = ["CORS", "EXPOSED_HEADERS"]

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
