"""Conformance: fal-client 1.0.3, a client nobody here wrote, against the local server.

fal-client builds ``https://queue.fal.run/...`` style URLs from module constants, so the test
points those constants at the server (plain http, path prefixes). Everything else is fal-client
as shipped: its polling, ``logs=true/false`` parameters, retries and error parsing.

Where fal-client and PROTOCOL.md could disagree, PROTOCOL.md decides:
* cancelling a completed request: PROTOCOL.md says ``400 {"status": "ALREADY_COMPLETED"}``, so
  fal-client's ``cancel()`` raises ``FalClientHTTPError`` (its OpenAPI says ``200 {"success"}``);
* a cancelled request's result: ``499`` with ``error_type: client_cancelled`` (inferred in
  PROTOCOL.md); fal-client reports it as an HTTP error, as for any failure;
* ``result()`` polls the status to COMPLETED before fetching (fal-ai/fal#561): the server sees
  status calls before the result call, which is allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest

from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import FLUX, valid_input

SAMPLE = [
    FLUX,  # images
    "fal-ai/veo3/fast",  # video
    "fal-ai/flux-lora-fast-training",  # training files
    "fal-ai/elevenlabs/speech-to-text",  # text out
    "fal-ai/hunyuan-video/video-to-video",  # a sub-path endpoint under an app root that is an endpoint too
]


@pytest.fixture
def fal(local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalFal]:
    monkeypatch.setattr(fal_client_module, "QUEUE_URL_FORMAT", f"{local_fal.queue_url}/")
    monkeypatch.setattr(fal_client_module, "RUN_URL_FORMAT", f"{local_fal.run_url}/")
    monkeypatch.setattr(fal_client_module, "REALTIME_URL_FORMAT", f"{local_fal.realtime_url}/")
    monkeypatch.setattr(fal_client_module, "REST_URL", local_fal.rest_url)
    monkeypatch.setattr(fal_client_module, "CDN_URL", local_fal.cdn_url)
    yield local_fal


@pytest.fixture
def client() -> Iterator[fal_client.SyncClient]:
    client = fal_client.SyncClient(key="conformance-id:conformance-secret")
    yield client
    # fal-client has no close(): close the httpx client it caches on first use.
    http = vars(client).get("_client")
    if isinstance(http, httpx.Client):
        http.close()


@pytest.fixture
async def async_client() -> AsyncIterator[fal_client.AsyncClient]:
    client = fal_client.AsyncClient(key="conformance-id:conformance-secret")
    yield client
    if "_client" in vars(client):  # created (asyncstdlib caches an awaitable of it there)
        http: object = await client._client  # pyright: ignore[reportPrivateUsage]
        assert isinstance(http, httpx.AsyncClient)
        await http.aclose()


def arguments_for(fal: LocalFal, endpoint_id: str) -> Any:
    schema = fal.state.catalog.get(endpoint_id)
    assert schema is not None
    return valid_input(schema)


def assert_valid_output(fal: LocalFal, endpoint_id: str, output: Any) -> None:
    schema = fal.state.catalog.get(endpoint_id)
    assert schema is not None
    assert schema.validator.details(schema.output_schema, output) == []


@pytest.mark.parametrize("endpoint_id", SAMPLE)
def test_subscribe(fal: LocalFal, client: fal_client.SyncClient, endpoint_id: str) -> None:
    fal.configure(
        queue_position=2, queue_step=0.02, processing_time=0.05, logs=["loading", "sampling"]
    )
    enqueued: list[str] = []
    updates: list[fal_client.Status] = []
    output = client.subscribe(
        endpoint_id,
        arguments_for(fal, endpoint_id),
        with_logs=True,
        on_enqueue=enqueued.append,
        on_queue_update=updates.append,
        interval=0.01,
    )
    assert_valid_output(fal, endpoint_id, output)
    assert len(enqueued) == 1
    assert isinstance(updates[-1], fal_client.Completed)
    assert updates[-1].error is None
    assert [log["message"] for log in updates[-1].logs or []] == ["loading", "sampling"]
    assert isinstance(updates[-1].metrics.get("inference_time"), float)
    assert all(
        isinstance(u, (fal_client.Queued, fal_client.InProgress, fal_client.Completed))
        for u in updates
    )
    submits = fal.requests_for("submit")
    assert len(submits) == 1
    assert submits[0].request_id == enqueued[0]
    assert submits[0].headers["user-agent"].startswith("fal-client/")


def test_submit_status_result_by_handle_and_by_id(
    fal: LocalFal, client: fal_client.SyncClient
) -> None:
    fal.configure(hold="queue", queue_position=1)
    handle = client.submit(FLUX, {"prompt": "a cat"}, webhook_url="http://127.0.0.1:9/hook?x=1")
    status = handle.status()
    assert isinstance(status, fal_client.Queued)
    assert status.position in (0, 1)
    assert fal.requests_for("submit")[0].query["fal_webhook"] == "http://127.0.0.1:9/hook?x=1"
    fal.release()
    output = handle.get()
    assert output["prompt"] == "a cat"
    completed = client.status(FLUX, handle.request_id, with_logs=True)
    assert isinstance(completed, fal_client.Completed)
    assert completed.logs == []
    assert client.result(FLUX, handle.request_id) == output
    # fal-client rebuilds the app-root URL from the id for by-id calls.
    assert fal.requests_for("result")[-1].path.startswith("/queue/fal-ai/flux/requests/")


def test_cancel(fal: LocalFal, client: fal_client.SyncClient) -> None:
    fal.configure(hold="queue")
    handle = client.submit(FLUX, {"prompt": "a cat"})
    handle.cancel()
    status = handle.status()
    assert isinstance(status, fal_client.Completed)
    assert status.error_type == "client_cancelled"
    with pytest.raises(fal_client.FalClientHTTPError) as cancelled:
        client.result(FLUX, handle.request_id)
    assert cancelled.value.status_code == 499
    assert cancelled.value.error_type == "client_cancelled"
    # PROTOCOL.md: cancelling a completed request is 400 ALREADY_COMPLETED.
    with pytest.raises(fal_client.FalClientHTTPError) as again:
        client.cancel(FLUX, handle.request_id)
    assert again.value.status_code == 400


def test_run(fal: LocalFal, client: fal_client.SyncClient) -> None:
    output = client.run(FLUX, {"prompt": "a cat", "seed": 3})
    assert output["seed"] == 3
    assert_valid_output(fal, FLUX, output)
    with pytest.raises(fal_client.FalClientHTTPError) as invalid:
        client.run(FLUX, {"prompt": "a cat", "num_images": 99})
    assert invalid.value.status_code == 422
    assert invalid.value.message[0]["loc"] == ["body", "num_images"]  # detail list as message


def test_failure_is_raised_with_status_and_error_type(
    fal: LocalFal, client: fal_client.SyncClient
) -> None:
    fal.configure(FLUX, failure=Failure(500, "GPU fell over"))
    with pytest.raises(fal_client.FalClientHTTPError) as failed:
        client.subscribe(FLUX, {"prompt": "x"}, interval=0.01)
    assert (failed.value.status_code, failed.value.message, failed.value.error_type) == (
        500,
        "GPU fell over",
        "internal_server_error",
    )


def test_fal_client_retries_ingress_errors_and_rate_limits_but_not_user_timeouts(
    fal: LocalFal, client: fal_client.SyncClient
) -> None:
    fal.inject(Fault.ingress(502), on="submit")
    fal.inject(Fault.rate_limited(0), on="submit")
    handle = client.submit(FLUX, {"prompt": "a cat"})
    submits = fal.requests_for("submit")
    assert [s.status_code for s in submits] == [502, 429, 200]
    assert submits[-1].request_id == handle.request_id
    fal.inject(Fault.user_timeout(), on="run")
    with pytest.raises(fal_client.FalClientHTTPError) as timed_out:
        client.run(FLUX, {"prompt": "a cat"})
    assert timed_out.value.status_code == 504
    assert len(fal.requests_for("run")) == 1  # not retried


def test_fal_client_retries_a_connection_reset(
    fal: LocalFal, client: fal_client.SyncClient
) -> None:
    fal.inject(Fault.reset(), on="status")
    fal.configure(hold="queue")
    handle = client.submit(FLUX, {"prompt": "a cat"})
    assert isinstance(handle.status(), fal_client.Queued)
    assert [s.fault for s in fal.requests_for("status")] == ["reset", None]


async def test_async_client(fal: LocalFal, async_client: fal_client.AsyncClient) -> None:
    fal.configure(processing_time=0.02, logs=["one"])
    updates: list[fal_client.Status] = []
    output = await async_client.subscribe(
        FLUX, {"prompt": "a cat"}, with_logs=True, on_queue_update=updates.append, interval=0.01
    )
    assert_valid_output(fal, FLUX, output)
    assert isinstance(updates[-1], fal_client.Completed)
    handle = await async_client.submit("fal-ai/veo3/fast", arguments_for(fal, "fal-ai/veo3/fast"))
    assert_valid_output(fal, "fal-ai/veo3/fast", await handle.get(interval=0.01))
    status = await async_client.status("fal-ai/veo3/fast", handle.request_id, with_logs=True)
    assert isinstance(status, fal_client.Completed)
    assert await async_client.result("fal-ai/veo3/fast", handle.request_id) == await handle.get()
    fal.configure(hold="queue")
    held = await async_client.submit(FLUX, {"prompt": "a dog"})
    await async_client.cancel(FLUX, held.request_id)
    assert (await held.status()).error_type == "client_cancelled"  # type: ignore[attr-defined]
    assert (await async_client.run(FLUX, {"prompt": "a dog"}))["prompt"] == "a dog"
