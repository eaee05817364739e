"""Downloading an output file through the client's own httpx clients, with retries.

The key is never sent: output URLs are public CDN links (or signed ones), and a key must not
travel to whatever host a result names. A download that breaks is restarted from the first
byte (``reset`` empties the sink), so a caller never keeps a truncated file.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from .._errors import FalConnectionError
from ._retry import RETRYABLE_STATUS

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["ATTEMPTS", "adownload", "download", "safe_url"]

ATTEMPTS = 4
_CHUNK = 1 << 20
_BACKOFF = 0.2


def safe_url(url: str) -> str:
    """``url`` without its query (signed URLs carry credentials there), for messages."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _delay(attempt: int) -> float:
    return _BACKOFF * 2.0 ** (attempt - 1) * random.uniform(0.5, 1.5)


def _request(http: httpx.Client | httpx.AsyncClient, url: str) -> httpx.Request:
    request = http.build_request("GET", url, headers={"Accept-Encoding": "identity"})
    request.headers.pop("Authorization", None)  # a user's httpx client may carry one by default
    return request


def download(
    client: Client, url: str, write: Callable[[bytes], object], reset: Callable[[], None]
) -> None:
    """Stream ``url`` into ``write``; retried from scratch on transport errors and 5xx/429."""
    http = client.http
    for attempt in range(1, ATTEMPTS + 1):
        reset()
        try:
            response = http.send(_request(http, url), stream=True, auth=None, follow_redirects=True)
            try:
                retry = response.status_code in RETRYABLE_STATUS and attempt < ATTEMPTS
                if not retry:
                    if not response.is_success:
                        response.read()
                        raise client.error_for(response)
                    for chunk in response.iter_bytes(_CHUNK):
                        write(chunk)
                    return
            finally:
                response.close()
            time.sleep(_delay(attempt))
        except httpx.TransportError as exc:
            if attempt == ATTEMPTS:
                raise FalConnectionError(
                    f"download of {safe_url(url)} failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                ) from exc
            time.sleep(_delay(attempt))


async def adownload(
    client: Client,
    url: str,
    write: Callable[[bytes], Awaitable[object]],
    reset: Callable[[], Awaitable[None]],
) -> None:
    """Async twin of :func:`download`."""
    http = client.async_http
    for attempt in range(1, ATTEMPTS + 1):
        await reset()
        try:
            response = await http.send(
                _request(http, url), stream=True, auth=None, follow_redirects=True
            )
            try:
                retry = response.status_code in RETRYABLE_STATUS and attempt < ATTEMPTS
                if not retry:
                    if not response.is_success:
                        await response.aread()
                        raise client.error_for(response)
                    async for chunk in response.aiter_bytes(_CHUNK):
                        await write(chunk)
                    return
            finally:
                await response.aclose()
            await asyncio.sleep(_delay(attempt))
        except httpx.TransportError as exc:
            if attempt == ATTEMPTS:
                raise FalConnectionError(
                    f"download of {safe_url(url)} failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                ) from exc
            await asyncio.sleep(_delay(attempt))
