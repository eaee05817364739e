"""Errors raised while receiving a fal webhook delivery.

Two families, because a receiver answers them differently:

- :class:`WebhookVerificationError` and :class:`WebhookPayloadError`: the delivery itself is bad
  (forged, altered, replayed late, malformed). Answer 4xx and drop it.
- :class:`JWKSFetchError`: we could not learn fal's public keys right now. Nothing is known about the
  delivery yet; answer 5xx so fal retries it later.

And three refusals a receiver chooses: :class:`WebhookBodyTooLargeError` (the body is past the
receiver's limit: 413, nothing more of it is read), :class:`WebhookBodyTimeoutError` (the body
did not arrive in whole in time: 408) and :class:`UnknownRequestError` (authentic, but for a request id this
application did not submit: 403).

Messages name what is wrong but never echo a signature or a body: they end up in logs.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import FalError

__all__ = [
    "FutureTimestampError",
    "InvalidSignatureError",
    "JWKSFetchError",
    "MalformedHeaderError",
    "MissingHeadersError",
    "StaleTimestampError",
    "TimestampError",
    "UnknownRequestError",
    "WebhookBodyTimeoutError",
    "WebhookBodyTooLargeError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookVerificationError",
]


class WebhookError(FalError):
    """Root of every error raised by :mod:`fal_typed.webhooks`."""


class WebhookVerificationError(WebhookError):
    """The delivery failed signature verification: it must not be trusted (answer 401)."""


class MissingHeadersError(WebhookVerificationError):
    """One or more ``X-Fal-Webhook-*`` headers are absent or empty; ``missing`` names them."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing: tuple[str, ...] = tuple(missing)
        super().__init__(
            f"webhook delivery is missing header(s): {', '.join(self.missing)}",
            error_type="webhook_missing_headers",
        )


class MalformedHeaderError(WebhookVerificationError):
    """A signature header is present but unusable (not a number, not hex, repeated, too long...)."""

    def __init__(self, header: str, problem: str) -> None:
        self.header = header
        super().__init__(
            f"webhook header {header} {problem}", error_type="webhook_malformed_header"
        )


class TimestampError(WebhookVerificationError):
    """The signed timestamp is outside the accepted window around the receiver's clock."""

    def __init__(self, message: str, *, timestamp: int, now: float, tolerance: float) -> None:
        self.timestamp = timestamp
        self.now = now
        self.tolerance = tolerance
        super().__init__(message, error_type="webhook_timestamp")


class StaleTimestampError(TimestampError):
    """The delivery was signed too long ago: a replay, or a clock far behind."""


class FutureTimestampError(TimestampError):
    """The delivery claims to be signed in the future: a forgery, or a clock far ahead."""


class InvalidSignatureError(WebhookVerificationError):
    """No key of fal's JWKS verifies the signature over these headers and this exact body."""

    def __init__(
        self, message: str = "webhook signature does not verify under any key of the JWKS"
    ) -> None:
        super().__init__(message, error_type="webhook_invalid_signature")


class WebhookPayloadError(WebhookError):
    """The body is authentic but is not a fal webhook payload we can read (answer 400).

    ``raw`` keeps the decoded JSON when there was any, so a paid-for result is never lost.
    """

    def __init__(self, message: str, *, request_id: str | None = None, raw: object = None) -> None:
        self.raw = raw
        super().__init__(message, request_id=request_id, error_type="webhook_invalid_payload")


class JWKSFetchError(WebhookError):
    """fal's key set could not be fetched or read. Transient: answer 5xx so fal retries."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        self.reason = message
        """What went wrong, without the URL."""
        super().__init__(f"{message} (JWKS {url})", error_type="webhook_jwks_unavailable")


class WebhookBodyTooLargeError(WebhookError):
    """The delivery's body is larger than the receiver accepts (answer 413); it was not read past
    ``limit`` bytes (nor at all when its ``Content-Length`` said so)."""

    def __init__(self, limit: int, *, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        size = f"{declared} bytes, more" if declared is not None else "larger"
        super().__init__(
            f"webhook body is {size} than the receiver's limit of {limit} bytes",
            error_type="webhook_body_too_large",
        )


class WebhookBodyTimeoutError(WebhookError):
    """The delivery's body did not arrive in whole within ``timeout`` seconds (answer 408).
    Its headers only looked authentic (the signature covers the body, unread): a sender that
    stops sending a body, or trickles it, must not hold the receiver's connection for ever."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"webhook body did not arrive in whole within {timeout:g} s",
            error_type="webhook_body_timeout",
        )


class UnknownRequestError(WebhookError):
    """An authentic delivery for a request id this application did not submit (answer 403)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"webhook delivery for request {request_id}, which this application did not submit",
            request_id=request_id,
            error_type="webhook_unknown_request",
        )
