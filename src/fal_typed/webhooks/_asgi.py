"""Receiving deliveries in an ASGI app (Starlette, FastAPI).

:func:`receive` works with any request object that has ``headers`` and ``async body()`` (Starlette
and FastAPI requests do), so it needs no web framework of its own. :func:`webhook_endpoint` builds
a complete Starlette endpoint that answers the way fal's retry logic expects:

====================================  ======  ==========================================
outcome                               status  what fal does
====================================  ======  ==========================================
handled (or a duplicate, skipped)     200     stops
forged / altered / stale / malformed  401     retries, then gives up: nothing to gain
not a webhook payload                 400     same
JWKS unreachable                      503     retries later, when it may work
handler raised                        500     retries later (the claim is given back)
====================================  ======  ==========================================
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel

from ._errors import JWKSFetchError, WebhookPayloadError, WebhookVerificationError
from ._idempotency import Deduplicator
from ._result import WebhookResult
from ._verifier import WebhookVerifier, check_output_model, shared_verifier

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["SupportsWebhookRequest", "WebhookHandler", "receive", "webhook_endpoint"]

OutputT = TypeVar("OutputT", bound=BaseModel)

logger = logging.getLogger("fal_typed.webhooks")

WebhookHandler = Callable[[WebhookResult[OutputT]], object]
"""Called once per delivered request id: a coroutine function, or a plain function (run in a worker
thread). It may return a Starlette ``Response``; a non-2xx one gives the claim back, so fal retries."""


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
) -> WebhookResult[OutputT]:
    """Read, verify and parse the delivery in ``request``; raises the :mod:`fal_typed.webhooks` errors."""
    body = await request.body()
    return await (verifier or shared_verifier()).parse_async(body, request.headers, output_model)


def webhook_endpoint(
    output_model: type[OutputT],
    handler: WebhookHandler[OutputT],
    *,
    verifier: WebhookVerifier | None = None,
    deduplicator: Deduplicator | None = None,
    deduplicate: bool = True,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint (``Route(path, endpoint, methods=["POST"])``) that verifies each
    delivery, skips request ids already handled, and calls ``handler`` with the typed result.

    Deduplication uses ``deduplicator`` (default: an in-memory one for this endpoint); pass
    ``deduplicate=False`` to call the handler for every authentic delivery.
    """
    try:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse, Response
    except ImportError:
        raise ImportError(
            "webhook_endpoint needs Starlette: pip install 'fal-typed[server]'"
        ) from None

    check_output_model(output_model)
    if not callable(handler):
        raise TypeError(f"handler must be callable, got {handler!r}")
    dedup = (deduplicator or Deduplicator()) if deduplicate else None

    async def call_handler(result: WebhookResult[OutputT]) -> object:
        if inspect.iscoroutinefunction(handler):
            return await handler(result)
        outcome = await run_in_threadpool(handler, result)
        return await outcome if inspect.isawaitable(outcome) else outcome

    async def endpoint(request: Request) -> Response:
        try:
            result = await receive(request, output_model, verifier=verifier)
        except WebhookVerificationError as exc:
            logger.warning("rejected webhook delivery: %s", exc)
            return JSONResponse({"detail": str(exc), "error_type": exc.error_type}, status_code=401)
        except WebhookPayloadError as exc:
            logger.warning("unreadable webhook delivery: %s", exc)
            return JSONResponse({"detail": str(exc), "error_type": exc.error_type}, status_code=400)
        except JWKSFetchError as exc:
            logger.error("cannot verify webhook deliveries: %s", exc)
            return JSONResponse({"detail": str(exc), "error_type": exc.error_type}, status_code=503)
        if dedup is None:
            outcome = await call_handler(result)
        else:
            async with dedup.once_async(result.request_id) as first:
                if not first:
                    logger.info(
                        "duplicate webhook delivery for request %s skipped", result.request_id
                    )
                    return JSONResponse({"status": "duplicate", "request_id": result.request_id})
                outcome = await call_handler(result)
            if isinstance(outcome, Response) and not 200 <= outcome.status_code < 300:
                await dedup.release_async(result.request_id)
        if isinstance(outcome, Response):
            return outcome
        return JSONResponse({"status": "ok", "request_id": result.request_id})

    return endpoint
