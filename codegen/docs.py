"""The docstrings of the call functions: per field what to pass, and the call options.

Each input field gets its description, then one line of facts: its type, the values it
allows, its range, whether it is a file (and so takes a local file too), whether it is
required and its default, e.g. ``int, 1 to 50; default 28.`` The facts come from the same
schema and annotation as the signature, so the two never disagree. Written in the Google
style (``Args:``) that help(), jedi and pyright's hovers all render.
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Iterable, Iterator
from typing import Any

from .calls import Option
from .normalise import REF_PREFIX, Schema
from .plan import FieldPlan

__all__ = [
    "INLINED",
    "OPEN_INPUT",
    "UPLOADED",
    "args_section",
    "bounds_in_words",
    "field_facts",
    "options_section",
]

_SHOWN_VALUES = 12  # allowed values listed in full up to this many; beyond, the first few
_FIRST_VALUES = 8
_PATTERN_SHOWN = 40  # characters: a longer regular expression is left to the schema
_WIDTH = 88  # characters of a facts line, indented under its field

_LOCAL = "a local file (pathlib.Path, bytes, file object, PIL image)"
UPLOADED = f"a URL, or {_LOCAL} to upload"
INLINED = f"a URL, or {_LOCAL} sent inline as a data: URI"


def args_section(
    fields: Iterable[FieldPlan],
    annotations: dict[str, str],
    components: dict[str, Schema],
    file_note: str,
) -> str:
    """``Args:``: every field's description, then its facts (see :func:`field_facts`)."""
    lines: list[str] = []
    for field in fields:
        text = field.description.strip() or "(Undocumented.)"
        facts = field_facts(field, annotations[field.name], components, file_note)
        first, *rest = [*text.splitlines(), *_wrap(facts)]
        lines.append(f"    {field.keyword}: {first}")
        lines.extend(f"        {line}" if line.strip() else "" for line in rest)
    return "\n".join(["Args:", *lines]) if lines else ""


OPEN_INPUT = "Args:\n    **fields: Any field, sent as given: the document describes none."


def _wrap(facts: str) -> list[str]:
    # Never inside a value: a URL or a quoted string stays whole, however long.
    return textwrap.wrap(facts, _WIDTH, break_long_words=False, break_on_hyphens=False)


def options_section(options: Iterable[Option], title: str = "Call options:") -> str:
    """The call options, one line each (the same for every endpoint)."""
    return "\n".join([title, *(f"    {option.name}: {option.doc}" for option in options)])


def field_facts(
    field: FieldPlan, annotation: str, components: dict[str, Schema], file_note: str = UPLOADED
) -> str:
    """One line: type and allowed values, range, file, then required or the default."""
    schema = _without_null(field.schema)
    parts = [_kind(field, annotation, schema, components, file_note)]
    parts += _ranges(schema)
    facts = ", ".join(part for part in parts if part)
    if field.required:
        tail = "required"
    elif field.default not in (None, "None", "NOT_GIVEN"):
        tail = f"default {_value(ast.literal_eval(field.default))}"
    elif field.default == "None" and "default" in field.schema:
        tail = "default None"
    else:
        tail = "optional"
    return f"{facts}; {tail}." if facts else f"{tail.capitalize()}."


def _kind(
    field: FieldPlan,
    annotation: str,
    schema: Schema,
    components: dict[str, Schema],
    file_note: str,
) -> str:
    """What the field takes: its type in words, the values it allows, the file note."""
    if field.file == "one":
        return f"file: {file_note}" + (", or None" if field.nullable else "")
    if field.file == "many":
        return f"list of files, each {file_note}" + (", or None" if field.nullable else "")
    members = _members(ast.parse(annotation, mode="eval").body)
    literals = [m for m in members if _is_literal(m)]
    others = [ast.unparse(m) for m in members if not _is_literal(m) and not _is_none(m)]
    nullable = any(_is_none(m) for m in members)
    values = [value for literal in literals for value in _literal_values(literal)]
    if not literals and len(others) == 1:
        enum = _enum_values(schema, components)
        if enum and others[0][:1].isupper() and others[0] not in _BUILTIN_NAMES:
            # A huge enum behind a named alias: name the alias and count its values.
            return f"{others[0]}: {_one_of(enum)}" + (", or None" if nullable else "")
    words = " or ".join(others)
    if values:
        words = f"{words}, or {_one_of(values)}" if words else _one_of(values)
    return words + (" or None" if nullable and words else "None" if nullable else "")


_BUILTIN_NAMES = frozenset({"Any"})


def _members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*_members(node.left), *_members(node.right)]
    return [node]


def _is_literal(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Literal"
    )


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _literal_values(node: ast.expr) -> list[Any]:
    assert isinstance(node, ast.Subscript)
    inner = node.slice
    items = inner.elts if isinstance(inner, ast.Tuple) else [inner]
    return [ast.literal_eval(item) for item in items]


def _enum_values(schema: Schema, components: dict[str, Schema]) -> list[Any]:
    """Every value an enum-typed schema allows (through references and unions)."""
    found: list[Any] = []
    for branch in _branches(schema, components):
        if isinstance(branch.get("enum"), list):
            found.extend(value for value in branch["enum"] if value is not None)
        elif "const" in branch:
            found.append(branch["const"])
    return found


def _branches(schema: Schema, components: dict[str, Schema]) -> Iterator[Schema]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        yield from _branches(components.get(ref[len(REF_PREFIX) :], {}), components)
        return
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            for branch in schema[key]:
                if isinstance(branch, dict):
                    yield from _branches(branch, components)
            return
    yield schema


def _one_of(values: list[Any]) -> str:
    if len(values) == 1:
        return f"only {_value(values[0])}"
    if len(values) <= _SHOWN_VALUES:
        return "one of " + ", ".join(_value(v) for v in values)
    shown = ", ".join(_value(v) for v in values[:_FIRST_VALUES])
    return f"one of {len(values):,} values: {shown}, ..."


def _value(value: Any) -> str:
    """A value as Python source would show it, strings in double quotes (as the signatures)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return repr(value)


def _without_null(schema: Schema) -> Schema:
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        rest = [b for b in branches if b != {"type": "null"}]
        if len(rest) == 1:
            return rest[0] if isinstance(rest[0], dict) else schema
    return schema


def _ranges(schema: Schema) -> list[str]:
    """The schema's bounds in words: ``1 to 50``, ``at most 2500 characters``, ``1 to 4 items``."""
    parts: list[str] = []
    number = _bounds(
        schema.get("minimum"),
        schema.get("maximum"),
        schema.get("exclusiveMinimum"),
        schema.get("exclusiveMaximum"),
    )
    if number:
        parts.append(number)
    text = _bounds(schema.get("minLength"), schema.get("maxLength"))
    if text:
        parts.append(f"{text} characters")
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and len(pattern) <= _PATTERN_SHOWN:
        parts.append(f"matching {_value(pattern)}")
    items = _bounds(schema.get("minItems"), schema.get("maxItems"))
    if items:
        parts.append(f"{items} items")
    each = schema.get("items")
    if isinstance(each, dict):
        inner = _ranges(_without_null(each))
        if inner:
            parts.append("each " + ", ".join(inner))
    return parts


def _bounds(low: Any, high: Any, above: Any = None, below: Any = None) -> str:
    """The numeric bounds among ``low``, ``high``, ``above`` and ``below``, in words."""
    shown = [_number(v) if _is_number(v) else None for v in (low, high, above, below)]
    return bounds_in_words(*shown)


def bounds_in_words(low: str | None, high: str | None, above: str | None, below: str | None) -> str:
    """``low to high``, ``at least low``, ``at most high``, with exclusive bounds in words.

    The endpoint docstrings and the site's parameter tables both say ranges this way.
    """
    if low is not None and high is not None:
        return f"{low} to {high}"
    words: list[str] = []
    if low is not None:
        words.append(f"at least {low}")
    if above is not None:
        words.append(f"more than {above}")
    if high is not None:
        words.append(f"at most {high}")
    if below is not None:
        words.append(f"less than {below}")
    return " and ".join(words)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: float) -> str:
    return repr(value)
