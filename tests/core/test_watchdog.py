"""The shared deadline machinery of sync calls: one watchdog thread for every alarm, reused
sender threads, and calls held by a deadline that start no thread per request.

Nothing here times anything: an alarm armed for the past is due at once, one armed 1,000 s
ahead never is, and the order in which due alarms run is observed, not measured. Waits are
bounded (a broken watchdog fails the test instead of hanging it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client
from fal_typed._watchdog import _watchdog, arm  # pyright: ignore[reportPrivateUsage]
from fal_typed._workers import spawn
from fal_typed.testing import LocalFal

ID = "fal-ai/flux/dev"
FAR = 1000.0
BOUND = 30.0  # how long a wait may take before the test fails (never reached when it works)


def test_a_due_alarm_runs_and_a_cancelled_one_never_does() -> None:
    ran: list[str] = []
    done = threading.Event()
    cancelled = arm(time.monotonic() + 0.05, lambda: ran.append("cancelled"))
    cancelled.cancel()
    # Due after the cancelled one: by the time it runs, the cancelled one has had its turn.
    arm(time.monotonic() + 0.1, lambda: (ran.append("due"), done.set()))
    assert done.wait(BOUND)
    assert ran == ["due"]


def test_due_alarms_run_in_the_order_of_their_times_not_of_arming() -> None:
    ran: list[int] = []
    done = threading.Event()
    start = time.monotonic()
    arm(start + 0.3, lambda: (ran.append(3), done.set()))
    arm(start + 0.1, lambda: ran.append(1))
    arm(start + 0.2, lambda: ran.append(2))
    assert done.wait(BOUND)
    assert ran == [1, 2, 3]


def test_a_failing_callback_does_not_stop_the_alarms_after_it() -> None:
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    arm(time.monotonic() - 1.0, fail)
    arm(time.monotonic(), done.set)
    assert done.wait(BOUND)


def test_cancelling_is_idempotent_and_a_fired_alarm_cannot_be_cancelled_into_the_count() -> None:
    done = threading.Event()
    fired = arm(time.monotonic() - 1.0, done.set)
    assert done.wait(BOUND)
    fired.cancel()  # already fired: nothing to undo
    pending = arm(time.monotonic() + FAR, lambda: None)
    pending.cancel()
    pending.cancel()
    assert all(entry[2] is not fired for entry in _watchdog._heap)  # pyright: ignore[reportPrivateUsage]


def test_many_long_alarms_cancelled_early_hold_bounded_memory() -> None:
    for _ in range(5_000):
        arm(time.monotonic() + FAR, lambda: None).cancel()
    # Rebuilt whenever the cancelled entries are 64 or more and at least half of them.
    assert len(_watchdog._heap) < 200  # pyright: ignore[reportPrivateUsage]


def test_one_watchdog_thread_whatever_the_number_of_alarms() -> None:
    alarms = [arm(time.monotonic() + FAR, lambda: None) for _ in range(100)]
    watchdogs = [t for t in threading.enumerate() if t.name == "fal-watchdog"]
    for alarm in alarms:
        alarm.cancel()
    assert len(watchdogs) == 1


def test_a_sender_thread_is_reused_by_the_next_job() -> None:
    names: list[int] = []
    for _ in range(5):
        done = threading.Event()
        spawn(lambda done=done: (names.append(threading.get_ident()), done.set()))
        assert done.wait(BOUND)
        # The job has run; let its thread reach its idle wait before the next spawn.
        for _ in range(1000):
            if _idle_senders() > 0:
                break
            time.sleep(0.001)
    assert len(set(names)) == 1


def test_concurrent_jobs_each_get_a_thread() -> None:
    barrier = threading.Barrier(4, timeout=BOUND)
    done = threading.Semaphore(0)

    def job() -> None:
        barrier.wait()  # only returns once all four run at once
        done.release()

    for _ in range(3):
        spawn(job)
    barrier.wait()
    for _ in range(3):
        assert done.acquire(timeout=BOUND)


def _idle_senders() -> int:
    from fal_typed import _workers

    return _workers._workers._idle  # pyright: ignore[reportPrivateUsage]


# -- calls held by a deadline -----------------------------------------------------------------


def _threads_started(call: Callable[[], object], times: int) -> list[str]:
    """The names of the threads started while ``call`` runs ``times`` times: each new thread
    runs the hook ``threading.setprofile`` installs, which notes its name and removes itself."""
    started: list[str] = []

    def note(frame: FrameType, event: str, arg: object) -> None:
        del frame, event, arg
        started.append(threading.current_thread().name)
        sys.setprofile(None)

    threading.setprofile(note)
    try:
        for _ in range(times):
            call()
    finally:
        threading.setprofile(None)  # pyright: ignore[reportArgumentType]
    return started


def test_sync_calls_held_by_a_deadline_start_no_thread_per_request(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=0.05)  # the status stream waits: a real read

    def call() -> None:
        out = flux_dev.subscribe(prompt="a cat", client=client, client_timeout=60)
        assert out.images

    call()  # the watchdog and the first sender thread start here
    started = _threads_started(call, 5)
    # Ours are named fal-*; a threading.Timer is a Thread-N. The server's own workers may come.
    assert [name for name in started if name.startswith(("fal-", "Thread-"))] == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_watchdog_thread_that_ended_is_replaced_by_the_next_alarm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing a callback raises ends the thread; if something else does, it says so as it
    ends, and the next alarm starts another (no liveness check at every arm)."""
    original = _watchdog._due  # pyright: ignore[reportPrivateUsage]
    failed = threading.Event()

    def fail_once() -> list[object]:
        _watchdog._due = original  # type: ignore[method-assign]  # pyright: ignore[reportPrivateUsage]
        failed.set()
        raise SystemExit  # what no callback's suppression catches

    monkeypatch.setattr(_watchdog, "_due", fail_once)  # (restored even if the test fails)
    ended = _watchdog._thread  # pyright: ignore[reportPrivateUsage]
    arm(time.monotonic() - 1, lambda: None)  # due now, so it wakes the thread: it fails, ends
    assert failed.wait(BOUND)
    thread = ended or _watchdog._thread  # pyright: ignore[reportPrivateUsage]
    assert thread is not None
    thread.join(BOUND)
    assert not thread.is_alive()
    assert _watchdog._thread is None  # pyright: ignore[reportPrivateUsage]
    ran = threading.Event()
    arm(time.monotonic() - 1, ran.set)
    assert ran.wait(BOUND)
    assert _watchdog._thread is not None and _watchdog._thread.is_alive()  # pyright: ignore[reportPrivateUsage]
