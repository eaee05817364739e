"""One thread for every deadline alarm of the process: arming one is a heap push, not a thread.

A sync read cannot be cancelled from outside, so a call's deadline is held by shutting its
socket down when the time comes (:class:`~fal_typed._bounded.Interrupter`). A thread per alarm
(``threading.Timer``) would cost each response ~0.2 ms of CPU and ~0.5 ms of wall time just to
start, and most alarms are cancelled long before they are due. :func:`arm` instead hands the
alarm to one daemon thread that sleeps until the earliest one is due and runs its callback.

Cancelled alarms stay in the heap until they are due or outnumber the live ones (then the heap
is rebuilt), so many long deadlines armed and cancelled quickly hold bounded memory. A forked
child starts with no alarm and no thread (the parent's thread does not exist there).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = ["Alarm", "arm"]

#: Cancelled entries the heap may hold before it is rebuilt (and at least as many as live ones).
_COMPACT_AT: Final = 64

_PENDING, _CANCELLED, _FIRED = 0, 1, 2


class Alarm:
    """An armed callback; :meth:`cancel` stops it unless it has already run."""

    __slots__ = ("callback", "owner", "state", "when")

    def __init__(self, owner: _Watchdog, when: float, callback: Callable[[], object]) -> None:
        self.owner = owner
        self.when = when
        self.callback = callback
        self.state = _PENDING

    def cancel(self) -> None:
        self.owner.cancel(self)


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()  # ties broken by arming order, never by Alarm
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    def arm(self, when: float, callback: Callable[[], object]) -> Alarm:
        alarm = Alarm(self, when, callback)
        with self._lock:
            if self._thread is None:  # none yet, or it ended (it says so as it ends)
                self._thread = threading.Thread(target=self._run, name="fal-watchdog", daemon=True)
                self._thread.start()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (when, next(self._order), alarm))
            if earliest is None or when < earliest:
                self._wake.notify()
        return alarm

    def cancel(self, alarm: Alarm) -> None:
        with self._lock:
            if alarm.state != _PENDING:
                return
            alarm.state = _CANCELLED
            self._cancelled += 1
            if self._cancelled >= _COMPACT_AT and self._cancelled * 2 >= len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2].state == _PENDING]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _due(self) -> list[Alarm]:
        """Pop the alarms due now (the lock held); drop the cancelled ones met on the way."""
        due: list[Alarm] = []
        now = time.monotonic()
        heap = self._heap
        while heap and (heap[0][0] <= now or heap[0][2].state != _PENDING):
            alarm = heapq.heappop(heap)[2]
            if alarm.state == _PENDING:
                alarm.state = _FIRED
                due.append(alarm)
            else:
                self._cancelled -= 1
        return due

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    due = self._due()
                    while not due:
                        timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                        self._wake.wait(timeout)
                        due = self._due()
                for alarm in due:
                    with contextlib.suppress(Exception):  # one failing must not stop the others
                        alarm.callback()
        finally:
            # Ended by what no callback raises (it never returns): the next alarm starts
            # another, rather than every alarm asking the thread whether it is alive.
            with self._lock:
                self._thread = None


_watchdog = _Watchdog()


def arm(when: float, callback: Callable[[], object]) -> Alarm:
    """Run ``callback`` (briefly: it runs on the shared thread) once ``time.monotonic()``
    reaches ``when``, unless the returned alarm is cancelled first."""
    return _watchdog.arm(when, callback)


def _after_fork() -> None:
    global _watchdog
    _watchdog = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
