"""Receive fal webhook deliveries: verify their Ed25519 signature and get the endpoint's typed Output.

Submit with ``webhook_url=...``; when the request completes, fal POSTs the result to that URL,
signed. Verify and parse it from the raw body bytes and the request headers::

    from fal_typed import webhooks

    verifier = webhooks.WebhookVerifier()          # one per app: it caches fal's keys (JWKS)
    result = verifier.parse(body, headers, flux_dev.Output)
    if result.ok:
        result.payload.images[0].url               # typed Output
    else:
        raise result.exception()                   # e.g. FalValidationError for a 422

Anything inauthentic raises a :class:`WebhookVerificationError` subclass before the body is read:
:class:`MissingHeadersError`, :class:`MalformedHeaderError`, :class:`StaleTimestampError`,
:class:`FutureTimestampError`, :class:`InvalidSignatureError`. An authentic but unreadable body
raises :class:`WebhookPayloadError`; an unreachable JWKS raises :class:`JWKSFetchError` (transient).
fal retries deliveries until it gets a 2xx, so handle each ``request_id`` once
(:class:`Deduplicator`, or :func:`webhook_endpoint` for Starlette/FastAPI, which does it for you;
:class:`SQLiteIdempotencyStore` keeps the claims across restarts and processes).
:class:`SQLiteRequestRegistry` records the request ids an application submits, so a receiver
accepts deliveries for those only (``known_requests=``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias, TypeVar

from pydantic import BaseModel

from ._asgi import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    KnownRequests,
    RequestRegistry,
    SupportsWebhookRequest,
    WebhookHandler,
    is_known,
    receive,
    webhook_endpoint,
)
from ._errors import (
    FutureTimestampError,
    InvalidSignatureError,
    JWKSFetchError,
    MalformedHeaderError,
    MissingHeadersError,
    StaleTimestampError,
    TimestampError,
    UnknownRequestError,
    WebhookBodyTimeoutError,
    WebhookBodyTooLargeError,
    WebhookError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ._idempotency import (
    DEFAULT_DEDUP_TTL,
    Claimed,
    Deduplicator,
    IdempotencyStore,
    MemoryIdempotencyStore,
)
from ._jwks import DEFAULT_FAILURE_COOLDOWN, DEFAULT_JWKS_URL, MAX_CACHE_TTL, JWKSCache
from ._jwks_http import MAX_JWKS_BYTES, MAX_JWKS_REDIRECTS
from ._result import WebhookResult
from ._sender import WebhookSenders
from ._signature import (
    MAX_JWKS_KEYS,
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_ID_HEADER,
    SignedHeaders,
)
from ._sqlite import SQLiteIdempotencyStore, SQLiteRequestRegistry
from ._verifier import DEFAULT_TOLERANCE, WebhookBody, WebhookVerifier, shared_verifier

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_DEDUP_TTL",
    "DEFAULT_FAILURE_COOLDOWN",
    "DEFAULT_JWKS_URL",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TOLERANCE",
    "MAX_CACHE_TTL",
    "MAX_JWKS_BYTES",
    "MAX_JWKS_KEYS",
    "MAX_JWKS_REDIRECTS",
    "REQUEST_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_ID_HEADER",
    "Claimed",
    "Deduplicator",
    "FutureTimestampError",
    "IdempotencyStore",
    "InvalidSignatureError",
    "JWKSCache",
    "JWKSFetchError",
    "KnownRequests",
    "MalformedHeaderError",
    "MemoryIdempotencyStore",
    "MissingHeadersError",
    "RequestRegistry",
    "SQLiteIdempotencyStore",
    "SQLiteRequestRegistry",
    "SignedHeaders",
    "StaleTimestampError",
    "SupportsWebhookRequest",
    "TimestampError",
    "UnknownRequestError",
    "WebhookBody",
    "WebhookBodyTimeoutError",
    "WebhookBodyTooLargeError",
    "WebhookError",
    "WebhookHandler",
    "WebhookPayloadError",
    "WebhookResult",
    "WebhookSenders",
    "WebhookVerificationError",
    "WebhookVerifier",
    "is_known",
    "parse",
    "parse_async",
    "receive",
    "verify",
    "verify_async",
    "webhook_endpoint",
]

OutputT = TypeVar("OutputT", bound=BaseModel)

JWKSSource: TypeAlias = str | Mapping[str, Any] | WebhookVerifier
"""A JWKS URL (keys fetched and cached process-wide), a JWKS document, or a verifier."""


def _verifier_for(jwks: JWKSSource | None) -> WebhookVerifier:
    if jwks is None:
        return shared_verifier()
    if isinstance(jwks, WebhookVerifier):
        return jwks
    if isinstance(jwks, str):
        return shared_verifier(jwks)
    if isinstance(jwks, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        return WebhookVerifier(jwks=jwks)
    raise TypeError(
        f"jwks must be a URL, a JWKS document or a WebhookVerifier, got {type(jwks).__name__}"
    )


def verify(
    body: WebhookBody,
    headers: Mapping[str, str],
    *,
    jwks: JWKSSource | None = None,
    tolerance: float | None = None,
    now: float | None = None,
) -> SignedHeaders:
    """Raise a :class:`WebhookVerificationError` subclass unless the delivery is authentic.

    ``body`` is the raw request body (bytes, exactly as received); ``headers`` any mapping of the
    request headers (case-insensitive). ``jwks`` defaults to the default client's JWKS URL (fal's,
    or a local server's). ``tolerance`` (default 300 s) bounds the clock difference,
    ``now`` replaces the clock (unix seconds). Returns the verified signature headers.
    """
    return _verifier_for(jwks).verify(body, headers, now=now, tolerance=tolerance)


async def verify_async(
    body: WebhookBody,
    headers: Mapping[str, str],
    *,
    jwks: JWKSSource | None = None,
    tolerance: float | None = None,
    now: float | None = None,
) -> SignedHeaders:
    """Async twin of :func:`verify`."""
    return await _verifier_for(jwks).verify_async(body, headers, now=now, tolerance=tolerance)


def parse(
    body: WebhookBody,
    headers: Mapping[str, str],
    output_model: type[OutputT],
    *,
    verifier: WebhookVerifier | None = None,
    now: float | None = None,
) -> WebhookResult[OutputT]:
    """Verify a delivery and return it with the payload parsed into ``output_model``.

    ``verifier`` defaults to a process-wide one for the default client's JWKS URL (fal's).
    """
    return (verifier or shared_verifier()).parse(body, headers, output_model, now=now)


async def parse_async(
    body: WebhookBody,
    headers: Mapping[str, str],
    output_model: type[OutputT],
    *,
    verifier: WebhookVerifier | None = None,
    now: float | None = None,
) -> WebhookResult[OutputT]:
    """Async twin of :func:`parse`."""
    return await (verifier or shared_verifier()).parse_async(body, headers, output_model, now=now)
