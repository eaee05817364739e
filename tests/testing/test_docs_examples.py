"""The snippets of docs/local-server.md, run against the server."""

from __future__ import annotations

import httpx
import pytest

from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import FLUX, submit, wait_completed


def test_handler_example(local_fal: LocalFal, http: httpx.Client) -> None:
    fal = local_fal

    @fal.handler("fal-ai/flux/dev")
    def flux(arguments: dict) -> dict:  # type: ignore[type-arg]
        if "forbidden" in arguments["prompt"]:
            raise Failure(
                422,
                [{"loc": ["body", "prompt"], "msg": "Unsafe", "type": "content_policy_violation"}],
            )
        return {"images": [], "prompt": arguments["prompt"]}

    assert http.post(f"{fal.run_url}/{FLUX}", json={"prompt": "a cat"}).json() == {
        "images": [],
        "prompt": "a cat",
    }
    refused = http.post(f"{fal.run_url}/{FLUX}", json={"prompt": "forbidden"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "content_policy_violation"


def test_behaviour_example(local_fal: LocalFal, http: httpx.Client) -> None:
    fal = local_fal
    fal.configure(
        queue_position=3, queue_step=0.05, processing_time=0.2, logs=["loading", "sampling"]
    )
    fal.configure(
        "fal-ai/flux/dev", failure=Failure(503, "No runner", error_type="runner_scheduling_failure")
    )
    done = wait_completed(http, submit(http, fal)["status_url"])
    assert done["error_type"] == "runner_scheduling_failure"
    assert fal.behaviour("fal-ai/flux/schnell").failure is None
    assert fal.behaviour("fal-ai/flux/schnell").queue_position == 3


def test_fault_examples(local_fal: LocalFal, http: httpx.Client) -> None:
    fal = local_fal
    rule = fal.inject(Fault.rate_limited(retry_after=1), on="submit", times=2)
    fal.inject(Fault.ingress(502), on="status")
    fal.inject(Fault.drop(after_chunks=2), on="status_stream")
    fal.inject(Fault.reset(after_handler=True), on="submit")
    url = f"{fal.queue_url}/{FLUX}"
    assert [http.post(url, json={"prompt": "x"}).status_code for _ in range(2)] == [429, 429]
    with pytest.raises(httpx.TransportError):
        http.post(url, json={"prompt": "x"})
    assert rule.hits == 2
    accepted = fal.requests_for("submit")[-1].request_id
    assert accepted is not None
    assert http.get(f"{fal.queue_url}/fal-ai/flux/requests/{accepted}/status").status_code == 502
