"""A result is validated into its ``Output`` straight from the answer's text.

The runtime hands ``Output.model_validate_json`` the text (one pass in pydantic-core) instead of
``json.loads`` and then ``model_validate``. Only an answer that fits takes that path: any other
is parsed as before, so the error (and the data kept on it) is the same. These tests hold the
two paths to the same outcome for every answer, and the calls to the fast one.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

import pytest
from fal_endpoints import flux_dev
from hypothesis import given, settings
from hypothesis import strategies as st

from fal_typed import Client, OutputValidationError, ProtocolError
from fal_typed._handle import parse_output
from fal_typed._jsonbody import parse_json
from fal_typed._models import OutputModel
from fal_typed.testing import LocalFal

ID = "fal-ai/flux/dev"


class Picture(OutputModel):
    url: str
    width: int | None = None
    content_type: str = "image/jpeg"


class Varied(OutputModel):
    """Field kinds whose JSON and Python validation could part ways."""

    images: list[Picture]
    seed: int
    ratio: float | None = None
    timings: dict[str, float] | None = None
    kind: Literal["photo", "drawing"] | None = None
    made: datetime | None = None
    tags: tuple[str, ...] = ()
    raw: bytes | None = None


MODELS: list[type[Any]] = [Varied, flux_dev.endpoint.Output]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
pictures = st.fixed_dictionaries(
    {"url": st.text(max_size=12)},
    optional={"width": st.integers(0, 4096) | json_values, "content_type": st.text(max_size=10)},
)
#: Each field either of its own kind or any JSON at all, so about as many answers fit as not.
fields = {
    "images": st.lists(pictures, max_size=2) | json_values,
    "seed": st.integers() | json_values,
    "ratio": st.floats(allow_nan=False, allow_infinity=False) | json_values,
    "timings": st.dictionaries(st.text(max_size=5), st.floats(-1e6, 1e6)) | json_values,
    "kind": st.sampled_from(["photo", "drawing", "sketch"]) | json_values,
    "made": st.sampled_from(["2026-12-03T01:02:03Z", "2026-12-03", 1764720000, "noon"]),
    "tags": st.lists(st.text(max_size=4), max_size=3) | json_values,
    "raw": st.text(max_size=6),
    "has_nsfw_concepts": st.lists(st.booleans(), max_size=2) | json_values,
    "prompt": st.text(max_size=8) | json_values,
    "extra": json_values,
}
#: flux/dev's outputs as fal sends them (every required field, of its kind), and more.
flux_answers = st.fixed_dictionaries(
    {
        "images": st.lists(
            st.fixed_dictionaries(
                {
                    "url": st.text(max_size=12),
                    "width": st.integers(0, 4096),
                    "height": st.integers(0, 4096),
                    "content_type": st.sampled_from(["image/jpeg", "image/png"]),
                }
            ),
            max_size=2,
        ),
        "timings": st.dictionaries(st.text(max_size=5), st.floats(0, 1e3), max_size=2),
        "seed": st.integers(0, 2**53),
        "has_nsfw_concepts": st.lists(st.booleans(), max_size=2),
        "prompt": st.text(max_size=8),
    },
    optional={"extra": json_values},
)
answers = st.fixed_dictionaries({}, optional=fields) | flux_answers | json_values


def outcome(model: type[Any], text: str, *, from_text: bool) -> tuple[Any, ...]:
    """What the caller gets for ``text``: the model's whole state, or the error and its data."""
    try:
        data = parse_json(
            text,
            what=lambda: "the answer",
            max_depth=256,
            request_id="r-1",
            redact=str,
            into=model if from_text else None,
        )
        result = parse_output(model, data, "r-1")
    except OutputValidationError as exc:
        return ("does not fit", str(exc), exc.data, exc.request_id)
    except ProtocolError as exc:
        return ("unreadable", str(exc), exc.text, exc.error_type)
    return (
        "output",
        type(result),
        repr(result),  # the values' types too: 3 == 3.0 == True in a dump compared with ==
        result.model_dump(),
        result.model_fields_set,
        result.model_extra,
    )


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(MODELS), answer=answers, ascii_only=st.booleans())
def test_an_answer_validated_from_its_text_is_what_its_json_validates_into(
    model: type[Any], answer: Any, ascii_only: bool
) -> None:
    text = json.dumps(answer, ensure_ascii=ascii_only)
    assert outcome(model, text, from_text=True) == outcome(model, text, from_text=False)


@pytest.mark.parametrize(
    "text",
    [
        '{"images": [], "seed": 1, "seed": 2}',  # a repeated key: the last one counts
        '{"images": [], "seed": 1, "note": "\\ud800"}',  # a lone surrogate json.loads accepts
        '{"images": [], "seed": 1, "ratio": NaN}',  # not JSON, but json.loads reads it
        '{"images": [], "seed": 1, "ratio": 1e400}',
        '{"images": [], "seed": 123456789012345678901234567890}',
        '{"images": [], "seed": 1.0}',
        '\ufeff{"images": [], "seed": 1}',
        '{"images": [], "seed": 1',
        "",
        '{"images": [{"url": "a", "nested": ' + '{"a": ' * 300 + "1" + "}" * 300 + '}], "seed": 1}',
        '{"images": [], "seed": 1, "deep": ' + "[" * 250 + "]" * 250 + "}",
    ],
    ids=[
        "repeated-key",
        "lone-surrogate",
        "nan",
        "overflowing-float",
        "big-int",
        "integral-float",
        "byte-order-mark",
        "truncated",
        "empty",
        "past-max-depth",
        "deep-within-max-depth",
    ],
)
def test_an_edge_of_json_gives_what_it_gave_before(text: str) -> None:
    """Texts where pydantic's JSON parser and ``json.loads`` differ, or the depth limit acts."""
    fast, slow = outcome(Varied, text, from_text=True), outcome(Varied, text, from_text=False)
    if text.endswith("NaN}"):  # NaN is not equal to itself: compared as written out
        assert (fast[0], repr(fast[2])) == (slow[0], repr(slow[2]))
    else:
        assert fast == slow


def test_the_depth_limit_holds_before_the_model_reads_the_text() -> None:
    """An answer nested past ``max_depth`` is refused as before, never validated from text."""
    text = '{"images": [], "seed": 1, "deep": ' + '{"a": ' * 20 + "1" + "}" * 20 + "}"
    with pytest.raises(ProtocolError, match=r"max_json_depth \(10\)"):
        parse_json(
            text, what=lambda: "the answer", max_depth=10, request_id=None, redact=str, into=Varied
        )


def test_a_result_of_more_brackets_than_the_depth_limit_is_read_from_its_text() -> None:
    """Hundreds of images hold more brackets than ``max_json_depth``, not more depth: the
    parser's own depth limit is below it, so their text is validated straight into the model."""
    answer = {"images": [{"url": f"https://x/{i}.png"} for i in range(300)], "seed": 1}
    parsed = parse_json(
        json.dumps(answer), what=str, max_depth=256, request_id=None, redact=str, into=Varied
    )
    assert isinstance(parsed, Varied) and len(parsed.images) == 300


def test_an_integer_too_large_for_a_float_field_is_infinity_from_text() -> None:
    """The one answer the two paths read differently (docstring of parse_json): the text path
    reads a float field's 309-digit integer as infinity, as both read ``1e400``; validating the
    parsed integer refused it."""
    huge = '{"images": [], "seed": 1, "ratio": 1' + "0" * 309 + "}"
    fast = outcome(Varied, huge, from_text=True)
    assert fast[0] == "output" and fast[3]["ratio"] == float("inf")
    assert outcome(Varied, huge, from_text=False)[0] == "does not fit"
    written = '{"images": [], "seed": 1, "ratio": 1e400}'
    assert outcome(Varied, written, from_text=True) == outcome(Varied, written, from_text=False)


# -- the calls, against the local server --------------------------------------------------------

CALLS = ["run", "subscribe", "result"]
FITTING = {
    "images": [{"url": "https://x/a.png", "width": 8, "height": 6, "content_type": "image/png"}],
    "timings": {"inference": 0.25},
    "seed": 7,
    "has_nsfw_concepts": [False],
    "prompt": "a cat",
}


def call(how: str, mode: str, client: Client) -> Any:
    """flux/dev's typed output, by ``how``, sync or async."""

    async def in_async() -> Any:
        if how == "run":
            return await flux_dev.run_async(prompt="a cat", client=client)
        if how == "subscribe":
            return await flux_dev.subscribe_async(prompt="a cat", client=client)
        handle = await flux_dev.submit_async(prompt="a cat", client=client)
        return await handle.result()

    if mode == "async":
        return asyncio.run(in_async())
    if how == "run":
        return flux_dev.run(prompt="a cat", client=client)
    if how == "subscribe":
        return flux_dev.subscribe(prompt="a cat", client=client)
    return flux_dev.submit(prompt="a cat", client=client).result()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("how", CALLS)
def test_a_fitting_result_is_validated_once_from_its_text(
    local_fal: LocalFal, client: Client, monkeypatch: pytest.MonkeyPatch, how: str, mode: str
) -> None:
    output = flux_dev.endpoint.Output
    local_fal.handler(ID, lambda body: FITTING)
    texts: list[str | bytes | bytearray] = []
    from_text = output.model_validate_json

    def counted(text: str | bytes | bytearray, **kwargs: Any) -> Any:
        texts.append(text)
        return from_text(text, **kwargs)

    def never(obj: Any, **kwargs: Any) -> Any:
        raise AssertionError("a fitting result was parsed into Python objects first")

    monkeypatch.setattr(output, "model_validate_json", counted)
    monkeypatch.setattr(output, "model_validate", never)
    result = call(how, mode, client)
    assert isinstance(result, output)
    assert result.model_dump(exclude_unset=True) == FITTING
    assert len(texts) == 1 and json.loads(texts[0]) == FITTING


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("how", CALLS)
def test_a_result_that_does_not_fit_keeps_its_data_on_the_error(
    local_fal: LocalFal, client: Client, how: str, mode: str
) -> None:
    local_fal.handler(
        ID, lambda body: {"images": "not a list", "seed": 1, "note": [1, {"a": None}]}
    )
    with pytest.raises(OutputValidationError, match="FluxDevOutput") as caught:
        call(how, mode, client)
    assert caught.value.data == {"images": "not a list", "seed": 1, "note": [1, {"a": None}]}
    assert "images" in str(caught.value)
