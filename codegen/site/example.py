"""The example call of an endpoint page, built from the document's own examples.

fal's documents give example values per input field (``examples`` beside the field's schema; the
playground fills its form with them). The example call passes, in the signature's order:

- every required field: its first example, else its default, else a typed placeholder (a
  ``Path`` of the right kind for a file, the first allowed value of an enum, the lower bound of a
  number, ``"..."`` for text, a dict of the required fields of a nested model);
- every optional field whose first example differs from its default.

An example is used only if it validates against the field's schema (the same cleaned schema the
model is generated from): a page never shows a call the bindings would refuse.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..normalise import REF_PREFIX, Schema, _dig, _root_refs  # pyright: ignore[reportPrivateUsage]  (same package)
from ..plan import ModulePlan
from .fields import NO_DEFAULT, is_model, literal

__all__ = ["Example", "Placeholder", "example_call", "input_examples"]

_FILE_KINDS = (
    (("video", "clip", "movie"), "video.mp4"),
    (("audio", "voice", "speech", "music", "song", "sound"), "audio.mp3"),
    (("mask",), "mask.png"),
    (("image", "img", "photo", "picture", "frame", "face", "style", "reference"), "image.png"),
    (("mesh", "model", "glb", "obj", "3d"), "model.glb"),
    (("zip", "archive", "data", "dataset", "training"), "data.zip"),
)
_MAX_DEPTH = 4
_LINE = 72  # characters of a string literal's line in the example
_MAX_OPTIONAL_CHARS = 600  # an optional example longer than this (as source) is left out


@dataclass(frozen=True)
class Placeholder:
    """A value the reader must supply; ``source`` is how the example writes it."""

    source: str


@dataclass(frozen=True)
class Example:
    """The example call: its arguments (argument name -> value) and its source code."""

    module: str
    arguments: dict[str, Any] = field(default_factory=dict[str, Any])
    result_line: str = "print(out)"

    @property
    def source(self) -> str:
        head = f"from fal_endpoints import {self.module}\n"
        body = ",\n".join(
            f"    {name}={_argument(value)}" for name, value in self.arguments.items()
        )
        call = (
            f"out = {self.module}.subscribe(\n{body},\n)"
            if body
            else f"out = {self.module}.subscribe()"
        )
        imports = "from pathlib import Path\n\n" if "Path(" in body else ""
        return f"{imports}{head}\n{call}\n{self.result_line}\n"


def _argument(value: Any) -> str:
    """An argument's value; a long string is split at spaces into adjacent literals, one a line."""
    if not isinstance(value, str) or len(value) <= _LINE:
        return _source(value)
    chunks: list[str] = []
    current = ""
    for word in re.split(r"(?<= )", value):
        if current and len(current) + len(word) > _LINE:
            chunks.append(current)
            current = ""
        current += word
    chunks.append(current)
    if len(chunks) == 1:
        return _source(value)
    lines = "\n".join(f"        {literal(chunk)}" for chunk in chunks)
    return f"(\n{lines}\n    )"


def _source(value: Any) -> str:
    if isinstance(value, Placeholder):
        return value.source
    if isinstance(value, list) and any(isinstance(item, Placeholder) for item in value):
        return "[" + ", ".join(_source(item) for item in value) + "]"
    if isinstance(value, dict) and any(isinstance(v, Placeholder) for v in value.values()):
        return "{" + ", ".join(f"{literal(k)}: {_source(v)}" for k, v in value.items()) + "}"
    return literal(value)


def input_examples(document: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The ``examples`` of each top-level field of the document's input (the POST body), found
    the way the normalise stage finds the input."""
    input_ref, _ = _root_refs(document)
    properties = _dig(document, "components", "schemas", input_ref, "properties")
    if not isinstance(properties, dict):
        return {}
    return {
        name: list(examples)
        for name, schema in properties.items()
        if isinstance(examples := _dig(schema, "examples"), list) and examples
    }


def example_call(planned: ModulePlan, examples: Mapping[str, list[Any]]) -> Example:
    """The example call of ``planned`` (see the module docstring)."""
    components = planned.components
    root = components[planned.input_class]
    properties: dict[str, Schema] = root.get("properties") or {}
    arguments: dict[str, Any] = {}
    for plan_field in planned.fields:
        schema = properties.get(plan_field.name, {})
        given = [
            value
            for value in examples.get(plan_field.name, [])
            if _valid(value, schema, components)
        ]
        default = schema.get("default", NO_DEFAULT)
        if given and (plan_field.required or not _same(given[0], default)):
            if plan_field.required or len(literal(given[0])) <= _MAX_OPTIONAL_CHARS:
                arguments[plan_field.keyword] = given[0]
        elif plan_field.required:
            arguments[plan_field.keyword] = (
                default
                if default is not NO_DEFAULT
                else _placeholder(plan_field.name, schema, components, 0)
            )
    return Example(planned.module, arguments, _result_line(planned))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _valid(value: Any, schema: Schema, components: dict[str, Schema]) -> bool:
    validator = _validator_class()
    return validator({**schema, "components": {"schemas": components}}).is_valid(value)


@cache
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator


def _file_name(name: str) -> str:
    lowered = name.lower()
    for words, file_name in _FILE_KINDS:
        if any(word in lowered for word in words):
            return file_name
    return "input.bin"


def _placeholder(name: str, schema: Any, components: dict[str, Schema], depth: int) -> Any:
    """A value of the field's type that the reader replaces (valid where the type allows)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return Placeholder("...")
    if schema.get("customTypePath") == "fal_typed.FileInput":
        return Placeholder(f'Path("{_file_name(name)}")')
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref[len(REF_PREFIX) :] in components:
        target = components[ref[len(REF_PREFIX) :]]
        if is_model(target):
            required = set(target.get("required") or ())
            properties: dict[str, Any] = target.get("properties") or {}
            return {
                key: _placeholder(key, sub, components, depth + 1)
                for key, sub in properties.items()
                if key in required
            }
        return _placeholder(name, target, components, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            usable = [b for b in branches if isinstance(b, dict) and b != {"type": "null"}]
            enums = [b for b in usable if "enum" in b or "const" in b]
            return _placeholder(name, (enums or usable or [{}])[0], components, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        start = low if isinstance(low, (int, float)) and not isinstance(low, bool) else 1
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            start = start + 1 if kind == "integer" else start + 0.5
        return int(start) if kind == "integer" else float(start)
    if kind == "boolean":
        return False
    if kind == "array":
        items = schema.get("items", {})
        count = schema.get("minItems", 1)
        count = (
            count
            if isinstance(count, int) and not isinstance(count, bool) and 0 < count <= 4
            else 1
        )
        return [_placeholder(name, items, components, depth + 1) for _ in range(count)]
    if kind == "object":
        return {}
    return Placeholder('"..."')


@cache
def _model_attributes() -> frozenset[str]:
    from pydantic import BaseModel

    return frozenset(dir(BaseModel))


def _attribute(name: str) -> bool:
    """Whether a result field is read as ``out.<name>`` (an identifier no model method shadows)."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and name not in _model_attributes()
    )


def _result_line(planned: ModulePlan) -> str:
    """What the example does with the result: the first file's URL, else the first field."""
    output = planned.components[planned.output_class]
    properties: dict[str, Any] = output.get("properties") or {}
    required = set(output.get("required") or ())
    ordered = sorted(properties, key=lambda name: name not in required)
    for name in ordered:
        kind = _file_access(properties[name], planned)
        if kind is not None and _attribute(name):
            return f"print(out.{name}{kind}.url)"
    first = next((name for name in ordered if _attribute(name)), None)
    return f"print(out.{first})" if first else "print(out)"


def _file_access(schema: Any, planned: ModulePlan) -> str | None:
    """``""`` for a file field, ``"[0]"`` for a list of files (nullable ones excluded), else None."""
    if not isinstance(schema, dict):
        return None
    ref = schema.get("$ref")
    if (
        isinstance(ref, str)
        and planned.base_classes.get(ref[len(REF_PREFIX) :]) == "fal_typed.FileOutput"
    ):
        return ""
    items = schema.get("items")
    if (
        schema.get("type") == "array"
        and isinstance(items, dict)
        and _file_access(items, planned) == ""
    ):
        return "[0]"
    return None
