"""Direct run (PROTOCOL.md section 3) over real sockets."""

from __future__ import annotations

import httpx
import pytest

from fal_typed.testing import Failure, LocalFal, _queue_routes

from .conftest import FLUX


def test_run_returns_a_valid_output_with_a_request_id(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    response = http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "a cat", "seed": 7})
    assert response.status_code == 200
    assert response.headers["x-fal-request-id"]
    output = response.json()
    assert output["seed"] == 7
    schema = local_fal.state.catalog.get(FLUX)
    assert schema is not None
    assert schema.validator.details(schema.output_schema, output) == []
    assert local_fal.requests_for("run")[0].request_id == response.headers["x-fal-request-id"]


def test_run_rejects_invalid_input_with_422_at_once(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    response = http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x", "guidance_scale": 50})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "guidance_scale"]
    assert response.headers["x-fal-request-id"]
    assert len(local_fal.state.queue) == 0  # no queue involved


def test_run_with_get_takes_the_input_from_the_query(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    response = http.get(f"{local_fal.run_url}/{FLUX}", params={"prompt": "from the query"})
    assert response.status_code == 200
    assert response.json()["prompt"] == "from the query"


def test_run_with_a_sub_path(local_fal: LocalFal, http: httpx.Client) -> None:
    response = http.post(f"{local_fal.run_url}/{FLUX}/extra", json={"prompt": "x"})
    assert response.status_code == 200
    assert local_fal.requests_for("run")[0].endpoint_id == FLUX


def test_run_returns_a_configured_failure_with_its_status(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(failure=Failure(500, "CUDA out of memory"))
    response = http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "CUDA out of memory",
        "error_type": "internal_server_error",
    }


def test_run_start_timeout_shorter_than_the_queue_is_a_user_timeout(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(queue_position=5, queue_step=0.5)
    response = http.post(
        f"{local_fal.run_url}/{FLUX}",
        json={"prompt": "x"},
        headers={"X-Fal-Request-Timeout": "0.05"},
    )
    assert response.status_code == 504
    assert response.headers["x-fal-request-timeout-type"] == "user"
    assert response.json()["error_type"] == "request_timeout"


def test_oversized_bodies_are_refused_with_413(
    local_fal: LocalFal, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_queue_routes, "MAX_BODY_BYTES", 1024)
    body = b'{"prompt": "' + b"x" * 2048 + b'"}'
    for url in (f"{local_fal.run_url}/{FLUX}", f"{local_fal.queue_url}/{FLUX}"):
        response = http.post(url, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert "upload" in response.json()["detail"]
    assert len(local_fal.state.queue) == 0
