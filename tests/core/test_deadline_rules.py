"""`Deadline`'s own rules, exactly: what every request, sleep and stream read of a call is cut to.

The flows over sockets that hold the deadline end to end are in test_deadlines.py; these hold the
arithmetic they rely on (each phase capped, never 0 nor negative, the error's text and fields),
without sleeping: a deadline of 0 has passed, one of 1,000 seconds has not.
"""

from __future__ import annotations

import time

import httpx
import pytest

from fal_typed import FalTimeoutError
from fal_typed._deadline import Deadline

FAR = 1000.0


def test_a_passed_deadline_leaves_nothing_and_caps_every_phase_to_a_millisecond() -> None:
    deadline = Deadline(0.0)
    assert deadline.expired
    assert deadline.remaining() == 0.0
    assert deadline.bound(5.0) == 0.0
    capped = deadline.cap(httpx.Timeout(connect=1.0, read=2.0, write=3.0, pool=4.0))
    assert (capped.connect, capped.read, capped.write, capped.pool) == (0.001,) * 4
    unbounded = deadline.cap(httpx.Timeout(None))
    assert (unbounded.connect, unbounded.read, unbounded.write, unbounded.pool) == (0.001,) * 4


def test_a_live_deadline_keeps_each_shorter_phase_as_it_is() -> None:
    deadline = Deadline(FAR)
    assert not deadline.expired
    assert deadline.seconds == FAR
    capped = deadline.cap(httpx.Timeout(connect=1.0, read=2.0, write=3.0, pool=4.0))
    assert (capped.connect, capped.read, capped.write, capped.pool) == (1.0, 2.0, 3.0, 4.0)
    assert deadline.bound(1.0) == 1.0
    deadline.check("x")  # does not raise


def test_a_live_deadline_cuts_longer_or_unbounded_phases_to_the_time_left() -> None:
    deadline = Deadline(FAR)
    left = deadline.remaining()
    assert FAR - 60.0 < left <= FAR
    for timeout in (httpx.Timeout(None), httpx.Timeout(5000.0)):
        capped = deadline.cap(timeout)
        for phase in (capped.connect, capped.read, capped.write, capped.pool):
            assert phase is not None and FAR - 60.0 < phase <= left
    assert FAR - 60.0 < deadline.bound(5000.0) <= left


@pytest.mark.parametrize(("seconds", "shown"), [(0.0, "0s"), (0.5, "0.5s"), (120.0, "120s")])
def test_the_error_names_what_ran_out_and_the_budget(seconds: float, shown: str) -> None:
    error = Deadline(seconds).error("queue wait")
    assert isinstance(error, FalTimeoutError)
    assert error.message == f"queue wait did not complete within {shown}"
    assert error.timeout == seconds
    assert error.error_type == "client_timeout"
    assert error.request_id is None


def test_check_raises_that_error_once_the_deadline_has_passed() -> None:
    with pytest.raises(FalTimeoutError) as caught:
        Deadline(0.0).check("download")
    assert caught.value.message == "download did not complete within 0s"
    assert caught.value.timeout == 0.0


def test_its_end_is_on_the_monotonic_clock_its_seconds_from_creation() -> None:
    """``end`` is what the watchdog and ``await_within`` wait for (per-call CPU rework)."""
    before = time.monotonic()
    deadline = Deadline(FAR)
    after = time.monotonic()
    assert before + FAR <= deadline.end <= after + FAR
