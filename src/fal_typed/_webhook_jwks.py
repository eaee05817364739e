"""Fetching and caching fal's webhook JWKS (sync and async).

Keys are cached for ``ttl`` seconds (24 h at most, as fal asks). A signature no cached key
verifies may mean fal rotated its keys, so the verifier asks for one refetch
(:meth:`JWKSCache.refetch_after_miss`); a cooldown keeps a flood of forged deliveries from turning
into a flood of JWKS requests, and concurrent callers share one fetch.

HTTP goes through the ``fal_typed.Client``'s httpx clients when one is given (its proxies, limits
and transports apply), else through a short-lived httpx client of our own: a fetch happens about
once a day, so nothing is kept open. The JWKS is public, so no API key is ever sent for it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Final, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._webhook_errors import JWKSFetchError
from ._webhook_signature import load_jwks

__all__ = ["DEFAULT_JWKS_URL", "MAX_CACHE_TTL", "HTTPClientSource", "JWKSCache", "KeySet"]

DEFAULT_JWKS_URL: Final = "https://rest.fal.ai/.well-known/jwks.json"
MAX_CACHE_TTL: Final = 24 * 60 * 60.0
_ACCEPT: Final = {"Accept": "application/json"}


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
    """The keys of one successful fetch; ``generation`` counts fetches so callers can tell them apart."""

    keys: tuple[Ed25519PublicKey, ...]
    generation: int
    fetched_at: float


def _keys_from_response(response: httpx.Response, url: str) -> tuple[Ed25519PublicKey, ...]:
    if response.status_code != 200:
        raise JWKSFetchError(f"JWKS request answered HTTP {response.status_code}", url=url)
    try:
        return load_jwks(response.json())
    except ValueError as exc:  # JSONDecodeError is a ValueError too
        raise JWKSFetchError(f"JWKS response is unusable: {exc}", url=url) from None


class JWKSCache:
    """A JWKS URL with its cached keys; safe to share between threads and event loops."""

    def __init__(
        self,
        url: str,
        *,
        client: HTTPClientSource | None = None,
        ttl: float = MAX_CACHE_TTL,
        refresh_cooldown: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"jwks_url must be an http(s) URL, got {url!r}")
        if not 0 <= ttl <= MAX_CACHE_TTL:
            raise ValueError(
                f"cache ttl must be between 0 and {MAX_CACHE_TTL:g} s (24 h), got {ttl!r}"
            )
        if refresh_cooldown < 0 or timeout <= 0:
            raise ValueError("refresh_cooldown must be >= 0 and timeout > 0")
        self.url = url
        self.ttl = ttl
        self.refresh_cooldown = refresh_cooldown
        self.timeout = timeout
        self._client = client
        self._current: KeySet | None = None
        self._fetches = 0
        self._thread_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"JWKSCache({self.url!r}, ttl={self.ttl:g})"

    @property
    def fetch_count(self) -> int:
        """How many fetches succeeded so far (for monitoring and tests)."""
        return self._fetches

    def _fresh(self) -> KeySet | None:
        current = self._current
        if current is not None and time.monotonic() - current.fetched_at < self.ttl:
            return current
        return None

    def _store(self, keys: tuple[Ed25519PublicKey, ...]) -> KeySet:
        self._fetches += 1
        self._current = KeySet(keys, self._fetches, time.monotonic())
        return self._current

    def _may_refetch(self, generation: int) -> KeySet | bool:
        """After a miss: the newer set someone else fetched, True to fetch now, False to give up."""
        current = self._current
        if current is not None and current.generation != generation:
            return current
        return current is None or time.monotonic() - current.fetched_at >= self.refresh_cooldown

    # sync

    def _fetch(self) -> KeySet:
        try:
            if self._client is not None:
                response = self._client.http.get(
                    self.url, headers=_ACCEPT, timeout=self.timeout, follow_redirects=True
                )
            else:
                with httpx.Client(timeout=self.timeout, follow_redirects=True) as http:
                    response = http.get(self.url, headers=_ACCEPT)
        except httpx.HTTPError as exc:
            raise JWKSFetchError(
                f"JWKS request failed: {type(exc).__name__}", url=self.url
            ) from None
        return self._store(_keys_from_response(response, self.url))

    def get(self) -> KeySet:
        """The cached keys, fetched first if there are none or they are older than ``ttl``."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._thread_lock:
            return self._fresh() or self._fetch()

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
        try:
            if self._client is not None:
                response = await self._client.async_http.get(
                    self.url, headers=_ACCEPT, timeout=self.timeout, follow_redirects=True
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=True) as http:
                    response = await http.get(self.url, headers=_ACCEPT)
        except httpx.HTTPError as exc:
            raise JWKSFetchError(
                f"JWKS request failed: {type(exc).__name__}", url=self.url
            ) from None
        return self._store(_keys_from_response(response, self.url))

    async def get_async(self) -> KeySet:
        """Async twin of :meth:`get`."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._loop_lock():
            return self._fresh() or await self._fetch_async()

    async def refetch_after_miss_async(self, generation: int) -> KeySet | None:
        """Async twin of :meth:`refetch_after_miss`."""
        async with self._loop_lock():
            decision = self._may_refetch(generation)
            if isinstance(decision, KeySet):
                return decision
            return await self._fetch_async() if decision else None
