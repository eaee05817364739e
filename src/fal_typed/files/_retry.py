"""Retries of upload requests whose body is streamed from the source.

The client's generic retry cannot replay a streamed body, so each attempt here builds a fresh
request (and with it a fresh range iterator over the source). Only transfer failures are
retried: transport errors and the statuses a retry can fix. A 401 from the CDN means the cached
token went stale: ``refresh`` drops it and the next attempt builds with a new one, once.

The answers of the upload protocol are small JSON documents: each is read no further than
:data:`MAX_ANSWER_BYTES` (decompressed within the usual ratio), so a storage host cannot make an
upload hold an answer of any size.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import httpx

from .._bounded import LimitExceeded, aread_body, read_answer, read_body
from .._errors import ProtocolError
from .._limits import DEFAULT_LIMITS
from .._retry import Kind, decide, observe_error, observe_response, parse_retry_after

__all__ = ["MAX_ANSWER_BYTES", "asend", "retried", "send"]

_MAX_DELAY = 5.0
#: The most of an upload-protocol answer read (they are a few hundred bytes of JSON).
MAX_ANSWER_BYTES = 1 << 20


def _too_large(response: httpx.Response, exc: LimitExceeded) -> ProtocolError:
    return ProtocolError(
        f"the HTTP {response.status_code} answer of {response.request.method} "
        f"{response.request.url.copy_with(query=None)} is refused: {exc}",
        error_type="limit_exceeded",
    )


_RATIO = DEFAULT_LIMITS.max_decompression_ratio


def _delay(attempt: int, backoff: float, response: httpx.Response | None) -> float:
    """Exponential backoff with jitter, or the server's ``Retry-After`` (both capped)."""
    if response is not None:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            return min(retry_after, _MAX_DELAY)
    return min(backoff * 2.0 ** (attempt - 1), _MAX_DELAY) * random.uniform(0.5, 1.5)


def retried(kind: Kind, outcome: httpx.Response | httpx.TransportError) -> bool:
    """Whether the retry table sends ``kind`` again after ``outcome`` (a storage host's
    statuses are taken as fal's: 429 and gateway answers retried, 4xx final)."""
    if isinstance(outcome, httpx.Response):
        observed = observe_response(outcome, retry_statuses=frozenset({408, 409, 429}))
    else:
        observed = observe_error(outcome)
    return observed is not None and decide(kind, observed).retry


def _verdict(
    kind: Kind, response: httpx.Response, attempt: int, attempts: int, refreshed: bool
) -> str:
    """``"done"``, ``"retry"`` or ``"refresh"`` for a response of attempt ``attempt``."""
    if attempt >= attempts:
        return "done"
    if response.status_code == 401 and not refreshed:
        return "refresh"
    return "retry" if retried(kind, response) else "done"


def send(
    http: httpx.Client,
    build: Callable[[], httpx.Request],
    *,
    attempts: int,
    backoff: float,
    kind: Kind,
    refresh: Callable[[], None] | None = None,
) -> httpx.Response:
    """Send ``build()`` until it succeeds, fails for good, or ``attempts`` are used up.

    Returns the last response, whatever its status; raises the last transport error.
    """
    refreshed = refresh is None
    attempt = 0
    while True:
        attempt += 1
        try:
            streamed = http.send(build(), auth=None, stream=True)
            try:
                body = read_body(
                    streamed, max_bytes=MAX_ANSWER_BYTES, max_ratio=_RATIO, deadline=None
                )
                response = read_answer(streamed, body)
            except LimitExceeded as exc:
                raise _too_large(streamed, exc) from None
            finally:
                streamed.close()
        except httpx.TransportError as exc:
            if attempt >= attempts or not retried(kind, exc):
                raise
            time.sleep(_delay(attempt, backoff, None))
            continue
        verdict = _verdict(kind, response, attempt, attempts, refreshed)
        if verdict == "done":
            return response
        response.close()
        if verdict == "refresh" and refresh is not None:
            refresh()
            refreshed = True
        else:
            time.sleep(_delay(attempt, backoff, response))


async def asend(
    http: httpx.AsyncClient,
    build: Callable[[], Awaitable[httpx.Request]],
    *,
    attempts: int,
    backoff: float,
    kind: Kind,
    refresh: Callable[[], None] | None = None,
) -> httpx.Response:
    """Async twin of :func:`send` (``build`` is a coroutine function)."""
    refreshed = refresh is None
    attempt = 0
    while True:
        attempt += 1
        try:
            streamed = await http.send(await build(), auth=None, stream=True)
            try:
                body = await aread_body(
                    streamed, max_bytes=MAX_ANSWER_BYTES, max_ratio=_RATIO, deadline=None
                )
                response = read_answer(streamed, body)
            except LimitExceeded as exc:
                raise _too_large(streamed, exc) from None
            finally:
                await streamed.aclose()
        except httpx.TransportError as exc:
            if attempt >= attempts or not retried(kind, exc):
                raise
            await asyncio.sleep(_delay(attempt, backoff, None))
            continue
        verdict = _verdict(kind, response, attempt, attempts, refreshed)
        if verdict == "done":
            return response
        await response.aclose()
        if verdict == "refresh" and refresh is not None:
            refresh()
            refreshed = True
        else:
            await asyncio.sleep(_delay(attempt, backoff, response))
