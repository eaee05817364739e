"""A call's validated input is written as JSON by its model's serializer, in one pass, and sent
as those bytes (``_endpoint._Encoded``): the same JSON the dict of ``arguments()`` encodes to,
the same refusals, and no dict built on the way."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fal_endpoints import flux_dev, flux_general
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field

from fal_typed import Client, Endpoint, InputModel, InputValidationError, OutputModel, untyped
from fal_typed import _endpoint as endpoint_module  # pyright: ignore[reportPrivateUsage]
from fal_typed._request_json import EncodedBody, encode_json

from .json_values import SCALARS, VALUES

_SCALARS = st.one_of(
    SCALARS,
    st.sampled_from(["NaN", "Infinity", "-Infinity", "a NaN b"]),  # texts the fast path rereads
)
_VALUES = st.one_of(VALUES, st.dictionaries(st.text(max_size=4), _SCALARS, max_size=4))


def _outcome(
    endpoint: Endpoint[Any, Any], arguments: dict[str, Any], *, encode: bool
) -> tuple[object, ...]:
    """What a call would send (the JSON value of its bytes) or the fields its refusal names."""
    try:
        body = endpoint._built(arguments, encode=encode)  # pyright: ignore[reportPrivateUsage]
        sent = encode_json(endpoint.endpoint_id, body)
    except InputValidationError as exc:
        return ("refused", sorted(exc.fields), [e["type"] for e in exc.errors])
    return ("sent", json.loads(sent), type(body).__name__)


def _same(endpoint: Endpoint[Any, Any], arguments: dict[str, Any]) -> None:
    fast, dumped = (_outcome(endpoint, arguments, encode=e) for e in (True, False))
    assert fast[:2] == dumped[:2]
    if fast[0] == "sent":  # and the mapping a layer may read is the dict arguments() returns
        body = endpoint._built(arguments)  # pyright: ignore[reportPrivateUsage]
        assert dict(body) == endpoint.arguments(arguments)


@settings(max_examples=200, deadline=None)
@given(value=_VALUES, prompt=_SCALARS)
def test_an_open_input_sends_the_json_its_dict_would_or_is_refused_the_same(
    value: object, prompt: object
) -> None:
    _same(untyped("fal-ai/anything"), {"prompt": prompt, "extra": value})


@settings(max_examples=200, deadline=None)
@given(
    scale=_VALUES,
    prompt=st.text(alphabet=st.characters(codec=None, categories=None), max_size=12),
    guidance=st.floats(allow_nan=True, allow_infinity=True),
)
def test_a_typed_input_with_open_fields_sends_the_json_its_dict_would(
    scale: object, prompt: str, guidance: float
) -> None:
    """flux-general's lora scale is ``dict[str, Any] | float``: any JSON, nested models around it."""
    _same(
        flux_general.endpoint,
        {
            "prompt": prompt,
            "guidance_scale": guidance,
            "loras": [{"path": "https://x.test/a.safetensors", "scale": scale}],
        },
    )


def test_the_fast_path_is_taken_only_for_a_body_it_can_vouch_for() -> None:
    built = flux_dev.endpoint._built  # pyright: ignore[reportPrivateUsage]
    assert type(built({"prompt": "a cat", "seed": 1})).__name__ == "_Encoded"
    assert type(built({"prompt": "a NaN"})).__name__ == "_Body"  # reread: it may be a NaN
    assert type(built({"prompt": "a\ud800"}, encode=True)).__name__ == "_Body"
    assert type(built({"prompt": "a cat"}, {}, {"new": 1})).__name__ == "_Body"  # extra_body
    assert type(built({"prompt": "a cat"}, encode=False)).__name__ == "_Body"
    with pytest.raises(InputValidationError) as caught:
        encode_json(flux_dev.endpoint_id, built({"prompt": "a\ud800"}))
    assert caught.value.fields == ["prompt"]
    with pytest.raises(InputValidationError) as caught:  # an open field's, where validated
        untyped("fal-ai/x")._built({"x": {"y": [math.inf]}})  # pyright: ignore[reportPrivateUsage]
    assert caught.value.fields == ["x.y.0"]


def test_an_encoded_body_reads_as_the_dict_it_stands_for_built_once() -> None:
    dumps: list[int] = []

    def dump() -> dict[str, Any]:
        dumps.append(1)
        return {"prompt": "a cat", "seed": 1}

    body = EncodedBody(b'{"prompt":"a cat","seed":1}', dump)
    assert encode_json("x", body) == b'{"prompt":"a cat","seed":1}' and dumps == []
    assert body["seed"] == 1 and list(body) == ["prompt", "seed"] and len(body) == 2
    assert repr(body) == repr({"prompt": "a cat", "seed": 1})
    assert dict(body) == {"prompt": "a cat", "seed": 1} and dumps == [1]


# -- on the wire ------------------------------------------------------------------------------


@pytest.fixture
def sent() -> Iterator[tuple[Client, list[httpx.Request]]]:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        output: dict[str, object] = {
            "images": [],
            "timings": {},
            "seed": 1,
            "has_nsfw_concepts": [],
            "prompt": "x",
        }
        return httpx.Response(200, json=output)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        yield Client("k:s", run_url="http://fal.test", http_client=http), requests


def test_a_keyword_call_sends_the_serializer_s_bytes_without_building_a_dict(
    sent: tuple[Client, list[httpx.Request]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, requests = sent

    def no_dict(*args: object) -> dict[str, Any]:
        raise AssertionError("the dict was built")

    monkeypatch.setattr(endpoint_module, "_dumped", no_dict)
    flux_dev.run(prompt="a cat", seed=1, guidance_scale=2.5, client=client)
    flux_dev.endpoint.run(flux_dev.Input(prompt="a dog"), client=client)
    assert [r.content for r in requests] == [
        b'{"prompt":"a cat","seed":1,"guidance_scale":2.5}',
        b'{"prompt":"a dog"}',
    ]
    with pytest.raises(AssertionError, match="the dict was built"):  # a text it rereads
        flux_dev.run(prompt="NaN", client=client)


def test_a_text_the_fast_path_rereads_is_still_sent_as_given(
    sent: tuple[Client, list[httpx.Request]],
) -> None:
    client, requests = sent
    flux_dev.run(prompt="Infinity and NaN", client=client)
    assert json.loads(requests[0].content) == {"prompt": "Infinity and NaN"}


# -- what the bytes are written by, and for whom -----------------------------------------------


class _Aliased(InputModel):
    prompt: str
    timeout_: Annotated[float | None, Field(alias="timeout")] = None
    when: datetime.date | None = None


class _AliasedOutput(OutputModel):
    ok: bool


_ALIASED = Endpoint("fal-ai/aliased", _Aliased, _AliasedOutput)


def test_the_bytes_name_fields_by_their_wire_names() -> None:
    """A field whose Python name is not its JSON name (``timeout_`` for ``timeout``) is sent by
    its JSON name, dates as ISO text, as the dict path writes them."""
    fields = {"prompt": "p", "timeout_": 2, "when": datetime.date(2026, 1, 2)}
    built = _ALIASED._built(None, fields)  # pyright: ignore[reportPrivateUsage]
    assert type(built).__name__ == "_Encoded"
    assert encode_json(_ALIASED.endpoint_id, built) == (
        b'{"prompt":"p","timeout":2.0,"when":"2026-01-02"}'
    )
    assert json.loads(encode_json(_ALIASED.endpoint_id, built)) == _ALIASED.arguments(None, fields)


def test_arguments_returns_a_dict_the_caller_may_change() -> None:
    body = flux_dev.endpoint.arguments({"prompt": "a cat"})
    assert isinstance(body, dict)
    body["seed"] = 7  # and a call sends what it holds then
    assert json.loads(encode_json(flux_dev.endpoint_id, body)) == {"prompt": "a cat", "seed": 7}


def test_a_stream_is_not_written_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream reads its body as a mapping when it opens: writing it as JSON at the call
    would be work thrown away."""

    def not_now(model: object) -> bytes:
        raise AssertionError("written ahead")

    monkeypatch.setattr(endpoint_module, "_json_of", not_now)
    stream = flux_dev.endpoint.stream({"prompt": "a cat"}, client=Client("k:s"))
    assert stream.arguments == {"prompt": "a cat"}
