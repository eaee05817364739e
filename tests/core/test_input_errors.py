"""InputValidationError names the caller's fields: dotted paths, list indexes kept, and never
pydantic's union branch labels (``image_size.ImageSize``, ``image_size.literal[...]``).

And which error a caller meets where: a call rejects bad input with InputValidationError (a
FalError and a ValueError); building a model directly raises pydantic's own ValidationError
(also a ValueError), as any pydantic model does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, ValidationError

from fal_typed import Endpoint, FalError, FileInput, InputModel, InputValidationError, OutputModel


class Size(InputModel):
    width: Annotated[int, Field(gt=0)] = 512
    height: Annotated[int, Field(gt=0)] = 512


class Lora(InputModel):
    path: str
    scale: float = 1.0


class Cat(InputModel):
    kind: Literal["cat"]
    meow: str


class Dog(InputModel):
    kind: Literal["dog"]
    bark: int


class Probe(InputModel):
    prompt: str
    image_size: Size | Literal["square", "landscape"] = "square"
    loras: list[Lora] | None = None
    pet: Annotated[Cat | Dog, Field(discriminator="kind")] | None = None
    weights: dict[str, float] | None = None
    grid: list[list[int] | None] | None = None
    timeout_: Annotated[float | None, Field(alias="timeout")] = None
    image_url: FileInput | None = None


class ProbeOutput(OutputModel):
    ok: bool


ENDPOINT = Endpoint("fal-ai/probe", Probe, ProbeOutput)


def fields(**values: Any) -> list[str]:
    with pytest.raises(InputValidationError) as caught:
        ENDPOINT.arguments(None, {"prompt": "p", **values})
    return caught.value.fields


def test_a_bad_union_value_names_the_field_once() -> None:
    assert fields(image_size="huge") == ["image_size"]
    assert fields(image_size=3) == ["image_size"]


def test_a_bad_value_inside_a_union_branch_names_its_path() -> None:
    assert fields(image_size={"width": -1}) == ["image_size.width", "image_size"]


def test_list_indexes_and_nested_fields_are_kept() -> None:
    assert fields(loras=[{"path": "a"}, {"path": 4}]) == ["loras.1.path"]
    assert fields(loras=[{"path": "a", "scale": "x"}, {}]) == ["loras.0.scale", "loras.1.path"]
    assert fields(grid=[[1], None, [2, "x"]]) == ["grid.2.1"]


def test_a_tagged_union_drops_the_tag() -> None:
    assert fields(pet={"kind": "dog", "bark": "loud"}) == ["pet.bark"]
    assert fields(pet={"kind": "cat"}) == ["pet.meow"]


def test_mapping_keys_are_kept() -> None:
    assert fields(weights={"a": 1.0, "b": "heavy"}) == ["weights.b"]


def test_aliased_fields_are_named_by_their_keyword_and_unknown_ones_as_given() -> None:
    assert fields(timeout_="soon") == ["timeout_"]
    assert fields(num_imagez=2) == ["num_imagez"]
    assert fields(image_url=3) == ["image_url"]
    with pytest.raises(InputValidationError) as caught:
        ENDPOINT.arguments(None, {"loras": []})
    assert caught.value.fields == ["prompt"]


def test_the_message_uses_the_same_paths() -> None:
    with pytest.raises(InputValidationError) as caught:
        ENDPOINT.arguments(None, {"prompt": "p", "image_size": "huge"})
    message = str(caught.value)
    assert message.startswith("invalid input for fal-ai/probe: image_size: ")
    assert "literal[" not in message and "image_size.Size" not in message


def test_calls_raise_a_fal_error_and_models_raise_pydantics_both_value_errors() -> None:
    with pytest.raises(InputValidationError) as call:
        ENDPOINT.arguments(None, {"prompt": "p", "image_size": "huge"})
    assert isinstance(call.value, FalError) and isinstance(call.value, ValueError)

    with pytest.raises(ValidationError) as model:
        Probe(prompt="p", image_size="huge")  # pyright: ignore[reportArgumentType]
    assert isinstance(model.value, ValueError) and not isinstance(model.value, FalError)
    # A model built by hand and found wrong can be re-raised the way a call reports it.
    again = InputValidationError.from_pydantic("fal-ai/probe", model.value, Probe)
    assert again.fields == ["image_size"]


def messages(**values: Any) -> dict[str, str]:
    with pytest.raises(InputValidationError) as caught:
        ENDPOINT.arguments(None, {"prompt": "p", **values})
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors}


@pytest.mark.parametrize(
    ("given", "path", "meant"),
    [
        ({"promt": "p"}, "promt", "prompt"),  # a top-level field
        ({"image_size": {"widht": 5}}, "image_size.widht", "width"),  # in a union's model branch
        ({"loras": [{"path": "a"}, {"pth": "b"}]}, "loras.1.pth", "path"),  # in a list's item
        ({"pet": {"kind": "dog", "barks": 1}}, "pet.barks", "bark"),  # in a tagged union's branch
        ({"timeot": 3}, "timeot", "timeout"),  # an alias, the name a mapping gives
    ],
)
def test_an_unknown_field_names_the_field_it_was_probably_meant_to_be(
    given: dict[str, Any], path: str, meant: str
) -> None:
    assert messages(**given)[path] == f"Extra inputs are not permitted (did you mean {meant!r}?)"


def test_an_unknown_field_close_to_none_is_only_refused() -> None:
    assert messages(zzz=1)["zzz"] == "Extra inputs are not permitted"
    # A field of another level is no guess: "width" is no field at the top.
    assert messages(widht=5)["widht"] == "Extra inputs are not permitted"


def test_a_misspelt_call_option_of_a_keyword_call_is_named_before_anything_is_sent() -> None:
    from fal_endpoints import flux_dev

    with pytest.raises(InputValidationError) as caught:
        flux_dev.subscribe(prompt="a cat", with_log=True)  # pyright: ignore[reportCallIssue]
    assert caught.value.errors == [
        {
            "loc": ("with_log",),
            "msg": "Extra inputs are not permitted (did you mean 'with_logs'?)",
            "type": "extra_forbidden",
        }
    ]
    with pytest.raises(InputValidationError, match=r"timout: .*did you mean 'timeout'\?"):
        flux_dev.run(prompt="a cat", timout=3)  # pyright: ignore[reportCallIssue]
