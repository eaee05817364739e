"""The async twins of every queue call, against the local fal server over real sockets."""

from __future__ import annotations

import asyncio
import gc

import httpx
import pytest
from fal_endpoints import flux_dev

from fal_typed import (
    AsyncRequestHandle,
    Client,
    Completed,
    FalHTTPError,
    FalTimeoutError,
    FalValidationError,
    InProgress,
    InputValidationError,
    NotFoundError,
    PossiblyAcceptedError,
    Queued,
    RequestCancelledError,
    Status,
    untyped,
)
from fal_typed.testing import Failure, Fault, LocalFal

from ..sockets import connections_to
from .conftest import accepted_submits

ID = "fal-ai/flux/dev"


async def test_subscribe_async_with_async_and_plain_callbacks(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(
        ID, queue_position=1, queue_step=0.05, processing_time=0.1, logs=["loading", "sampling"]
    )
    updates: list[Status] = []
    enqueued: list[str] = []

    async def on_update(update: Status) -> None:
        await asyncio.sleep(0)
        updates.append(update)

    out = await flux_dev.subscribe_async(
        prompt="a cat",
        with_logs=True,
        on_enqueue=enqueued.append,
        on_queue_update=on_update,
        client=client,
    )
    assert isinstance(out, flux_dev.FluxDevOutput) and out.images
    assert (await out.images[0].aread())[:3] == b"\xff\xd8\xff"  # output_format: jpeg
    positions = [u.position for u in updates if isinstance(u, Queued)]
    assert positions and positions == sorted(set(positions), reverse=True) and positions[-1] == 0
    lines = [
        log.message
        for u in updates
        if isinstance(u, (InProgress, Completed))
        for log in u.logs or []
    ]
    assert lines == ["loading", "sampling"]
    assert isinstance(updates[-1], Completed)
    assert enqueued == [accepted_submits(local_fal)[0].request_id]
    assert local_fal.requests_for("status_stream") and not local_fal.requests_for("status")
    assert len(local_fal.requests_for("result")) == 1


async def test_async_on_enqueue_coroutine(local_fal: LocalFal, client: Client) -> None:
    seen: list[str] = []

    async def on_enqueue(request_id: str) -> None:
        seen.append(request_id)

    await flux_dev.subscribe_async(prompt="a cat", on_enqueue=on_enqueue, client=client)
    assert seen == [accepted_submits(local_fal)[0].request_id]


async def test_submit_status_result_cancel_async(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=0.05, logs=["one"])
    handle = await flux_dev.submit_async(
        prompt="a cat", webhook_url="https://example.com/h", client=client
    )
    assert isinstance(handle, AsyncRequestHandle)
    assert accepted_submits(local_fal)[0].query == {"fal_webhook": "https://example.com/h"}
    assert isinstance(
        await flux_dev.status_async(handle.request_id, client=client),
        (Queued, InProgress, Completed),
    )
    out = await flux_dev.result_async(handle.request_id, client=client)
    assert out.images
    done = await flux_dev.status_async(handle.request_id, with_logs=True, client=client)
    assert isinstance(done, Completed) and [log.message for log in done.logs or []] == ["one"]
    with pytest.raises(FalHTTPError, match="ALREADY_COMPLETED"):
        await flux_dev.cancel_async(handle.request_id, client=client)


async def test_cancel_async_of_a_queued_request(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, hold="queue")
    handle = await flux_dev.submit_async(prompt="a cat", client=client)
    await handle.cancel()
    with pytest.raises(RequestCancelledError) as info:
        await handle.result()
    assert info.value.request_id == handle.request_id


async def test_async_handle_rebuilt_from_a_saved_id(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=0.1, logs=["a", "b"])
    saved = (await flux_dev.submit_async(prompt="a cat", client=client)).request_id
    handle = flux_dev.handle_async(saved, client=client)
    events = [event async for event in handle.iter_events(with_logs=True)]
    assert isinstance(events[-1], Completed)
    assert [log.message for e in events if not isinstance(e, Queued) for log in e.logs or []] == [
        "a",
        "b",
    ]
    assert (await handle.wait()).images
    assert (await handle.status()) == Completed(logs=None, metrics=events[-1].metrics)  # type: ignore[union-attr]


async def test_run_async(local_fal: LocalFal, client: Client) -> None:
    out = await flux_dev.run_async(prompt="a cat", hint="h", client=client)
    assert out.images and len(local_fal.requests_for("run")) == 1
    with pytest.raises(InputValidationError) as local:  # a mapping is validated like keywords
        await flux_dev.endpoint.run_async({"prompt": 3}, client=client)
    assert local.value.fields == ["prompt"] and len(local_fal.requests_for("run")) == 1
    with pytest.raises(FalValidationError) as info:  # open models: the server's own 422
        await untyped(ID).run_async({"prompt": 3}, client=client)
    assert info.value.fields == ["prompt"]


async def test_failures_async(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(
        ID,
        failure=Failure(422, [{"loc": ["body", "seed"], "msg": "bad seed", "type": "value_error"}]),
    )
    with pytest.raises(FalValidationError) as info:
        await flux_dev.subscribe_async(prompt="a cat", client=client)
    assert info.value.fields == ["seed"] and info.value.request_id
    with pytest.raises(NotFoundError):
        await flux_dev.status_async("00000000-0000-0000-0000-000000000000", client=client)


async def test_client_timeout_async_cancels_and_names_the_request(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, hold="queue")
    enqueued: list[str] = []
    with pytest.raises(FalTimeoutError) as info:
        await flux_dev.subscribe_async(
            prompt="a cat", client_timeout=1.2, on_enqueue=enqueued.append, client=client
        )
    assert info.value.request_id == enqueued[0]
    assert [c.request_id for c in local_fal.requests_for("cancel")] == enqueued


async def test_faults_async(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(
        ID, queue_position=1, queue_step=0.05, processing_time=0.8, logs=["a", "b", "c"]
    )
    local_fal.inject(Fault.rate_limited(retry_after=0.01), on="submit")
    local_fal.inject(Fault.ingress(503), on="result")
    local_fal.inject(Fault.drop(after_chunks=2), on="status_stream")
    updates: list[Status] = []
    out = await flux_dev.subscribe_async(
        prompt="a cat", with_logs=True, on_queue_update=updates.append, client=client
    )
    assert out.images
    assert len(accepted_submits(local_fal)) == 1
    assert len(local_fal.requests_for("status_stream")) >= 2  # dropped, then resumed
    lines = [
        log.message
        for u in updates
        if isinstance(u, (InProgress, Completed))
        for log in u.logs or []
    ]
    assert lines == ["a", "b", "c"]


async def test_async_submit_reset_is_not_resent(local_fal: LocalFal, client: Client) -> None:
    local_fal.inject(Fault.reset(after_handler=True), on="submit")
    with pytest.raises(PossiblyAcceptedError):
        await flux_dev.submit_async(prompt="a cat", client=client)
    assert len(local_fal.requests_for("submit")) == 1


async def test_refused_stream_falls_back_to_polling_async(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=0.1)
    local_fal.inject(
        Fault.response(405, {"detail": "Method Not Allowed"}), on="status_stream", times=None
    )
    assert (await flux_dev.subscribe_async(prompt="a cat", client=client)).images
    assert len(local_fal.requests_for("status_stream")) == 1 and local_fal.requests_for("status")


async def test_many_concurrent_subscribes_share_one_client(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=0.05)
    outs = await asyncio.gather(
        *(flux_dev.subscribe_async(prompt=f"cat {i}", client=client) for i in range(50))
    )
    assert [o.prompt for o in outs] == [f"cat {i}" for i in range(50)]
    assert len(accepted_submits(local_fal)) == 50


def test_the_default_async_client_works_across_asyncio_run(local_fal: LocalFal) -> None:
    client = local_fal.client()
    first = asyncio.run(flux_dev.subscribe_async(prompt="one", client=client))
    second = asyncio.run(flux_dev.subscribe_async(prompt="two", client=client))
    assert (first.prompt, second.prompt) == ("one", "two")
    client.close()


def test_asyncio_run_closes_the_connections_of_its_loop(local_fal: LocalFal) -> None:
    """The client's httpx client for a loop closes when asyncio.run shuts that loop down: a
    client never closed (the default one, typically) keeps no socket of a finished run."""
    port = httpx.URL(local_fal.queue_url).port
    assert port is not None
    client = local_fal.client()
    gc.collect()  # sockets other tests left to the collector close now, not mid-count
    before = connections_to(port)
    out = asyncio.run(flux_dev.subscribe_async(prompt="one", client=client))
    assert out.prompt == "one"
    assert connections_to(port) == before
    assert asyncio.run(flux_dev.subscribe_async(prompt="two", client=client)).prompt == "two"
    assert connections_to(port) == before


async def test_aclose_closes_the_connections_of_the_running_loop(local_fal: LocalFal) -> None:
    port = httpx.URL(local_fal.queue_url).port
    assert port is not None
    gc.collect()
    before = connections_to(port)
    async with local_fal.client() as client:
        await flux_dev.subscribe_async(prompt="one", client=client)
        assert connections_to(port) > before  # kept alive for the next call
    assert connections_to(port) == before
