"""A set given for a list (or tuple) field of an input is refused naming the field: it has no
order, and pydantic's lax lists took it, so the list sent was in whichever order the set
iterated (a LoRA stack, reference images). A list, a tuple or a generator still fill it."""

from __future__ import annotations

import importlib
import random
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from fal_typed import InputValidationError, installed_endpoints
from fal_typed._endpoint import Endpoint

SAMPLE = 40


def _list_fields(model: type[BaseModel]) -> list[str]:
    """The input's top-level fields that take a list (alone or in a union)."""
    found: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        options = typing.get_args(annotation) if typing.get_origin(annotation) else ()
        if typing.get_origin(annotation) is list or any(
            typing.get_origin(option) is list for option in options
        ):
            found.append(field.alias or name)
    return found


def _endpoints_with_lists() -> list[tuple[str, str, str]]:
    """(endpoint id, module, list field) of a fixed sample of the installed endpoints."""
    infos = sorted(installed_endpoints(), key=lambda info: info.endpoint_id)
    chosen: list[tuple[str, str, str]] = []
    for info in random.Random(6252023).sample(infos, len(infos)):
        endpoint: Endpoint[Any, Any] = importlib.import_module(
            f"fal_endpoints.{info.module}"
        ).endpoint
        fields = _list_fields(endpoint.Input)
        if fields:
            chosen.append((info.endpoint_id, info.module, fields[0]))
        if len(chosen) == SAMPLE:
            break
    return chosen


CASES = _endpoints_with_lists()


UNORDERED: list[set[str] | frozenset[str]] = [set(), frozenset()]


@pytest.mark.parametrize("unordered", UNORDERED, ids=["set", "frozenset"])
@pytest.mark.parametrize(
    ("endpoint_id", "module", "field"), CASES, ids=[f"{e}:{f}" for e, _, f in CASES]
)
def test_a_set_for_a_list_field_is_refused_naming_it(
    endpoint_id: str, module: str, field: str, unordered: set[str] | frozenset[str]
) -> None:
    endpoint: Endpoint[Any, Any] = importlib.import_module(f"fal_endpoints.{module}").endpoint
    with pytest.raises(InputValidationError) as refused:
        endpoint.arguments({field: unordered})
    problems = [e for e in refused.value.errors if e["type"] == "unordered"]
    assert [p["loc"][:1] for p in problems] == [(field,)], refused.value.errors
    assert "has no order: give a list" in str(refused.value)


def test_ordered_sequences_still_fill_a_list_field() -> None:
    from fal_endpoints import flux_general

    lora = {"path": "https://example.com/a.safetensors", "scale": 0.5}
    sent = [lora, {**lora, "scale": 1.0}]
    for given in (sent, tuple(sent), (item for item in sent)):
        body = flux_general.endpoint.arguments({"prompt": "a cat", "loras": given})
        assert body["loras"] == sent
    with pytest.raises(InputValidationError, match="loras: a set has no order"):
        flux_general.endpoint.arguments(fields={"prompt": "a cat", "loras": {"not", "ordered"}})
