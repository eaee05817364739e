"""Handle each webhook delivery once: fal retries until it sees a 2xx, so duplicates are normal.

:class:`Deduplicator` claims a request id before the handler runs and gives the claim back if the
handler fails (so fal's next retry is processed). Claims live in a pluggable
:class:`IdempotencyStore`; :class:`MemoryIdempotencyStore` is a bounded in-process store with a
TTL, enough for one process. Several processes need a shared store (e.g. Redis ``SET NX EX``):
implement the two methods, sync or async.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Final, Protocol, runtime_checkable

from . import _checks

__all__ = ["DEFAULT_DEDUP_TTL", "Deduplicator", "IdempotencyStore", "MemoryIdempotencyStore"]

DEFAULT_DEDUP_TTL: Final = 24 * 60 * 60.0
"""fal retries a delivery for at most a few hours; a day of memory covers every retry."""


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where claims live. Either method may be a coroutine function for a networked store."""

    def add(self, key: str, ttl: float) -> bool | Awaitable[bool]:
        """Atomically record ``key`` for ``ttl`` seconds; False if it was already recorded."""
        ...

    def discard(self, key: str) -> Awaitable[None] | None:
        """Forget ``key`` (the handler failed; the next delivery must be processed)."""
        ...


class MemoryIdempotencyStore:
    """Thread-safe in-memory store: keys expire after their TTL; the oldest go past ``max_entries``."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries: int = _checks.count("max_entries", max_entries)
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._evict(time.monotonic())
            return len(self._expiry)

    def _evict(self, now: float) -> None:
        # Entries are kept in insertion order and share one TTL per caller, so expired ones are
        # mostly at the front; stop at the first live one to keep each call cheap.
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now and len(self._expiry) <= self.max_entries:
                break
            del self._expiry[key]

    def add(self, key: str, ttl: float) -> bool:
        """Record ``key`` unless a live record exists; True if recorded now."""
        ttl = _checks.seconds("ttl", ttl, positive=True)
        now = time.monotonic()
        with self._lock:
            expires = self._expiry.get(key)
            if expires is not None and expires > now:
                return False
            self._expiry.pop(key, None)
            self._expiry[key] = now + ttl
            self._evict(now)
            return True

    def discard(self, key: str) -> None:
        """Forget ``key`` if present."""
        with self._lock:
            self._expiry.pop(key, None)


class Deduplicator:
    """Claims request ids so each delivery is handled once.

    >>> dedup = Deduplicator()
    >>> with dedup.once(result.request_id) as first:  # doctest: +SKIP
    ...     if first:
    ...         handle(result)
    """

    def __init__(
        self, store: IdempotencyStore | None = None, *, ttl: float = DEFAULT_DEDUP_TTL
    ) -> None:
        self.ttl: float = _checks.seconds("ttl", ttl, positive=True)
        self.store: IdempotencyStore = store if store is not None else MemoryIdempotencyStore()

    def __repr__(self) -> str:
        return f"Deduplicator({type(self.store).__name__}, ttl={self.ttl:g})"

    def claim(self, request_id: str) -> bool:
        """True if ``request_id`` was not seen before (and is now claimed)."""
        result = self.store.add(request_id, self.ttl)
        if inspect.isawaitable(result):
            _close(result)
            raise TypeError(f"{type(self.store).__name__} is async: use claim_async()")
        return result

    def release(self, request_id: str) -> None:
        """Give a claim back, so the next delivery of ``request_id`` is handled."""
        result = self.store.discard(request_id)
        if inspect.isawaitable(result):
            _close(result)
            raise TypeError(f"{type(self.store).__name__} is async: use release_async()")

    async def claim_async(self, request_id: str) -> bool:
        """Async twin of :meth:`claim`; works with sync and async stores."""
        result = self.store.add(request_id, self.ttl)
        return await result if inspect.isawaitable(result) else result

    async def release_async(self, request_id: str) -> None:
        """Async twin of :meth:`release`."""
        result = self.store.discard(request_id)
        if inspect.isawaitable(result):
            await result

    @contextmanager
    def once(self, request_id: str) -> Generator[bool, None, None]:
        """Yield True for the first delivery of ``request_id``; an exception releases the claim."""
        first = self.claim(request_id)
        try:
            yield first
        except BaseException:
            if first:
                self.release(request_id)
            raise

    @asynccontextmanager
    async def once_async(self, request_id: str) -> AsyncGenerator[bool, None]:
        """Async twin of :meth:`once`."""
        first = await self.claim_async(request_id)
        try:
            yield first
        except BaseException:
            if first:
                await self.release_async(request_id)
            raise


def _close(awaitable: Awaitable[object]) -> None:
    """Close a coroutine we will not await, so Python does not warn about it."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
