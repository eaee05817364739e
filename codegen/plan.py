"""Stage 3: decide everything about one module: names, input/output split, file fields, signatures.

The two sides get different models from the same components:

- Input side, strict: classes derive from ``fal_typed.InputModel`` (unknown fields rejected) and
  keep every constraint of the schema.
- Output side, lenient: classes derive from ``fal_typed.OutputModel`` (unknown fields kept), or
  from ``fal_typed.FileOutput`` when they describe a file (a ``url`` plus ``content_type``,
  ``file_name``, ``file_size``, ``width`` or ``height``); enums become ``Literal[...] | str`` and
  numeric/string/array constraints are dropped, so a result already paid for always parses.

A component used on both sides becomes two classes: the input one keeps the schema name, the
output one gets the suffix ``Output``. Class names are unique in the module and never shadow a
name the module imports or defines.

File fields are the fields of input-side classes (top-level or nested) named ``url`` or ``*_url``
holding a string, or ``*_urls`` holding an array of strings (either may be nullable). Every field of
the corpus carrying a file marker (``_fal_ui_field``, ``x-fal.max_file_size``, ``format: uri``)
follows this naming, so the name is the rule. Their strings are typed ``fal_typed.FileInput`` in
the models and the signatures alike (a URL, or a local file the call uploads); the length limits
and pattern a URL string may carry are left to the server, since a local file has none of them.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fal_typed.naming import module_name

from .calls import RESERVED_KEYWORDS
from .normalise import REF_PREFIX, Metadata, NormalisedDocument, Schema, class_name, pascal, words
from .source_text import Unwritable, identifier, literal

__all__ = ["FieldPlan", "ModulePlan", "lenient", "plan"]

INPUT_BASE = "fal_typed.InputModel"
OUTPUT_BASE = "fal_typed.OutputModel"
FILE_OUTPUT_BASE = "fal_typed.FileOutput"
FILE_INPUT = "fal_typed.FileInput"
_URL_LIMITS = frozenset({"minLength", "maxLength", "pattern", "format"})

_FILE_KEYS = frozenset({"content_type", "file_name", "file_size", "width", "height"})
_OUTPUT_CONSTRAINTS = frozenset({
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties",
})  # fmt: skip
_JSON_TYPES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}

# Names a generated module imports or defines at top level: no model class may take them.
RESERVED_NAMES: frozenset[str] = frozenset(
    {
        "Annotated", "Any", "AsyncRealtime", "AsyncRealtimeConnection", "AsyncRequestHandle",
        "AsyncStream", "Callable", "Client", "ConfigDict", "Endpoint", "Field", "FileInput",
        "FileOutput", "Final", "Input", "InputModel", "Literal", "Mapping", "Output",
        "OutputModel", "Realtime", "RealtimeConnection", "RequestHandle", "RootModel", "Status",
        "Stream", "TYPE_CHECKING", "TypeAlias", "WebhookBody", "WebhookResult", "WebhookVerifier",
        "annotations", "endpoint", "endpoint_id", "overload", "keyword_call", "NOT_GIVEN",
    }
    | {
        f"{name}{suffix}"
        for name in (
            "subscribe", "submit", "run", "stream", "status", "result", "cancel", "handle",
            "realtime", "parse_webhook",
        )
        for suffix in ("", "_async")
    }
    | set(dir(builtins))
)  # fmt: skip


@dataclass(frozen=True)
class FieldPlan:
    """One top-level input field as the call signatures show it.

    ``keyword`` is the argument name (the field name unless that is reserved by a call option,
    then ``<name>_``); ``default`` is the Python source shown as the default (the schema's when
    it is a literal that type-checks, else ``None`` where the schema allows null and
    ``NOT_GIVEN`` elsewhere; None for required fields). Defaults are documentation: a call sends
    only the fields given. ``nullable`` says whether the schema allows null (the model types
    every optional field ``| None``, the signature only these); ``file`` marks file fields;
    ``schema`` is the field's cleaned schema (the docstrings read its bounds and values).
    """

    name: str
    keyword: str
    required: bool
    default: str | None
    nullable: bool
    description: str
    file: Literal["one", "many"] | None
    schema: Schema


@dataclass(frozen=True)
class ModulePlan:
    """Everything the renderer needs for one endpoint module."""

    source: str
    module: str
    metadata: Metadata
    input_class: str
    output_class: str
    components: dict[str, Schema]
    base_classes: dict[str, str]
    aliases: dict[str, str]
    fields: tuple[FieldPlan, ...]
    open_input: bool
    warnings: tuple[str, ...]


def plan(doc: NormalisedDocument, source: str) -> ModulePlan:
    """Plan the module for one normalised document."""
    endpoint_id = doc.metadata.endpoint_id
    module = module_name(endpoint_id)
    stem = pascal(module)
    input_class, output_class = f"{stem}Input", f"{stem}Output"
    taken = set(RESERVED_NAMES) | {input_class, output_class}

    input_side = _reachable(doc.components, doc.input_name)
    output_side = _reachable(doc.components, doc.output_name)
    input_names = {doc.input_name: input_class}
    for name in sorted(input_side - {doc.input_name}):
        input_names[name] = class_name(name, taken)
    output_names = {doc.output_name: output_class}
    for name in sorted(output_side - {doc.output_name}):
        output_names[name] = class_name(f"{name}Output" if name in input_side else name, taken)

    components: dict[str, Schema] = {}
    bases: dict[str, str] = {}
    for name, final in input_names.items():
        components[final] = _rename_refs(doc.components[name], input_names)
        bases[final] = INPUT_BASE
    for name, final in output_names.items():
        schema = lenient(_rename_refs(doc.components[name], output_names))
        components[final] = schema
        bases[final] = FILE_OUTPUT_BASE if _is_file(schema) else OUTPUT_BASE

    for final, role in ((input_class, "Input"), (output_class, "Result")):
        own = components[final].get("description")
        lead = f"{role} of `{endpoint_id}`."
        components[final] = {
            **components[final],
            "description": f"{lead}\n\n{own}" if own else lead,
        }

    warnings = list(doc.warnings)
    for name, schema in components.items():
        components[name] = _drop_invalid_defaults(schema, components, name, warnings)
        if bases[name] == INPUT_BASE:
            components[name] = _with_file_inputs(components[name])
    root = components[input_class]
    fields = tuple(_fields(root, components))
    aliases = {f"{input_class}.{f.name}": f.keyword for f in fields if f.keyword != f.name}
    open_input = root.get("additionalProperties") is True and not root.get("properties")
    return ModulePlan(
        source=source,
        module=module,
        metadata=doc.metadata,
        input_class=input_class,
        output_class=output_class,
        components=components,
        base_classes=bases,
        aliases=aliases,
        fields=fields,
        open_input=open_input,
        warnings=tuple(warnings),
    )


def _refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield ref[len(REF_PREFIX) :]
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


def _reachable(components: dict[str, Schema], root: str) -> set[str]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(components[name]))
    return seen


def _rename_refs(schema: Any, names: dict[str, str]) -> Any:
    if isinstance(schema, dict):
        out = {key: _rename_refs(value, names) for key, value in schema.items()}
        if isinstance(schema.get("$ref"), str):
            out["$ref"] = REF_PREFIX + names[schema["$ref"][len(REF_PREFIX) :]]
        if key_mapping := (schema.get("discriminator") or {}).get("mapping"):
            out["discriminator"] = {
                **schema["discriminator"],
                "mapping": {
                    tag: REF_PREFIX + names[ref[len(REF_PREFIX) :]]
                    for tag, ref in key_mapping.items()
                },
            }
        return out
    if isinstance(schema, list):
        return [_rename_refs(item, names) for item in schema]
    return schema


def lenient(schema: Any) -> Any:
    """The output-side form of a schema: open enums, no value constraints."""
    if not isinstance(schema, dict):
        return schema
    out: Schema = {}
    for key, value in schema.items():
        if key in _OUTPUT_CONSTRAINTS:
            continue
        if key == "properties":
            out[key] = {name: lenient(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = lenient(value)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            out[key] = [lenient(sub) for sub in value]
        else:
            out[key] = value
    enum = out.get("enum")
    if isinstance(enum, list):
        kinds = {_JSON_TYPES.get(type(value)) for value in enum if value is not None}
        if len(kinds) == 1 and None not in kinds:
            (kind,) = kinds
            docs: Schema = {k: out.pop(k) for k in ("description", "default") if k in out}
            branches: list[Schema] = [out, {"type": kind}]
            if None in enum:
                branches.append({"type": "null"})
            out = {"anyOf": branches, **docs}
    return out


def _drop_invalid_defaults(
    schema: Schema, components: dict[str, Schema], where: str, warnings: list[str]
) -> Schema:
    """Remove property defaults that contradict their own schema (``4`` for the enum ``"1" | "4"``):
    written into a model they would not type-check, and the server applies its own anyway."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    kept: dict[str, Schema] = {}
    for name, prop in properties.items():
        if (
            isinstance(prop, dict)
            and "default" in prop
            and not _accepts(prop, prop["default"], components)
        ):
            warnings.append(
                f"default {prop['default']!r} of {where}.{name} does not fit its schema: dropped"
            )
            prop = {key: value for key, value in prop.items() if key != "default"}
        kept[name] = prop
    return {**schema, "properties": kept}


def _is_file(schema: Schema) -> bool:
    properties = schema.get("properties") or {}
    return "url" in properties and not _FILE_KEYS.isdisjoint(properties)


def _fields(root: Schema, components: dict[str, Schema]) -> Iterator[FieldPlan]:
    required = set(root.get("required") or ())
    properties: dict[str, Schema] = root.get("properties") or {}
    keywords = _keywords(list(properties))
    for name, schema in properties.items():
        is_required = name in required
        nullable = _accepts(schema, None, components)
        default = None
        if not is_required:
            default = _default_source(schema, components) or ("None" if nullable else "NOT_GIVEN")
        yield FieldPlan(
            name=name,
            keyword=keywords[name],
            required=is_required,
            default=default,
            nullable=nullable,
            description=_description(schema, components),
            file=_file_kind(name, schema),
            schema=schema,
        )


def _usable_keyword(name: str) -> bool:
    """Whether a field name can be its own argument name: an ASCII identifier (Python reads
    identifiers NFKC-normalised: two distinct non-ASCII names could name one argument) that is no
    keyword and no call option."""
    return (
        name.isascii()
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
        and name not in RESERVED_KEYWORDS
    )


def _keywords(names: list[str]) -> dict[str, str]:
    """The argument name of each field: its own name when Python and the call options allow it,
    else its ASCII words joined by ``_`` plus a trailing ``_`` (``a-b`` -> ``a_b_``, ``timeout``
    -> ``timeout_``), numbered when two fields would share one."""
    taken = {name for name in names if _usable_keyword(name)}
    chosen: dict[str, str] = {}
    for name in names:
        if _usable_keyword(name):
            chosen[name] = name
            continue
        ascii_name = name.isascii() and name.isidentifier()
        base = name if ascii_name else "_".join(w.lower() for w in words(name)) or "field"
        keyword_ = f"f_{base}_" if base[0].isdigit() else f"{base}_"
        unique, n = keyword_, 1
        while unique in taken:
            n += 1
            unique = f"{keyword_}{n}"
        taken.add(unique)
        chosen[name] = identifier(unique)
    return chosen


def _description(schema: Schema, components: dict[str, Schema]) -> str:
    if isinstance(schema.get("description"), str):
        return str(schema["description"])
    target = schema.get("$ref")
    if isinstance(target, str):
        return str(components[target[len(REF_PREFIX) :]].get("description", ""))
    return ""


def _without_null(schema: Schema) -> Schema:
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        rest: list[Schema] = [b for b in branches if b != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(branches):
            return rest[0]
    return schema


def _file_kind(name: str, schema: Schema) -> Literal["one", "many"] | None:
    value = _without_null(schema)
    if (name == "url" or name.endswith("_url")) and value.get("type") == "string":
        return "one"
    if (
        name.endswith("_urls")
        and value.get("type") == "array"
        and (value.get("items") or {}).get("type") == "string"
    ):
        return "many"
    return None


def _with_file_inputs(schema: Schema) -> Schema:
    """An input-side class schema whose file fields' strings are typed ``FileInput``."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    typed = {
        name: _as_file_field(prop, kind) if (kind := _file_kind(name, prop)) else prop
        for name, prop in properties.items()
    }
    return {**schema, "properties": typed}


def _as_file_field(schema: Schema, kind: Literal["one", "many"]) -> Schema:
    branches = schema.get("anyOf")
    if isinstance(branches, list) and _without_null(schema) is not schema:
        return {
            **schema,
            "anyOf": [b if b == {"type": "null"} else _as_file_field(b, kind) for b in branches],
        }
    if kind == "many":
        return {**schema, "items": _as_file_field(schema["items"], "one")}
    kept = {key: value for key, value in schema.items() if key not in _URL_LIMITS}
    return {**kept, "customTypePath": FILE_INPUT}


def _default_source(schema: Schema, components: dict[str, Schema]) -> str | None:
    """Python source of the schema default if it is a literal that type-checks, else None."""
    if "default" not in schema:
        return None
    value = schema["default"]
    simple = value is None or isinstance(value, (str, int, float, bool))
    if isinstance(value, list):
        simple = all(item is None or isinstance(item, (str, int, float, bool)) for item in value)
    if simple and _accepts(schema, value, components):
        try:
            return literal(value)
        except Unwritable:  # normalise drops these; never write one that has no literal
            return None
    return None


def _accepts(schema: Any, value: Any, components: dict[str, Schema]) -> bool:
    """Whether ``value`` fits ``schema`` the way the generated annotation will type it."""
    if not isinstance(schema, dict) or not schema.keys() - {"description", "default"}:
        return True
    if isinstance(schema.get("$ref"), str):
        return _accepts(components[schema["$ref"][len(REF_PREFIX) :]], value, components)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return any(_accepts(branch, value, components) for branch in schema[key])
    if "const" in schema:
        return _same(value, schema["const"])
    if isinstance(schema.get("enum"), list):
        return any(_same(value, option) for option in schema["enum"])
    kinds = schema.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if kind == "array":
            items = schema.get("items")
            if isinstance(value, list) and all(_accepts(items, item, components) for item in value):
                return True
        elif _SCALAR_CHECKS.get(kind, lambda _: False)(value):
            return True
    return False


_SCALAR_CHECKS: dict[Any, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
}


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
