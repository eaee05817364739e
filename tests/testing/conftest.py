"""Fixtures of the local server's tests: raw httpx against the plugin's ``local_fal`` server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._endpoints import EndpointSchema
from fal_typed.testing._synth import synthesize_output

KEY = "test-key-id:test-key-secret"
AUTH = {"Authorization": f"Key {KEY}"}
FLUX = "fal-ai/flux/dev"


@pytest.fixture
def http(local_fal: LocalFal) -> Iterator[httpx.Client]:
    """An httpx client with a valid key, bound to nothing: tests pass full URLs."""
    with httpx.Client(headers=AUTH, timeout=30) as client:
        yield client


def submit(
    http: httpx.Client, fal: LocalFal, endpoint_id: str = FLUX, body: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """POST a request to the queue and return the submit response JSON (asserting 200)."""
    response = http.post(
        f"{fal.queue_url}/{endpoint_id}",
        json={"prompt": "a cat"} if body is None else body,
        **kwargs,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def wait_completed(http: httpx.Client, status_url: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """Poll a status URL until COMPLETED (bounded: raises if it never completes)."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(status_url)
        body: dict[str, Any] = response.json()
        if body["status"] == "COMPLETED":
            assert response.status_code == 200
            return body
        assert response.status_code == 202
        if time.monotonic() > deadline:
            raise AssertionError(f"request never completed: {body}")
        time.sleep(0.01)


def wait_status(
    http: httpx.Client, status_url: str, wanted: str, *, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll until the status is ``wanted`` (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = http.get(status_url, params={"logs": 1}).json()
        if body["status"] == wanted:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached {wanted}: {body}")
        time.sleep(0.01)


def sse_events(http: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every ``data:`` event of an SSE response, until the server closes it."""
    events: list[dict[str, Any]] = []
    with http.stream(
        "GET", url, params=params, headers={"Accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[len("data:") :]))
    return events


def valid_input(schema: EndpointSchema) -> Any:
    """An input built from the schema's own examples and defaults (the synthesiser makes valid
    instances of any schema, so point it at the input schema). File URLs point at a closed loopback port (never fetched)."""
    probe = EndpointSchema(
        schema.endpoint_id, schema.components, schema.input_schema, schema.input_schema
    )
    return synthesize_output(
        probe, {}, lambda data, content_type, name: f"http://127.0.0.1:9/{name}"
    )
