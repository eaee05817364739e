"""Receiving deliveries in an ASGI app (Starlette, FastAPI).

:func:`receive` works with any request object that has ``headers`` and ``async body()`` (Starlette
and FastAPI requests do), so it needs no web framework of its own. It reads nothing of a delivery
whose headers are missing, malformed or out of the time window, refuses one whose
``Content-Length`` is past ``max_body_bytes``, and reads the body in pieces (Starlette's
``request.stream()``) no further than that limit. :func:`webhook_endpoint` builds a complete
Starlette endpoint that answers the way fal's retry logic expects:

====================================  ======  ==========================================
outcome                               status  what fal does
====================================  ======  ==========================================
handled (or a duplicate, skipped)     200     stops
the same request being handled (*)    409     retries later (handled if the first fails)
forged / altered / stale / malformed  401     retries, then gives up: nothing to gain
not a webhook payload                 400     same
for a request id not submitted here   403     same (a retry finds it if it was recorded late)
body past ``max_body_bytes``          413     same
body not in within ``body_timeout``   408     same
JWKS unreachable                      503     retries later, when it may work
handler raised                        500     retries later (the claim is given back)
====================================  ======  ==========================================

(*) by this process, or by another one sharing a store that records whether a claim was
completed (:class:`IdempotencyStore` ``claim``; the in-memory and SQLite stores do).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, TypeVar, cast, runtime_checkable

import anyio
from pydantic import BaseModel

from .._checks import declared_length
from .._incoming import BodyStalled, arriving
from ._checks import count, seconds
from ._errors import (
    JWKSFetchError,
    UnknownRequestError,
    WebhookBodyTimeoutError,
    WebhookBodyTooLargeError,
    WebhookError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ._idempotency import Deduplicator
from ._result import WebhookResult
from ._verifier import WebhookVerifier, check_output_model, shared_verifier

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "KnownRequests",
    "RequestRegistry",
    "SupportsWebhookRequest",
    "WebhookHandler",
    "is_known",
    "receive",
    "webhook_endpoint",
]

OutputT = TypeVar("OutputT", bound=BaseModel)

logger = logging.getLogger("fal_typed.webhooks")

DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
"""The largest delivery body a receiver reads (32 MiB): results carry file URLs, not files."""

DEFAULT_BODY_TIMEOUT: Final = 30.0
"""The longest a receiver waits for the whole of a delivery's body, in seconds (a pause longer
than that ends it too): a sender trickling a byte at a time is cut off there."""

WebhookHandler = Callable[[WebhookResult[OutputT]], object]
"""Called once per delivered request id: a coroutine function, or a plain function (run in a worker
thread). It may return a Starlette ``Response``; a non-2xx one gives the claim back, so fal retries."""


@runtime_checkable
class RequestRegistry(Protocol):
    """The request ids an application submitted (e.g. :class:`SQLiteRequestRegistry`).
    ``contains`` may be a coroutine function, for a networked store."""

    def contains(self, request_id: str) -> bool | Awaitable[bool]: ...


KnownRequests: TypeAlias = "RequestRegistry | Callable[[str], bool | Awaitable[bool]]"
"""What ``known_requests=`` takes: a registry, or a function of the request id (sync or async)."""


async def is_known(request_id: str, known_requests: KnownRequests) -> bool:
    """Whether ``known_requests`` (a registry or a function, sync or async) knows ``request_id``."""
    answer: object = (
        known_requests.contains(request_id)
        if isinstance(known_requests, RequestRegistry)
        else known_requests(request_id)
    )
    if inspect.isawaitable(answer):
        answer = await answer
    return answer is True


class SupportsWebhookRequest(Protocol):
    """The part of a Starlette/FastAPI ``Request`` that :func:`receive` uses."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def body(self) -> bytes: ...


async def receive(
    request: SupportsWebhookRequest,
    output_model: type[OutputT],
    *,
    verifier: WebhookVerifier | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    known_requests: KnownRequests | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> WebhookResult[OutputT]:
    """Read, verify and parse the delivery in ``request``; raises the :mod:`fal_typed.webhooks` errors.

    The headers are checked before any of the body is read; the body is read no further than
    ``max_body_bytes`` (:class:`WebhookBodyTooLargeError`), and all of it within
    ``body_timeout`` seconds (:class:`WebhookBodyTimeoutError`). With ``known_requests``, an
    authentic delivery for a request id it does not know raises :class:`UnknownRequestError`.
    """
    max_body_bytes = count("max_body_bytes", max_body_bytes)
    body_timeout = seconds("body_timeout", body_timeout, positive=True)
    verifier = verifier or shared_verifier()
    now = time.time()
    verifier.check_headers(request.headers, now=now)
    body = await _read_body(request, max_body_bytes, body_timeout)
    result = await verifier.parse_async(body, request.headers, output_model, now=now)
    if known_requests is not None and not await is_known(result.request_id, known_requests):
        raise UnknownRequestError(result.request_id)
    return result


#: How each refusal is answered (see the module docstring) and logged.
_REFUSALS: tuple[tuple[type[WebhookError], int, str], ...] = (
    (WebhookVerificationError, 401, "rejected webhook delivery"),
    (WebhookPayloadError, 400, "unreadable webhook delivery"),
    (UnknownRequestError, 403, "refused webhook delivery"),
    (WebhookBodyTooLargeError, 413, "refused webhook delivery"),
    (WebhookBodyTimeoutError, 408, "refused webhook delivery"),
    (JWKSFetchError, 503, "cannot verify webhook deliveries"),
    (WebhookError, 400, "refused webhook delivery"),
)


class _GiveBack(Exception):
    """A handler answered non-2xx: its claim is given back (fal retries) and this answered."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _read_body(request: SupportsWebhookRequest, limit: int, timeout: float) -> bytes:
    declared = _content_length(request.headers)
    if declared is not None and declared > limit:
        raise WebhookBodyTooLargeError(limit, declared=declared)
    stream = getattr(request, "stream", None)
    if not callable(stream):  # a request object without streaming: its whole body, then judged
        body: bytes | None = None
        with anyio.move_on_after(timeout):  # its pauses cannot be seen: the whole is bounded
            body = await request.body()
        if body is None:
            raise WebhookBodyTimeoutError(timeout)
        if len(body) > limit:
            raise WebhookBodyTooLargeError(limit, declared=len(body))
        return body
    chunks: list[bytes] = []
    size = 0
    # The headers only looked authentic (the signature covers this body): a sender that stops
    # sending it, or sends it a byte at a time, must not hold the connection for ever.
    try:
        async for chunk in arriving(
            cast("AsyncIterator[bytes]", stream()), pause=None, total=timeout
        ):
            size += len(chunk)
            if size > limit:
                raise WebhookBodyTooLargeError(limit)
            chunks.append(chunk)
    except BodyStalled:
        raise WebhookBodyTimeoutError(timeout) from None
    return b"".join(chunks)


def _content_length(headers: Mapping[str, str]) -> int | None:
    return declared_length(v for k, v in headers.items() if k.lower() == "content-length")


def webhook_endpoint(
    output_model: type[OutputT],
    handler: WebhookHandler[OutputT],
    *,
    verifier: WebhookVerifier | None = None,
    deduplicator: Deduplicator | None = None,
    deduplicate: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    known_requests: KnownRequests | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint (``Route(path, endpoint, methods=["POST"])``) that verifies each
    delivery, skips request ids already handled, and calls ``handler`` with the typed result.

    Deduplication uses ``deduplicator`` (default: an in-memory one for this endpoint; pass
    ``Deduplicator(SQLiteIdempotencyStore(path))`` for claims that survive a restart); pass
    ``deduplicate=False`` to call the handler for every authentic delivery. Bodies past
    ``max_body_bytes`` are answered 413 without being read further, and bodies not in whole
    within ``body_timeout`` seconds 408; with ``known_requests``
    (a :class:`RequestRegistry` such as :class:`SQLiteRequestRegistry`, or a function of the
    request id), deliveries for request ids it does not know are answered 403.
    """
    try:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse, Response
    except ImportError:
        raise ImportError(
            "webhook_endpoint needs Starlette: pip install 'fal-typed[server]'"
        ) from None

    check_output_model(output_model)
    max_body_bytes = count("max_body_bytes", max_body_bytes)
    body_timeout = seconds("body_timeout", body_timeout, positive=True)
    if not callable(handler):
        raise TypeError(f"handler must be callable, got {handler!r}")
    dedup = (deduplicator or Deduplicator()) if deduplicate else None

    async def call_handler(result: WebhookResult[OutputT]) -> object:
        if inspect.iscoroutinefunction(handler):
            return await handler(result)
        outcome = await run_in_threadpool(handler, result)
        return await outcome if inspect.isawaitable(outcome) else outcome

    def refuse(exc: WebhookError, status: int) -> Response:
        return JSONResponse({"detail": str(exc), "error_type": exc.error_type}, status_code=status)

    async def endpoint(request: Request) -> Response:
        try:
            result = await receive(
                request,
                output_model,
                verifier=verifier,
                max_body_bytes=max_body_bytes,
                known_requests=known_requests,
                body_timeout=body_timeout,
            )
        except WebhookError as exc:
            status, what = next((s, w) for cls, s, w in _REFUSALS if isinstance(exc, cls))
            (logger.error if status >= 500 else logger.warning)("%s: %s", what, exc)
            return refuse(exc, status)
        if dedup is None:
            outcome = await call_handler(result)
        else:
            try:
                async with dedup.handling_async(result.request_id) as claimed:
                    if claimed == "busy":
                        # Answered 2xx, fal would stop; were the handler then to fail, nothing
                        # would retry the delivery: it is tried again once it may be handled.
                        logger.info(
                            "webhook delivery for request %s arrived while being handled",
                            result.request_id,
                        )
                        return JSONResponse(
                            {"status": "in_progress", "request_id": result.request_id},
                            status_code=409,
                            headers={"Retry-After": "30"},
                        )
                    if claimed == "duplicate":
                        logger.info(
                            "duplicate webhook delivery for request %s skipped", result.request_id
                        )
                        return JSONResponse(
                            {"status": "duplicate", "request_id": result.request_id}
                        )
                    outcome = await call_handler(result)
                    if isinstance(outcome, Response) and not 200 <= outcome.status_code < 300:
                        raise _GiveBack(outcome)  # the claim is given back inside, at once
            except _GiveBack as given:
                return given.response
        if isinstance(outcome, Response):
            return outcome
        return JSONResponse({"status": "ok", "request_id": result.request_id})

    return endpoint
