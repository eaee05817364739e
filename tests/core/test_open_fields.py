"""An open field (an untyped input's fields, a typed ``dict[str, Any]``) takes JSON values only,
refused as ``extra_body`` refuses them: pydantic's serializer would write a ``Decimal`` as
``"3.5"``, a ``complex`` as ``"1j"``, a date as text and a set in any order, and drain a
generator, so the request fal received was not the one written."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fal_endpoints import flux_general

from fal_typed import Client, Endpoint, InputValidationError, untyped
from fal_typed.testing import LocalFal


class _Colour(enum.Enum):
    RED = "red"


class _Number(enum.IntEnum):
    ONE = 1


def _generator() -> Iterator[int]:
    yield 1


NOT_JSON: list[tuple[str, Callable[[], object], str]] = [
    ("Decimal", lambda: decimal.Decimal("3.5"), "Decimal"),
    ("Fraction", lambda: fractions.Fraction(1, 3), "Fraction"),
    ("complex", lambda: 1j, "complex"),
    ("datetime", lambda: datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc), "datetime"),
    ("naive datetime", lambda: datetime.datetime(2026, 1, 2), "datetime"),
    ("date", lambda: datetime.date(2026, 1, 2), "date"),
    ("timedelta", lambda: datetime.timedelta(seconds=3), "timedelta"),
    ("set", lambda: {1, 2}, "set"),
    ("frozenset", lambda: frozenset({1}), "frozenset"),
    ("generator", _generator, "generator"),
    ("deque", lambda: collections.deque([1]), "deque"),
    ("uuid", lambda: uuid.UUID(int=1), "UUID"),
    ("plain enum", lambda: _Colour.RED, "_Colour"),
    ("class", lambda: int, "type"),
    ("function", lambda: print, "builtin_function_or_method"),
]

# (endpoint, arguments holding the value at its place, the place named)
OPEN_FIELDS: list[tuple[str, Endpoint[Any, Any], Callable[[object], dict[str, Any]], str]] = [
    ("untyped field", untyped("fal-ai/anything"), lambda v: {"prompt": "a", "v": v}, "v"),
    (
        "untyped nested",
        untyped("fal-ai/anything"),
        lambda v: {"prompt": "a", "v": {"w": [0, v]}},
        "v.w.1",
    ),
    (
        "typed dict[str, Any]",
        flux_general.endpoint,
        lambda v: {"prompt": "a", "loras": [{"path": "https://x.test/a", "scale": {"k": v}}]},
        "loras.0.scale.k",
    ),
]


@pytest.mark.parametrize(("what", "value", "kind"), NOT_JSON, ids=[c[0] for c in NOT_JSON])
@pytest.mark.parametrize(
    ("where", "endpoint", "place", "field"), OPEN_FIELDS, ids=[c[0] for c in OPEN_FIELDS]
)
def test_an_open_field_s_value_json_cannot_carry_is_refused_where_it_is(
    what: str,
    value: Callable[[], object],
    kind: str,
    where: str,
    endpoint: Endpoint[Any, Any],
    place: Callable[[object], dict[str, Any]],
    field: str,
) -> None:
    with pytest.raises(InputValidationError) as caught:
        endpoint.arguments(place(value()))
    # (a union's other branches say why they do not fit either: scale is dict[str, Any] | float)
    assert {"loc": tuple(field.split(".")), "msg": f"an object of type {kind} is not JSON"} in [
        {"loc": tuple(str(part) for part in e["loc"]), "msg": e["msg"]} for e in caught.value.errors
    ]


@pytest.mark.parametrize(("what", "value", "kind"), NOT_JSON, ids=[c[0] for c in NOT_JSON])
def test_extra_body_refuses_the_same_values_with_the_same_words(
    what: str, value: Callable[[], object], kind: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        untyped("fal-ai/anything").arguments({"prompt": "a"}, extra_body={"v": value()})
    assert caught.value.errors[0]["msg"] == f"an object of type {kind} is not JSON"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ((1, "a"), [1, "a"]),  # a tuple is a JSON array, as json.dumps writes it
        (_Number.ONE, 1),  # an int (and str) enum is its value
        (collections.OrderedDict[str, int](a=1), {"a": 1}),
        ({"k": [None, True, 1.5, "x"]}, {"k": [None, True, 1.5, "x"]}),
    ],
)
def test_json_values_of_an_open_field_are_sent_as_json_writes_them(
    value: object, sent: object
) -> None:
    assert untyped("fal-ai/anything").arguments({"v": value}) == {"v": sent}


def test_a_refused_open_value_sends_nothing_and_a_local_file_there_is_still_uploaded(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    model = untyped("fal-ai/flux/dev")
    with local_fal.client() as client:
        with pytest.raises(InputValidationError):
            model.run({"prompt": "a", "guidance_scale": decimal.Decimal("3.5")}, client=client)
        assert local_fal.requests_for("run") == []
        picture = tmp_path / "in.png"
        picture.write_bytes(b"\x89PNG\r\n\x1a\n")
        model.run({"prompt": "a", "extra": {"image": picture}}, client=client)
    (sent,) = local_fal.requests_for("run")
    assert b'"image":"http' in sent.body


def test_the_client_is_not_needed_to_refuse(tmp_path: Path) -> None:
    with Client(key="id:secret") as client, pytest.raises(InputValidationError):
        untyped("fal-ai/anything").run({"v": {1, 2}}, client=client)


#: Inputs with open fields: an untyped one (every field), and generated ones with Any fields
#: or open models (decart's realtime input crashed pydantic-core with one shared schema).
OPEN_INPUTS = ["untyped", "bria/fibo/generate", "decart/lucy2-vton/realtime"]


@pytest.mark.parametrize("which", OPEN_INPUTS)
def test_an_input_with_open_fields_still_has_a_json_schema(which: str) -> None:
    """The JSON check of open values must not cost the input its JSON schema, which ``--help``
    and a batch's row check write: a plain validator has none (PydanticInvalidForJsonSchema)."""
    from fal_typed import endpoint

    found = untyped("fal-ai/flux/dev") if which == "untyped" else endpoint(which)
    schema = found.Input.model_json_schema()
    assert schema["type"] == "object" and "properties" in schema
