"""Backoff bounds: per outcome, per wait (Retry-After capped) and in total (max_elapsed)."""

from __future__ import annotations

import pytest

from fal_typed import Client, InvalidArgumentError, RateLimitError, RetryPolicy
from fal_typed._queue import submit
from fal_typed._retry import Backoff, Outcome
from tests.peers.http import KEY, serving_outcomes


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_new_kind_of_failure_starts_its_backoff_again() -> None:
    """5 x 429 then 3 x ingress 503: the 503s wait base_delay, 2x, 4x, not 2**5 x and more."""
    policy = RetryPolicy(base_delay=0.1, jitter=0)
    backoff = Backoff(policy, clock=FakeClock())
    waits = [backoff.wait(Outcome.RATE_LIMITED, None) for _ in range(5)]
    waits += [backoff.wait(Outcome.INGRESS_503, None) for _ in range(3)]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 0.1, 0.2, 0.4])


def test_retry_after_is_capped_per_wait() -> None:
    backoff = Backoff(RetryPolicy(max_retry_after=30.0), clock=FakeClock())
    assert backoff.wait(Outcome.RATE_LIMITED_RETRY_AFTER, 3600.0) == 30.0


def test_a_429_storm_is_bounded_in_total_by_max_elapsed() -> None:
    """Retry-After: 60 on every answer: the waits stop before max_elapsed (default 120 s)."""
    clock = FakeClock()
    policy = RetryPolicy()
    backoff = Backoff(policy, clock=clock)
    waits: list[float] = []
    while (wait := backoff.wait(Outcome.RATE_LIMITED_RETRY_AFTER, 60.0)) is not None:
        waits.append(wait)
        clock.now += wait + 1.0  # the attempt itself takes a second
        assert len(waits) < policy.max_attempts
    assert policy.max_elapsed == 120.0
    assert waits == [30.0, 30.0, 30.0]  # the fourth would end past 120 s
    assert clock.now <= policy.max_elapsed


def test_max_elapsed_must_be_a_number_of_seconds() -> None:
    with pytest.raises(InvalidArgumentError, match="max_elapsed"):
        RetryPolicy(max_elapsed=-1)
    with pytest.raises(InvalidArgumentError, match="max_elapsed"):
        RetryPolicy(max_elapsed=float("nan"))


def test_no_retry_starts_past_max_elapsed_over_a_socket() -> None:
    """A peer answering 429 for ever: with no time budget the submit is sent once."""
    with serving_outcomes() as peer:
        peer.set(Outcome.RATE_LIMITED_RETRY_AFTER, times=100, good={"request_id": "x"})
        client = Client(
            key=KEY,
            queue_url=peer.url,
            retry=RetryPolicy(max_attempts=10, max_elapsed=0.0),
            backup_hosts={},
        )
        with client, pytest.raises(RateLimitError):
            submit(client, "fal-ai/flux/dev", {"prompt": "a cat"})
        assert peer.received == 1
        peer.set(Outcome.RATE_LIMITED_RETRY_AFTER, times=100, good={"request_id": "x"})
        with client, pytest.raises(RateLimitError):  # with a budget: retried up to max_attempts
            Client(
                key=KEY, queue_url=peer.url, retry=RetryPolicy(max_attempts=4), backup_hosts={}
            ).request("POST", f"{peer.url}/fal-ai/flux/dev", json={})
        assert peer.received == 4
