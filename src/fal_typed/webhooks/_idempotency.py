"""Handle each webhook delivery once: fal retries until it sees a 2xx, so duplicates are normal.

:class:`Deduplicator` claims a request id before the handler runs and gives the claim back if the
handler fails (so fal's next retry is processed). Claims live in a pluggable
:class:`IdempotencyStore`; :class:`MemoryIdempotencyStore` is a bounded in-process store with a
TTL, enough for one process. Several processes need a shared store (e.g. Redis ``SET NX EX``):
implement the two methods, sync or async.

A delivery is never lost to a claim: around a handler (:meth:`Deduplicator.handling_async`), a
claim is held for ``lease`` seconds while the handler runs and for ``ttl`` once it succeeded (a
store with the optional ``complete`` method), so a receiver that died mid-handler does not leave
a claim that answers fal's every retry "duplicate"; and a duplicate arriving while this process
still handles the first is told ``busy`` (answered non-2xx, so fal tries it again), not
"duplicate": were the first to fail then, nothing would be left to retry it.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Final, Literal, Protocol, TypeAlias, runtime_checkable

from . import _checks

__all__ = [
    "DEFAULT_CLAIM_LEASE",
    "DEFAULT_DEDUP_TTL",
    "Claimed",
    "Deduplicator",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
]

DEFAULT_DEDUP_TTL: Final = 24 * 60 * 60.0
"""fal retries a delivery for at most a few hours; a day of memory covers every retry."""

DEFAULT_CLAIM_LEASE: Final = 10 * 60.0
"""How long a claim holds while its handler runs (with a store that can ``complete`` claims):
a receiver that died mid-handler gives the delivery back to fal's retries after it."""

Claimed: TypeAlias = Literal["first", "duplicate", "busy"]
"""What :meth:`Deduplicator.handling_async` found: ``first`` (handle it), ``duplicate`` (handled
already), ``busy`` (being handled now: have the sender try again later)."""


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where claims live. Either method may be a coroutine function for a networked store."""

    def add(self, key: str, ttl: float) -> bool | Awaitable[bool]:
        """Atomically record ``key`` for ``ttl`` seconds; False if it was already recorded."""
        ...

    def discard(self, key: str) -> Awaitable[None] | None:
        """Forget ``key`` (the handler failed; the next delivery must be processed)."""
        ...

    # Optional: ``complete(key, ttl)`` keeps a live claim of ``key`` for ``ttl`` seconds from
    # now (its handler succeeded). A store that has it is claimed for the deduplicator's
    # ``lease`` while a handler runs, then completed; one without it is claimed for ``ttl``.


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

    def complete(self, key: str, ttl: float) -> None:
        """Keep the claim of ``key`` for ``ttl`` seconds from now (its handler succeeded)."""
        ttl = _checks.seconds("ttl", ttl, positive=True)
        now = time.monotonic()
        with self._lock:
            self._expiry.pop(key, None)
            self._expiry[key] = now + ttl  # last in: expiry order is insertion order
            self._evict(now)


class Deduplicator:
    """Claims request ids so each delivery is handled once.

    >>> dedup = Deduplicator()
    >>> with dedup.once(result.request_id) as first:  # doctest: +SKIP
    ...     if first:
    ...         handle(result)
    """

    def __init__(
        self,
        store: IdempotencyStore | None = None,
        *,
        ttl: float = DEFAULT_DEDUP_TTL,
        lease: float = DEFAULT_CLAIM_LEASE,
    ) -> None:
        self.ttl: float = _checks.seconds("ttl", ttl, positive=True)
        self.lease: float = min(self.ttl, _checks.seconds("lease", lease, positive=True))
        self.store: IdempotencyStore = store if store is not None else MemoryIdempotencyStore()
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Deduplicator({type(self.store).__name__}, ttl={self.ttl:g})"

    # -- around a handler ---------------------------------------------------------------------

    def _reserve(self, request_id: str) -> bool:
        """Mark ``request_id`` as being handled by this process; False if it already is."""
        with self._busy_lock:
            if request_id in self._busy:
                return False
            self._busy.add(request_id)
            return True

    def _unreserve(self, request_id: str) -> None:
        with self._busy_lock:
            self._busy.discard(request_id)

    def _complete(self) -> Callable[[str, float], object] | None:
        complete = getattr(self.store, "complete", None)
        return complete if callable(complete) else None

    @asynccontextmanager
    async def handling_async(self, request_id: str) -> AsyncGenerator[Claimed, None]:
        """Around handling one delivery: yields ``first`` (handle it: an exception gives the
        claim back, so fal's next retry is handled), ``duplicate`` (handled already) or
        ``busy`` (this process is handling it now: answer non-2xx, so fal tries again; were
        the handler to fail, that retry is handled). The claim holds ``lease`` seconds while
        the handler runs (with a store that can complete claims), then ``ttl``."""
        if not self._reserve(request_id):
            yield "busy"
            return
        try:
            complete = self._complete()
            claimed = self.store.add(request_id, self.lease if complete else self.ttl)
            first = await claimed if inspect.isawaitable(claimed) else claimed
            if not first:
                yield "duplicate"
                return
            try:
                yield "first"
            except BaseException:
                await self.release_async(request_id)  # before it is unreserved: see busy
                raise
            if complete is not None:
                done = complete(request_id, self.ttl)
                if inspect.isawaitable(done):
                    await done
        finally:
            self._unreserve(request_id)

    @contextmanager
    def handling(self, request_id: str) -> Generator[Claimed, None, None]:
        """Sync twin of :meth:`handling_async` (a sync store)."""
        if not self._reserve(request_id):
            yield "busy"
            return
        try:
            complete = self._complete()
            if not self.claim(request_id, ttl=self.lease if complete else self.ttl):
                yield "duplicate"
                return
            try:
                yield "first"
            except BaseException:
                self.release(request_id)
                raise
            if complete is not None:
                done = complete(request_id, self.ttl)
                if inspect.isawaitable(done):
                    _close(done)
                    raise TypeError(f"{type(self.store).__name__} is async: use handling_async()")
        finally:
            self._unreserve(request_id)

    def claim(self, request_id: str, *, ttl: float | None = None) -> bool:
        """True if ``request_id`` was not seen before (and is now claimed, for ``ttl`` seconds:
        the deduplicator's unless given)."""
        result = self.store.add(request_id, self.ttl if ttl is None else ttl)
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
        """Yield True for the first delivery of ``request_id``; an exception releases the claim.
        (False also while this process handles it: :meth:`handling` tells the two apart.)"""
        with self.handling(request_id) as claimed:
            yield claimed == "first"

    @asynccontextmanager
    async def once_async(self, request_id: str) -> AsyncGenerator[bool, None]:
        """Async twin of :meth:`once`."""
        async with self.handling_async(request_id) as claimed:
            yield claimed == "first"


def _close(awaitable: Awaitable[object]) -> None:
    """Close a coroutine we will not await, so Python does not warn about it."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
