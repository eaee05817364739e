"""Base classes of the generated pydantic models.

Inputs are strict: an unknown field, a value outside the schema or of another type (``"3"`` or
``True`` for an int, ``"yes"`` for a bool: no coercion) or a NaN/infinite float is rejected
before any request is sent. Generated models inherit this (their config is merged into it, and
the hook below runs for each). Only scalars are strict: a list still fills a tuple field and a
mapping a nested model, as they do when the input arrives as JSON. Outputs are lenient: a field or enum value fal adds later must not break parsing of a
result the user has already paid for, so unknown fields are kept (``model_extra``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema

__all__ = ["InputModel", "OutputModel"]


#: Core schema types validated strictly in inputs: no ``"3"`` -> 3, ``True`` -> 1, ``"yes"`` -> True.
_STRICT_TYPES = frozenset({"int", "bool", "float", "str", "literal", "bytes"})
#: Parts of a core schema that describe no validation (json_schema_extra may hold a "type").
_NOT_VALIDATION = frozenset({"metadata", "serialization", "json_schema_extra"})


def _strict_scalars(schema: Any) -> None:
    """Mark every scalar of ``schema`` strict, in place (containers and models stay lax)."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            fields: dict[str, Any] = node  # pyright: ignore[reportUnknownVariableType]
            kind = fields.get("type")  # a str in a schema; a field named "type" maps to a dict
            if isinstance(kind, str) and kind in _STRICT_TYPES:
                fields["strict"] = True
            stack.extend(v for k, v in fields.items() if k not in _NOT_VALIDATION)
        elif isinstance(node, list):
            stack.extend(node)  # pyright: ignore[reportUnknownArgumentType]


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
