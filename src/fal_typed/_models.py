"""Base classes of the generated pydantic models.

Inputs are strict: an unknown field, a value outside the schema or of another type (``"3"`` or
``True`` for an int, ``"yes"`` for a bool: no coercion) or a NaN/infinite float is rejected
before any request is sent. So is a value of an open field (``Any``, ``dict[str, Any]``, an
untyped input's fields) that JSON cannot carry: pydantic would write a ``Decimal`` or a
``complex`` as a string and a set in any order, and drain a generator, where ``extra_body``
refuses them naming the field; here they are refused alike, as the field is validated. A set
given for a list (or tuple) field is refused too: it has no order, and a list sent from it would
be in whichever order the set iterates. Generated models inherit this (their config is merged
into it, and the hook below runs for each). Only scalars are strict: a list still fills a tuple
field and a mapping a nested model, as they do when the input arrives as JSON. Outputs are
lenient: a field or enum value fal adds later must not break parsing of a result the user has
already paid for, so unknown fields are kept (``model_extra``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from ._request_json import json_problems
from .files._input import is_upload_source

__all__ = ["InputModel", "OutputModel"]


#: Core schema types validated strictly in inputs: no ``"3"`` -> 3, ``True`` -> 1, ``"yes"`` -> True.
_STRICT_TYPES = frozenset({"int", "bool", "float", "str", "literal", "bytes"})
#: Parts of a core schema that describe no validation (json_schema_extra may hold a "type").
_NOT_VALIDATION = frozenset({"metadata", "serialization", "json_schema_extra"})


def _json_value(value: object) -> object:
    """An open field's value, as given, if JSON carries it (local files pass: they are uploaded
    and sent as URLs); else the error naming what cannot be sent, and where below the field."""
    problems = json_problems(value, passes=is_upload_source)
    if not problems:
        return value
    # The first only: pydantic locates an error at the field; "below" is read by
    # InputValidationError.from_pydantic, which names the value's own place.
    raise PydanticCustomError(
        "unencodable", "{problem}", {"problem": problems[0]["msg"], "below": problems[0]["loc"]}
    )


def _json_value_schema() -> core_schema.CoreSchema:
    """An open value's schema: ``any``, then :func:`_json_value`. After ``any``, not in its
    place: a plain validator has no JSON schema, and the inputs' schemas (``--help``, a batch's
    row check) must still be written. A new one each time: pydantic-core may change a schema it
    is given, and one dict shared by several fields crashed it."""
    return core_schema.no_info_after_validator_function(_json_value, core_schema.any_schema())


#: Sequence schemas a set would fill in its own order (pydantic's lax lists take sets).
_ORDERED_TYPES = frozenset({"list", "tuple"})


def _ordered(value: object) -> object:
    """A list or tuple field's value, unless it is a set: a set has no order to send."""
    if isinstance(value, (set, frozenset)):
        raise PydanticCustomError(
            "unordered",
            "a {kind} has no order: give a list (sorted(...) if any order will do)",
            {"kind": "set" if isinstance(value, set) else "frozenset"},
        )
    return value


def _strict_scalars(schema: Any) -> None:
    """Mark every scalar of ``schema`` strict, in place (containers and models stay lax), make
    its open values (``Any``, an open model's extra fields) JSON values, and refuse sets for its
    lists and tuples."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            fields: dict[str, Any] = node  # pyright: ignore[reportUnknownVariableType]
            kind = fields.get("type")  # a str in a schema; a field named "type" maps to a dict
            if isinstance(kind, str) and kind in _STRICT_TYPES:
                fields["strict"] = True
            elif kind == "any":
                fields.clear()
                fields.update(_json_value_schema())
                continue
            elif isinstance(kind, str) and kind in _ORDERED_TYPES:
                sequence = dict(fields)
                fields.clear()
                fields.update(core_schema.no_info_before_validator_function(_ordered, sequence))  # pyright: ignore[reportArgumentType]
                # Its items next (not the sequence itself, which would be wrapped again).
                stack.extend(v for k, v in sequence.items() if k not in _NOT_VALIDATION)
                continue
            elif kind == "model" and _open(fields):
                inner: dict[str, Any] = fields.get("schema") or {}
                if inner.get("type") == "model-fields":
                    inner.setdefault("extras_schema", _json_value_schema())
            stack.extend(v for k, v in fields.items() if k not in _NOT_VALIDATION)
        elif isinstance(node, list):
            stack.extend(node)  # pyright: ignore[reportUnknownArgumentType]


def _open(model_schema: dict[str, Any]) -> bool:
    """Whether a model schema keeps extra fields (an untyped input's: any field)."""
    config: dict[str, Any] = model_schema.get("config") or {}
    return config.get("extra_fields_behavior") == "allow"


class InputModel(BaseModel):
    """Base of every generated input model: validates strictly, forbids unknown fields."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        # An open field's NaN or infinity dumped as itself, not as null: the call refuses it,
        # naming the field, rather than sending a null nobody wrote.
        ser_json_inf_nan="constants",
        populate_by_name=True,
        protected_namespaces=(),
        defer_build=True,
        validate_default=False,
    )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        schema = handler(source)
        _strict_scalars(schema)
        return schema


class OutputModel(BaseModel):
    """Base of every generated output model: keeps unknown fields, never drops data."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="allow",
        populate_by_name=True,
        protected_namespaces=(),
        defer_build=True,
    )

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> tuple[dict[str, object], dict[str, object]]:
        """In a notebook: the result's files as a gallery, its other fields as a table."""
        from .notebook._html import output_html

        return {"text/html": output_html(self)}, {}
