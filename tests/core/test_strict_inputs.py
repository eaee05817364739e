"""Inputs are strict as documented, and every way into an endpoint validates the same.

No coercion of scalars (``num_images="3"``, ``num_images=True``, ``sync_mode="yes"``), NaN and
infinite floats and strings UTF-8 cannot encode refused naming the field, and a raw mapping
given to ``Endpoint.submit`` / ``run`` / ``stream`` / ``subscribe`` validated exactly like the
module functions' keywords: each rejected before any request reaches the local server.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from fal_endpoints import flux_dev
from pydantic import ValidationError

from fal_typed import Client, InputValidationError, untyped
from fal_typed.testing import LocalFal

ENDPOINT = flux_dev.endpoint
COERCIONS = [
    ({"num_images": "3"}, "num_images"),
    ({"num_images": True}, "num_images"),
    ({"num_images": 2.0}, "num_images"),
    ({"sync_mode": "yes"}, "sync_mode"),
    ({"sync_mode": 1}, "sync_mode"),
    ({"prompt": 5}, "prompt"),
    ({"guidance_scale": "3.5"}, "guidance_scale"),
    ({"image_size": {"width": "512", "height": 512}}, "image_size.width"),
]
UNENCODABLE = [
    ({"guidance_scale": math.nan}, "guidance_scale"),
    ({"guidance_scale": math.inf}, "guidance_scale"),
    ({"guidance_scale": -math.inf}, "guidance_scale"),
    ({"prompt": "a \ud800 cat"}, "prompt"),
]


def nothing_sent(local_fal: LocalFal) -> None:
    assert local_fal.requests == [], "a request was sent for an invalid input"


@pytest.mark.parametrize(("given", "field"), COERCIONS + UNENCODABLE)
def test_the_module_functions_refuse_it_naming_the_field(
    local_fal: LocalFal, client: Client, given: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        untyped_call: Any = flux_dev.subscribe  # given values of the wrong type on purpose
        untyped_call(**{"prompt": "a cat", **given}, client=client)
    assert caught.value.fields[0] == field  # (a union also names its literal branch)
    nothing_sent(local_fal)


@pytest.mark.parametrize("call", ["submit", "subscribe", "run", "stream"])
@pytest.mark.parametrize(("given", "field"), COERCIONS + UNENCODABLE)
def test_an_endpoint_call_refuses_a_mapping_as_the_module_functions_do(
    local_fal: LocalFal, client: Client, call: str, given: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        getattr(ENDPOINT, call)({"prompt": "a cat", **given}, client=client)
    assert caught.value.fields[0] == field  # (a union also names its literal branch)
    nothing_sent(local_fal)


def test_the_mapping_of_the_issue_is_refused_naming_each_field(
    local_fal: LocalFal, client: Client
) -> None:
    with pytest.raises(InputValidationError) as caught:
        ENDPOINT.submit({"prompt": 5, "num_images": 99, "bogus": True}, client=client)
    assert sorted(caught.value.fields) == ["bogus", "num_images", "prompt"]
    nothing_sent(local_fal)


@pytest.mark.parametrize("call", ["submit_async", "subscribe_async", "run_async"])
def test_async_endpoint_calls_refuse_it_too(local_fal: LocalFal, client: Client, call: str) -> None:
    async def main() -> None:
        await getattr(ENDPOINT, call)({"prompt": "a cat", "num_images": "3"}, client=client)

    with pytest.raises(InputValidationError) as caught:
        asyncio.run(main())
    assert caught.value.fields == ["num_images"]
    nothing_sent(local_fal)


def test_a_valid_mapping_goes_out_as_the_keywords_would(
    local_fal: LocalFal, client: Client
) -> None:
    handle = ENDPOINT.submit({"prompt": "a cat", "num_images": 2}, client=client)
    keywords = flux_dev.submit(prompt="a cat", num_images=2, client=client)
    sent = [json.loads(r.body) for r in local_fal.requests_for("submit")]
    assert sent == [{"prompt": "a cat", "num_images": 2}] * 2
    assert handle.request_id != keywords.request_id


@pytest.mark.parametrize(("given", "field"), COERCIONS)
def test_the_input_model_itself_does_not_coerce(given: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        model: Any = flux_dev.Input  # given values of the wrong type on purpose
        model(**{"prompt": "a cat", **given})
    assert field.split(".")[0] in {str(e["loc"][0]) for e in caught.value.errors()}


def test_an_int_still_fills_a_float_field_and_a_list_a_nested_model() -> None:
    """Strict scalars, not strict containers: what JSON would carry is accepted."""
    body = ENDPOINT.arguments(
        None, {"prompt": "a cat", "guidance_scale": 4, "image_size": {"width": 8, "height": 8}}
    )
    assert body["guidance_scale"] == 4.0 and body["image_size"] == {"width": 8, "height": 8}


def test_extra_body_and_open_models_refuse_what_json_cannot_carry(
    local_fal: LocalFal, client: Client
) -> None:
    with pytest.raises(InputValidationError) as caught:
        flux_dev.submit(prompt="a cat", extra_body={"new": [1.0, math.nan]}, client=client)
    assert caught.value.fields == ["new.1"]
    with pytest.raises(InputValidationError) as caught:
        untyped("fal-ai/flux/dev").submit(
            {"prompt": "a cat", "nested": {"deep": ["\udfff"]}}, client=client
        )
    assert caught.value.fields == ["nested.deep.0"]
    nothing_sent(local_fal)


# -- an input plus keyword fields: an error naming them, never a silent drop ----------------------


def test_an_input_instance_and_a_fields_mapping_is_an_error_naming_the_fields() -> None:
    with pytest.raises(InputValidationError, match="given both an Input instance") as caught:
        ENDPOINT.arguments(flux_dev.Input(prompt="a cat"), {"num_images": 2})
    assert caught.value.fields == ["num_images"]


def test_a_mapping_and_keyword_fields_is_an_error_naming_the_fields() -> None:
    with pytest.raises(InputValidationError, match="given both an input mapping") as caught:
        submit: Any = flux_dev.submit  # the declared signature takes no positional input
        submit({"prompt": "a cat"}, num_images=2, seed=1)
    assert caught.value.fields == ["num_images", "seed"]


def test_not_given_keyword_fields_are_not_a_conflict() -> None:
    from fal_typed import NOT_GIVEN

    body = ENDPOINT.arguments(flux_dev.Input(prompt="a cat"), {"seed": NOT_GIVEN})
    assert body == {"prompt": "a cat"}
