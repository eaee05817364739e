"""The rules of ``Endpoint`` that the calls of a generated module rely on, each held against
the local fal server over real sockets where a call is made: bodies built once and sent as
built, the refusals of what JSON cannot carry (every error located, described and ordered),
models loaded on first use, each call option and default reaching the wire (sync and async),
local files uploaded through the caller's client, the run's request id on an output that does
not fit, streams and webhooks through the endpoint."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import math
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fal_endpoints import flux_dev
from pydantic import Field

from fal_typed import (
    Client,
    Completed,
    Endpoint,
    FalTimeoutError,
    InputModel,
    InputValidationError,
    InvalidArgumentError,
    OutputModel,
    OutputValidationError,
    Queued,
    Status,
    set_default_client,
    untyped,
)
from fal_typed.testing import LocalFal
from fal_typed.testing._stream import StreamService
from fal_typed.webhooks import WebhookVerifier

from ..endpoints import LCM, LcmOutput
from ..webhooks.helpers import jwks_of, make_delivery
from .conftest import accepted_submits

ID = "fal-ai/flux/dev"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
HOOK = "http://127.0.0.1:9/hook"  # the discard port: nothing answers a delivery


class Probe(InputModel):
    prompt: str
    timeout_: Annotated[float | None, Field(alias="timeout")] = None
    when: datetime.date | None = None


class ProbeOutput(OutputModel):
    ok: bool


PROBE = Endpoint("fal-ai/probe", Probe, ProbeOutput)


@pytest.fixture
def no_default_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key in the environment: a call that fell back to the default client would fail."""
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    set_default_client(None)


def lines(status: Status) -> list[str]:
    """The log lines a status carries (a ``Queued`` carries none)."""
    return [] if isinstance(status, Queued) else [log.message for log in status.logs or []]


def wire_headers(request: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


# -- bodies: built once, sent as built -------------------------------------------------------


def test_a_body_built_by_the_module_function_is_sent_with_its_unvalidated_extra_body(
    local_fal: LocalFal, client: Client
) -> None:
    flux_dev.submit(prompt="a cat", extra_body={"brand_new_field": 1}, client=client)
    assert accepted_submits(local_fal)[0].json() == {"prompt": "a cat", "brand_new_field": 1}


def test_extra_body_may_set_a_field_the_input_left_out_but_not_one_it_gave(
    local_fal: LocalFal, client: Client
) -> None:
    """A field the schema knows may be sent through extra_body (a value the schema does not
    allow yet); one the input gave too is refused, as an input and keywords are: which of the
    two to send is the caller's call."""
    flux_dev.submit(prompt="a cat", extra_body={"num_images": 9}, client=client)
    assert accepted_submits(local_fal)[0].json() == {"prompt": "a cat", "num_images": 9}
    with pytest.raises(InputValidationError) as caught:
        flux_dev.submit(prompt="a cat", seed=1, extra_body={"seed": 2, "prompt": 5}, client=client)
    assert caught.value.errors == [
        {"loc": (name,), "msg": "given both as a field and in extra_body: pass one or the other",
         "type": "duplicate"}
        for name in ("prompt", "seed")
    ]  # fmt: skip
    assert caught.value.endpoint_id == ID
    assert len(local_fal.requests) == 1


@pytest.mark.parametrize(
    "source",
    [b"a cat", bytearray(b"a cat"), Path(__file__)],
    ids=["bytes", "bytearray", "path"],
)
def test_a_local_file_for_a_field_that_is_no_file_field_is_refused_not_uploaded(
    local_fal: LocalFal, client: Client, source: object
) -> None:
    """Only a file field takes a local file: for a prompt it is refused as the model refuses
    it (not uploaded and its URL sent as the prompt), and nothing is sent or uploaded."""
    with pytest.raises(InputValidationError) as caught:
        flux_dev.submit(prompt=source, client=client)  # pyright: ignore[reportArgumentType]
    assert caught.value.fields == ["prompt"]
    assert "valid string" in str(caught.value)
    assert local_fal.requests == []


@pytest.mark.parametrize(
    ("extra_body", "message"),
    [
        ([1], "extra_body must be a mapping of field names to values, got list"),
        ("abc", "extra_body must be a mapping of field names to values, got str"),
        ({1: 2}, "extra_body's field names must be strings, got int 1"),
        ({None: 3}, "extra_body's field names must be strings, got NoneType None"),
    ],
)
def test_an_extra_body_that_is_no_body_is_named_before_anything_is_sent(
    local_fal: LocalFal, client: Client, extra_body: Any, message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        flux_dev.submit(prompt="a cat", extra_body=extra_body, client=client)
    assert caught.value.message == message
    assert local_fal.requests == []


def test_a_body_built_for_another_endpoint_is_validated_by_this_one(
    local_fal: LocalFal, client: Client
) -> None:
    other = untyped("fal-ai/moondream2").arguments({"image_url": "https://example.com/a.png"})
    with pytest.raises(InputValidationError) as caught:
        flux_dev.endpoint.submit(other, client=client)
    assert caught.value.endpoint_id == ID
    assert caught.value.fields == ["prompt", "image_url"]
    assert local_fal.requests == []


def test_the_body_is_json_by_field_alias() -> None:
    body = PROBE.arguments(None, {"prompt": "p", "timeout_": 2, "when": datetime.date(2026, 1, 2)})
    assert body == {"prompt": "p", "timeout": 2.0, "when": "2026-01-02"}


# -- what JSON cannot carry ---------------------------------------------------------------------


def test_every_unencodable_value_is_located_described_and_ordered() -> None:
    extra = {
        "z": math.nan,
        "meta": {"\ud800": 1, "ok": [1.0, -math.inf]},
        "b": "a \udfff cat",
    }
    with pytest.raises(InputValidationError) as caught:
        PROBE.arguments(None, {"prompt": "p"}, extra_body=extra)
    error = caught.value  # ordered by location as text, not as found
    assert error.endpoint_id == "fal-ai/probe"
    assert error.errors == [
        {
            "loc": ("b",),
            "msg": "not valid Unicode (a lone surrogate UTF-8 cannot encode)",
            "type": "unencodable",
        },
        {
            "loc": ("meta", "ok", 1),
            "msg": "-inf is not a finite number (JSON has no NaN or inf)",
            "type": "unencodable",
        },
        {
            "loc": ("meta",),
            "msg": "a key is not valid Unicode (a lone surrogate)",
            "type": "unencodable",
        },
        {
            "loc": ("z",),
            "msg": "nan is not a finite number (JSON has no NaN or inf)",
            "type": "unencodable",
        },
    ]
    assert str(error).startswith("invalid input for fal-ai/probe: b: not valid Unicode")


# -- input and keyword fields, and what is not an input -----------------------------------------


def test_an_open_field_s_nan_is_refused_not_sent_as_null(
    local_fal: LocalFal, client: Client
) -> None:
    """pydantic dumps a NaN or infinity of an open field as null by default: the input models
    dump it as itself, so the call refuses it, naming the field, and nothing is sent."""
    open_input = untyped(ID)
    for value, loc, shown in (
        (math.nan, ("x",), "nan"),
        ({"a": math.inf}, ("x", "a"), "inf"),
        ([1.0, -math.inf], ("x", 1), "-inf"),
    ):
        with pytest.raises(InputValidationError) as caught:
            open_input.submit({"prompt": "a cat", "x": value}, client=client)
        assert caught.value.endpoint_id == ID
        assert caught.value.errors == [
            {
                "loc": loc,
                "msg": f"{shown} is not a finite number (JSON has no NaN or inf)",
                "type": "unencodable",
            }
        ]
    assert local_fal.requests == []


def test_an_open_field_s_object_pydantic_cannot_write_is_named_where_it_is(
    local_fal: LocalFal, client: Client
) -> None:
    with pytest.raises(InputValidationError) as caught:
        untyped(ID).submit({"prompt": "a cat", "meta": {"who": object()}}, client=client)
    assert caught.value.endpoint_id == ID
    assert caught.value.errors == [
        {
            "loc": ("meta", "who"),
            "msg": "an object of type object is not JSON",
            "type": "unencodable",
        }
    ]
    assert local_fal.requests == []


@pytest.mark.parametrize("where", ["input", "extra_body"])
def test_an_input_nested_past_the_stack_or_holding_itself_is_refused(
    local_fal: LocalFal, client: Client, where: str
) -> None:
    deep: Any = "leaf"
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    loop: list[Any] = []
    loop.append(loop)
    for value in (deep, loop):
        with pytest.raises(InputValidationError) as caught:
            if where == "input":
                untyped(ID).submit({"prompt": "a cat", "x": value}, client=client)
            else:
                flux_dev.submit(prompt="a cat", extra_body={"x": value}, client=client)
        assert caught.value.endpoint_id == ID
        assert caught.value.errors == [
            {
                "loc": (),
                "msg": "nested too deep, or containing itself, to be sent as JSON",
                "type": "unencodable",
            }
        ]
    assert local_fal.requests == []


def test_a_body_with_uploads_pending_is_checked_before_they_start(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    mask = tmp_path / "mask.png"
    mask.write_bytes(b"\x89PNG" + bytes(range(256)) * 64)
    with pytest.raises(InputValidationError) as caught:
        flux_dev.submit(prompt="a cat", extra_body={"mask_url": mask, "x": math.inf}, client=client)
    assert caught.value.endpoint_id == ID
    assert caught.value.fields == ["x"]
    assert local_fal.requests == []  # no upload either


def test_a_stream_refuses_what_json_cannot_carry_at_the_call(client: Client) -> None:
    """A stream sends when it is entered: its body is checked at the call all the same."""
    with pytest.raises(InputValidationError) as caught:
        flux_dev.stream(prompt="a cat", extra_body={"x": math.nan}, client=client)
    assert caught.value.endpoint_id == ID
    assert caught.value.fields == ["x"]


def test_an_input_and_keyword_fields_name_the_endpoint_and_each_field_as_duplicate() -> None:
    with pytest.raises(InputValidationError) as caught:
        PROBE.arguments({"prompt": "p"}, {"when": "2026-01-02", "timeout_": 1})
    assert caught.value.endpoint_id == "fal-ai/probe"
    assert [(e["loc"], e["type"]) for e in caught.value.errors] == [
        (("timeout_",), "duplicate"),
        (("when",), "duplicate"),
    ]


def test_an_input_that_is_neither_a_model_nor_a_mapping_is_named_with_its_type() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        PROBE.arguments(cast(Any, ["prompt", "p"]))
    assert str(caught.value).startswith(
        "fal-ai/probe takes a Probe or a mapping as input, got list "
    )


# -- models loaded on first use -----------------------------------------------------------------


def test_a_deferred_endpoint_imports_its_models_at_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "fal_typed_deferred_probe_models"
    (tmp_path / f"{name}.py").write_text(
        "from fal_typed import InputModel, OutputModel\n"
        "class Input(InputModel):\n    prompt: str\n"
        "class Output(OutputModel):\n    ok: bool\n",
        "utf-8",
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.delitem(sys.modules, name, raising=False)
    endpoint = Endpoint.deferred("fal-ai/probe", name)
    assert isinstance(endpoint, Endpoint) and endpoint.endpoint_id == "fal-ai/probe"
    assert repr(endpoint) == "Endpoint('fal-ai/probe')"
    assert name not in sys.modules  # nothing imported yet
    assert endpoint.Output.__module__ == name  # the first use imports the module
    models = sys.modules[name]
    assert endpoint.Input is models.Input and endpoint.Output is models.Output
    assert endpoint.arguments(None, {"prompt": "p"}) == {"prompt": "p"}


# -- defaults and options on the wire -----------------------------------------------------------


def test_subscribe_and_status_leave_logs_out_unless_asked(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=0.05, logs=["loading"])
    quiet: list[Status] = []
    flux_dev.endpoint.subscribe({"prompt": "a cat"}, on_queue_update=quiet.append, client=client)
    request_id = accepted_submits(local_fal)[0].request_id
    assert request_id is not None
    assert isinstance(quiet[-1], Completed)
    assert [line for update in quiet for line in lines(update)] == []
    assert lines(flux_dev.endpoint.status(request_id, client=client)) == []
    loud = flux_dev.endpoint.status(request_id, with_logs=True, client=client)
    assert lines(loud) == ["loading"]


async def test_subscribe_async_and_status_async_leave_logs_out_unless_asked(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=0.05, logs=["loading"])
    quiet: list[Status] = []
    await flux_dev.endpoint.subscribe_async(
        {"prompt": "a cat"}, on_queue_update=quiet.append, client=client
    )
    request_id = accepted_submits(local_fal)[0].request_id
    assert request_id is not None
    assert isinstance(quiet[-1], Completed)
    assert [line for update in quiet for line in lines(update)] == []
    assert lines(await flux_dev.endpoint.status_async(request_id, client=client)) == []
    loud = await flux_dev.endpoint.status_async(request_id, with_logs=True, client=client)
    assert lines(loud) == ["loading"]


QUEUE_OPTIONS: dict[str, Any] = {
    "webhook_url": HOOK,
    "priority": "low",
    "hint": "gpu-a100",
    "start_timeout": 30,
    "headers": {"X-Trace": "t1"},
}


def check_queue_options(local_fal: LocalFal) -> None:
    (submit,) = accepted_submits(local_fal)
    assert submit.query == {"fal_webhook": HOOK}
    headers = wire_headers(submit)
    assert headers["x-fal-queue-priority"] == "low"
    assert headers["x-fal-runner-hint"] == "gpu-a100"
    assert headers["x-fal-request-timeout"] == "30.0"
    assert headers["x-trace"] == "t1"


async def test_submit_async_sends_every_option(local_fal: LocalFal, client: Client) -> None:
    handle = await flux_dev.submit_async(prompt="a cat", client=client, **QUEUE_OPTIONS)
    check_queue_options(local_fal)
    assert (await handle.result()).images


async def test_subscribe_async_sends_every_option(local_fal: LocalFal, client: Client) -> None:
    out = await flux_dev.subscribe_async(prompt="a cat", client=client, **QUEUE_OPTIONS)
    assert out.images
    check_queue_options(local_fal)


async def test_run_async_sends_every_option(local_fal: LocalFal, client: Client) -> None:
    out = await flux_dev.run_async(
        prompt="a cat", hint="gpu-a", start_timeout=20, headers={"X-Trace": "t2"}, client=client
    )
    assert out.images
    (call,) = local_fal.requests_for("run")
    headers = wire_headers(call)
    assert (headers["x-fal-runner-hint"], headers["x-fal-request-timeout"], headers["x-trace"]) == (
        "gpu-a",
        "20.0",
        "t2",
    )


async def test_submit_async_and_the_runs_use_the_default_client(local_fal: LocalFal) -> None:
    client = local_fal.client()
    set_default_client(client)
    try:
        handle = await flux_dev.submit_async(prompt="a cat")
        assert (await handle.result()).images
        assert flux_dev.run(prompt="a dog").images
        assert (await flux_dev.run_async(prompt="an owl")).images
    finally:
        set_default_client(None)
        await client.aclose()
    assert len(accepted_submits(local_fal)) == 1 and len(local_fal.requests_for("run")) == 2


# -- local files go through the caller's client ---------------------------------------------------


def test_sync_calls_upload_local_files_through_the_given_client(
    local_fal: LocalFal, client: Client, no_default_client: None
) -> None:
    endpoint = untyped("fal-ai/moondream2")
    endpoint.submit({"image_url": PNG}, client=client).wait()
    endpoint.run({"image_url": PNG}, client=client)
    sent = [
        r.json()["image_url"]
        for r in (*accepted_submits(local_fal), *local_fal.requests_for("run"))
    ]
    assert len(sent) == 2 and all(url.startswith(local_fal.cdn_url) for url in sent), sent


async def test_async_calls_upload_local_files_through_the_given_client(
    local_fal: LocalFal, client: Client, no_default_client: None
) -> None:
    endpoint = untyped("fal-ai/moondream2")
    await (await endpoint.submit_async({"image_url": PNG}, client=client)).wait()
    await endpoint.subscribe_async({"image_url": PNG}, client=client)
    await endpoint.run_async({"image_url": PNG}, client=client)
    sent = [
        r.json()["image_url"]
        for r in (*accepted_submits(local_fal), *local_fal.requests_for("run"))
    ]
    assert len(sent) == 3 and all(url.startswith(local_fal.cdn_url) for url in sent), sent


# -- an output that does not fit keeps the run's request id -------------------------------------


def test_a_run_output_that_does_not_fit_names_the_run_request(
    local_fal: LocalFal, client: Client
) -> None:
    def misfit(body: Any) -> dict[str, Any]:
        return {"images": "not a list", "seed": 1}

    local_fal.handler(ID, misfit)
    with pytest.raises(OutputValidationError) as sync_error:
        flux_dev.run(prompt="a cat", client=client)
    with pytest.raises(OutputValidationError) as async_error:
        asyncio.run(flux_dev.run_async(prompt="a cat", client=client))
    ids = [r.request_id for r in local_fal.requests_for("run")]
    assert None not in ids and len(set(ids)) == 2
    assert [sync_error.value.request_id, async_error.value.request_id] == ids


# -- streams and webhooks through the endpoint ----------------------------------------------------


def stream_service(local_fal: LocalFal) -> StreamService:
    return cast(StreamService, local_fal.state.extensions["stream"])


def stream_requests(local_fal: LocalFal) -> list[Any]:
    return [r for r in local_fal.requests if r.method == "POST" and r.path.endswith("/stream")]


def test_stream_reaches_the_endpoint_s_stream_with_the_callers_headers(
    local_fal: LocalFal, client: Client, no_default_client: None
) -> None:
    with LCM.stream({"prompt": "a cat"}, headers={"X-Trace": "s1"}, client=client) as stream:
        final = stream.result()
    assert isinstance(final, LcmOutput) and final.prompt == "a cat"
    (request,) = stream_requests(local_fal)
    assert request.path == "/run/fal-ai/fast-lcm-diffusion/stream"
    assert wire_headers(request)["x-trace"] == "s1"
    assert request.json() == {"prompt": "a cat"}


async def test_stream_async_reaches_the_endpoint_s_stream_with_the_callers_headers(
    local_fal: LocalFal, client: Client, no_default_client: None
) -> None:
    async with LCM.stream_async({"prompt": "a dog"}, headers={"X-Trace": "s2"}, client=client) as s:
        final = await s.result()
    assert isinstance(final, LcmOutput) and final.prompt == "a dog"
    (request,) = stream_requests(local_fal)
    assert request.path == "/run/fal-ai/fast-lcm-diffusion/stream"
    assert wire_headers(request)["x-trace"] == "s2"
    assert request.json() == {"prompt": "a dog"}


def test_a_stream_given_a_timeout_raises_at_it(local_fal: LocalFal, client: Client) -> None:
    server = stream_service(local_fal)
    server.configure(LCM.endpoint_id, partial_events=2, interval=4.0)
    try:
        with pytest.raises(FalTimeoutError) as caught:
            LCM.stream({"prompt": "a cat"}, timeout=0.5, client=client).result()
        assert caught.value.timeout == 0.5
    finally:
        server.reset()


async def test_an_async_stream_given_a_timeout_raises_at_it(
    local_fal: LocalFal, client: Client
) -> None:
    server = stream_service(local_fal)
    server.configure(LCM.endpoint_id, partial_events=2, interval=4.0)
    try:
        with pytest.raises(FalTimeoutError) as caught:
            await LCM.stream_async({"prompt": "a cat"}, timeout=0.5, client=client).result()
        assert caught.value.timeout == 0.5
    finally:
        server.reset()


def delivery() -> tuple[WebhookVerifier, bytes, dict[str, str]]:
    key = Ed25519PrivateKey.generate()
    payload = {"images": [{"url": "https://example.com/a.png"}], "seed": 7, "prompt": "a cat"}
    body, headers = make_delivery(key, payload, request_id="req-77")
    return WebhookVerifier(jwks=jwks_of(key)), body, headers


def test_parse_webhook_verifies_with_the_given_verifier_into_the_output_model() -> None:
    verifier, body, headers = delivery()
    result = LCM.parse_webhook(body, headers, verifier=verifier)
    assert result.ok and result.request_id == "req-77"
    assert isinstance(result.payload, LcmOutput) and result.payload.seed == 7


async def test_parse_webhook_async_verifies_with_the_given_verifier_into_the_output_model() -> None:
    verifier, body, headers = delivery()
    result = await LCM.parse_webhook_async(body, headers, verifier=verifier)
    assert result.ok and result.request_id == "req-77"
    assert isinstance(result.payload, LcmOutput) and result.payload.seed == 7


def test_a_stream_goes_to_the_path_it_is_given(local_fal: LocalFal, client: Client) -> None:
    LCM.stream({"prompt": "a cat"}, path="/preview", client=client).result()
    (request,) = [r for r in local_fal.requests if r.method == "POST"]
    assert request.path == "/run/fal-ai/fast-lcm-diffusion/preview"


async def test_an_async_stream_goes_to_the_path_it_is_given(
    local_fal: LocalFal, client: Client
) -> None:
    await LCM.stream_async({"prompt": "a cat"}, path="/preview", client=client).result()
    (request,) = [r for r in local_fal.requests if r.method == "POST"]
    assert request.path == "/run/fal-ai/fast-lcm-diffusion/preview"


@pytest.mark.parametrize(
    "call", ["run", "submit", "subscribe", "stream", "run_async", "submit_async", "subscribe_async"]
)
@pytest.mark.parametrize("typed", [True, False], ids=["typed", "untyped"])
def test_none_as_a_call_s_input_is_refused_not_sent_as_an_empty_input(
    local_fal: LocalFal, call: str, typed: bool
) -> None:
    """A function that forgot to return its input: the untyped endpoint sent ``{}``, paid for."""
    endpoint = flux_dev.endpoint if typed else untyped("fal-ai/flux/dev")
    with local_fal.client() as client, pytest.raises(InvalidArgumentError) as caught:
        result = getattr(endpoint, call)(None, client=client)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    assert "or a mapping as input, got None (an input with no fields is {})" in str(caught.value)
    assert local_fal.requests == []
