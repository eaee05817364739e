"""Fixtures of the runtime tests: the local fal server (from fal_typed's pytest plugin) and a
client pointed at it with quick retries, so injected faults cost milliseconds, not seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fal_typed import Client, RetryPolicy
from fal_typed.testing import LocalFal, RecordedRequest

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def client(local_fal: LocalFal) -> Iterator[Client]:
    """A client of the local server, retrying fast."""
    with local_fal.client(retry=FAST_RETRY, poll_interval=0.02) as c:
        yield c


def accepted_submits(local_fal: LocalFal) -> list[RecordedRequest]:
    """Submits that reached the queue (injected faults answered the others)."""
    return [r for r in local_fal.requests_for("submit") if r.fault is None and r.status_code == 200]
