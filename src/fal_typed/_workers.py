"""Reused daemon threads for the sends a caller may stop waiting for (``send_within``).

A sync call held by a deadline sends its status-stream request on a helper thread, so it can
stop waiting for the answer's headers when the deadline passes. Starting a thread per send
costs ~0.1 ms of CPU; :func:`spawn` hands the job to a thread left idle by an earlier one, or
starts one when none is idle. A thread idle for ``IDLE_SECONDS`` ends, so a burst of concurrent
calls leaves no threads behind. A forked child starts with none (the parent's do not exist there).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Final

__all__ = ["IDLE_SECONDS", "spawn"]

#: How long a thread waits for another job before it ends.
IDLE_SECONDS: Final = 30.0


class _Workers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a job, less those a queued job is meant for

    def spawn(self, job: Callable[[], object]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put(job)  # under the lock: no idle thread ends with a job queued
                return
        threading.Thread(target=self._work, args=(job,), name="fal-send", daemon=True).start()

    def _work(self, job: Callable[[], object]) -> None:
        while True:
            job()
            del job  # the answer it holds is the caller's, not this idle thread's
            with self._lock:
                self._idle += 1
            while True:
                try:
                    job = self._jobs.get(timeout=IDLE_SECONDS)
                    break
                except queue.Empty:
                    with self._lock:
                        if self._jobs.empty():
                            self._idle -= 1
                            return
                    # a job was queued as the wait ended: it is this thread's to run


_workers = _Workers()


def spawn(job: Callable[[], object]) -> None:
    """Run ``job`` (which must handle its own exceptions) on an idle worker thread, or on a new
    one."""
    _workers.spawn(job)


def _after_fork() -> None:
    global _workers
    _workers = _Workers()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
