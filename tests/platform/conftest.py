"""Fixtures of the Platform API tests: the local fal server (from fal_typed's pytest plugin), a
client pointed at it with quick retries, and the typed Platform API on that client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, RetryPolicy
from fal_typed.platform import Platform
from fal_typed.testing import LocalFal, RecordedRequest

FLUX = "fal-ai/flux/dev"
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def client(local_fal: LocalFal) -> Iterator[Client]:
    """A client of the local server (its queue and its Platform API), retrying fast."""
    with local_fal.client(retry=FAST_RETRY, poll_interval=0.02) as c:
        yield c


@pytest.fixture
def platform(client: Client) -> Platform:
    return Platform(client)


def platform_requests(local_fal: LocalFal, operation: str) -> list[RecordedRequest]:
    """The requests a Platform route received (``pricing``, ``requests``, ``meta``...)."""
    return local_fal.requests_for(f"platform.{operation}")


def accepted_submits(local_fal: LocalFal) -> list[RecordedRequest]:
    """Submits the queue accepted (it named their request), whether or not the answer got out."""
    return [r for r in local_fal.requests_for("submit") if r.request_id is not None]


def flux_body(prompt: str) -> dict[str, Any]:
    """The JSON body a flux/dev submit with ``prompt`` sends."""
    return flux_dev.endpoint.arguments(None, {"prompt": prompt, "seed": 7}, None)


def run_flux(client: Client, *prompts: str) -> list[str]:
    """Submit one flux/dev request per prompt, wait for each; their request ids."""
    ids: list[str] = []
    for prompt in prompts:
        handle = flux_dev.endpoint.submit(flux_body(prompt), client=client)
        handle.wait()
        ids.append(handle.request_id)
    return ids
