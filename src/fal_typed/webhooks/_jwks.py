"""Fetching and caching fal's webhook JWKS (sync and async).

A fetched key set is reused for ``ttl`` seconds (24 h at most, as fal asks), or less when the
response's ``Cache-Control`` (``max-age``, ``s-maxage``, ``no-store``, ``no-cache``) or ``Expires``
says so (:func:`freshness_lifetime`): whoever publishes the keys knows how long they stay valid.
Keys past their lifetime are not trusted until a refetch confirms them, but the verifier still
consults them first: only a signature they would verify causes that refetch. A signature no key
verifies may mean fal rotated its keys, so the verifier asks for one refetch
(:meth:`JWKSCache.refetch_after_miss`); a cooldown keeps a flood of forged deliveries from turning
into a flood of JWKS requests, even when the response forbids reuse. After a failed fetch no other
is made for ``failure_cooldown`` seconds, whoever asks (the failure is raised again at once):
with no keys, every delivery, forged or not, would otherwise cost a request, and each waiter on
the lock a timeout. Concurrent callers share one fetch.

HTTP goes through the ``fal_typed.Client``'s httpx clients when one is given (its proxies, limits
and transports apply), else through a short-lived httpx client of our own: a fetch happens about
once a day, so nothing is kept open. The JWKS is public, so no API key is ever sent for it. A
fetch runs under the cache's lock, so ``_jwks_http`` bounds it: ``timeout`` seconds of wall-clock
time in all, :data:`~._jwks_http.MAX_JWKS_BYTES` of body, three redirects, never https to http.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Final, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._forked import on_fork
from . import _checks
from ._errors import JWKSFetchError
from ._jwks_http import error_excerpt, get_jwks, get_jwks_async
from ._signature import load_jwks

__all__ = [
    "DEFAULT_FAILURE_COOLDOWN",
    "DEFAULT_JWKS_URL",
    "MAX_CACHE_TTL",
    "HTTPClientSource",
    "JWKSCache",
    "KeySet",
    "check_ttl",
    "freshness_lifetime",
    "keys_from_body",
]

DEFAULT_JWKS_URL: Final = "https://rest.fal.ai/.well-known/jwks.json"
MAX_CACHE_TTL: Final = 24 * 60 * 60.0
DEFAULT_FAILURE_COOLDOWN: Final = 10.0
"""Seconds after a failed fetch during which no other is made: until the JWKS URL answers again,
every delivery would otherwise ask it (forged ones too: nothing is known of them without keys)."""
_DELTA_SECONDS: Final = re.compile(r"[0-9]+")
_DELTA_SECONDS_MAX: Final = 2**31  # RFC 9111 1.2.2: larger values mean this (and cannot overflow)


class HTTPClientSource(Protocol):
    """What the cache needs from a ``fal_typed.Client``: its httpx clients and REST host."""

    @property
    def http(self) -> httpx.Client: ...

    @property
    def async_http(self) -> httpx.AsyncClient: ...

    @property
    def rest_url(self) -> str: ...


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys of one successful fetch; ``generation`` counts fetches so callers can tell them apart.

    ``fetched_at`` is on the cache's clock; ``lifetime`` is how many seconds after it the keys may be
    reused (the cache's ``ttl``, or less if the response's caching headers said so; 0: not at all).
    """

    keys: tuple[Ed25519PublicKey, ...]
    generation: int
    fetched_at: float
    lifetime: float


def check_ttl(name: str, value: object) -> float:
    """A cache lifetime: a finite number of seconds from 0 to :data:`MAX_CACHE_TTL` (fal's 24 h)."""
    ttl = _checks.seconds(name, value)
    if ttl > MAX_CACHE_TTL:
        raise ValueError(f"{name} must be at most {MAX_CACHE_TTL:g} s (24 h), got {value!r}")
    return ttl


def _delta_seconds(value: str) -> int | None:
    """An HTTP delta-seconds value (quotes tolerated), or None when it is not one."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _DELTA_SECONDS.fullmatch(value):
        return None
    return _DELTA_SECONDS_MAX if len(value) > 10 else min(int(value), _DELTA_SECONDS_MAX)


def _http_date(value: str | None) -> float | None:
    """An HTTP date as unix seconds, or None when absent or unreadable."""
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": UTC by RFC 5322
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def freshness_lifetime(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds a response may be reused per its caching headers; None when they say nothing usable.

    ``no-store``/``no-cache`` give 0; else the smallest ``max-age``/``s-maxage``; else ``Expires``
    minus ``Date`` (``now``, unix seconds, when there is no usable ``Date``). ``Age`` is subtracted,
    as a CDN may have held the response that long already. A malformed value is ignored, never
    raised: the caller then keeps its own ttl.
    """
    fields = {name.lower(): value for name, value in headers.items()}
    limits: list[int] = []
    for directive in fields.get("cache-control", "").split(","):
        name, _, argument = directive.partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return 0.0
        if name in ("max-age", "s-maxage"):
            seconds = _delta_seconds(argument)
            if seconds is not None:
                limits.append(seconds)
    if limits:
        lifetime = float(min(limits))
    else:
        expires = _http_date(fields.get("expires"))
        if expires is None:
            return None
        date = _http_date(fields.get("date"))
        lifetime = expires - (now if date is None else date)
    age = _delta_seconds(fields.get("age", "")) or 0
    return max(0.0, lifetime - age)


def _keys_from_response(
    response: httpx.Response, body: bytes, url: str
) -> tuple[Ed25519PublicKey, ...]:
    if response.status_code != 200:
        said = error_excerpt(body)
        said = f": {said}" if said else ""
        raise JWKSFetchError(f"JWKS request answered HTTP {response.status_code}{said}", url=url)
    return keys_from_body(body, url)


def keys_from_body(body: bytes, url: str) -> tuple[Ed25519PublicKey, ...]:
    """The Ed25519 keys of a JWKS answer's body, or :class:`JWKSFetchError` saying why not.

    Whatever the body holds, nothing else is raised: a receiver answers that error 503 (fal
    retries), where any other exception would be a 500. ``json.loads`` raises ``RecursionError``
    on arrays nested a few thousand deep, ``UnicodeDecodeError`` on bytes that are no UTF, and
    ``ValueError`` on an integer past Python's digit limit; a document of the wrong shape is
    refused by :func:`load_jwks`.
    """
    try:
        document = json.loads(body)
    except RecursionError:
        raise JWKSFetchError("JWKS response is unusable: nested too deep", url=url) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
        raise JWKSFetchError(f"JWKS response is unusable: not JSON ({exc})", url=url) from None
    try:
        return load_jwks(document)
    except (ValueError, TypeError) as exc:
        raise JWKSFetchError(f"JWKS response is unusable: {exc}", url=url) from None


class JWKSCache:
    """A JWKS URL with its cached keys; safe to share between threads and event loops.

    ``clock`` (monotonic seconds) dates fetches; tests replace it to move time without sleeping.
    """

    def __init__(
        self,
        url: str,
        *,
        client: HTTPClientSource | None = None,
        ttl: float = MAX_CACHE_TTL,
        refresh_cooldown: float = 30.0,
        timeout: float = 10.0,
        failure_cooldown: float = DEFAULT_FAILURE_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"jwks_url must be an http(s) URL, got {url!r}")
        try:  # a URL httpx cannot send would fail every fetch with an error of its own
            host = httpx.URL(url).host
        except (httpx.InvalidURL, ValueError, TypeError):
            host = ""
        if not host:
            raise ValueError(f"jwks_url is not a valid URL: {url!r}")
        self.url = url
        self.ttl: float = check_ttl("ttl", ttl)
        self.refresh_cooldown: float = _checks.seconds("refresh_cooldown", refresh_cooldown)
        self.timeout: float = _checks.seconds("timeout", timeout, positive=True)
        self.failure_cooldown: float = _checks.seconds("failure_cooldown", failure_cooldown)
        self.clock = clock
        self._client = client
        self._current: KeySet | None = None
        self._fetches = 0
        self._failed: tuple[float, JWKSFetchError] | None = None  # when, and why
        self._new_locks()
        on_fork(self, JWKSCache._new_locks)  # a fetch under way at a fork never ends there

    def _new_locks(self) -> None:
        self._thread_lock = threading.Lock()  # held across a fetch
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"JWKSCache({self.url!r}, ttl={self.ttl:g})"

    @property
    def fetch_count(self) -> int:
        """How many fetches succeeded so far (for monitoring and tests)."""
        return self._fetches

    def cached(self) -> KeySet | None:
        """The last fetched keys, even past their lifetime (check :meth:`is_fresh`); never fetches."""
        return self._current

    def is_fresh(self, keys: KeySet) -> bool:
        """Whether ``keys`` may still be trusted without a refetch."""
        return self.clock() - keys.fetched_at < keys.lifetime

    def _fresh(self) -> KeySet | None:
        current = self._current
        return current if current is not None and self.is_fresh(current) else None

    def _lifetime(self, response: httpx.Response) -> float:
        allowed = freshness_lifetime(response.headers, now=time.time())
        return self.ttl if allowed is None else min(self.ttl, allowed)

    def _store(self, keys: tuple[Ed25519PublicKey, ...], lifetime: float) -> KeySet:
        self._fetches += 1
        self._current = KeySet(keys, self._fetches, self.clock(), lifetime)
        return self._current

    def _newer(self, seen: KeySet | None) -> KeySet | None:
        """A set fetched since ``seen`` was read (by a concurrent caller), if any."""
        current = self._current
        return current if current is not None and current is not seen else None

    def _may_refetch(self, generation: int) -> KeySet | bool:
        """After a miss: the newer set someone else fetched, True to fetch now, False to give up."""
        current = self._current
        if current is not None and current.generation != generation:
            return current
        return current is None or self.clock() - current.fetched_at >= self.refresh_cooldown

    def _check_cooldown(self) -> None:
        """Refuse to fetch within ``failure_cooldown`` of a failed fetch, with its reason."""
        failed = self._failed
        if failed is None:
            return
        when, error = failed
        waited = self.clock() - when
        if waited < self.failure_cooldown:
            raise JWKSFetchError(
                f"{error.reason}; not asked again for {self.failure_cooldown - waited:.0f} s "
                f"(failure_cooldown {self.failure_cooldown:g} s)",
                url=self.url,
            )

    def _outcome(self, response: httpx.Response, body: bytes) -> KeySet:
        try:
            keys = _keys_from_response(response, body, self.url)
        except JWKSFetchError as exc:
            self._failed = (self.clock(), exc)
            raise
        self._failed = None
        return self._store(keys, self._lifetime(response))

    # sync

    def _fetch(self) -> KeySet:
        self._check_cooldown()
        client = self._client
        try:
            response, body = get_jwks(
                None if client is None else client.http, self.url, self.timeout
            )
        except JWKSFetchError as exc:
            self._failed = (self.clock(), exc)
            raise
        return self._outcome(response, body)

    def get(self) -> KeySet:
        """The cached keys, fetched first if there are none or they are past their lifetime."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._thread_lock:
            return self._fresh() or self._fetch()

    def renew(self, seen: KeySet | None) -> KeySet:
        """Keys fetched after ``seen`` (what :meth:`cached` returned), fetched now unless someone did.

        The refetch cooldown does not apply, so call it only when there are no keys or ``seen``
        verifies the signature: confirming genuine deliveries, never on behalf of a forged one.
        Within ``failure_cooldown`` of a failed fetch it raises that failure without a request.
        """
        with self._thread_lock:
            return self._newer(seen) or self._fetch()

    def refetch_after_miss(self, generation: int) -> KeySet | None:
        """Keys newer than ``generation`` (fetching them unless the cooldown forbids), or None."""
        with self._thread_lock:
            decision = self._may_refetch(generation)
            if isinstance(decision, KeySet):
                return decision
            return self._fetch() if decision else None

    # async

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._thread_lock:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock

    async def _fetch_async(self) -> KeySet:
        self._check_cooldown()
        client = self._client
        try:
            http = None if client is None else client.async_http
            response, body = await get_jwks_async(http, self.url, self.timeout)
        except JWKSFetchError as exc:
            self._failed = (self.clock(), exc)
            raise
        return self._outcome(response, body)

    async def get_async(self) -> KeySet:
        """Async twin of :meth:`get`."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._loop_lock():
            return self._fresh() or await self._fetch_async()

    async def renew_async(self, seen: KeySet | None) -> KeySet:
        """Async twin of :meth:`renew`."""
        async with self._loop_lock():
            return self._newer(seen) or await self._fetch_async()

    async def refetch_after_miss_async(self, generation: int) -> KeySet | None:
        """Async twin of :meth:`refetch_after_miss`."""
        async with self._loop_lock():
            decision = self._may_refetch(generation)
            if isinstance(decision, KeySet):
                return decision
            return await self._fetch_async() if decision else None
