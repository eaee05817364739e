"""Validation of fal OpenAPI fragments with ``jsonschema``, in pydantic's error vocabulary.

The documents are first made plain JSON Schema 2020-12 by
:func:`fal_typed.catalog._schema.normalise_components` (re-exported here); any subschema of the
result can then be validated on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..catalog._schema import COMPONENT_PREFIX, DANGLING, DOC_URI, normalise_components

__all__ = [
    "COMPONENT_PREFIX",
    "DANGLING",
    "DOC_URI",
    "SchemaValidator",
    "error_details",
    "normalise_components",
]


class SchemaValidator:
    """Validates instances against any (normalised) subschema of one document."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        resource: Resource[Any] = Resource.from_contents(
            {"components": {"schemas": dict(components)}}, default_specification=DRAFT202012
        )
        empty: Registry[Any] = Registry()
        self._registry: Registry[Any] = empty.with_resource(DOC_URI, resource)  # pyright: ignore[reportUnknownMemberType]
        self._cache: dict[int, tuple[object, Draft202012Validator]] = {}

    @property
    def registry(self) -> Registry[Any]:
        """The registry holding the document (for validators built elsewhere)."""
        return self._registry

    def validator(self, schema: Any) -> Draft202012Validator:
        """A validator for ``schema`` (cached by identity: pass subschemas of the normalised doc)."""
        cached = self._cache.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        validator = Draft202012Validator(schema, registry=self._registry)
        self._cache[id(schema)] = (schema, validator)
        return validator

    def is_valid(self, schema: Any, instance: Any) -> bool:
        return bool(self.validator(schema).is_valid(instance))  # pyright: ignore[reportUnknownMemberType]

    def details(self, schema: Any, instance: Any) -> list[dict[str, Any]]:
        """fal/pydantic-style 422 ``detail`` entries for ``instance`` (empty when valid)."""
        return error_details(self.validator(schema).iter_errors(instance))  # pyright: ignore[reportUnknownMemberType]


_TYPE_ERRORS: Final[Mapping[str, tuple[str, str]]] = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "null": ("none_required", "Input should be None"),
}


def _quote_choices(values: Sequence[Any]) -> str:
    quoted = [repr(v) for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _one(error: ValidationError) -> tuple[str, str, dict[str, Any] | None]:
    """(type, msg, ctx) for one jsonschema error, in pydantic's vocabulary."""
    kind = error.validator
    value: Any = error.validator_value
    if kind == "type":
        names: list[Any] = value if isinstance(value, list) else [value]  # pyright: ignore[reportUnknownVariableType]
        first = next((str(n) for n in names if n != "null"), str(names[0]) if names else "object")
        error_type, msg = _TYPE_ERRORS.get(first, ("type_error", error.message))
        return error_type, msg, None
    if kind == "enum":
        choices = _quote_choices(list(value))
        return "enum", f"Input should be {choices}", {"expected": choices}
    if kind == "const":
        return "literal_error", f"Input should be {value!r}", {"expected": repr(value)}
    bounds: Mapping[str, tuple[str, str, str]] = {
        "minimum": ("greater_than_equal", "greater than or equal to", "ge"),
        "maximum": ("less_than_equal", "less than or equal to", "le"),
        "exclusiveMinimum": ("greater_than", "greater than", "gt"),
        "exclusiveMaximum": ("less_than", "less than", "lt"),
    }
    if isinstance(kind, str) and kind in bounds:
        error_type, words, ctx_key = bounds[kind]
        return error_type, f"Input should be {words} {value}", {ctx_key: value}
    if kind == "minLength":
        return (
            "string_too_short",
            f"String should have at least {value} characters",
            {"min_length": value},
        )
    if kind == "maxLength":
        return (
            "string_too_long",
            f"String should have at most {value} characters",
            {"max_length": value},
        )
    if kind == "minItems":
        return "too_short", f"List should have at least {value} items", {"min_length": value}
    if kind == "maxItems":
        return "too_long", f"List should have at most {value} items", {"max_length": value}
    if kind == "multipleOf":
        return "multiple_of", f"Input should be a multiple of {value}", {"multiple_of": value}
    if kind == "pattern":
        return (
            "string_pattern_mismatch",
            f"String should match pattern '{value}'",
            {"pattern": value},
        )
    if kind == "uniqueItems":
        return "unique_items", "List items should be unique", None
    return "value_error", error.message, None


def _detail(
    loc: list[Any], error_type: str, msg: str, instance: Any, ctx: dict[str, Any] | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "loc": ["body", *loc],
        "msg": msg,
        "type": error_type,
        "input": instance,
    }
    if ctx is not None:
        entry["ctx"] = ctx
    return entry


def _expand(error: ValidationError) -> list[dict[str, Any]]:
    loc = list(error.absolute_path)
    kind = error.validator
    if kind == "required":
        instance: Any = error.instance
        required = cast("list[Any]", error.validator_value)
        missing = [name for name in required if isinstance(instance, dict) and name not in instance]
        return [
            _detail([*loc, name], "missing", "Field required", instance, None) for name in missing
        ]
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        obj = cast("dict[str, Any]", error.instance)
        allowed = (
            set(error.schema.get("properties", {}))
            if isinstance(error.schema, dict)
            else set[str]()
        )
        extras = [name for name in obj if name not in allowed]
        return [
            _detail(
                [*loc, name], "extra_forbidden", "Extra inputs are not permitted", obj[name], None
            )
            for name in extras
        ]
    if kind in ("anyOf", "oneOf") and error.context:
        # The branch that failed on "must be null" says least: prefer the others' errors.
        informative = [
            e for e in error.context if not (e.validator == "type" and e.validator_value == "null")
        ]
        best = cast("ValidationError | None", best_match(informative or error.context))  # pyright: ignore[reportUnknownVariableType]
        if best is not None and best.validator not in ("anyOf", "oneOf"):
            return _expand(best)
    error_type, msg, ctx = _one(error)
    return [_detail(loc, error_type, msg, error.instance, ctx)]


def error_details(errors: Any) -> list[dict[str, Any]]:
    """Turn jsonschema errors into a sorted, de-duplicated list of 422 ``detail`` entries."""
    seen: set[tuple[str, str]] = set()
    details: list[dict[str, Any]] = []
    for error in errors:
        for entry in _expand(error):
            key = (repr(entry["loc"]), str(entry["type"]))
            if key not in seen:
                seen.add(key)
                details.append(entry)
    details.sort(key=lambda e: [str(part) for part in e["loc"]])
    return details
