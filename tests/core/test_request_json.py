"""The body a call sends is encoded once, strictly, into the bytes on the wire; what JSON cannot
carry is an InputValidationError naming each value, before anything is sent (_request_json)."""

from __future__ import annotations

import datetime
import decimal
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fal_endpoints import flux_dev
from hypothesis import given, settings
from hypothesis import strategies as st

from fal_typed import Client, InputValidationError, untyped
from fal_typed import _request_json as request_json
from fal_typed._request_json import check_json, encode_json, with_json_type
from fal_typed.testing import LocalFal

from .json_values import VALUES

ID = "fal-ai/flux/dev"

# -- the encoding against an oracle ---------------------------------------------------------


def _bad_paths(value: Any, path: tuple[str, ...] = ()) -> set[str]:
    """The oracle: the dotted paths of the values strict JSON in UTF-8 cannot carry."""
    here = ".".join(path)
    if isinstance(value, dict):
        bad: set[str] = set()
        for key, item in value.items():
            if not _utf8(key):
                bad.add(here)
            bad |= _bad_paths(item, (*path, key))
        return bad
    if isinstance(value, list):
        return set().union(*(_bad_paths(v, (*path, str(i))) for i, v in enumerate(value)))
    if isinstance(value, float) and not math.isfinite(value):
        return {here}
    if isinstance(value, str) and not _utf8(value):
        return {here}
    return set()


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=4), VALUES, max_size=5))
def test_a_body_is_sent_as_compact_json_or_refused_naming_exactly_its_bad_values(
    body: dict[str, Any],
) -> None:
    bad = _bad_paths(body)
    if not bad:
        sent = encode_json(ID, body)
        assert sent == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        assert json.loads(sent) == json.loads(json.dumps(body))  # (NaN-free: comparable)
        return
    with pytest.raises(InputValidationError) as caught:
        encode_json(ID, body)
    assert caught.value.endpoint_id == ID
    assert set(caught.value.fields) == bad
    assert all(e["type"] == "unencodable" for e in caught.value.errors)


# -- what the walk names beyond NaN and surrogates ------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime.date(2026, 1, 2), "an object of type date is not JSON"),
        (decimal.Decimal("1.5"), "an object of type Decimal is not JSON"),
        ({1, 2}, "an object of type set is not JSON"),
        (object(), "an object of type object is not JSON"),
        (b"raw", "an object of type bytes is not JSON"),
    ],
)
def test_an_object_json_does_not_know_is_named_where_it_is(value: object, message: str) -> None:
    with pytest.raises(InputValidationError) as caught:
        encode_json(ID, {"prompt": "a cat", "extra": {"list": [1, value]}})
    assert caught.value.errors == [
        {"loc": ("extra", "list", 1), "msg": message, "type": "unencodable"}
    ]


def test_a_key_json_cannot_write_is_named_on_its_mapping() -> None:
    with pytest.raises(InputValidationError) as caught:
        encode_json(ID, {"prompt": "a cat", "meta": {(1, 2): "pair"}})
    assert caught.value.errors == [
        {"loc": ("meta",), "msg": "a key of type tuple is not text", "type": "unencodable"}
    ]


def test_keys_json_writes_as_text_are_sent_as_text() -> None:
    assert encode_json(ID, {"a": {3: "x", 2.5: "y", False: "z", None: "n"}}) == (
        b'{"a":{"3":"x","2.5":"y","false":"z","null":"n"}}'
    )


def test_a_body_nested_past_the_encoder_names_what_failed() -> None:
    deep: Any = "leaf"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InputValidationError) as caught:
        encode_json(ID, {"deep": deep})
    (error,) = caught.value.errors
    assert error["loc"] == ()
    assert error["msg"].startswith("cannot be sent as JSON (maximum recursion depth exceeded")


def test_a_body_that_contains_itself_ends_with_the_encoder_s_reason() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InputValidationError) as caught:
        encode_json(ID, {"prompt": "a cat", "x": loop})
    (error,) = caught.value.errors
    assert error["loc"] == ()
    assert "Circular reference detected" in error["msg"]


def test_a_container_met_twice_is_walked_once_and_the_rest_still_walked() -> None:
    shared = [1.0]
    with pytest.raises(InputValidationError) as caught:
        encode_json(ID, {"z": math.nan, "a": shared, "b": shared, "c": {"d": shared}})
    assert caught.value.fields == ["z"]


def test_a_mapping_that_is_not_a_dict_is_sent_at_the_top_only() -> None:
    from types import MappingProxyType

    assert encode_json(ID, MappingProxyType({"prompt": "a cat"})) == b'{"prompt":"a cat"}'
    with pytest.raises(InputValidationError, match="an object of type mappingproxy is not JSON"):
        encode_json(ID, {"nested": MappingProxyType({"a": 1})})


def test_check_json_raises_as_encoding_does_and_returns_nothing() -> None:
    assert check_json(ID, {"prompt": "a cat"}) is None
    with pytest.raises(InputValidationError):
        check_json(ID, {"x": math.inf})


def test_the_json_type_is_added_unless_the_caller_gave_one_in_any_case() -> None:
    assert with_json_type({}) == {"Content-Type": "application/json"}
    assert with_json_type({"content-type": "application/json; charset=utf-8"}) == {
        "content-type": "application/json; charset=utf-8"
    }


# -- on the wire ------------------------------------------------------------------------------


@pytest.fixture
def sent() -> Iterator[tuple[Client, list[httpx.Request]]]:
    """A client whose requests are answered by a mock transport, and the requests it sent."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(
            200,
            json={
                "images": [],
                "timings": {},
                "seed": 1,
                "has_nsfw_concepts": [],
                "prompt": "a cat",
            },
        )

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        yield Client("k:s", run_url="http://fal.test", http_client=http), requests


def test_a_run_sends_the_encoded_bytes_with_one_json_content_type(
    sent: tuple[Client, list[httpx.Request]],
) -> None:
    client, requests = sent
    flux_dev.run(prompt="a cat", seed=1, client=client)
    flux_dev.run(prompt="a cat", headers={"CONTENT-TYPE": "application/json; x=1"}, client=client)
    assert requests[0].content == b'{"prompt":"a cat","seed":1}'
    assert requests[0].headers.get_list("content-type") == ["application/json"]
    assert requests[1].headers.get_list("content-type") == ["application/json; x=1"]


def test_a_call_encodes_its_body_once(
    sent: tuple[Client, list[httpx.Request]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyword call's body is checked as it is encoded to send, not encoded twice."""
    client, requests = sent
    encodings: list[object] = []
    strict = request_json._STRICT  # pyright: ignore[reportPrivateUsage]

    class Counting(json.JSONEncoder):
        def encode(self, o: Any) -> str:
            encodings.append(o)
            return strict.encode(o)

    monkeypatch.setattr(request_json, "_STRICT", Counting())
    flux_dev.run(prompt="a cat", extra_body={"new_field": [1, 2]}, client=client)
    assert len(encodings) == 1 and len(requests) == 1
    assert json.loads(requests[0].content) == {"prompt": "a cat", "new_field": [1, 2]}


def test_an_unknown_object_in_extra_body_or_an_open_input_is_refused_before_sending(
    local_fal: LocalFal, client: Client
) -> None:
    with pytest.raises(InputValidationError) as caught:
        flux_dev.submit(
            prompt="a cat", extra_body={"when": datetime.date(2026, 1, 2)}, client=client
        )
    assert caught.value.fields == ["when"]
    with pytest.raises(InputValidationError) as caught:
        flux_dev.run(prompt="a cat", extra_body={"tags": {"a", "b"}}, client=client)
    assert caught.value.fields == ["tags"]
    with pytest.raises(InputValidationError) as caught:
        untyped(ID).subscribe({"prompt": "a cat", "meta": {"who": object()}}, client=client)
    assert caught.value.fields == ["meta.who"]
    with pytest.raises(InputValidationError) as caught:
        flux_dev.stream(prompt="a cat", extra_body={"x": math.nan}, client=client)
    assert caught.value.fields == ["x"]
    assert local_fal.requests == []


def test_a_file_in_extra_body_is_uploaded_like_a_field_s(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """extra_body is not validated, but its upload sources become URLs like the fields'."""
    mask = tmp_path / "mask.png"
    mask.write_bytes(b"\x89PNG" + bytes(range(256)) * 64)  # past the data-URI threshold
    flux_dev.subscribe(prompt="a cat", extra_body={"mask_url": mask}, client=client)
    (submit,) = local_fal.requests_for("submit")
    sent_url = json.loads(submit.body)["mask_url"]
    assert sent_url.startswith(local_fal.base_url)
    assert httpx.get(sent_url).content == mask.read_bytes()
