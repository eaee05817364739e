"""Answers the proxy gives itself, in fal's error shape, so fal's clients read them as usual.

fal's error bodies are ``{"detail": ..., "error_type": ...}`` with the type repeated in the
``X-Fal-Error-Type`` header; the Python client turns them into its typed errors (401/403 into
``AuthenticationError``, 429 into ``RateLimitError``...), fal-js into an ``ApiError`` with the
status and body. A refused request never reaches fal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["Refused"]


class Refused(Exception):
    """The proxy answers ``status`` itself: the request is not forwarded."""

    def __init__(
        self,
        status: int,
        detail: str | list[dict[str, Any]],
        error_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail if isinstance(detail, str) else error_type)
        self.status = status
        self.detail = detail
        self.error_type = error_type
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        # A validation failure is fal's 422 body exactly: {"detail": [{loc, msg, type}, ...]}.
        body: dict[str, Any] = {"detail": self.detail}
        if isinstance(self.detail, str):
            body["error_type"] = self.error_type
        headers = {"X-Fal-Error-Type": self.error_type, **self.headers}
        return JSONResponse(body, status_code=self.status, headers=headers)
