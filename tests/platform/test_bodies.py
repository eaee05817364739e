"""A Platform API body is encoded as a queue call's is (``_request_json``): what JSON cannot
carry is refused before anything is sent, naming the field, never sent as ``NaN`` or ``null``."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fal_typed import InputValidationError
from fal_typed.platform import Platform
from fal_typed.testing import LocalFal

LABEL = "POST /v1/workflows"


def contents(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "w",
        "version": "1",
        "nodes": {"n1": node},
        "output": {},
        "schema": {"input": {}, "output": {}},
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "nan is not a finite number (JSON has no NaN or inf)"),
        ([1.0, math.inf], "inf is not a finite number (JSON has no NaN or inf)"),
        ("a \udfff b", "not valid Unicode (a lone surrogate UTF-8 cannot encode)"),
        (object(), "an object of type object is not JSON"),
    ],
)
def test_an_open_field_json_cannot_carry_is_refused_naming_it(
    local_fal: LocalFal, platform: Platform, value: object, message: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        platform.create_workflow(name="w", title="W", contents=contents({"x": value}))  # type: ignore[arg-type]
    assert caught.value.endpoint_id == LABEL
    (error,) = caught.value.errors
    assert error["msg"] == message
    assert error["loc"][:4] == ("contents", "nodes", "n1", "x")
    assert local_fal.requests == []


@pytest.mark.parametrize("given", ["keywords", "mapping"])
def test_an_object_pydantic_cannot_write_is_named_however_the_body_is_given(
    local_fal: LocalFal, platform: Platform, given: str
) -> None:
    """Keyword fields or a whole body as a mapping: the refusal names where the object is."""
    body = contents({"x": {"when": object()}})
    with pytest.raises(InputValidationError) as caught:
        if given == "keywords":
            platform.create_workflow(name="w", title="W", contents=body)  # type: ignore[arg-type]
        else:
            whole = {"name": "w", "title": "W", "contents": body}
            platform.create_workflow(whole)  # type: ignore[arg-type]
    (error,) = caught.value.errors
    assert error["msg"] == "an object of type object is not JSON"
    assert error["loc"] == ("contents", "nodes", "n1", "x", "when")
    assert local_fal.requests == []


def test_a_misspelt_field_of_a_body_is_named_with_the_field_meant(
    local_fal: LocalFal, platform: Platform
) -> None:
    """A body given as a mapping is validated by its model: an unknown field is refused before
    anything is sent, and the message names the field it was probably meant to be."""
    before = len(local_fal.requests)
    body = {"name": "w", "tilte": "W", "contents": contents({"x": 1})}
    with pytest.raises(InputValidationError) as caught:
        platform.create_workflow(body)  # type: ignore[arg-type]
    messages = {error["loc"]: error["msg"] for error in caught.value.errors}
    assert messages[("tilte",)] == "Extra inputs are not permitted (did you mean 'title'?)"
    assert len(local_fal.requests) == before
