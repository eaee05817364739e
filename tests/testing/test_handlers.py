"""User handlers: outputs from the test's own code, failures returned or raised."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from fal_typed import InvalidArgumentError
from fal_typed.testing import Failure, LocalFal

from .conftest import FLUX, submit, wait_completed


def queue_result(
    http: httpx.Client, fal: LocalFal, endpoint_id: str = FLUX, body: Any = None
) -> httpx.Response:
    submitted = submit(http, fal, endpoint_id, body=body)
    wait_completed(http, submitted["status_url"])
    return http.get(submitted["response_url"])


def test_a_sync_handler_gets_the_input_and_its_output_is_returned(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    seen: list[dict[str, Any]] = []

    @local_fal.handler(FLUX)
    def flux(arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append(arguments)
        return {"images": [], "prompt": arguments["prompt"].upper()}

    assert queue_result(http, local_fal, body={"prompt": "a cat"}).json() == {
        "images": [],
        "prompt": "A CAT",
    }
    assert (
        http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "a dog"}).json()["prompt"]
        == "A DOG"
    )
    assert seen == [{"prompt": "a cat"}, {"prompt": "a dog"}]


def test_an_async_handler(local_fal: LocalFal, http: httpx.Client) -> None:
    async def flux(arguments: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"answer": 42}

    local_fal.handler(FLUX, flux)
    assert queue_result(http, local_fal).json() == {"answer": 42}


def test_input_is_validated_before_the_handler_runs(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    calls: list[object] = []
    local_fal.handler(FLUX, lambda arguments: calls.append(arguments) or {})
    response = queue_result(http, local_fal, body={"prompt": None})
    assert response.status_code == 422
    assert calls == []


@pytest.mark.parametrize("mode", ["raise", "return"])
def test_a_handler_failure_becomes_the_result(
    local_fal: LocalFal, http: httpx.Client, mode: str
) -> None:
    failure = Failure(
        422,
        [
            {
                "loc": ["body", "image_url"],
                "msg": "Could not download",
                "type": "file_download_error",
            }
        ],
    )

    def flux(arguments: dict[str, Any]) -> Any:
        if mode == "raise":
            raise failure
        return failure

    local_fal.handler(FLUX, flux)
    submitted = submit(http, local_fal)
    status = wait_completed(http, submitted["status_url"])
    assert status["error"] == "image_url: Could not download"
    assert status["error_type"] == "file_download_error"
    response = http.get(submitted["response_url"])
    assert response.status_code == 422
    assert response.json() == {"detail": failure.detail}


def test_an_exception_in_a_handler_is_a_500(local_fal: LocalFal, http: httpx.Client) -> None:
    def flux(arguments: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("model exploded")

    local_fal.handler(FLUX, flux)
    response = queue_result(http, local_fal)
    assert response.status_code == 500
    assert response.json() == {
        "detail": "ValueError: model exploded",
        "error_type": "internal_server_error",
    }


def test_a_handler_returning_something_not_json_is_a_500(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.handler(FLUX, lambda arguments: {"when": object()})
    response = http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"})
    assert response.status_code == 500
    assert "not JSON" in response.json()["detail"]


def test_a_handler_makes_an_unknown_id_an_endpoint_without_validation(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    assert http.post(f"{local_fal.run_url}/me/my-app", json={}).status_code == 404
    local_fal.handler("me/my-app", lambda arguments: {"got": arguments})
    assert http.post(f"{local_fal.run_url}/me/my-app", json={"anything": [1, 2]}).json() == {
        "got": {"anything": [1, 2]}
    }
    local_fal.remove_handler("me/my-app")
    assert http.post(f"{local_fal.run_url}/me/my-app", json={}).status_code == 404


def test_removing_a_handler_goes_back_to_synthesis(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.handler(FLUX, lambda arguments: {"fixed": True})
    assert http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"}).json() == {"fixed": True}
    local_fal.remove_handler(FLUX)
    assert "images" in http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"}).json()


def test_handlers_must_be_callable(local_fal: LocalFal) -> None:
    with pytest.raises(InvalidArgumentError, match="callable"):
        local_fal.handler(FLUX, "not a function")  # type: ignore[type-var]


def test_failure_needs_an_error_status() -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        Failure(200, "fine")


def test_behaviour_fields_are_checked(local_fal: LocalFal) -> None:
    with pytest.raises(TypeError, match="unknown behaviour field"):
        local_fal.configure(procesing_time=1)
    with pytest.raises(ValueError, match="processing_time"):
        local_fal.configure(processing_time=-1)
    with pytest.raises(ValueError, match="hold"):
        local_fal.configure(FLUX, hold="forever")
    with pytest.raises(InvalidArgumentError, match="logs"):
        local_fal.configure(logs="one line")
    assert local_fal.behaviour(FLUX).hold is None  # rejected changes are not applied
