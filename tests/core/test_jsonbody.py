"""The parser of every answer, on its own: depth, decoding, the error's message, the fast path.

``tests/core/test_result_parsing.py`` drives the same rules through the calls over sockets;
these hold their edges (the depth limit to the unit, arrays as well as objects, the text quoted
in the message) where a call cannot reach them one by one.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import ProtocolError
from fal_typed._jsonbody import _refuses_deeper, answer_text, json_depth_exceeds, parse_json
from fal_typed._models import OutputModel


class Open(OutputModel):
    """An output keeping whatever it is given, as ``untyped()``'s does."""


def depth(value: Any) -> int:
    """How many objects and arrays ``value`` nests (the recursive definition)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(value=json_values, limit=st.integers(0, 8))
def test_depth_is_judged_as_its_recursive_definition(value: Any, limit: int) -> None:
    assert json_depth_exceeds(value, limit) == (depth(value) > limit)


@pytest.mark.parametrize("limit", [0, 1, 5])
def test_the_limit_itself_is_allowed_and_one_more_is_not(limit: int) -> None:
    at_limit: Any = 1
    for _ in range(limit):
        at_limit = [at_limit]
    assert not json_depth_exceeds(at_limit, limit)
    assert json_depth_exceeds([at_limit], limit)
    assert json_depth_exceeds({"a": at_limit}, limit)


def test_a_scalar_met_first_does_not_end_the_walk() -> None:
    """Scalars are skipped, not a sign that nothing deeper follows."""
    assert json_depth_exceeds([[[[1]]], 1, "x"], 3)
    assert json_depth_exceeds({"z": None, "a": [[[1]]]}, 3)
    assert not json_depth_exceeds(7, 0)


def reading(text: str, *, max_depth: int = 256, into: type[Any] | None = None) -> Any:
    return parse_json(
        text,
        what=lambda: "the answer of /x",
        max_depth=max_depth,
        request_id="r-9",
        redact=lambda s: s.replace("SECRET", "[redacted]"),
        into=into,
    )


@pytest.mark.parametrize("into", [None, Open], ids=["json", "into-model"])
@pytest.mark.parametrize("opening", ["[", '{"a": '])
def test_nesting_past_the_limit_is_refused_in_arrays_as_in_objects(
    opening: str, into: type[Any] | None
) -> None:
    closing = "]" if opening == "[" else "}"
    within, past = 10, 11
    shallow = "[" * within + "]" * within
    assert reading(f'{{"deep": {shallow}}}', max_depth=within + 1, into=into) is not None
    text = '{"deep": ' + opening * past + "1" + closing * past + "}"
    with pytest.raises(ProtocolError, match=r"max_json_depth \(11\)") as caught:
        reading(text, max_depth=past, into=into)
    assert caught.value.error_type == "limit_exceeded" and caught.value.text == text


def test_a_text_with_as_many_brackets_as_the_limit_is_read_into_the_model() -> None:
    text = '{"a": [1, {"b": [2]}]}'  # 4 brackets
    parsed = reading(text, max_depth=4, into=Open)
    assert isinstance(parsed, Open) and parsed.model_extra == json.loads(text)
    assert reading(text, max_depth=4) == json.loads(text)


def test_a_text_that_does_not_fit_the_model_is_returned_as_its_json() -> None:
    class Needs(OutputModel):
        seed: int

    assert reading('{"seed": "one"}', into=Needs) == {"seed": "one"}
    assert reading("[1, 2]", into=Needs) == [1, 2]


@pytest.mark.parametrize("into", [None, Open], ids=["json", "into-model"])
def test_an_invalid_text_is_named_and_quoted_redacted_on_the_error(into: type[Any] | None) -> None:
    short = '{"key": "SECRET"'
    with pytest.raises(ProtocolError) as caught:
        reading(short, into=into)
    assert caught.value.args[0] == (
        "the answer of /x is not valid JSON (Expecting ',' delimiter: line 1 column 17 (char 16));"
        " its text is kept on the error (.text): "
        '\'{"key": "[redacted]"\''
    )
    assert caught.value.text == '{"key": "[redacted]"' and caught.value.request_id == "r-9"
    assert caught.value.error_type == "protocol_error"


def test_a_long_invalid_text_is_quoted_to_200_characters_and_kept_whole() -> None:
    exactly = "x" * 200
    with pytest.raises(ProtocolError) as caught:
        reading(exactly)
    assert caught.value.args[0].endswith(f"{exactly!r}")
    longer = exactly + "yz"
    with pytest.raises(ProtocolError) as caught:
        reading(longer)
    assert caught.value.args[0].endswith(f"{exactly + '...'!r}")
    assert caught.value.text == longer


def test_an_answer_is_decoded_by_the_client_default_when_it_names_no_charset() -> None:
    plain = httpx.Response(200, content=b'{"a": "caf\xc3\xa9"}')
    assert answer_text(plain) == '{"a": "caf\u00e9"}'
    latin = httpx.Response(200, content=b"caf\xe9", default_encoding="latin-1")
    assert answer_text(latin) == "caf\u00e9"
    named = httpx.Response(
        200, content=b"caf\xe9", headers={"Content-Type": "application/json; CHARSET=latin-1"}
    )
    assert answer_text(named) == "caf\u00e9"
    assert answer_text(httpx.Response(200, content=b"caf\xe9")) == "caf\ufffd"


def test_the_parser_s_own_depth_limit_is_asked_of_the_model_once_per_limit() -> None:
    """pydantic-core refuses a text nested about 200 deep: past the default limit of 256 it
    holds the limit itself; a limit of 10 it does not hold, so the bracket count does."""
    assert _refuses_deeper(Open, 256) and _refuses_deeper(Open, 1000)
    assert not _refuses_deeper(Open, 10)

    class Needs(OutputModel):  # a probe that fails on its fields still tells the parser's depth
        seed: int

    assert _refuses_deeper(Needs, 256) and not _refuses_deeper(Needs, 10)


def test_a_shallow_text_of_many_brackets_is_read_into_the_model_only_under_the_parser_s_limit() -> (
    None
):
    text = json.dumps({"images": [{"n": i} for i in range(30)]})  # 32 brackets, 3 deep
    assert isinstance(reading(text, max_depth=256, into=Open), Open)
    assert reading(text, max_depth=10, into=Open) == json.loads(text)  # not past the limit either


def test_an_answer_with_a_byte_order_mark_is_read_as_json() -> None:
    marked = httpx.Response(200, content=b'\xef\xbb\xbf{"a": 1}')
    assert answer_text(marked) == '{"a": 1}'
    assert reading(answer_text(marked)) == {"a": 1}
    named = httpx.Response(
        200,
        content=b'\xef\xbb\xbf{"a": 1}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert answer_text(named) == '{"a": 1}'


def test_an_integer_past_python_s_digit_limit_is_named_as_such() -> None:
    with pytest.raises(ProtocolError) as caught:
        reading('{"n": ' + "9" * 5000 + "}")
    assert "Exceeds the limit (4300 digits)" in caught.value.args[0]
    assert caught.value.text.startswith('{"n": 999')
