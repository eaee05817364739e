"""Command-line options for an endpoint, built at run time from its input JSON schema.

Each input field becomes one option (``num_images`` -> ``--num-images``) with a click type that
matches the schema: integer/number ranges, enums as choices, booleans as ``--x/--no-x`` flags,
arrays as repeatable options, objects as JSON text, and file fields (``*_url``/``*_urls``) as a
URL or a local file to upload. Defaults are shown in the help but never sent, so fal applies its
own. Nothing here talks to the network.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import click

from ..files._errors import FileInputError
from ..files._strings import file_string, is_file_field
from ._numbers import finite_number

__all__ = [
    "FieldOption",
    "LocalFile",
    "SchemaError",
    "Seconds",
    "build_field_options",
    "file_value",
    "input_schema",
    "resolve",
]

_HELP_LIMIT = 400


class SchemaError(Exception):
    """The document does not describe an input the command line can build options for."""


@dataclass(frozen=True)
class LocalFile:
    """A local file given for a file field; uploaded before the request."""

    path: Path


def resolve(root: Mapping[str, Any], node: Any, *, depth: int = 0) -> dict[str, Any]:
    """Follow local ``$ref`` pointers (``#/components/schemas/X``, ``#/$defs/X``) to a schema.

    Keys written beside a ``$ref`` (``description``, ``default``) are kept over the target's.
    """
    if not isinstance(node, dict):
        return {}
    schema = cast("dict[str, Any]", node)
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    if depth > 32 or not ref.startswith("#/"):
        raise SchemaError(f"cannot follow $ref {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            raise SchemaError(f"dangling $ref {ref!r}")
        target = cast("dict[str, Any]", target)[part]
    siblings = {k: v for k, v in schema.items() if k != "$ref"}
    return {**resolve(root, target, depth=depth + 1), **siblings}


def input_schema(document: Mapping[str, Any], endpoint_id: str) -> dict[str, Any]:
    """The input schema of an endpoint's OpenAPI document (the submit request body)."""
    body: Any = document.get("paths")
    try:
        for key in (
            f"/{endpoint_id}",
            "post",
            "requestBody",
            "content",
            "application/json",
            "schema",
        ):
            body = body[key]
    except (KeyError, TypeError):
        raise SchemaError(f"the document has no POST /{endpoint_id} request body") from None
    schema = resolve(document, body)
    if schema.get("type", "object") != "object":
        raise SchemaError(f"the input of {endpoint_id} is not an object schema")
    return schema


# -- click parameter types -------------------------------------------------------------------


class JsonType(click.ParamType[Any]):
    """JSON text, parsed (objects, arrays, anything the schema does not make a scalar)."""

    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            self.fail(f"{value!r} is not valid JSON ({exc.args[0]})", param, ctx)


class ChoiceOrJsonType(click.ParamType[Any]):
    """One of the schema's named choices, or a JSON value for its other variants."""

    name = "choice-or-json"

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = list(choices)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(self.choices) + "|JSON]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or value in self.choices:
            return value
        try:
            return json.loads(value)
        except ValueError:
            self.fail(
                f"{value!r} is not one of {', '.join(self.choices)} nor a JSON value", param, ctx
            )


class TypedChoice(click.Choice[str]):
    """A choice among enum values that are not all strings (given as text, sent typed)."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = {_text(v): v for v in values}
        super().__init__(list(self.values))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return self.values[super().convert(value, param, ctx)]


class Seconds(click.ParamType[float]):
    """A finite number of seconds above 0. ``FloatRange`` lets NaN through (no comparison holds
    for it), which the library then refused under its own argument's name (``client_timeout``)
    instead of the option's."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            return finite_number(value, positive=True)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class FileType(click.ParamType[Any]):
    """A URL (``https:``, ``data:``...) sent as is, or a local file to upload."""

    name = "file"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "URL|PATH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return file_value(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def file_value(value: object) -> object:
    """A file field's value as given, judged by the library's rule for strings in file fields
    (``fal_typed.files._strings``): a URL or a name as is, a local file to upload (it must be a
    regular file), or a ValueError for a path to nothing."""
    if not isinstance(value, str):
        return value
    if value == "-":  # no endpoint knows a file called "-": sent as is, fal would fail, paid
        raise ValueError(
            "'-' is neither a URL nor a file (stdin is not read for file fields): save it to a "
            "file and give its path"
        )
    try:
        found = file_string(value)
    except FileInputError as exc:
        raise ValueError(exc.message) from None
    if isinstance(found, str):
        return found
    if not found.is_file():
        raise ValueError(f"{value!r} is not a regular file")
    return LocalFile(found)


# -- schema -> option --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldOption:
    """One input field as a command-line option."""

    field: str
    flag: str
    option: click.Option
    required: bool
    is_file: bool


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _variants(root: Mapping[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a schema (``anyOf``/``oneOf``/single ``allOf``), resolved."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            resolved = [resolve(root, o) for o in cast("list[object]", options)]
            return [v for v in resolved if v.get("type") != "null"]
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(cast("list[object]", all_of)) == 1:
        return [resolve(root, cast("list[object]", all_of)[0])]
    return [schema]


def _enum(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return list(cast("list[object]", values)) if isinstance(values, list) else None


def _number_type(schema: Mapping[str, Any], integer: bool) -> click.ParamType[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open = high_open = False
    if isinstance(schema.get("exclusiveMinimum"), (int, float)) and not isinstance(
        schema.get("exclusiveMinimum"), bool
    ):
        low, low_open = schema["exclusiveMinimum"], True
    if isinstance(schema.get("exclusiveMaximum"), (int, float)) and not isinstance(
        schema.get("exclusiveMaximum"), bool
    ):
        high, high_open = schema["exclusiveMaximum"], True
    if schema.get("exclusiveMinimum") is True:
        low_open = True
    if schema.get("exclusiveMaximum") is True:
        high_open = True
    if low is None and high is None:
        return click.INT if integer else click.FLOAT
    if (
        integer
        and not low_open
        and not high_open
        and all(isinstance(b, int) or b is None for b in (low, high))
    ):
        return click.IntRange(low, high)
    return click.FloatRange(low, high, min_open=low_open, max_open=high_open)


def _scalar_type(
    name: str, schema: dict[str, Any], variants: list[dict[str, Any]]
) -> click.ParamType[Any] | None:
    """The click type of a one-value field, or None when it is not a scalar (JSON then)."""
    if len(variants) > 1:
        enums = [_enum(v) for v in variants]
        named = [e for e in enums if e is not None]
        if len(named) == len(variants):
            return TypedChoice([value for e in named for value in e])
        strings = [value for e in named for value in e if isinstance(value, str)]
        if strings:
            return ChoiceOrJsonType(strings)
        kinds = {v.get("type") for v in variants}
        if kinds <= {"integer", "number"}:
            return click.FLOAT
        return None
    variant = variants[0] if variants else schema
    enum = _enum(variant)
    if enum is not None:
        return (
            TypedChoice(enum)
            if not all(isinstance(v, str) for v in enum)
            else click.Choice([str(v) for v in enum])
        )
    kind = variant.get("type")
    if kind == "string":
        if is_file_field(name) or variant.get("format") == "uri":
            return FileType()
        return click.STRING
    if kind == "integer":
        return _number_type(variant, integer=True)
    if kind == "number":
        return _number_type(variant, integer=False)
    if kind == "boolean":
        return click.BOOL
    return None


def _classify(
    root: Mapping[str, Any], field: str, prop: dict[str, Any]
) -> tuple[click.ParamType[Any], bool]:
    """The click type of a field and whether it repeats (an array); JSON when unsure."""
    try:
        variants = _variants(root, prop)
        is_list = len(variants) == 1 and variants[0].get("type") == "array"
        if not is_list:
            return _scalar_type(field, prop, variants) or JsonType(), False
        items = resolve(root, variants[0].get("items"))
        return _scalar_type(field, items, _variants(root, items)) or JsonType(), True
    except SchemaError:  # a dangling $ref upstream: accept JSON and let fal judge it
        return JsonType(), False


def _help(schema: Mapping[str, Any], required: bool, is_list: bool) -> str:
    text = " ".join(str(schema.get("description") or schema.get("title") or "").split())
    if len(text) > _HELP_LIMIT:
        text = text[: _HELP_LIMIT - 1].rstrip() + "\u2026"
    extras: list[str] = []
    if is_list:
        extras.append("repeatable")
    if schema.get("default") is not None:  # a null default means "not sent": nothing to show
        default = schema["default"]
        extras.append(f"default: {_text(default) if default != '' else json.dumps(default)}")
    if required:
        extras.append("required")
    return text + (f"  [{'; '.join(extras)}]" if extras else "")


def _ordered(schema: Mapping[str, Any]) -> list[str]:
    properties = cast("dict[str, Any]", schema.get("properties") or {})
    required = [r for r in cast("list[Any]", schema.get("required") or []) if r in properties]
    order = [
        o for o in cast("list[Any]", schema.get("x-fal-order-properties") or []) if o in properties
    ]
    return list(dict.fromkeys([*required, *order, *properties]))


def _flag(field: str, reserved: Collection[str], taken: set[str]) -> str:
    flag = "--" + field.replace("_", "-")
    if flag in reserved or flag in taken:
        flag = "--field-" + field.replace("_", "-")
    if flag in reserved or flag in taken:
        flag = "--field-" + field
    return flag


def build_field_options(
    root: Mapping[str, Any], schema: Mapping[str, Any], *, reserved: Collection[str] = ()
) -> list[FieldOption]:
    """One option per input field: required first, then ``x-fal-order-properties`` order.

    ``reserved`` holds flags the command already uses; a field whose flag is taken is offered
    as ``--field-<name>`` instead.
    """
    properties = cast("dict[str, Any]", schema.get("properties") or {})
    required = {r for r in cast("list[Any]", schema.get("required") or []) if isinstance(r, str)}
    taken: set[str] = set()
    result: list[FieldOption] = []
    for index, field in enumerate(_ordered(schema)):
        raw = (
            cast("dict[str, Any]", properties[field]) if isinstance(properties[field], dict) else {}
        )
        try:
            prop = resolve(root, raw)
        except SchemaError:
            prop = {k: v for k, v in raw.items() if k != "$ref"}
        param_type, is_list = _classify(root, field, prop)
        flag = _flag(field, reserved, taken)
        taken.add(flag)
        name = f"field_{index}"
        help_text = _help(prop, field in required, is_list)
        option: click.Option
        if param_type is click.BOOL and not is_list:
            negative = "--no-" + flag[2:]
            option = click.Option([f"{flag}/{negative}", name], default=None, help=help_text)
        else:
            option = click.Option(
                [flag, name], type=param_type, multiple=is_list, default=None, help=help_text
            )
        result.append(
            FieldOption(field, flag, option, field in required, isinstance(param_type, FileType))
        )
    return result
