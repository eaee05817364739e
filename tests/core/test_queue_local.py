"""Every queue call of DESIGN.md "What users do", sync, against the local fal server over real
sockets: subscribe with updates, submit/status/result/cancel by id, handles rebuilt from a saved
id, options on the wire, failures and the whole-call client_timeout."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from fal_endpoints import flux_dev

import fal_typed
from fal_typed import (
    Client,
    Completed,
    FalHTTPError,
    FalTimeoutError,
    FalValidationError,
    InProgress,
    InputValidationError,
    NotFoundError,
    OutputValidationError,
    PossiblyAcceptedError,
    ProtocolError,
    Queued,
    RequestCancelledError,
    RequestHandle,
    ServerError,
    Status,
    set_default_client,
    untyped,
)
from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import accepted_submits

ID = "fal-ai/flux/dev"


def test_subscribe_returns_the_typed_output_with_queue_updates(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(
        ID, queue_position=2, queue_step=0.02, processing_time=0.1, logs=["loading", "sampling"]
    )
    updates: list[Status] = []
    enqueued: list[str] = []
    out = flux_dev.subscribe(
        prompt="a cat",
        seed=6252023,
        image_size="landscape_4_3",
        num_images=2,
        with_logs=True,
        on_enqueue=enqueued.append,
        on_queue_update=updates.append,
        client=client,
    )
    assert isinstance(out, flux_dev.FluxDevOutput)
    assert len(out.images) == 2 and isinstance(out.images[0], flux_dev.Image)
    assert out.images[0].url.startswith(local_fal.cdn_url)
    # output files are objects; a JPEG, as output_format defaults to jpeg
    assert out.images[0].read(client=client)[:3] == b"\xff\xd8\xff"
    # Queue positions count down (how many are seen depends on timing), logs arrive once each,
    # Completed comes last.
    positions = [u.position for u in updates if isinstance(u, Queued)]
    assert positions and positions == sorted(set(positions), reverse=True) and positions[-1] == 0
    lines = [
        log.message
        for u in updates
        if isinstance(u, (InProgress, Completed))
        for log in u.logs or []
    ]
    assert lines == ["loading", "sampling"]
    assert isinstance(updates[-1], Completed) and not updates[-1].failed
    # One submit, followed over the status stream (no polling), the result fetched once.
    submits = accepted_submits(local_fal)
    assert len(submits) == 1 and enqueued == [submits[0].request_id]
    assert submits[0].json() == {
        "prompt": "a cat",
        "seed": 6252023,
        "image_size": "landscape_4_3",
        "num_images": 2,
    }
    assert local_fal.requests_for("status_stream") and not local_fal.requests_for("status")
    assert len(local_fal.requests_for("result")) == 1


def test_subscribe_with_an_input_instance(local_fal: LocalFal, client: Client) -> None:
    out = flux_dev.subscribe(flux_dev.Input(prompt="a cat"), client=client)
    assert out.prompt
    assert accepted_submits(local_fal)[0].json() == {"prompt": "a cat"}


def test_invalid_input_is_rejected_before_any_request(local_fal: LocalFal, client: Client) -> None:
    with pytest.raises(InputValidationError) as info:
        flux_dev.subscribe(prompt="a cat", num_images="many", client=client)  # type: ignore[arg-type]
    assert info.value.fields == ["num_images"]
    assert local_fal.requests == []


def test_submit_status_result_cancel_by_id(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=0.05, logs=["one", "two"])
    handle = flux_dev.submit(prompt="a cat", client=client)
    assert isinstance(handle, RequestHandle)
    request_id = handle.request_id
    first = flux_dev.status(request_id, with_logs=True, client=client)
    assert isinstance(first, (Queued, InProgress, Completed))
    out = flux_dev.result(request_id, client=client)  # waits if still running
    assert isinstance(out, flux_dev.FluxDevOutput)
    done = flux_dev.status(request_id, with_logs=True, client=client)
    assert isinstance(done, Completed)
    assert [log.message for log in done.logs or []] == ["one", "two"]  # polled: every line so far
    assert done.metrics.get("inference_time") is not None
    with pytest.raises(FalHTTPError, match="ALREADY_COMPLETED") as info:
        flux_dev.cancel(request_id, client=client)
    assert info.value.status_code == 400 and info.value.request_id == request_id


def test_cancel_a_queued_request(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, hold="queue")
    handle = flux_dev.submit(prompt="a cat", client=client)
    flux_dev.cancel(handle.request_id, client=client)
    cancels = local_fal.requests_for("cancel")
    assert len(cancels) == 1 and cancels[0].status_code == 202
    with pytest.raises(RequestCancelledError) as info:
        handle.result()
    assert info.value.request_id == handle.request_id
    assert info.value.error_type == "client_cancelled"
    final = handle.status()
    assert isinstance(final, Completed) and final.error_type == "client_cancelled"


def test_submit_sends_every_option_on_the_wire(local_fal: LocalFal, client: Client) -> None:
    handle = flux_dev.submit(
        prompt="a cat",
        webhook_url="https://example.com/hook?user=7",
        priority="low",
        hint="gpu-a100",
        start_timeout=30,
        headers={"X-Fal-Store-IO": "0", "X-Custom": "yes"},
        client=client,
    )
    (submit,) = accepted_submits(local_fal)
    assert submit.request_id == handle.request_id
    assert submit.query == {"fal_webhook": "https://example.com/hook?user=7"}
    headers = {k.lower(): v for k, v in submit.headers.items()}
    assert headers["x-fal-queue-priority"] == "low"
    assert headers["x-fal-runner-hint"] == "gpu-a100"
    assert headers["x-fal-request-timeout"] == "30.0"
    assert headers["x-fal-store-io"] == "0" and headers["x-custom"] == "yes"
    assert headers["user-agent"].startswith("fal-typed/")
    assert "local-fal-key-secret" not in repr(submit.headers)  # the log redacts credentials
    handle.wait()


def test_a_handle_rebuilt_from_a_saved_id_behaves_like_the_original(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=0.1, logs=["a", "b", "c"])
    saved = flux_dev.submit(prompt="a cat", client=client).request_id
    handle = flux_dev.handle(saved, client=client)
    assert repr(handle) == f"RequestHandle('fal-ai/flux/dev', request_id='{saved}')"
    events = list(handle.iter_events(with_logs=True))
    assert isinstance(events[-1], Completed)
    assert [log.message for e in events if not isinstance(e, Queued) for log in e.logs or []] == [
        "a",
        "b",
        "c",
    ]
    assert handle.result().images
    assert flux_dev.handle(saved, client=client).wait().images  # already done: no waiting


def test_result_of_a_running_request_waits_for_it(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, hold="progress")
    handle = flux_dev.submit(prompt="a cat", client=client)

    def release_after_the_first_result_request() -> None:
        for _ in range(1000):  # bounded: at most ~10 s
            if local_fal.requests_for("result"):
                break
            threading.Event().wait(0.01)
        local_fal.release(handle.request_id)

    releaser = threading.Thread(target=release_after_the_first_result_request)
    releaser.start()
    try:
        assert handle.result().images
    finally:
        releaser.join()
    results = local_fal.requests_for("result")
    assert [r.status_code for r in results] == [400, 200]  # asked once early, once when done


def test_a_model_validation_failure_raises_with_field_paths(
    local_fal: LocalFal, client: Client
) -> None:
    detail = [
        {
            "loc": ["body", "image_size", "width"],
            "msg": "must be at most 2048",
            "type": "less_than_equal",
        },
        {"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"},
    ]
    local_fal.configure(ID, failure=Failure(422, detail))
    updates: list[Status] = []
    with pytest.raises(FalValidationError) as info:
        flux_dev.subscribe(prompt="a cat", client=client, on_queue_update=updates.append)
    error = info.value
    assert error.fields == ["image_size.width", "prompt"]
    assert error.request_id == accepted_submits(local_fal)[0].request_id
    assert error.error_type  # from the COMPLETED status when the body has none
    final = updates[-1]
    assert isinstance(final, Completed) and final.failed and final.error_type == error.error_type


def test_a_server_failure_raises_a_server_error_with_its_type(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(
        ID, failure=Failure(500, "the GPU caught fire", error_type="internal_server_error")
    )
    with pytest.raises(ServerError, match="the GPU caught fire") as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    assert info.value.error_type == "internal_server_error"
    assert info.value.request_id is not None
    assert len(local_fal.requests_for("result")) == 1  # a failure is not retried


def test_unknown_request_ids_are_not_found(local_fal: LocalFal, client: Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for call in (flux_dev.status, flux_dev.result, flux_dev.cancel):
        with pytest.raises(NotFoundError) as info:
            call(missing, client=client)
        assert info.value.request_id == missing


def test_client_timeout_cancels_the_request_and_names_it(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, hold="queue")
    enqueued: list[str] = []
    with pytest.raises(FalTimeoutError) as info:
        flux_dev.subscribe(
            prompt="a cat", client_timeout=1.5, on_enqueue=enqueued.append, client=client
        )
    error = info.value
    assert error.request_id == enqueued[0] and error.timeout == 1.5
    assert "cancellation was requested" in str(error)
    assert [c.request_id for c in local_fal.requests_for("cancel")] == enqueued
    # Cancelled server-side; or, when fal's start timeout (the same 1.5 s) expired first, ended
    # by fal with its user-timeout 504. Either way the request is over and the caller was told.
    with pytest.raises((RequestCancelledError, ServerError)) as ended:
        flux_dev.result(enqueued[0], client=client)
    if isinstance(ended.value, ServerError):
        assert ended.value.headers["x-fal-request-timeout-type"] == "user"
    # client_timeout doubles as the start_timeout fal enforces.
    assert accepted_submits(local_fal)[0].headers.get("x-fal-request-timeout") == "1.5"


def test_fal_start_timeout_set_by_client_timeout_is_a_client_timeout(
    local_fal: LocalFal, client: Client
) -> None:
    """fal may notice the shared deadline first: its user-timeout 504 becomes FalTimeoutError."""
    local_fal.inject(Fault.user_timeout(), on="result")
    with pytest.raises(FalTimeoutError) as info:
        flux_dev.subscribe(prompt="a cat", client_timeout=30, client=client)
    assert info.value.request_id == accepted_submits(local_fal)[0].request_id
    assert info.value.timeout == 30


def test_fal_start_timeout_given_explicitly_stays_a_server_error(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.inject(Fault.user_timeout(), on="result")
    with pytest.raises(ServerError) as info:
        flux_dev.subscribe(prompt="a cat", start_timeout=5, client_timeout=30, client=client)
    assert info.value.status_code == 504 and info.value.error_type == "request_timeout"


def test_handle_wait_timeout_leaves_the_request_running(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, hold="queue")
    handle = flux_dev.submit(prompt="a cat", client=client)
    with pytest.raises(FalTimeoutError) as info:
        handle.wait(timeout=0.3)
    assert info.value.request_id == handle.request_id
    assert local_fal.requests_for("cancel") == []
    assert local_fal.request_status(handle.request_id) == "IN_QUEUE"


def test_run_goes_through_the_run_host(local_fal: LocalFal, client: Client) -> None:
    out = flux_dev.run(
        prompt="a cat", hint="gpu-a", start_timeout=20, headers={"X-Trace": "t1"}, client=client
    )
    assert isinstance(out, flux_dev.FluxDevOutput) and out.images
    (call,) = local_fal.requests_for("run")
    assert call.path == "/run/fal-ai/flux/dev"
    headers = {k.lower(): v for k, v in call.headers.items()}
    assert (headers["x-fal-runner-hint"], headers["x-fal-request-timeout"], headers["x-trace"]) == (
        "gpu-a",
        "20.0",
        "t1",
    )
    assert local_fal.requests_for("submit") == []


def test_run_rejected_by_the_server_raises_field_paths(local_fal: LocalFal, client: Client) -> None:
    # Open models (no local validation) to see the server's own 422.
    with pytest.raises(FalValidationError) as info:
        untyped(ID).run({"prompt": "a cat", "num_images": "many"}, client=client)
    assert "num_images" in info.value.fields


def test_run_timeout_bounds_the_whole_call(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=1)
    with pytest.raises(FalTimeoutError, match=r"did not answer within 0\.3s"):
        flux_dev.run(prompt="a cat", timeout=0.3, client=client)
    assert len(local_fal.requests_for("run")) == 1


def test_module_level_calls_use_the_default_client(local_fal: LocalFal) -> None:
    client = local_fal.client()
    set_default_client(client)
    try:
        out = flux_dev.subscribe(prompt="a cat")
        handle = flux_dev.submit(prompt="a dog")
        assert flux_dev.result(handle.request_id).images
    finally:
        set_default_client(None)  # which does not close the old default (it may be in use)
        client.close()
    assert out.images and len(accepted_submits(local_fal)) == 2


def test_other_endpoints_and_sub_paths(local_fal: LocalFal, client: Client) -> None:
    from fal_endpoints import flux_pro_kontext_text_to_image as kontext

    out = kontext.subscribe(prompt="make it blue", client=client)
    assert out.images
    submit = accepted_submits(local_fal)[0]
    assert submit.path == "/queue/fal-ai/flux-pro/kontext/text-to-image"
    stream = local_fal.requests_for("status_stream")[0]
    assert stream.path.startswith("/queue/fal-ai/flux-pro/requests/")  # app root, not the full id


def test_a_result_that_does_not_fit_the_output_model_keeps_its_data(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.handler(ID, lambda body: {"images": "not a list", "seed": 1})
    with pytest.raises(OutputValidationError, match="FluxDevOutput") as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    assert info.value.data == {"images": "not a list", "seed": 1}
    assert info.value.request_id == accepted_submits(local_fal)[0].request_id


def test_a_submit_answer_without_a_request_id_is_possibly_accepted(
    local_fal: LocalFal, client: Client
) -> None:
    """A 200 to a submit is a request fal took, paid for: never a plain error that invites
    sending it again."""
    local_fal.inject(Fault.response(200, {"status": "IN_QUEUE"}), on="submit")
    with pytest.raises(PossiblyAcceptedError, match="no request_id") as caught:
        flux_dev.submit(prompt="a cat", client=client)
    assert json.loads(caught.value.text or "") == {"status": "IN_QUEUE"}
    assert len(local_fal.requests_for("submit")) == 1


def test_an_unknown_streamed_status_is_a_protocol_error(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, hold="queue")
    event = 'data: {"status": "FAILED"}\n\n'
    local_fal.inject(
        Fault.response(200, text=event, headers={"content-type": "text/event-stream"}),
        on="status_stream",
    )
    with pytest.raises(ProtocolError, match="unknown request status 'FAILED'") as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    assert info.value.request_id == accepted_submits(local_fal)[0].request_id


def test_a_cancel_that_lost_the_race_says_the_request_ran_and_where_its_result_is(
    local_fal: LocalFal, client: Client
) -> None:
    """The request ended (billed) before the cancel reached it: the error said only
    'ALREADY_COMPLETED', and a caller took the request for dropped and its result for lost."""
    handle = flux_dev.submit(prompt="a cat", client=client)
    handle.wait()
    for cancel in (handle.cancel, lambda: flux_dev.cancel(handle.request_id, client=client)):
        with pytest.raises(FalHTTPError, match="ALREADY_COMPLETED") as info:
            cancel()
        said = str(info.value)
        assert (
            "finished before it could be cancelled" in said
            and "if it completed, it ran and is billed" in said
        )
        hint = f"fal_typed.endpoint('{ID}').handle('{handle.request_id}').result()"
        assert hint in said and info.value.status_code == 400
        assert info.value.body == {"status": "ALREADY_COMPLETED"}
    assert isinstance(
        fal_typed.endpoint(ID).handle(handle.request_id, client=client).result(),
        flux_dev.FluxDevOutput,
    )


def test_a_wait_that_runs_out_says_the_request_goes_on_and_how_to_get_its_result(
    local_fal: LocalFal, client: Client
) -> None:
    """handle.wait(timeout=) leaves the request running (billed when it ends): the error said
    only 'waiting for request ... did not complete', nothing of the request or its result."""
    local_fal.configure(ID, processing_time=3)
    handle = flux_dev.submit(prompt="a cat", client=client)
    with pytest.raises(FalTimeoutError) as info:
        handle.wait(timeout=0.3)

    async def waited() -> FalTimeoutError:
        again = flux_dev.endpoint.handle_async(handle.request_id, client=client)
        with pytest.raises(FalTimeoutError) as caught:
            await again.wait(timeout=0.3)
        return caught.value

    for error in (info.value, asyncio.run(waited())):
        said = str(error)
        assert error.request_id == handle.request_id and "not cancelled" in said
        assert f".handle('{handle.request_id}').result()" in said
    assert not local_fal.requests_for("cancel")
