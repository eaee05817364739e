"""fal OpenAPI ``components.schemas`` as plain JSON Schema 2020-12, surviving upstream defects.

fal's documents are OpenAPI 3.0 in name but JSON Schema 2020-12 in practice (numeric
``exclusiveMinimum``), with a few 3.0 leftovers (``nullable``) and a handful of dangling
``$ref``\\ s. :func:`normalise_components` rewrites the ``components.schemas`` of one document into
plain 2020-12 schemas whose references all point into one registry resource, so any subschema can
be validated on its own (the local server) or compared with another revision's (the API diff).
Pure data in, pure data out: no validator is needed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "COMPONENT_PREFIX",
    "DANGLING",
    "DOC_URI",
    "normalise_components",
]

DOC_URI: Final = "urn:fal-typed:openapi"
COMPONENT_PREFIX: Final = "#/components/schemas/"
DANGLING: Final = "x-fal-typed-dangling"
"""Marker left where a ``$ref`` pointed at a missing component (the schema accepts anything)."""

_SCHEMA_MAP_KEYS: Final = (
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
)
_SCHEMA_LIST_KEYS: Final = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_KEYS: Final = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
)


def _normalise(node: Any, names: frozenset[str]) -> Any:
    """Normalise one schema node (recursively, schema keywords only: data such as
    ``examples``/``default``/``enum`` is left exactly as written)."""
    if not isinstance(node, dict):
        return node  # True/False schemas and malformed values pass through
    source: dict[str, Any] = node  # pyright: ignore[reportUnknownVariableType]
    out: dict[str, Any] = {}
    for key, value in source.items():
        if key == "$ref" and isinstance(value, str):
            if value.startswith(COMPONENT_PREFIX):
                name = value[len(COMPONENT_PREFIX) :]
                if name in names:
                    out[key] = DOC_URI + value
                else:
                    out[DANGLING] = name
            else:
                out[key] = value
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            members: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
            out[key] = {name: _normalise(sub, names) for name, sub in members.items()}
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
            out[key] = [_normalise(sub, names) for sub in items]
        elif key in _SCHEMA_KEYS:
            if isinstance(value, list):  # draft-4 style tuple ``items``
                tuple_items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
                out["prefixItems"] = [_normalise(sub, names) for sub in tuple_items]
            else:
                out[key] = _normalise(value, names)
        else:
            out[key] = value
    _fix_exclusive_bounds(out)
    if out.pop("nullable", False) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _fix_exclusive_bounds(schema: dict[str, Any]) -> None:
    """OpenAPI 3.0 writes ``exclusiveMinimum: true`` next to ``minimum``; 2020-12 wants the number."""
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and bound in schema:
                schema[exclusive] = schema.pop(bound)


def normalise_components(components: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``components.schemas`` rewritten as self-contained 2020-12 schemas."""
    names = frozenset(components)
    return {name: _normalise(schema, names) for name, schema in components.items()}
