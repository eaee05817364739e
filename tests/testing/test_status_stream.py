"""The status SSE stream (PROTOCOL.md section 2) over real sockets."""

from __future__ import annotations

import itertools
import json
import threading

import httpx
import pytest

from fal_typed.testing import Fault, LocalFal

from .conftest import AUTH, FLUX, sse_events, submit, wait_completed


def test_one_event_per_change_with_only_new_logs_then_close(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    lines = [f"step {i}" for i in range(5)]
    local_fal.configure(queue_position=2, queue_step=0.02, processing_time=0.15, logs=lines)
    submitted = submit(http, local_fal)
    events = sse_events(http, submitted["status_url"] + "/stream", logs=1)

    statuses = [event["status"] for event in events]
    assert statuses[-1] == "COMPLETED"
    assert statuses.count("COMPLETED") == 1  # the server closes right after it
    order = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    # Streamed logs are deltas: together they are every line, once, in order.
    streamed = [entry["message"] for event in events for entry in event["logs"]]
    assert streamed == lines
    positions = [event["queue_position"] for event in events if event["status"] == "IN_QUEUE"]
    assert positions == sorted(positions, reverse=True)  # counting down (the stream may join late)
    assert set(positions) <= {0, 1, 2}
    for event in events:
        assert event["request_id"] == submitted["request_id"]
        assert event["response_url"] == submitted["response_url"]
    consecutive = [
        json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True)
        for a, b in itertools.pairwise(events)
    ]
    assert all(consecutive)  # every event is a change


def test_stream_headers_and_completed_request_sends_one_event(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(http, local_fal)
    wait_completed(http, submitted["status_url"])
    with http.stream("GET", submitted["status_url"] + "/stream") as response:
        assert response.status_code == 200
        assert response.headers["x-fal-request-id"] == submitted["request_id"]
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    assert raw.count("data: ") == 1
    assert raw.endswith("\n\n")
    event = json.loads(raw.removeprefix("data: "))
    assert event["status"] == "COMPLETED"
    assert event["logs"] is None  # not asked for


def test_stream_without_logs_sends_null_logs(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.configure(processing_time=0.05, logs=["a", "b"])
    submitted = submit(http, local_fal)
    events = sse_events(http, submitted["status_url"] + "/stream", logs=0)
    assert events[-1]["status"] == "COMPLETED"
    assert all(event["logs"] is None for event in events)


def test_stream_reports_a_failure_in_the_completed_event(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(http, local_fal, body={"prompt": ["not", "a", "string"]})
    events = sse_events(http, submitted["status_url"] + "/stream")
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["error_type"] == "string_type"
    assert events[-1]["error"]


def test_a_dropped_stream_resets_mid_way_and_can_be_reopened(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(hold="progress", logs=["a"])
    submitted = submit(http, local_fal)
    rule = local_fal.inject(Fault.drop(after_chunks=1), on="status_stream")
    received: list[str] = []
    with (
        pytest.raises(httpx.TransportError),
        http.stream("GET", submitted["status_url"] + "/stream", params={"logs": 1}) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("data:"):
                received.append(line)
                local_fal.release()  # a second event follows, and the connection is reset
    assert len(received) == 1
    assert rule.hits == 1
    events = sse_events(http, submitted["status_url"] + "/stream", logs=1)
    assert events[-1]["status"] == "COMPLETED"
    assert local_fal.requests_for("status_stream")[0].fault == "drop after 1"


def test_stop_ends_open_streams() -> None:
    fal = LocalFal().start()
    fal.configure(hold="queue")
    submitted = httpx.post(f"{fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH).json()
    first_event = threading.Event()
    outcome: list[str] = []

    def listen() -> None:
        try:
            with httpx.stream(
                "GET", submitted["status_url"] + "/stream", headers=AUTH, timeout=30
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        first_event.set()
            outcome.append("closed")
        except httpx.TransportError as exc:
            outcome.append(type(exc).__name__)

    listener = threading.Thread(target=listen)
    listener.start()
    assert first_event.wait(10)
    fal.stop()
    listener.join(10)
    assert not listener.is_alive()
    assert outcome  # the stream ended (cleanly or with the connection) instead of hanging
    assert not fal.running
