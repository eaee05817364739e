"""The runner's way to the journal: one thread that owns it, and group commit.

The event loop never waits on disk or on the database: every journal call is handed to one
worker thread. Transitions queued while the thread was busy are applied together in a single
transaction (one fsync for all of them), then each waiting row goes on. That is what keeps
"commit before acting" cheap at hundreds of rows in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ._journal import Journal, Transition

__all__ = ["Committer"]

_T = TypeVar("_T")
_MAX_GROUP = 1024


@dataclass
class _Apply:
    transition: Transition
    future: asyncio.Future[bool]


@dataclass
class _Call:
    function: Callable[[], Any]
    future: asyncio.Future[Any]


class Committer:
    """Runs ``journal`` calls on its own thread for coroutines of one event loop."""

    def __init__(self, journal: Journal, run_id: str) -> None:
        self.journal = journal
        self.run_id = run_id
        self.commits: int = 0
        self.transitions: int = 0
        self.busy_seconds: float = 0.0
        self._queue: queue.SimpleQueue[_Apply | _Call | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name="fal-batch-journal", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    async def apply(self, transition: Transition) -> bool:
        """Commit one transition (with whatever else is queued); whether it took effect."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put(_Apply(transition, future))
        return await future

    async def call(self, function: Callable[[], _T]) -> _T:
        """Run ``function`` (a journal call) on the journal's thread."""
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Call(function, future))
        return await future

    # -- the thread -----------------------------------------------------------------------------

    def _work(self) -> None:
        import time

        stopping = False
        while not stopping:
            items: list[_Apply | _Call] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stopping = True
                else:
                    items.append(item)
                if len(items) >= _MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            started = time.perf_counter()
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            group: list[_Apply] = []
            for entry in items:
                if isinstance(entry, _Apply):
                    group.append(entry)
                    continue
                outcomes += self._flush(group)
                group = []
                try:
                    outcomes.append((entry.future, entry.function(), None))
                except BaseException as exc:  # handed to the awaiting coroutine
                    outcomes.append((entry.future, None, exc))
            outcomes += self._flush(group)
            self.busy_seconds += time.perf_counter() - started
            if outcomes and self._loop is not None and not self._loop.is_closed():
                # A loop closed meanwhile has nobody waiting.
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(_settle, outcomes)

    def _flush(
        self, group: Sequence[_Apply]
    ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        if not group:
            return []
        try:
            results = self.journal.apply([entry.transition for entry in group], self.run_id)
        except BaseException as exc:
            return [(entry.future, None, exc) for entry in group]
        self.commits += 1
        self.transitions += len(group)
        return [(entry.future, ok, None) for entry, ok in zip(group, results, strict=True)]


def _settle(outcomes: Sequence[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
