"""Handle each webhook delivery once: fal retries until it sees a 2xx, so duplicates are normal.

:class:`Deduplicator` claims a request id before the handler runs and gives the claim back if the
handler fails (so fal's next retry is processed). Claims live in a pluggable
:class:`IdempotencyStore`; :class:`MemoryIdempotencyStore` is a bounded in-process store with a
TTL, enough for one process. Several processes need a shared store (e.g. Redis ``SET NX EX``):
implement ``add`` and ``discard``, and ``claim`` and ``complete`` (see :class:`IdempotencyStore`),
sync or async.

A delivery is never lost to a claim: around a handler (:meth:`Deduplicator.handling_async`), a
claim is held for ``lease`` seconds while the handler runs and for ``ttl`` once it succeeded (a
store with the optional ``complete`` method), so a receiver that died mid-handler does not leave
a claim that answers fal's every retry "duplicate"; and a duplicate arriving while the first is
still handled is told ``busy`` (answered non-2xx, so fal tries it again), not "duplicate": were
the first to fail then, nothing would be left to retry it. This process knows what it handles;
what other processes handle (or a receiver that died) only a store that records whether a claim
was completed can tell (the optional ``claim`` method: the in-memory and SQLite stores have it).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import logging
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeAlias, cast, runtime_checkable

import anyio
import sniffio

from .._forked import on_fork
from . import _checks

__all__ = [
    "DEFAULT_CLAIM_LEASE",
    "DEFAULT_DEDUP_TTL",
    "DEFAULT_MAX_HOLD",
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

DEFAULT_MAX_HOLD: Final = 60 * 60.0
"""How long a claim in progress is renewed at most (a store with ``extend``): a handler hung
past it no longer keeps fal's retries (for a few hours) answered busy; another process may
then handle the delivery too."""

Claimed: TypeAlias = Literal["first", "duplicate", "busy"]
"""What :meth:`Deduplicator.handling_async` found: ``first`` (handle it), ``duplicate`` (handled
already), ``busy`` (being handled now: have the sender try again later)."""


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where claims live. Any method may be a coroutine function, for a networked store.

    Three optional methods make a store safe for several processes and for restarts:

    - ``complete(key, ttl)``: record ``key`` as handled for ``ttl`` seconds from now (its
      handler succeeded), whether or not a claim of it is still live.
    - ``claim(key, lease) -> "first" | "duplicate" | "busy"``: atomically claim ``key`` as
      being handled for ``lease`` seconds unless a live claim exists (``first``); else say
      whether that claim was completed (``duplicate``) or is still in progress (``busy``).

    - ``extend(key, lease)``: keep a claim of ``key`` still in progress for ``lease`` seconds
      from now (its handler still runs; a completed claim is left as it is). With it, a claim
      is renewed every third of the lease while its handler runs, so a handler running longer
      than the lease is not handled by another process too, for at most the deduplicator's
      ``max_hold`` (an async ``extend`` is renewed under asyncio only).

    ``claim`` is used only with ``complete``, and ``extend`` only with both. With ``claim``
    and ``complete``, a delivery found in progress elsewhere (another process, or one that
    died mid-handler less than ``lease`` ago) is answered non-2xx, so fal retries it. With
    ``complete`` only, claims are taken by ``add`` for the lease and completed, but a claim
    found is always "duplicate": one in progress in another process, or left by a receiver
    that died less than ``lease`` ago, cannot be told from one handled, and fal's retry is
    acknowledged; were that handler to fail, or had it died, the delivery is lost. With
    ``add``/``discard`` only, the same holds for the whole ``ttl``.
    """

    def add(self, key: str, ttl: float) -> bool | Awaitable[bool]:
        """Atomically record ``key`` for ``ttl`` seconds; False if it was already recorded."""
        ...

    def discard(self, key: str) -> Awaitable[None] | None:
        """Forget ``key`` (the handler failed; the next delivery must be processed)."""
        ...


_CLAIMED: Final = frozenset({"first", "duplicate", "busy"})

logger = logging.getLogger("fal_typed.webhooks")


class MemoryIdempotencyStore:
    """Thread-safe in-memory store: keys expire after their TTL; past ``max_entries`` the handled
    claims that expire soonest go first (a claim in progress is never dropped to make room)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries: int = _checks.count("max_entries", max_entries)
        self._entries: dict[str, _Entry] = {}
        # Claims hold for different durations (a lease while handled, the TTL once done), so
        # no insertion order is an expiry order: one heap of (expires, version, key) for each
        # kind, finished claims apart so room is made from them. A heap item whose version is
        # not its key's current one is stale (discarded, completed since) and skipped.
        self._done: list[tuple[float, int, str]] = []
        self._busy: list[tuple[float, int, str]] = []
        self._version = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._evict(time.monotonic())
            return len(self._entries)

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        return entry if entry is not None and entry.expires > now else None

    def _put(self, key: str, expires: float, *, done: bool) -> None:
        self._version += 1
        self._entries[key] = _Entry(expires, self._version, done)
        heapq.heappush(self._done if done else self._busy, (expires, self._version, key))

    def _pop_stale_or_expired(self, heap: list[tuple[float, int, str]], now: float) -> bool:
        """Drop ``heap``'s first item if it is stale or expired (its entry too); False if live."""
        expires, version, key = heap[0]
        entry = self._entries.get(key)
        current = entry is not None and entry.version == version
        if current and expires > now:
            return False
        heapq.heappop(heap)
        if current:
            del self._entries[key]
        return True

    def _evict(self, now: float, room: int = 0) -> None:
        """Drop expired claims, then finished ones until ``room`` more fit in ``max_entries``."""
        for heap in (self._done, self._busy):
            while heap and self._pop_stale_or_expired(heap, now):
                pass
        while len(self._entries) > self.max_entries - room and self._done:
            _, version, key = heapq.heappop(self._done)  # the finished claim expiring soonest
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                del self._entries[key]
        # Stale items (keys discarded or completed since) are bounded: rebuilt past twice the
        # live ones, so memory stays in proportion to max_entries.
        if len(self._done) + len(self._busy) > 2 * len(self._entries) + 64:
            self._done = [(e.expires, e.version, k) for k, e in self._entries.items() if e.done]
            self._busy = [(e.expires, e.version, k) for k, e in self._entries.items() if not e.done]
            heapq.heapify(self._done)
            heapq.heapify(self._busy)

    def _make_room(self, now: float) -> None:
        self._evict(now, room=1)
        if len(self._entries) >= self.max_entries:
            raise RuntimeError(
                f"MemoryIdempotencyStore holds {len(self._entries)} claims in progress "
                f"(max_entries={self.max_entries}): a new claim is refused rather than one "
                "dropped (its delivery would be handled twice); raise max_entries"
            )

    def add(self, key: str, ttl: float) -> bool:
        """Record ``key`` for ``ttl`` seconds (as handled) unless a live record exists; True if
        recorded now."""
        ttl = _checks.seconds("ttl", ttl, positive=True)
        now = time.monotonic()
        with self._lock:
            if self._live(key, now) is not None:
                return False
            self._make_room(now)
            self._put(key, now + ttl, done=True)
            return True

    def claim(self, key: str, lease: float) -> Claimed:
        """Claim ``key`` as being handled for ``lease`` seconds unless a live claim exists:
        ``first`` if claimed now, else ``duplicate`` (completed) or ``busy`` (in progress).

        Raises ``RuntimeError`` when ``max_entries`` claims are all in progress (so does
        :meth:`add`): none is dropped to make room; the delivery is answered 500, fal retries."""
        lease = _checks.seconds("lease", lease, positive=True)
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            if entry is not None:
                return "duplicate" if entry.done else "busy"
            self._make_room(now)
            self._put(key, now + lease, done=False)
            return "first"

    def extend(self, key: str, lease: float) -> None:
        """Keep a claim of ``key`` in progress ``lease`` seconds from now (its handler still
        runs; one lapsed but not yet evicted or taken is renewed too); a completed or absent
        one is left as it is."""
        lease = _checks.seconds("lease", lease, positive=True)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry.done:
                self._put(key, now + lease, done=False)

    def discard(self, key: str) -> None:
        """Forget ``key`` if present."""
        with self._lock:
            self._entries.pop(key, None)  # its heap item is stale now

    def complete(self, key: str, ttl: float) -> None:
        """Record ``key`` as handled for ``ttl`` seconds from now (its handler succeeded)."""
        ttl = _checks.seconds("ttl", ttl, positive=True)
        now = time.monotonic()
        with self._lock:
            if key not in self._entries:  # its lease lapsed: room as for a new claim
                self._evict(now, room=1)
            self._put(key, now + ttl, done=True)


@dataclass(frozen=True, slots=True)
class _Entry:
    expires: float
    version: int
    done: bool


class Deduplicator:
    """Claims request ids so each delivery is handled once.

    >>> dedup = Deduplicator()
    >>> with dedup.handling(result.request_id) as claimed:  # doctest: +SKIP
    ...     if claimed == "first":
    ...         handle(result)
    ...     elif claimed == "busy":
    ...         answer_409()  # being handled now: fal must retry it, not stop
    """

    def __init__(
        self,
        store: IdempotencyStore | None = None,
        *,
        ttl: float = DEFAULT_DEDUP_TTL,
        lease: float = DEFAULT_CLAIM_LEASE,
        max_hold: float = DEFAULT_MAX_HOLD,
    ) -> None:
        self.ttl: float = _checks.seconds("ttl", ttl, positive=True)
        self.lease: float = min(self.ttl, _checks.seconds("lease", lease, positive=True))
        self.max_hold: float = _checks.seconds("max_hold", max_hold, positive=True)
        self.store: IdempotencyStore = store if store is not None else MemoryIdempotencyStore()
        _check_store(self.store)
        self._warned: set[str] = set()
        self._reset()
        # The child has none of the parent's handlers or its renewer thread, and a lock held by
        # another thread at fork time would never be released there.
        on_fork(self, Deduplicator._reset)

    def _reset(self) -> None:
        """Fresh in-process state (at construction, and in a forked child: the parent's
        handlers, renewer thread and lock holders do not exist there)."""
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        # Claimed here, handler running: renewed (sync ``extend``) until the monotonic time.
        self._held: dict[str, float] = {}
        self._renewer: threading.Thread | None = None
        self._held_changed = threading.Condition(self._busy_lock)
        self._settling: set[asyncio.Task[None]] = set()

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning(message)

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

    def _extend(self) -> Callable[[str, float], object] | None:
        """The store's ``extend`` (only with ``claim`` and ``complete``), or None."""
        extend = getattr(self.store, "extend", None)
        return extend if callable(extend) and self._methods()[0] is not None else None

    def _hold(self, request_id: str, extend: Callable[[str, float], object]) -> None:
        """Renew ``request_id``'s claim every third of the lease until :meth:`_unhold` or for
        ``max_hold``: one thread for this deduplicator's claims, running while any is held."""
        with self._busy_lock:
            self._held[request_id] = time.monotonic() + self.max_hold
            if self._renewer is None:
                renewer = threading.Thread(
                    target=self._renew_held, args=(extend,), name="fal-claims-renewer", daemon=True
                )
                renewer.start()  # if it fails, the next claim starts one
                self._renewer = renewer

    def _unhold(self, request_id: str) -> None:
        with self._busy_lock:
            self._held.pop(request_id, None)
            if not self._held:
                self._held_changed.notify_all()  # the renewer ends now, not a third lease on

    def _renew_held(self, extend: Callable[[str, float], object]) -> None:
        try:
            while True:
                with self._busy_lock:
                    self._held_changed.wait_for(lambda: not self._held, timeout=self.lease / 3)
                    if not self._held:
                        return
                    now = time.monotonic()
                    held = [key for key, until in self._held.items() if until > now]
                    for key in [key for key, until in self._held.items() if until <= now]:
                        del self._held[key]
                        self._held_too_long(key)
                for request_id in held:
                    renewed = self._renew(extend, request_id)
                    if inspect.isawaitable(renewed):  # a sync method returning one: not ours
                        _close(renewed)
                        self._warn_once(
                            "sync-extend-awaitable",
                            f"{type(self.store).__name__}.extend() returned an awaitable "
                            "from a plain method: claims are not renewed; make extend a "
                            "coroutine function (async def) or fully synchronous",
                        )
        finally:
            with self._busy_lock:
                if self._renewer is threading.current_thread():
                    self._renewer = None

    def _held_too_long(self, request_id: str) -> None:
        logger.error(
            "the handler of webhook request %s has run for max_hold=%g s: its claim is no "
            "longer renewed, and lapses within the lease of %g s; a delivery of it after that "
            "may be handled by another process too",
            request_id,
            self.max_hold,
            self.lease,
        )

    def _renew(self, extend: Callable[[str, float], object], request_id: str) -> object:
        try:
            return extend(request_id, self.lease)
        except Exception as exc:
            self._not_renewed(request_id, exc)
            return None

    def _not_renewed(self, request_id: str, exc: Exception) -> None:
        logger.warning(
            "could not renew the claim of webhook request %s (%s: %s): if its handler runs "
            "past the lease of %g s, another process may handle it too",
            request_id,
            type(exc).__name__,
            exc,
            self.lease,
        )

    async def _renew_async(self, extend: Callable[[str, float], object], request_id: str) -> None:
        until = time.monotonic() + self.max_hold
        while True:
            await asyncio.sleep(self.lease / 3)
            if time.monotonic() >= until:
                self._held_too_long(request_id)
                return
            renewed = self._renew(extend, request_id)
            if inspect.isawaitable(renewed):
                try:
                    await renewed
                except Exception as exc:
                    self._not_renewed(request_id, exc)

    @contextmanager
    def _renewing(self, request_id: str) -> Generator[None, None, None]:
        """Keep ``request_id``'s claim in progress alive while the handler runs (a store with
        a sync ``extend``; see :meth:`_renewing_async` for an async one)."""
        extend = self._extend()
        if extend is None or inspect.iscoroutinefunction(extend):
            yield
            return
        try:
            self._hold(request_id, extend)
            yield
        finally:
            self._unhold(request_id)

    @asynccontextmanager
    async def _renewing_async(self, request_id: str) -> AsyncGenerator[None, None]:
        extend = self._extend()
        if extend is None or not inspect.iscoroutinefunction(extend):
            with self._renewing(request_id):
                yield
            return
        if sniffio.current_async_library() != "asyncio":  # no task of our own to spawn
            self._warn_once(
                "async-extend",
                f"{type(self.store).__name__}.extend() is a coroutine function, renewed under "
                "asyncio only: under this event loop claims are not renewed, and a handler "
                "running past the lease may be handled by another process too",
            )
            yield
            return
        renewer = asyncio.get_running_loop().create_task(self._renew_async(extend, request_id))
        try:
            yield
        finally:
            renewer.cancel()

    def _methods(
        self,
    ) -> tuple[Callable[[str, float], object] | None, Callable[..., object] | None]:
        """The store's ``claim`` (only with ``complete``: see :class:`IdempotencyStore`) and
        ``complete``, each None when it has none."""
        complete = getattr(self.store, "complete", None)
        complete = complete if callable(complete) else None
        claim = getattr(self.store, "claim", None)
        return (claim if callable(claim) and complete is not None else None), complete

    def _take(self, request_id: str) -> tuple[object, bool, Callable[..., object] | None]:
        """Ask the store for a claim: (its answer, whether it came from ``claim``, complete)."""
        claim, complete = self._methods()
        if claim is not None:
            return claim(request_id, self.lease), True, complete
        return self.store.add(request_id, self.lease if complete else self.ttl), False, complete

    def _claimed(self, answer: object, *, from_claim: bool) -> Claimed:
        if not from_claim:
            return "first" if answer else "duplicate"
        if isinstance(answer, str) and answer in _CLAIMED:
            return cast("Claimed", answer)
        raise TypeError(
            f"{type(self.store).__name__}.claim() must return 'first', 'duplicate' or 'busy', "
            f"got {answer!r}"
        )

    def _not_released(self, request_id: str, exc: Exception) -> None:
        logger.error(
            "could not give back the claim of webhook request %s (%s: %s): its retries are "
            "answered busy until the claim's lease of %g s lapses",
            request_id,
            type(exc).__name__,
            exc,
            self.lease,
        )

    def _not_completed(self, request_id: str, exc: Exception) -> None:
        # Answering the handled delivery non-2xx would have fal retry it, and handled again
        # once the lease lapses: it is answered as handled, and the error logged.
        logger.error(
            "webhook request %s was handled, but its claim could not be completed (%s: %s): "
            "a delivery of it after the lease of %g s would be handled again",
            request_id,
            type(exc).__name__,
            exc,
            self.lease,
        )

    async def _settle(
        self,
        request_id: str,
        call: Callable[[], object],
        on_error: Callable[[str, Exception], None],
    ) -> None:
        """Run ``call`` (giving a claim back, completing it) to its end, for at most the lease,
        whatever cancels the caller: an anyio scope, or asyncio's own ``Task.cancel`` (a
        timeout, a server shutting down), which no anyio shield stops. Cut mid-way, a claim
        left in progress is handled twice once its lease lapses, or refuses fal's retries."""

        async def run() -> None:
            try:
                with anyio.move_on_after(self.lease) as scope:
                    done = call()
                    if inspect.isawaitable(done):
                        await done
                if scope.cancelled_caught:
                    raise TimeoutError(f"the store took longer than the lease of {self.lease:g} s")
            except Exception as exc:
                on_error(request_id, exc)

        with anyio.CancelScope(shield=True):
            if sniffio.current_async_library() != "asyncio":
                await run()
                return
            task = asyncio.get_running_loop().create_task(run())
            self._settling.add(task)  # the loop holds tasks weakly
            task.add_done_callback(self._settling.discard)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                # Cancelled natively: let it finish (it is bounded by the lease), then re-raise.
                deadline = time.monotonic() + self.lease + 1
                while not task.done() and time.monotonic() < deadline:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait({task}, timeout=deadline - time.monotonic())
                raise

    @asynccontextmanager
    async def handling_async(self, request_id: str) -> AsyncGenerator[Claimed, None]:
        """Around handling one delivery: yields ``first`` (handle it: an exception gives the
        claim back, so fal's next retry is handled), ``duplicate`` (handled already) or
        ``busy`` (being handled now, here or, with a store that can tell, in another process:
        answer non-2xx, so fal tries again; were the handler to fail, that retry is handled).
        The claim holds ``lease`` seconds while the handler runs (with a store that can
        complete claims), then ``ttl``. Giving the claim back and completing it run to their
        end whatever cancels the request (for at most the lease); a store failing or too slow
        to complete a handled claim is logged, not raised."""
        if not self._reserve(request_id):
            yield "busy"
            return
        try:
            answer, from_claim, complete = self._take(request_id)
            if inspect.isawaitable(answer):
                answer = await answer
            claimed = self._claimed(answer, from_claim=from_claim)
            if claimed != "first":
                yield claimed
                return
            try:
                async with self._renewing_async(request_id):
                    yield "first"
            except BaseException:
                # Before it is unreserved (see busy); a failure is logged: the handler's
                # exception is the one to raise.
                await self._settle(
                    request_id, lambda: self.store.discard(request_id), self._not_released
                )
                raise
            if complete is not None:
                finish = complete
                await self._settle(
                    request_id, lambda: finish(request_id, self.ttl), self._not_completed
                )
        finally:
            self._unreserve(request_id)

    @contextmanager
    def handling(self, request_id: str) -> Generator[Claimed, None, None]:
        """Sync twin of :meth:`handling_async` (a sync store)."""
        if not self._reserve(request_id):
            yield "busy"
            return
        try:
            if inspect.iscoroutinefunction(self._methods()[1]):
                # Found only after the handler ran, its claim would stay in progress.
                raise TypeError(f"{type(self.store).__name__} is async: use handling_async()")
            answer, from_claim, complete = self._take(request_id)
            if inspect.isawaitable(answer):
                _close(answer)
                raise TypeError(f"{type(self.store).__name__} is async: use handling_async()")
            claimed = self._claimed(answer, from_claim=from_claim)
            if claimed != "first":
                yield claimed
                return
            try:
                with self._renewing(request_id):
                    yield "first"
            except BaseException:
                try:
                    self.release(request_id)
                except Exception as exc:
                    self._not_released(request_id, exc)
                raise
            if complete is not None:
                try:
                    done = complete(request_id, self.ttl)
                    if inspect.isawaitable(done):
                        _close(done)
                        raise TypeError(f"{type(self.store).__name__}.complete() is async")
                except Exception as exc:
                    self._not_completed(request_id, exc)
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

        False also while it is being handled (here, or elsewhere with a store that can tell):
        to answer fal, use :meth:`handling`, and answer ``busy`` non-2xx; a 2xx for it has fal
        stop, and were that handler to fail, the delivery would be lost."""
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


def _check_store(store: object) -> None:
    """Refuse a store with a method its other methods make unusable: silently ignored, it
    would not do what its author meant (hold claims in progress, renew them)."""
    name = type(store).__name__

    def has(method: str) -> bool:
        return callable(getattr(store, method, None))

    if has("claim") and not has("complete"):
        raise TypeError(
            f"{name} has claim() but no complete(): claim() would be ignored (a claim it "
            "takes could never be recorded as handled); add complete(key, ttl), or remove claim()"
        )
    if has("extend") and not has("claim"):
        raise TypeError(
            f"{name} has extend() but no claim(): extend() would be ignored (only a claim "
            "taken by claim() is in progress); add claim(key, lease) and complete(key, ttl), "
            "or remove extend()"
        )
