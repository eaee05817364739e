"""One GET of a JWKS, bounded whatever the server does (sync and async).

A fetch runs under the cache's lock, so every delivery waits for it: it must end. httpx's
``timeout`` bounds each read, not their sum, so a server trickling a byte a second could hold it
for ever, and its decoders inflate a compressed body whole. So here:

- the whole fetch (redirects, headers, body) ends within ``timeout`` seconds of wall-clock time:
  the sync send waits for the headers on a helper thread it stops waiting for, an
  :class:`~fal_typed._bounded.Interrupter` shuts the socket down when the time is up, and the
  async one awaits each step no longer than the time left;
- the body is read raw and refused past :data:`MAX_JWKS_BYTES` (1 MiB; a JWKS is a few KB), its
  ``Content-Length`` checked before reading; ``identity`` is asked for, and a ``gzip`` or
  ``deflate`` body (sent anyway) is inflated by us no further than the same cap. Other encodings
  are refused;
- redirects are followed, at most :data:`MAX_JWKS_REDIRECTS` (3), never from https to http (a
  network attacker could then serve any key), each hop inside the same deadline and cap. Whoever
  serves the JWKS URL already decides the keys, so a redirect to another host trusts no one new.

Every failure is a :class:`~fal_typed.webhooks.JWKSFetchError`. No credential is sent: the
request carries no auth (not even a client's default) and no ``Authorization`` header.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator
from typing import Final, cast

import httpx

from .._bounded import (
    MAX_GZIP_MEMBERS,
    Interrupter,
    TimedOut,
    await_within,
    next_within,
    send_before,
)
from .._checks import declared_length
from .._deadline import Deadline
from .._errors import scrub
from .._printable import printable
from ._errors import JWKSFetchError

__all__ = [
    "ERROR_READ_SECONDS",
    "MAX_ERROR_BYTES",
    "MAX_JWKS_BYTES",
    "MAX_JWKS_REDIRECTS",
    "error_excerpt",
    "get_jwks",
    "get_jwks_async",
]

MAX_JWKS_BYTES: Final = 1 << 20
"""The largest JWKS answer read (1 MiB), before and after decompression; a JWKS is a few KB."""

MAX_JWKS_REDIRECTS: Final = 3
"""The most redirects a JWKS fetch follows (never one from https to http)."""

MAX_ERROR_BYTES: Final = 4096
"""How much of an error answer's body is read (and inflated), to say in the error what the
server said; the rest is never read."""

ERROR_READ_SECONDS: Final = 1.0
"""At most this long is spent reading the start of an error answer, to quote it."""

EXCERPT_CHARS: Final = 300
"""The most characters of an error answer quoted in a message (:func:`error_excerpt`)."""


_REQUEST_HEADERS: Final = {"Accept": "application/json", "Accept-Encoding": "identity"}
#: Content-Encoding values read, and the zlib window of each (47: gzip or zlib, detected).
_INFLATE: Final = {"gzip": 47, "x-gzip": 47, "deflate": 15}


class _Unusable(Exception):
    """The answer cannot be used; the message says why."""


#: What ends a fetch as a :class:`JWKSFetchError` (a redirect's bad ``Location`` is an httpx
#: ``RemoteProtocolError``; ``InvalidURL`` is not an ``HTTPError``).
_FAILURES: Final = (TimedOut, _Unusable, httpx.HTTPError, httpx.InvalidURL)


def _request(http: httpx.Client | httpx.AsyncClient, url: str, deadline: Deadline) -> httpx.Request:
    timeout = deadline.cap(httpx.Timeout(deadline.seconds))
    request = http.build_request("GET", url, headers=_REQUEST_HEADERS, timeout=timeout)
    request.headers.pop("Authorization", None)  # a client's default headers: not for this URL
    return request


def _next_hop(response: httpx.Response, url: str, hops: int) -> str | None:
    """Where a redirect points (None: not a redirect), checked against the redirect rules."""
    following = response.next_request
    if following is None:
        return None
    if hops >= MAX_JWKS_REDIRECTS:
        raise _Unusable(f"more than {MAX_JWKS_REDIRECTS} redirects")
    target = following.url
    if url.startswith("https:") and target.scheme != "https":
        raise _Unusable(f"redirect from https to {target.scheme} refused")
    return str(target)


def _encoding(response: httpx.Response) -> str:
    """The body's content coding, refused before any of the body is read when it is too large
    by its ``Content-Length`` or in a coding we do not inflate within the cap."""
    declared = declared_length(response.headers.get_list("content-length"))
    if declared is not None and declared > MAX_JWKS_BYTES:
        raise _Unusable(f"larger than the limit of {MAX_JWKS_BYTES} bytes (Content-Length)")
    encoding: str = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", *_INFLATE):
        raise _Unusable(f"content-encoding {encoding[:40]!r} is not read")
    return encoding


def _add(body: bytearray, chunk: bytes) -> None:
    body += chunk
    if len(body) > MAX_JWKS_BYTES:
        raise _Unusable(f"larger than the limit of {MAX_JWKS_BYTES} bytes")


def _inflate(raw: bytes, wbits: int, limit: int) -> tuple[bytes, bool, bytes] | None:
    """``raw`` inflated no further than ``limit`` bytes, whether its stream ended there and
    what followed its end, or None when it does not inflate. ``deflate`` (wbits 15) is
    tried zlib-wrapped, then raw, as some servers send it."""
    for attempt in (wbits,) if wbits != 15 else (15, -15):
        inflater = zlib.decompressobj(attempt)
        try:
            return inflater.decompress(raw, limit), inflater.eof, inflater.unused_data
        except zlib.error:
            continue
    return None


def _inflated_start(raw: bytes, encoding: str) -> bytes:
    """The start of an error answer's body: ``raw`` (its first bytes only, perhaps) inflated no
    further than :data:`MAX_ERROR_BYTES`; nothing when it does not inflate."""
    wbits = _INFLATE.get(encoding)
    if wbits is None:
        return raw if encoding in ("", "identity") else b""
    inflated = _inflate(raw, wbits, MAX_ERROR_BYTES)
    return b"" if inflated is None else inflated[0]


def error_excerpt(body: bytes) -> str:
    """The start of an error answer's body as one line to quote in a message: at most
    :data:`EXCERPT_CHARS` characters, control and bidirectional characters and line breaks
    (a log's lines, a terminal's escapes) turned into spaces, remembered secrets scrubbed
    out; ``""`` for none."""
    text = " ".join(printable(body.decode("utf-8", "replace")).split())
    text = scrub(text)  # before the cut: a cut could split an echoed secret
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "\u2026"


def _decoded(raw: bytes, encoding: str) -> bytes:
    """``raw`` inflated (``gzip``/``deflate``) no further than the cap, or as it is."""
    wbits = _INFLATE.get(encoding)
    if wbits is None:
        return raw
    body = b""
    rest = raw
    # Each gzip member in turn (RFC 1952 allows several): what followed the first was dropped,
    # so a JWKS in two members was read as its first part, and junk after one was ignored.
    for _ in range(MAX_GZIP_MEMBERS):
        inflated = _inflate(rest, wbits, MAX_JWKS_BYTES + 1 - len(body))
        if inflated is None:
            raise _Unusable(f"{encoding} body does not inflate")
        piece, ended, rest = inflated
        body += piece
        if len(body) > MAX_JWKS_BYTES:
            raise _Unusable(f"inflates past the limit of {MAX_JWKS_BYTES} bytes")
        if not ended:
            raise _Unusable(f"{encoding} body is cut short")
        if not rest:
            return body
        if wbits != _INFLATE["gzip"] or not rest.startswith(b"\x1f\x8b"):
            raise _Unusable(f"{encoding} body has data after the end of its stream")
    raise _Unusable(f"{encoding} body has more than {MAX_GZIP_MEMBERS} gzip members")


# sync


def _send(http: httpx.Client, request: httpx.Request, deadline: Deadline) -> httpx.Response:
    """``http.send`` (streamed, no redirects followed, no auth), waiting for the answer's headers
    no longer than the deadline, however slowly they come (:func:`send_before`)."""
    return send_before(
        lambda: http.send(request, stream=True, follow_redirects=False, auth=None), deadline
    )


def _read(response: httpx.Response, deadline: Deadline) -> bytes:
    encoding = _encoding(response)
    body = bytearray()
    with Interrupter(response, deadline) as interrupter:
        try:
            for chunk in response.iter_raw():
                if deadline.expired:
                    raise TimedOut
                _add(body, chunk)
        except httpx.TransportError:
            if interrupter.fired:
                raise TimedOut from None
            raise
        if interrupter.fired:  # the shutdown looks like the end of a close-delimited body
            raise TimedOut
    return _decoded(bytes(body), encoding)


def _quote_time(deadline: Deadline) -> Deadline:
    """The time given to read the start of an error answer: at most :data:`ERROR_READ_SECONDS`
    of what is left. It is only quoted; a body that stalls must not hold the fetch (and the key
    cache's lock, which every delivery waits on) until the whole timeout."""
    return Deadline(min(deadline.remaining(), ERROR_READ_SECONDS))


def _read_start(response: httpx.Response, deadline: Deadline) -> bytes:
    """The start of an error answer's body (:func:`_inflated_start`); whatever of it came within
    :func:`_quote_time`, or before a failure, cut it short."""
    deadline = _quote_time(deadline)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    raw = bytearray()
    with Interrupter(response, deadline):
        try:
            for chunk in response.iter_raw():
                raw += chunk
                if len(raw) >= MAX_ERROR_BYTES or deadline.expired:
                    break
        except httpx.HTTPError:
            pass
    return _inflated_start(bytes(raw[:MAX_ERROR_BYTES]), encoding)


def _get(http: httpx.Client, url: str, deadline: Deadline) -> tuple[httpx.Response, bytes]:
    for hops in range(MAX_JWKS_REDIRECTS + 1):
        response = _send(http, _request(http, url, deadline), deadline)
        try:
            following = _next_hop(response, url, hops)
            if following is None:
                ok = response.status_code == 200
                body = _read(response, deadline) if ok else _read_start(response, deadline)
                return response, body
            url = following
        finally:
            response.close()
    raise AssertionError("unreachable: the last hop returns or raises")


def get_jwks(
    http: httpx.Client | None, url: str, timeout: float, *, what: str = "JWKS"
) -> tuple[httpx.Response, bytes]:
    """The final answer to ``GET url`` (closed) and its body (for an answer other than 200, only
    its start: :data:`MAX_ERROR_BYTES`, to quote), within ``timeout`` seconds in all. ``http`` None: a short-lived client of our own. ``what`` names
    the document in the error (the webhook senders' ranges are fetched the same way)."""
    deadline = Deadline(timeout)
    try:
        if http is not None:
            return _get(http, url, deadline)
        with httpx.Client() as own:
            return _get(own, url, deadline)
    except _FAILURES as exc:
        raise _failure(exc, url, timeout, what) from None


# async


async def _aread(response: httpx.Response, deadline: Deadline) -> bytes:
    encoding = _encoding(response)
    body = bytearray()
    chunks = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
    try:
        while True:
            try:
                chunk = await next_within(chunks, deadline)
            except StopAsyncIteration:
                break
            _add(body, chunk)
    finally:
        await chunks.aclose()
    return _decoded(bytes(body), encoding)


async def _aread_start(response: httpx.Response, deadline: Deadline) -> bytes:
    """Async twin of :func:`_read_start`."""
    deadline = _quote_time(deadline)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    raw = bytearray()
    chunks = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
    try:
        while len(raw) < MAX_ERROR_BYTES:
            raw += await next_within(chunks, deadline)
    except (StopAsyncIteration, TimedOut, httpx.HTTPError):
        pass
    finally:
        await chunks.aclose()
    return _inflated_start(bytes(raw[:MAX_ERROR_BYTES]), encoding)


async def _aget(
    http: httpx.AsyncClient, url: str, deadline: Deadline
) -> tuple[httpx.Response, bytes]:
    for hops in range(MAX_JWKS_REDIRECTS + 1):
        request = _request(http, url, deadline)
        sending = http.send(request, stream=True, follow_redirects=False, auth=None)
        response = await await_within(sending, deadline)
        try:
            following = _next_hop(response, url, hops)
            if following is None:
                ok = response.status_code == 200
                read = _aread(response, deadline) if ok else _aread_start(response, deadline)
                return response, await read
            url = following
        finally:
            await response.aclose()
    raise AssertionError("unreachable: the last hop returns or raises")


async def get_jwks_async(
    http: httpx.AsyncClient | None, url: str, timeout: float, *, what: str = "JWKS"
) -> tuple[httpx.Response, bytes]:
    """Async twin of :func:`get_jwks`."""
    deadline = Deadline(timeout)
    try:
        if http is not None:
            return await _aget(http, url, deadline)
        async with httpx.AsyncClient() as own:
            return await _aget(own, url, deadline)
    except _FAILURES as exc:
        raise _failure(exc, url, timeout, what) from None


def _failure(exc: Exception, url: str, timeout: float, what: str = "JWKS") -> JWKSFetchError:
    """The :class:`JWKSFetchError` for what ended a fetch. httpx's own timeouts are the time
    left (``Deadline.cap``): one that fires is the deadline passing, whichever noticed first."""
    if isinstance(exc, (TimedOut, httpx.TimeoutException)):
        return JWKSFetchError(f"{what} request did not complete within {timeout:g} s", url=url)
    if isinstance(exc, _Unusable):
        return JWKSFetchError(f"{what} response is unusable: {exc}", url=url)
    return JWKSFetchError(f"{what} request failed: {type(exc).__name__}", url=url)
