"""The exception hierarchy. Every error carries the request id and fal's ``error_type`` if known.

``FalError`` is the root; nothing here ever formats an API key into a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = [
    "AuthenticationError",
    "FalConnectionError",
    "FalError",
    "FalHTTPError",
    "FalTimeoutError",
    "FalValidationError",
    "InputValidationError",
    "MissingCredentialsError",
    "NotFoundError",
    "RateLimitError",
    "RequestCancelledError",
    "ServerError",
    "error_for_response",
]


class FalError(Exception):
    """Root of every error raised by fal_typed."""

    request_id: str | None
    error_type: str | None

    def __init__(self, message: str, *, request_id: str | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.error_type = error_type

    def __str__(self) -> str:
        extra = [f"{k}={v}" for k, v in (("request_id", self.request_id), ("error_type", self.error_type)) if v]
        return f"{self.message} ({', '.join(extra)})" if extra else self.message


class MissingCredentialsError(FalError):
    """No API key was found: pass ``key=`` to the client or set ``FAL_KEY``."""


def _format_loc(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


def _format_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{_format_loc(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors)


class InputValidationError(FalError, ValueError):
    """The input was rejected locally, before any request was sent.

    ``errors`` lists ``{"loc", "msg", "type"}`` dicts; ``fields`` gives the dotted field paths.
    """

    def __init__(self, endpoint_id: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.endpoint_id = endpoint_id
        self.errors = [dict(e) for e in errors]
        super().__init__(f"invalid input for {endpoint_id}: {_format_errors(self.errors)}", error_type="input_validation")

    @property
    def fields(self) -> list[str]:
        return [_format_loc(e.get("loc", ())) for e in self.errors]

    @classmethod
    def from_pydantic(cls, endpoint_id: str, exc: ValidationError) -> InputValidationError:
        errors = [
            {"loc": tuple(err["loc"]), "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        return cls(endpoint_id, errors)


class FalHTTPError(FalError):
    """fal answered with an error status. ``status_code``, ``body`` and ``headers`` are kept."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, error_type=error_type)
        self.status_code = status_code
        self.body = body
        # Response headers only: request headers (with the Authorization key) are never kept.
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {super().__str__()}"


class FalValidationError(FalHTTPError, ValueError):
    """fal rejected the input (HTTP 422). ``errors`` is fal's detail list; ``fields`` the paths."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if isinstance(detail, list):
            return [dict(e) for e in detail if isinstance(e, dict)]
        return [{"loc": ["body"], "msg": str(detail if detail is not None else self.message), "type": "value_error"}]

    @property
    def fields(self) -> list[str]:
        return [_format_loc(e.get("loc", ())) for e in self.errors]


class AuthenticationError(FalHTTPError):
    """HTTP 401/403: the key is invalid or lacks access."""


class NotFoundError(FalHTTPError):
    """HTTP 404: unknown endpoint or request id."""


class RateLimitError(FalHTTPError):
    """HTTP 429 after the retries were used up."""


class RequestCancelledError(FalHTTPError):
    """HTTP 499: the request was cancelled."""


class ServerError(FalHTTPError):
    """HTTP 5xx from fal or the model."""


class FalTimeoutError(FalError, TimeoutError):
    """The whole call exceeded its ``client_timeout``; the remote request was cancelled best-effort."""

    def __init__(self, message: str, *, timeout: float, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id, error_type="client_timeout")
        self.timeout = timeout


class FalConnectionError(FalError):
    """The transport failed (connection refused/reset, read timeout) and retries were used up."""


def _message_from_body(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, list):
            return _format_errors([d for d in detail if isinstance(d, dict)]) or fallback
        if detail is not None:
            return str(detail)
        for key in ("message", "error", "status"):
            if body.get(key) is not None:
                return str(body[key])
    elif isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


def error_for_response(
    status_code: int, body: Any, headers: Mapping[str, str], *, request_id: str | None = None
) -> FalHTTPError:
    """Build the right :class:`FalHTTPError` subclass for an error response."""
    lower = {k.lower(): v for k, v in headers.items()}
    error_type = body.get("error_type") if isinstance(body, dict) else None
    error_type = error_type or lower.get("x-fal-error-type")
    request_id = request_id or lower.get("x-fal-request-id")
    message = _message_from_body(body, f"request failed with status {status_code}")
    cls: type[FalHTTPError]
    if status_code == 422:
        cls = FalValidationError
    elif status_code in (401, 403):
        cls = AuthenticationError
    elif status_code == 404:
        cls = NotFoundError
    elif status_code == 429:
        cls = RateLimitError
    elif status_code == 499:
        cls = RequestCancelledError
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = FalHTTPError
    return cls(
        message, status_code=status_code, body=body, headers=headers, request_id=request_id, error_type=error_type
    )
