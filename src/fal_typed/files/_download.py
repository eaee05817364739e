"""Downloading an output file through the client's own httpx clients, with retries, bounded.

The key is never sent: output URLs are public CDN links (or signed ones), and a key must not
travel to whatever host a result names. A download that breaks is restarted from the first
byte (``reset`` empties the sink), so a caller never keeps a truncated file.

The client's :class:`~fal_typed.Limits` bound what the file's host can do: the whole download,
retries included, takes at most ``download_timeout`` seconds however the server trickles it (a
sync read blocked in the kernel is ended by shutting its socket down); it is at most
``max_download_bytes`` decoded (a larger ``Content-Length`` is refused before any byte is read)
and decompresses at most ``max_decompression_ratio`` times; an error answer is read no further
than :data:`ERROR_BODY_BYTES`. Every failure is a :class:`~fal_typed.FalError` naming the URL
(without its query, where signed URLs carry credentials).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, cast

import httpx

from .._bounded import (
    BodyGuard,
    Interrupter,
    TimedOut,
    await_within,
    next_within,
    read_answer,
    send_within,
    unbounded_encoding,
)
from .._checks import declared_length
from .._deadline import Deadline
from .._errors import FalConnectionError, FalError, FalHTTPError, FalTimeoutError
from .._retry import Kind
from ._errors import DownloadError
from ._retry import retried

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["ATTEMPTS", "ERROR_BODY_BYTES", "adownload", "download", "safe_url"]

ATTEMPTS = 4
#: Bytes of an error answer read to build its error (the rest is not read).
ERROR_BODY_BYTES: Final = 64 * 1024
_CHUNK = 1 << 20
_BACKOFF = 0.2


def safe_url(url: str) -> str:
    """``url`` without its query (signed URLs carry credentials there), for messages."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _delay(attempt: int) -> float:
    return _BACKOFF * 2.0 ** (attempt - 1) * random.uniform(0.5, 1.5)


class _Download:
    """One download's bounds and errors, shared by the sync and async loops (no I/O here)."""

    def __init__(self, client: Client, url: str) -> None:
        self.client = client
        self.url = url
        self.shown = safe_url(url)
        limits = client.limits
        self.max_bytes = limits.max_download_bytes
        self.max_ratio = limits.max_decompression_ratio
        self.deadline = Deadline(limits.download_timeout)

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        try:
            request = http.build_request(
                "GET",
                self.url,
                headers={"Accept-Encoding": "identity"},
                timeout=self.deadline.cap(self.client.timeout),
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise DownloadError(self.shown, f"not a URL that can be fetched ({exc})") from None
        request.headers.pop("Authorization", None)  # a user's httpx client may carry one
        return request

    def timed_out(self) -> FalTimeoutError:
        seconds = self.deadline.seconds
        return FalTimeoutError(
            f"download of {self.shown} did not complete within {seconds:g}s "
            "(Limits.download_timeout)",
            timeout=seconds,
        )

    def wait(self, attempt: int) -> float:
        """Seconds before the next attempt; raises when no attempt or time is left."""
        delay = _delay(attempt)
        if delay >= self.deadline.remaining():
            raise self.timed_out()
        return delay

    def check_start(self, response: httpx.Response) -> BodyGuard:
        """A 2xx answer: refuse a declared size past the limit, or an encoding no limit can
        bound, before reading any of it."""
        if problem := unbounded_encoding(response):
            raise DownloadError(self.shown, problem, error_type="limit_exceeded")
        declared = declared_length(response.headers.get_list("content-length"))
        encoded = response.headers.get("content-encoding", "identity").strip().lower()
        if declared is not None and encoded in ("", "identity") and declared > self.max_bytes:
            raise self.too_large(f"its Content-Length is {declared} bytes")
        return BodyGuard(response, max_bytes=self.max_bytes, max_ratio=self.max_ratio)

    def too_large(self, what: str) -> DownloadError:
        return DownloadError(
            self.shown,
            f"{what}, more than the limit of {self.max_bytes} bytes (Limits.max_download_bytes)",
            error_type="limit_exceeded",
        )

    def take(self, guard: BodyGuard, chunk: bytes) -> None:
        problem = guard.add(len(chunk))
        if problem is not None:
            if guard.decoded > guard.max_bytes:
                raise self.too_large("the file is larger")
            raise DownloadError(self.shown, problem, error_type="limit_exceeded")

    def retry_delay(self, exc: httpx.HTTPError, attempt: int) -> float:
        """Seconds before another attempt after ``exc``; raises its error when none is left."""
        if attempt == ATTEMPTS or not _retryable(exc) or self.deadline.expired:
            raise self.failed(exc, attempt) from None
        return self.wait(attempt)

    def failed(self, exc: httpx.HTTPError, attempt: int) -> FalError:
        """The error of a failed request, once it is not retried."""
        if isinstance(exc, httpx.TooManyRedirects):
            return DownloadError(self.shown, "too many redirects")
        if isinstance(exc, httpx.DecodingError):
            return DownloadError(self.shown, f"the body cannot be decoded ({exc})")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return DownloadError(self.shown, "redirected to a URL that cannot be fetched")
        if self.deadline.expired:
            return self.timed_out()
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        return FalConnectionError(
            f"download of {self.shown} failed{tries}: {type(exc).__name__}"
            + (f": {safe_url(str(exc))}" if str(exc) else "")
        )

    def http_error(self, response: httpx.Response, body: bytes) -> FalHTTPError:
        """The typed error of an error answer (its first bytes read), naming the URL. It names
        no request: an ``x-fal-request-id`` the file host sent is not the call's (which is what
        a request id in an error means: what to fetch again, or what was paid for); it stays in
        ``headers``."""
        error = self.client.error_for(read_answer(response, body))
        error.message = f"download of {self.shown}: {error.message}"
        error.request_id = None
        return error


def _retryable(exc: httpx.HTTPError) -> bool:
    """A transport failure the retry table sends a download again after."""
    return isinstance(exc, httpx.TransportError) and retried(Kind.DOWNLOAD, exc)


def download(
    client: Client, url: str, write: Callable[[bytes], object], reset: Callable[[], None]
) -> None:
    """Stream ``url`` into ``write``; retried from scratch on transport errors and 5xx/429."""
    job = _Download(client, url)
    http = client.http
    for attempt in range(1, ATTEMPTS + 1):
        reset()
        if job.deadline.expired:
            raise job.timed_out()
        request = job.request(http)  # each attempt's timeouts cut to the time left
        try:
            response = send_within(http, request, job.deadline, download=True)
        except TimedOut:
            raise job.timed_out() from None
        except httpx.HTTPError as exc:
            time.sleep(job.retry_delay(exc, attempt))
            continue
        try:
            if not response.is_success and retried(Kind.DOWNLOAD, response) and attempt < ATTEMPTS:
                delay = job.wait(attempt)
            elif not response.is_success:
                raise job.http_error(response, _error_body(job, response))
            else:
                _copy(job, response, write)
                return
        except httpx.HTTPError as exc:
            delay = job.retry_delay(exc, attempt)
        finally:
            response.close()
        time.sleep(delay)


def _copy(job: _Download, response: httpx.Response, write: Callable[[bytes], object]) -> None:
    guard = job.check_start(response)
    chunks = response.iter_bytes(_CHUNK)
    with Interrupter(response, job.deadline) as interrupter:
        while True:
            if job.deadline.expired:
                raise job.timed_out()
            try:
                chunk = next(chunks, None)
            except httpx.HTTPError:
                if interrupter.fired:
                    raise job.timed_out() from None
                raise
            if chunk is None:
                if interrupter.fired:  # the shutdown ends a close-delimited body early
                    raise job.timed_out()
                return
            job.take(guard, chunk)
            write(chunk)


def _error_body(job: _Download, response: httpx.Response) -> bytes:
    """The first :data:`ERROR_BODY_BYTES` of an error answer, within the deadline."""
    body = bytearray()
    chunks = response.iter_bytes()
    with Interrupter(response, job.deadline) as interrupter:
        while len(body) < ERROR_BODY_BYTES and not job.deadline.expired:
            try:
                chunk = next(chunks, None)
            except httpx.HTTPError:
                break  # what arrived is enough to name the error
            if chunk is None:
                break
            body += chunk
    if interrupter.fired or job.deadline.expired:
        raise job.timed_out()
    return bytes(body[:ERROR_BODY_BYTES])


async def adownload(
    client: Client,
    url: str,
    write: Callable[[bytes], Awaitable[object]],
    reset: Callable[[], Awaitable[None]],
) -> None:
    """Async twin of :func:`download`."""
    job = _Download(client, url)
    http = client.async_http
    for attempt in range(1, ATTEMPTS + 1):
        await reset()
        try:
            response = await _send(job, http, job.request(http))
        except httpx.HTTPError as exc:
            await asyncio.sleep(job.retry_delay(exc, attempt))
            continue
        try:
            if not response.is_success and retried(Kind.DOWNLOAD, response) and attempt < ATTEMPTS:
                delay = job.wait(attempt)
            elif not response.is_success:
                raise job.http_error(response, await _aerror_body(job, response))
            else:
                await _acopy(job, response, write)
                return
        except httpx.HTTPError as exc:
            delay = job.retry_delay(exc, attempt)
        finally:
            await response.aclose()
        await asyncio.sleep(delay)


async def _send(job: _Download, http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    if job.deadline.expired:
        raise job.timed_out()
    sending = http.send(request, stream=True, auth=None, follow_redirects=True)
    try:
        return await await_within(sending, job.deadline)
    except TimedOut:
        raise job.timed_out() from None


async def _acopy(
    job: _Download, response: httpx.Response, write: Callable[[bytes], Awaitable[object]]
) -> None:
    guard = job.check_start(response)
    chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes(_CHUNK))
    try:
        while True:
            try:
                chunk = await next_within(chunks, job.deadline)
            except StopAsyncIteration:
                return
            except TimedOut:
                raise job.timed_out() from None
            job.take(guard, chunk)
            await write(chunk)
    finally:
        await chunks.aclose()


async def _aerror_body(job: _Download, response: httpx.Response) -> bytes:
    body = bytearray()
    chunks = cast("AsyncGenerator[bytes, Any]", response.aiter_bytes())
    try:
        while len(body) < ERROR_BODY_BYTES:
            try:
                body += await next_within(chunks, job.deadline)
            except StopAsyncIteration:
                break
            except TimedOut:
                raise job.timed_out() from None
    finally:
        await chunks.aclose()
    return bytes(body[:ERROR_BODY_BYTES])
