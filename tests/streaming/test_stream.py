"""`Stream` / `AsyncStream` against the local server's ``/stream``, over real sockets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from fal_typed import (
    AsyncStream,
    AuthenticationError,
    Client,
    Endpoint,
    FalConnectionError,
    FalError,
    FalTimeoutError,
    FalValidationError,
    InputModel,
    InvalidArgumentError,
    MissingCredentialsError,
    OutputModel,
    ProtocolError,
    RateLimitError,
    ServerError,
    Stream,
)
from fal_typed.testing import Fault, LocalFal, RecordedRequest
from fal_typed.testing._stream import StreamService

from ..endpoints import FLUX_LORA_STREAM, LCM, LcmOutput

PROMPT = "a cat wearing a small hat"
STREAM_PATHS = "/run/*/stream"


def _stream_requests(local_fal: LocalFal) -> list[RecordedRequest]:
    """The ``/stream`` requests the server received (whatever their route is named)."""
    return [r for r in local_fal.requests if r.method == "POST" and r.path.endswith("/stream")]


def _check_events(events: list[dict[str, object]], partials: int) -> None:
    """Partial events come first, in order, with growing text; the final event is the output."""
    assert len(events) == partials + 1
    assert [e["index"] for e in events[:-1]] == list(range(partials))
    assert all(e["partial"] is True for e in events[:-1])
    prompts = [str(e["prompt"]) for e in events]
    assert all(PROMPT.startswith(p) for p in prompts)
    assert [len(p) for p in prompts] == sorted(len(p) for p in prompts)
    assert "partial" not in events[-1] and events[-1]["prompt"] == PROMPT


def test_stream_yields_partial_events_in_order_then_the_typed_output(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=4)
    with Stream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream:
        events = list(stream)
        final = stream.result()
    _check_events(events, 4)
    assert isinstance(final, LcmOutput)
    assert final.prompt == PROMPT and final.images[0].url.startswith("http://127.0.0.1")
    assert final.model_dump(exclude_none=True) == {
        k: v for k, v in events[-1].items() if v is not None
    }
    (record,) = stream_server.records
    assert (record.outcome, record.events_sent, record.total_events) == ("completed", 5, 5)
    assert stream.request_id == record.request_id and stream.events_received == 5
    assert stream.final is final  # cached, no second request
    assert len(stream_server.records) == 1


async def test_async_stream_yields_partial_events_in_order_then_the_typed_output(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=3)
    async with AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream:
        events = [event async for event in stream]
        final = await stream.result()
    _check_events(events, 3)
    assert isinstance(final, LcmOutput) and final.prompt == PROMPT
    (record,) = stream_server.records
    assert record.outcome == "completed" and stream.request_id == record.request_id


def test_result_without_iterating_drains_the_stream(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    final = Stream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert final.prompt == PROMPT
    assert stream_server.records[0].outcome == "completed"


def test_leaving_the_with_block_early_closes_the_connection_on_the_server(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=500, interval=0.01)
    with Stream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream:
        for index, _ in enumerate(stream):
            if index == 1:
                break
    (record,) = stream_server.records
    assert record.finished.wait(10), "the server never saw the client leave"
    assert record.outcome == "disconnected"
    assert 2 <= record.events_sent < record.total_events
    with pytest.raises(FalError, match="closed before its final event"):
        stream.result()


async def test_leaving_the_async_with_block_early_closes_the_connection_on_the_server(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=500, interval=0.01)
    async with AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream:
        async for event in stream:
            assert event["index"] == 0
            break
    (record,) = stream_server.records
    assert record.finished.wait(10), "the server never saw the client leave"
    assert record.outcome == "disconnected" and record.events_sent < record.total_events


def test_iterating_a_stream_closed_before_its_end_says_so_with_the_request_id(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    """Iterating after the ``with`` block (a paid stream left unread) gave no events and no
    error, as if the endpoint had sent none."""
    stream_server.configure(partial_events=50, interval=0.01)
    with Stream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream:
        next(stream)
    with pytest.raises(FalError, match="closed before its final event") as caught:
        list(stream)
    assert caught.value.request_id is not None and caught.value.request_id == stream.request_id
    # a stream read to its end still just ends when iterated again
    stream_server.configure(partial_events=2, interval=0)
    with Stream(LCM, {"prompt": PROMPT}, client=local_fal_client) as done:
        assert len(list(done)) == 3
    assert list(done) == [] and done.result().images


async def test_async_iterating_a_stream_closed_before_its_end_says_so(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=50, interval=0.01)
    async with AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream:
        await stream.__anext__()
    with pytest.raises(FalError, match="closed before its final event") as caught:
        async for _ in stream:
            pass
    assert caught.value.request_id == stream.request_id is not None


def test_invalid_input_raises_the_typed_422(local_fal_client: Client) -> None:
    with pytest.raises(FalValidationError) as caught:
        Stream(LCM, {"seed": 3}, client=local_fal_client).result()
    assert caught.value.status_code == 422
    assert caught.value.fields == ["prompt"]
    assert caught.value.request_id


async def test_async_invalid_input_raises_the_typed_422(local_fal_client: Client) -> None:
    with pytest.raises(FalValidationError) as caught:
        async with AsyncStream(LCM, {"prompt": 5}, client=local_fal_client) as stream:
            await stream.result()
    assert caught.value.fields == ["prompt"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_raises_the_typed_5xx_and_is_not_retried(
    local_fal_client: Client, stream_server: StreamService, status: int
) -> None:
    body = {"detail": "runner exploded", "error_type": "runner_server_error"}
    stream_server.configure(fail_next=1, fail_status=status, fail_body=body)
    with (
        pytest.raises(ServerError) as caught,
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client),
    ):
        pass
    error = caught.value
    assert (error.status_code, error.error_type, error.message) == (
        status,
        "runner_server_error",
        "runner exploded",
    )
    assert error.request_id == stream_server.records[0].request_id
    assert len(stream_server.records) == 1


async def test_async_server_error_raises_the_typed_5xx(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(fail_next=1, fail_status=500)
    with pytest.raises(ServerError) as caught:
        await AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert caught.value.status_code == 500 and caught.value.error_type == "internal_server_error"


def test_a_model_failure_answers_its_status(local_fal: LocalFal, local_fal_client: Client) -> None:
    from fal_typed.testing import Failure

    local_fal.configure(
        LCM.endpoint_id, failure=Failure(503, "no runner", error_type="runner_scheduling_failure")
    )
    with pytest.raises(ServerError) as caught:
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert caught.value.error_type == "runner_scheduling_failure"


def test_rate_limits_and_ingress_errors_before_the_stream_are_retried(
    local_fal: LocalFal, local_fal_client: Client, stream_server: StreamService
) -> None:
    local_fal.inject(Fault.rate_limited(retry_after=0), path=STREAM_PATHS)
    local_fal.inject(Fault.ingress(503), path=STREAM_PATHS)
    final = Stream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert final.prompt == PROMPT
    assert len(_stream_requests(local_fal)) == 3
    assert len(stream_server.records) == 1  # only the third attempt reached the app


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_502_or_504_to_a_stream_is_not_resent(
    local_fal: LocalFal, local_fal_client: Client, stream_server: StreamService, status: int
) -> None:
    """It can come after fal accepted the (paid) request: it is never sent again."""
    from fal_typed import PossiblyAcceptedError

    local_fal.inject(Fault.ingress(status), path=STREAM_PATHS, times=2)
    with pytest.raises(PossiblyAcceptedError) as info:
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert info.value.status_code == status
    assert len(_stream_requests(local_fal)) == 1


def test_a_stream_retries_no_later_than_max_elapsed(local_fal: LocalFal) -> None:
    from fal_typed import RetryPolicy

    local_fal.inject(Fault.rate_limited(retry_after=0), path=STREAM_PATHS, times=None)
    client = local_fal.client(retry=RetryPolicy(max_attempts=10, max_elapsed=0.0))
    with pytest.raises(RateLimitError):
        Stream(LCM, {"prompt": PROMPT}, client=client).result()
    assert len(_stream_requests(local_fal)) == 1
    client.close()


def test_rate_limit_after_retries_raises(local_fal: LocalFal) -> None:
    from fal_typed import RetryPolicy

    local_fal.inject(Fault.rate_limited(retry_after=0), path=STREAM_PATHS, times=None)
    client = local_fal.client(retry=RetryPolicy(max_attempts=2, base_delay=0))
    with pytest.raises(RateLimitError):
        Stream(LCM, {"prompt": PROMPT}, client=client).result()
    assert len(_stream_requests(local_fal)) == 2
    client.close()


def test_an_error_event_mid_stream_raises_after_the_events_before_it(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(
        partial_events=5,
        error_after=2,
        error_status=504,
        error_body={"detail": "generation timed out", "error_type": "generation_timeout"},
    )
    received: list[dict[str, object]] = []
    with (
        pytest.raises(ServerError) as caught,
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream,
    ):
        received.extend(stream)
    assert len(received) == 2
    assert (caught.value.status_code, caught.value.error_type) == (504, "generation_timeout")
    with pytest.raises(FalError):
        stream.result()  # the partial events are not a result


async def test_async_error_event_raises(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=3, error_after=0)
    with pytest.raises(ServerError) as caught:
        await AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert caught.value.status_code == 500


def test_a_stream_cut_mid_way_is_a_connection_error_not_a_result(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=4, cut_after=3)
    stream = Stream(LCM, {"prompt": PROMPT}, client=local_fal_client)
    with pytest.raises(FalConnectionError, match="after 3 events"):
        stream.result()
    assert stream.events_received == 3
    assert stream_server.records[0].outcome == "cut"


async def test_async_stream_cut_mid_way_is_a_connection_error(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=4, cut_after=1)
    with pytest.raises(FalConnectionError):
        await AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()


def test_a_stream_without_any_event_is_an_error(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=0, final_event=False)
    with (
        pytest.raises(ProtocolError, match="without any event"),
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client) as stream,
    ):
        list(stream)
    assert stream_server.records[0].outcome == "completed"


async def test_async_stream_without_any_event_is_an_error(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    stream_server.configure(partial_events=0, final_event=False)
    with pytest.raises(ProtocolError):
        await AsyncStream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()


def test_silence_longer_than_the_timeout_raises(
    local_fal: LocalFal, local_fal_client: Client, stream_server: StreamService
) -> None:
    local_fal.handler(ECHO.endpoint_id, lambda arguments: {"image_url": arguments["image_url"]})
    stream_server.configure(ECHO.endpoint_id, partial_events=2, interval=30.0)
    stream = Stream(ECHO, {"image_url": "https://x/a.png"}, client=local_fal_client, timeout=1.0)
    with pytest.raises(FalTimeoutError) as caught:
        stream.result()
    assert caught.value.timeout == 1.0 and stream.events_received == 1
    assert stream_server.records[0].finished.wait(10)
    assert stream_server.records[0].outcome == "disconnected"


def test_an_id_ending_with_stream_is_not_given_the_path_twice(
    local_fal: LocalFal, local_fal_client: Client, stream_server: StreamService
) -> None:
    final = Stream(FLUX_LORA_STREAM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert final.prompt == PROMPT
    (request,) = _stream_requests(local_fal)
    assert request.path == "/run/fal-ai/flux-lora/stream"
    assert stream_server.records[0].endpoint_id == "fal-ai/flux-lora/stream"


def test_request_headers_carry_the_key_accept_and_the_callers_headers(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    Stream(
        LCM, {"prompt": PROMPT}, client=local_fal_client, headers={"X-Fal-Store-IO": "0"}
    ).result()
    (request,) = _stream_requests(local_fal)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["accept"] == "text/event-stream"
    assert headers["x-fal-store-io"] == "0"
    assert headers["authorization"].startswith("Key")
    assert headers["user-agent"].startswith("fal-typed/")


def test_missing_credentials_fail_before_any_request(
    local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch, stream_server: StreamService
) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    client = Client(run_url=local_fal.run_url)
    with pytest.raises(MissingCredentialsError):
        Stream(LCM, {"prompt": PROMPT}, client=client).result()
    assert local_fal.requests == [] and stream_server.records == []


def test_a_rejected_key_raises_authentication_error(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    local_fal.inject(Fault.response(401, {"detail": "invalid key credentials"}), path=STREAM_PATHS)
    with pytest.raises(AuthenticationError) as caught:
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client).result()
    assert local_fal_client.auth_headers()["Authorization"].split()[-1] not in str(caught.value)


def test_bad_options_fail_before_any_request(local_fal: LocalFal, local_fal_client: Client) -> None:
    with pytest.raises(InvalidArgumentError, match="timeout"):
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client, timeout=0)
    with pytest.raises(InvalidArgumentError, match="path"):
        Stream(LCM, {"prompt": PROMPT}, client=local_fal_client, path="/../x").result()
    assert local_fal.requests == []


class EchoInput(InputModel):
    image_url: str


class EchoOutput(OutputModel):
    image_url: str


ECHO = Endpoint("test/echo-stream", EchoInput, EchoOutput)


def test_local_file_inputs_are_uploaded_before_the_stream_opens(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    local_fal.handler(ECHO.endpoint_id, lambda arguments: {"image_url": arguments["image_url"]})
    data = bytes(range(256)) * 1024  # above the data-URI threshold, whatever it is set to
    final = Stream(ECHO, {"image_url": data}, client=local_fal_client).result()
    assert final.image_url.startswith(local_fal.cdn_url)
    assert httpx.get(final.image_url).content == data


def test_placeholders_extracted_earlier_are_uploaded_from_the_given_mapping(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    from fal_typed.files._arguments import extract_uploads

    local_fal.handler(ECHO.endpoint_id, lambda arguments: {"image_url": arguments["image_url"]})
    data = b"\x89PNG" + bytes(300_000)
    body, uploads = extract_uploads({"image_url": data})
    final = Stream(ECHO, body, client=local_fal_client, uploads=uploads).result()
    assert httpx.get(final.image_url).content == data


async def test_async_uploads_local_file_inputs(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path
) -> None:
    local_fal.handler(ECHO.endpoint_id, lambda arguments: {"image_url": arguments["image_url"]})
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 2000)
    final = await AsyncStream(ECHO, {"image_url": source}, client=local_fal_client).result()
    assert httpx.get(final.image_url).content == source.read_bytes()


def test_a_missing_local_file_fails_when_the_stream_is_created(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path
) -> None:
    from fal_typed.files._errors import FileInputError

    with pytest.raises(FileInputError) as caught:
        Stream(ECHO, {"image_url": tmp_path / "missing.png"}, client=local_fal_client)
    assert caught.value.field == "image_url"
    assert local_fal.requests == []


def test_repr_names_the_endpoint_and_state_only(local_fal_client: Client) -> None:
    stream = Stream(LCM, {"prompt": PROMPT}, client=local_fal_client)
    assert repr(stream) == "Stream('fal-ai/fast-lcm-diffusion', events=0, open)"
    stream.result()
    assert repr(stream) == "Stream('fal-ai/fast-lcm-diffusion', events=4, ended)"


# Answers the local server never gives, through a mock transport (in addition to the above).

_OUTPUT = {"images": [{"url": "https://v3.fal.media/files/a.png"}], "seed": 7, "prompt": PROMPT}


def test_a_plain_json_answer_is_one_final_event() -> None:
    with respx.mock(base_url="https://fal.run", assert_all_called=True) as mock:
        mock.post("/fal-ai/fast-lcm-diffusion/stream").respond(200, json=_OUTPUT)
        with (
            Client("key-id:key-secret") as client,
            Stream(LCM, {"prompt": PROMPT}, client=client) as stream,
        ):
            assert list(stream) == [_OUTPUT]
            assert stream.result().seed == 7


async def test_async_plain_json_answer_is_one_final_event() -> None:
    with respx.mock(base_url="https://fal.run") as mock:
        mock.post("/fal-ai/fast-lcm-diffusion/stream").respond(200, json=_OUTPUT)
        client = Client("key-id:key-secret")
        assert (await AsyncStream(LCM, {"prompt": PROMPT}, client=client).result()).seed == 7
        await client.aclose()


def test_an_answer_that_is_neither_events_nor_json_is_a_protocol_error() -> None:
    with respx.mock(base_url="https://fal.run") as mock:
        mock.post("/fal-ai/fast-lcm-diffusion/stream").respond(
            200, text="<html>hi</html>", headers={"content-type": "text/html"}
        )
        with Client("key-id:key-secret") as client, pytest.raises(ProtocolError, match="text/html"):
            Stream(LCM, {"prompt": PROMPT}, client=client).result()


def test_a_final_event_that_does_not_match_the_output_keeps_the_data() -> None:
    from fal_typed import OutputValidationError

    body = 'data: {"partial": true}\n\ndata: {"seed": "not a number"}\n\n'
    with respx.mock(base_url="https://fal.run") as mock:
        mock.post("/fal-ai/fast-lcm-diffusion/stream").respond(
            200, text=body, headers={"content-type": "text/event-stream"}
        )
        with Client("key-id:key-secret") as client, pytest.raises(OutputValidationError) as caught:
            Stream(LCM, {"prompt": PROMPT}, client=client).result()
    assert caught.value.data == {"seed": "not a number"}


def test_an_event_that_is_not_json_is_a_protocol_error() -> None:
    body = 'data: {"partial": true}\n\ndata: not json\n\n'
    with respx.mock(base_url="https://fal.run") as mock:
        mock.post("/fal-ai/fast-lcm-diffusion/stream").respond(
            200, text=body, headers={"content-type": "text/event-stream"}
        )
        with Client("key-id:key-secret") as client, pytest.raises(ProtocolError, match="event 2"):
            Stream(LCM, {"prompt": PROMPT}, client=client).result()


def test_the_generated_module_streams_typed_output(
    local_fal_client: Client, stream_server: StreamService
) -> None:
    from fal_endpoints import fast_lcm_diffusion as lcm

    with lcm.stream(prompt=PROMPT, seed=3, client=local_fal_client) as stream:
        events = list(stream)
        final = stream.result()
    assert isinstance(final, lcm.Output) and final.prompt == PROMPT
    assert len(events) == 4 and events[-1]["prompt"] == PROMPT
    assert stream_server.records[0].input == {"prompt": PROMPT, "seed": 3}


async def test_the_generated_module_streams_async(local_fal_client: Client) -> None:
    from fal_endpoints import fast_lcm_diffusion as lcm

    async with lcm.stream_async(lcm.Input(prompt=PROMPT), client=local_fal_client) as stream:
        assert [event["prompt"] async for event in stream][-1] == PROMPT
        assert isinstance(await stream.result(), lcm.Output)
