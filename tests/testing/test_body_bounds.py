"""The local server bounds the wait for a request's body, as the proxy and the webhook receiver
do: each pause, and the whole. A client sending a byte just within each pause held its handler
(a submit, an upload) for as long as it liked. Raw sockets against the plugin's server."""

from __future__ import annotations

import select
import socket
import time

import httpx
import pytest

from fal_typed.testing import LocalFal, _middleware

from .conftest import AUTH, FLUX, sse_events, submit


def _dribble(local_fal: LocalFal, path: str, *, every: float, within: float) -> bytes:
    url = httpx.URL(local_fal.base_url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: {AUTH['Authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
    )
    answer = b""
    ends = time.monotonic() + within
    with socket.create_connection((url.host, url.port or 80), timeout=30) as sock:
        sock.sendall(head.encode() + b"{")
        while time.monotonic() < ends and not answer.rstrip().endswith(b"}"):
            readable, _, _ = select.select([sock], [], [], every)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
            elif not answer:
                sock.sendall(b" ")
    return answer


@pytest.mark.parametrize(
    ("pause", "total", "every", "said"),
    [
        (30.0, 1.0, 0.1, b"did not arrive in full within 1 s"),
        (0.5, 30.0, 2.0, b"nothing came for 0.5 s"),
    ],
    ids=["trickled", "stopped"],
)
def test_a_body_that_does_not_arrive_in_time_is_answered_408(
    local_fal: LocalFal,
    monkeypatch: pytest.MonkeyPatch,
    pause: float,
    total: float,
    every: float,
    said: bytes,
) -> None:
    monkeypatch.setattr(_middleware, "BODY_PAUSE", pause)
    monkeypatch.setattr(_middleware, "BODY_TIMEOUT", total)
    started = time.monotonic()
    answer = _dribble(local_fal, f"/queue/{FLUX}", every=every, within=10.0)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert said in answer
    assert time.monotonic() - started < 8.0
    assert local_fal.requests_for("submit") == [] or all(
        r.status_code == 408 for r in local_fal.requests_for("submit")
    )


def test_a_body_in_time_is_read_and_the_answer_may_wait_for_the_disconnect(
    local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounds are each request's body's, not its answer's nor the connection's: a status
    stream (its handler waits for the disconnect) lasts longer than the whole bound and ends
    COMPLETED, and a request that comes on the same connection after more than the total is
    read as any other."""
    monkeypatch.setattr(_middleware, "BODY_PAUSE", 0.5)
    monkeypatch.setattr(_middleware, "BODY_TIMEOUT", 1.0)
    local_fal.configure(queue_position=0, processing_time=1.6)
    with httpx.Client(headers=AUTH, timeout=30) as http:
        submitted = submit(http, local_fal)
        started = time.monotonic()
        events = sse_events(http, submitted["status_url"] + "/stream")
        assert time.monotonic() - started > 1.2  # the answer outlasted the body's whole bound
        assert events[-1]["status"] == "COMPLETED"
        time.sleep(1.2)
        status = http.get(submitted["status_url"])
        assert status.status_code == 200, status.text
    asked = [
        *local_fal.requests_for("submit"),
        *local_fal.requests_for("queue.status_stream"),
        *local_fal.requests_for("status"),
    ]
    assert [entry.status_code for entry in asked] == [200, 200, 200]
    assert len({entry.client_address for entry in asked}) == 1  # one connection throughout


def test_an_upload_refused_for_its_body_leaves_no_half_file(
    local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload's spool file was deleted when the client went away, not when its body was
    refused 408: each stalled upload left its half on disk until the server closed."""
    monkeypatch.setattr(_middleware, "BODY_PAUSE", 0.5)
    token = httpx.post(
        f"{local_fal.rest_url}/storage/auth/token?storage_type=fal-cdn-v3", headers=AUTH, json={}
    ).json()["token"]
    spool = local_fal.storage.directory
    before = set(spool.iterdir())
    url = httpx.URL(local_fal.cdn_url)
    head = (
        f"POST {url.path}/files/upload HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 10000\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port or 80), timeout=30) as sock:
        sock.sendall(head.encode() + b"x" * 5000)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert set(spool.iterdir()) == before
