"""What a page says about each field of a model: its type as the bindings type it, the values it
allows, its range, its default, whether it takes a file.

Read from the plan's components (the same cleaned schemas the models are generated from), so a
page and a module never disagree. Types are written the way the generated annotations read
(``int``, ``list[Image]``, ``ImageSize | str``, ``FileInput``); a component that is no model of its
own (an enum, an alias) is shown inline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ..docs import bounds_in_words
from ..normalise import REF_PREFIX, Schema

__all__ = ["NO_DEFAULT", "FieldRow", "is_model", "literal", "model_rows", "type_text"]

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
_MAX_DEPTH = 8  # component references followed inline (enum aliases of enum aliases...)


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
"""A field without a schema default (None is a default: null)."""


@dataclass(frozen=True)
class FieldRow:
    """One field as a page shows it (``name`` is the wire name, ``keyword`` the argument name)."""

    name: str
    keyword: str
    type: str
    required: bool
    default: Any
    allowed: tuple[Any, ...]
    range: str
    file: Literal["one", "many"] | None
    description: str


def is_model(schema: Schema) -> bool:
    """Whether a component becomes a model class (an object with fields) rather than an alias."""
    return isinstance(schema.get("properties"), dict) or schema.get("type") == "object"


def _target(schema: Schema, components: dict[str, Schema]) -> tuple[str, Schema] | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        name = ref[len(REF_PREFIX) :]
        if name in components:
            return name, components[name]
    return None


def _branches(schema: Schema) -> list[Schema] | None:
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            return [branch for branch in branches if isinstance(branch, dict)]
    return None


def type_text(schema: Any, components: dict[str, Schema], depth: int = 0) -> str:
    """The type of ``schema`` as the bindings annotate it (``list[Image]``, ``int | None``)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return "Any"
    if schema.get("customTypePath") == "fal_typed.FileInput":
        return "FileInput"
    target = _target(schema, components)
    if target is not None:
        name, component = target
        return name if is_model(component) else type_text(component, components, depth + 1)
    branches = _branches(schema)
    if branches is not None:
        return " | ".join(_unique(type_text(b, components, depth + 1) for b in branches)) or "Any"
    if "const" in schema:
        return _value_type(schema["const"])
    if isinstance(schema.get("enum"), list):
        return " | ".join(_unique(_value_type(v) for v in schema["enum"])) or "Any"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_unique(_kind(k, schema, components, depth) for k in kind)) or "Any"
    return _kind(kind, schema, components, depth)


def _kind(kind: Any, schema: Schema, components: dict[str, Schema], depth: int) -> str:
    if kind == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            items = ", ".join(type_text(item, components, depth + 1) for item in prefix)
            return f"tuple[{items}]"
        return f"list[{type_text(schema.get('items', {}), components, depth + 1)}]"
    if kind == "object":
        values = schema.get("additionalProperties")
        inner = type_text(values, components, depth + 1) if isinstance(values, dict) else "Any"
        return f"dict[str, {inner}]"
    return _SCALARS.get(kind, "Any") if isinstance(kind, str) else "Any"


def _value_type(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str"}.get(type(value), "Any")


def _unique(items: Iterator[str] | list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        for part in item.split(" | "):
            if part not in seen:
                seen.append(part)
    if "None" in seen:  # written last, as the annotations do
        seen.remove("None")
        seen.append("None")
    return seen


def allowed_values(schema: Any, components: dict[str, Schema], depth: int = 0) -> list[Any]:
    """The values an enum-like field allows (through aliases and unions; not inside models)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return []
    target = _target(schema, components)
    if target is not None:
        _, component = target
        return [] if is_model(component) else allowed_values(component, components, depth + 1)
    branches = _branches(schema)
    if branches is not None:
        found: list[Any] = []
        for branch in branches:
            for value in allowed_values(branch, components, depth + 1):
                if not any(_same(value, seen) for seen in found):
                    found.append(value)
        return found
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return [value for value in enum if value is not None] if isinstance(enum, list) else []


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def range_text(schema: Any, components: dict[str, Schema], depth: int = 0) -> str:
    """The bounds in words: ``1 to 50``, ``more than 0``, ``at most 2500 characters``."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return ""
    target = _target(schema, components)
    if target is not None:
        _, component = target
        return "" if is_model(component) else range_text(component, components, depth + 1)
    branches = _branches(schema)
    if branches is not None:
        texts = _unique(
            text
            for branch in branches
            if branch != {"type": "null"} and (text := range_text(branch, components, depth + 1))
        )
        return "; ".join(texts)
    parts = [
        _bounds(schema, "minimum", "maximum", ""),
        _bounds(schema, "minLength", "maxLength", " characters"),
        _bounds(schema, "minItems", "maxItems", " items"),
    ]
    items = schema.get("items")
    if isinstance(items, dict) and (inner := range_text(items, components, depth + 1)):
        parts.append(f"each {inner}")
    return ", ".join(part for part in parts if part)


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return repr(value)


def _bounds(schema: Schema, low_key: str, high_key: str, unit: str) -> str:
    low, high = _number(schema.get(low_key)), _number(schema.get(high_key))
    above = _number(schema.get("exclusiveMinimum")) if low_key == "minimum" else None
    below = _number(schema.get("exclusiveMaximum")) if high_key == "maximum" else None
    words = bounds_in_words(low, high, above, below)
    return words + unit if words else ""


def _file_kind(schema: Schema) -> Literal["one", "many"] | None:
    """``one`` for a ``FileInput`` field, ``many`` for a list of them (nullable or not)."""
    branches = _branches(schema) or [schema]
    for branch in branches:
        if branch.get("customTypePath") == "fal_typed.FileInput":
            return "one"
        items = branch.get("items")
        if isinstance(items, dict) and items.get("customTypePath") == "fal_typed.FileInput":
            return "many"
    return None


def model_rows(
    model: Schema, components: dict[str, Schema], keywords: dict[str, str] | None = None
) -> list[FieldRow]:
    """One row per field of a model component, in the schema's order (required first)."""
    properties = model.get("properties")
    if not isinstance(properties, dict):
        return []
    required = set(model.get("required") or ())
    rows: list[FieldRow] = []
    for name, schema in properties.items():
        field: Schema = schema if isinstance(schema, dict) else {}
        description = field.get("description")
        rows.append(
            FieldRow(
                name=name,
                keyword=(keywords or {}).get(name, name),
                type=type_text(field, components),
                required=name in required,
                default=field.get("default", NO_DEFAULT),
                allowed=tuple(allowed_values(field, components)),
                range=range_text(field, components),
                file=_file_kind(field),
                description=description if isinstance(description, str) else "",
            )
        )
    return rows


def literal(value: Any) -> str:
    """A JSON value as Python source (``None``, ``True``, strings in double quotes), one line;
    characters a reader cannot see (controls, format characters) are written as escapes."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(value) if not isinstance(value, float) or math.isfinite(value) else "None"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    return _string(str(value))


def _string(text: str) -> str:
    # JSON's string syntax is Python's (with \uXXXX escapes for controls); what JSON leaves raw
    # but a reader cannot see (C1 controls, line and paragraph separators, format and bidi
    # characters) is escaped too.
    return _INVISIBLE.sub(_escape_char, json.dumps(text, ensure_ascii=False))


_INVISIBLE = re.compile(
    "[\x7f-\x9f\xad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"
