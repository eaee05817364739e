"""Stage 2: repair one fal OpenAPI document into clean, self-consistent JSON Schema components.

The corpus carries upstream defects (see ``schemas/README.md``); each is repaired here, so the
later stages see one dialect (JSON Schema as OpenAPI 3.1 uses it) and never guess:

- The endpoint input is the POST requestBody ``$ref`` and the output the result GET's ``$ref``:
  a component whose name ends in ``Input`` is not necessarily the input.
- A dangling ``$ref`` becomes ``{}`` (Any) with a warning; a dangling input or output becomes an
  open object, so the endpoint stays callable. So does a ``$ref`` that closes a cycle of
  references and unions alone (``A = B``, ``B = A | None``: no value has that type, and every
  stage that follows it would loop); a cycle through a property or an item is a recursive model.
- ``nullable: true`` (OpenAPI 3.0) becomes ``anyOf [..., {"type": "null"}]``; an ``allOf`` of one
  schema becomes that schema, keeping the sibling description and default; boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` become numeric bounds; an array without ``items``
  gets ``items: {}``.
- Component names that are not Pascal-case identifiers (``Audio-Output``, ``SanaV151.6bInput``)
  are made so, unique in the document; inline objects are hoisted into named components, so
  every generated class has a chosen name and base class.
- Properties are ordered required first, then ``x-fal-order-properties``, then the rest.
- Descriptions are dedented and stripped, control characters and escape sequences removed
  (:func:`codegen.source_text.plain_text`); ``deprecated`` is stated in the description.
- A keyword whose value the models could not hold is dropped with a warning, so every module
  imports: a number Python cannot write as a literal (``1e400``, ``Infinity``, ``NaN``, an
  integer of over 4,000 digits) in a bound, default, enum or const; a bound or length that is
  not a number or a count; an enum or const of anything but scalars; a ``pattern`` that Python's ``re`` or pydantic's default (Rust)
  regex engine does not compile (the server still checks it). The endpoint id must fit
  :func:`fal_typed.naming.check_endpoint_id`, or the document is refused.
- A default that is an object (or a list holding objects or lists) cannot be written as a
  type-correct Python default of a model-typed field, so it is stated in the description instead
  (input defaults are documentation anyway: calls send only what the caller gave).
- Everything else (titles, examples, ``format``, UI hints, ``x-fal`` extensions) is dropped:
  fal sends ``format: binary`` as base64 or URL strings and accepts ``data:`` URIs for ``uri``.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, cast

from fal_typed.naming import check_endpoint_id

from .diagnostics import DocumentError
from .source_text import Unwritable, literal, plain_text

__all__ = [
    "REF_PREFIX",
    "Metadata",
    "NormalisedDocument",
    "Schema",
    "class_name",
    "clean_text",
    "move_structured_default",
    "normalise",
    "pascal",
    "words",
]

Schema = dict[str, Any]

REF_PREFIX = "#/components/schemas/"

# Keywords copied through as they are (validation and documentation that the models use).
_PLAIN_KEYWORDS = frozenset({
    "type", "enum", "const", "default", "required",
    "minimum", "maximum", "multipleOf", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
})  # fmt: skip
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "multipleOf"})
_COUNT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)
_VALUE_KEYWORDS = frozenset({"default", "enum", "const"})
_MAX_COUNT = 2**63 - 1  # pydantic-core holds lengths in 64 bits
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_CLASS_NAME = re.compile(r"[A-Z][0-9A-Za-z]*")


@dataclass(frozen=True)
class Metadata:
    """What the document says about its endpoint (``info.x-fal-metadata``)."""

    endpoint_id: str
    category: str
    about: str
    playground_url: str | None
    documentation_url: str | None


@dataclass(frozen=True)
class NormalisedDocument:
    """Clean components reachable from the input and output, keyed by identifier names."""

    metadata: Metadata
    input_name: str
    output_name: str
    components: dict[str, Schema]
    warnings: tuple[str, ...]


def normalise(data: Mapping[str, Any]) -> NormalisedDocument:
    """Repair one document (see the module docstring); raise DocumentError if it is unusable."""
    metadata = _metadata(data)
    raw = _dig(data, "components", "schemas")
    if not isinstance(raw, dict):
        raise DocumentError("no components.schemas")
    input_ref, output_ref = _root_refs(data)
    return _Normaliser(metadata, raw).run(input_ref, output_ref)


def clean_text(text: str) -> str:
    """Dedent a description (fal's are indented Python docstrings) and strip its edges; control
    characters and escape sequences go, every line break becomes ``\\n``."""
    lines = inspect.cleandoc(plain_text(text)).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip()


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _metadata(data: Mapping[str, Any]) -> Metadata:
    meta = _dig(data, "info", "x-fal-metadata")
    endpoint_id = _dig(meta, "endpointId")
    if not isinstance(endpoint_id, str) or not endpoint_id:
        raise DocumentError("no info.x-fal-metadata.endpointId")
    try:
        check_endpoint_id(endpoint_id)
    except ValueError as exc:
        raise DocumentError(str(exc)) from None

    def text(key: str) -> str | None:
        value = _dig(meta, key)
        return clean_text(value) if isinstance(value, str) and value.strip() else None

    about = text("about") or text("description") or ""
    return Metadata(
        endpoint_id=endpoint_id,
        category=text("category") or "unknown",
        about=about,
        playground_url=text("playgroundUrl"),
        documentation_url=text("documentationUrl"),
    )


def _component_ref(ref: Any, where: str) -> str:
    if not isinstance(ref, str) or not ref.startswith(REF_PREFIX):
        raise DocumentError(f"{where} is not a components/schemas $ref: {ref!r}")
    return ref[len(REF_PREFIX) :]


def _root_refs(data: Mapping[str, Any]) -> tuple[str, str]:
    paths = _dig(data, "paths")
    if not isinstance(paths, dict):
        raise DocumentError("no paths")
    input_ref = output_ref = None
    for path, item in paths.items():
        body = _dig(item, "post", "requestBody", "content", "application/json", "schema", "$ref")
        if body is not None and input_ref is None:
            input_ref = _component_ref(body, f"POST {path} requestBody")
        if isinstance(path, str) and path.endswith("/requests/{request_id}"):
            result = _dig(item, "get", "responses", "200", "content", "application/json", "schema")
            output_ref = _component_ref(_dig(result, "$ref"), f"GET {path} response")
    if input_ref is None:
        raise DocumentError("no POST path with a requestBody $ref (the endpoint input)")
    if output_ref is None:
        raise DocumentError("no GET .../requests/{request_id} path with a 200 $ref (the output)")
    return input_ref, output_ref


def class_name(name: str, taken: set[str]) -> str:
    """``name`` if it is a Pascal-case identifier (``ImageSize``), else its alphanumeric words
    in Pascal case (``Audio-Output`` -> ``AudioOutput``, ``registry__models__Image`` ->
    ``RegistryModelsImage``), suffixed with a number if ``taken`` holds it; added to ``taken``.

    datamodel-code-generator would Pascal-case any other class name itself, so choosing the
    final form here keeps every name the later stages key on (base classes, aliases) exact.
    """
    if not _CLASS_NAME.fullmatch(name):
        name = pascal(name) or "Schema"
        if name[0].isdigit():
            name = "Schema" + name
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}{n}"
    taken.add(unique)
    return unique


def words(name: str) -> list[str]:
    """The alphanumeric runs of ``name``: ``"fal-ai_flux-2"`` -> ``["fal", "ai", "flux", "2"]``."""
    return [w for w in _NON_ALNUM.split(name) if w]


def pascal(name: str) -> str:
    """``"video_size"`` -> ``"VideoSize"`` (the rest of each word keeps its case)."""
    return "".join(w[:1].upper() + w[1:] for w in words(name))


class _Normaliser:
    """Walks the components reachable from the two roots, cleaning and renaming as it goes."""

    def __init__(self, metadata: Metadata, raw: dict[str, Any]) -> None:
        self.metadata = metadata
        self.raw = raw
        self.taken: set[str] = set()
        self.names = {name: class_name(name, self.taken) for name in raw}
        self.components: dict[str, Schema] = {}
        self.pending: list[str] = []
        self.warnings: list[str] = []

    def run(self, input_ref: str, output_ref: str) -> NormalisedDocument:
        input_name = self._root(input_ref, "input")
        output_name = self._root(output_ref, "output")
        while self.pending:
            raw_name = self.pending.pop()
            self.components[self.names[raw_name]] = self._clean(
                self.raw[raw_name], self.names[raw_name], root=True
            )
        for name, target in _alias_cycles(self.components):
            self.components[name] = _without_alias_refs(self.components[name], target)
            self.warnings.append(
                f"$ref cycle: {name} is {target} through references and unions alone, which "
                f"holds no value; its $ref to {target} typed as Any"
            )
        ordered = {name: self.components[name] for name in sorted(self.components)}
        return NormalisedDocument(
            self.metadata, input_name, output_name, ordered, tuple(self.warnings)
        )

    def _root(self, ref: str, side: str) -> str:
        """The input or output component; a missing or empty one becomes an open object."""
        target = self._ref(REF_PREFIX + ref, f"the {side}")
        if target is not None and self.raw[ref]:
            return target
        if target is None:
            target = class_name(ref, self.taken)
            problem = "is missing"
        else:
            if ref in self.pending:  # not when the input's empty schema is the output's too
                self.pending.remove(ref)
            self.warnings.append(f"the {side} schema {ref!r} is empty: typed as an open object")
            problem = "is empty"
        self.components[target] = {
            "type": "object",
            "additionalProperties": True,
            "description": f"The document's {side} schema {problem}: any fields are accepted.",
        }
        return target

    def _ref(self, ref: Any, where: str) -> str | None:
        """The clean name a ``$ref`` points to (queued for cleaning), or None if it dangles."""
        raw_name = (
            ref[len(REF_PREFIX) :] if isinstance(ref, str) and ref.startswith(REF_PREFIX) else None
        )
        if raw_name is None or raw_name not in self.raw:
            self.warnings.append(f"dangling $ref {ref!r} in {where} typed as Any")
            return None
        name = self.names[raw_name]
        if name not in self.components and raw_name not in self.pending:
            self.components[name] = {}  # placeholder: reserves the name while queued
            self.pending.append(raw_name)
        return name

    def _clean(self, schema: Any, where: str, *, root: bool = False) -> Schema:
        if not isinstance(schema, dict):
            return {}  # `true` or garbage: accept anything
        if "$ref" in schema:
            target = self._ref(schema["$ref"], where)
            out: Schema = {"$ref": REF_PREFIX + target} if target else {}
            self._copy_docs(schema, out, where)
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            out = self._clean(schema["allOf"][0], where)
            self._copy_docs(schema, out, where)
        else:
            out = self._clean_keywords(schema, where)
        if schema.get("nullable") is True and out:
            out = _with_null(out)
        if schema.get("deprecated") is True:
            description = out.get("description", "")
            if not description.lower().startswith("deprecated"):
                out["description"] = f"Deprecated. {description}".strip()
        if "properties" in out and not root:
            return self._hoist(out, where)
        return out

    def _copy_docs(self, schema: Mapping[str, Any], out: Schema, where: str) -> None:
        """Keep the description and default written beside a ``$ref`` or single ``allOf``."""
        if isinstance(schema.get("description"), str) and (
            text := clean_text(schema["description"])
        ):
            out["description"] = text
        if "default" in schema and self._usable("default", schema["default"], where):
            out["default"] = schema["default"]
        move_structured_default(out)

    def _usable(self, key: str, value: Any, where: str) -> bool:
        """Whether the keyword can go into a model; if not, say so (it is dropped)."""
        problem = _keyword_problem(key, value)
        if problem is not None:
            self.warnings.append(f"{key} of {where} {problem}: dropped")
        return problem is None

    def _clean_keywords(self, schema: Mapping[str, Any], where: str) -> Schema:
        out: Schema = {}
        for key, value in schema.items():
            if key in _PLAIN_KEYWORDS:
                if self._usable(key, value, where):
                    out[key] = value
            elif key == "description" and isinstance(value, str) and (text := clean_text(value)):
                out[key] = text
            elif key == "properties" and isinstance(value, dict):
                out[key] = self._properties(schema, value, where)
            elif key == "items":
                out[key] = self._clean(value, f"{where}Item")
            elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
                out[key] = [self._clean(item, where) for item in value]
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self._clean(value, f"{where}Value")
            elif key == "discriminator" and isinstance(value, dict):
                self._discriminator(value, where, out)
        for bound in ("Minimum", "Maximum"):
            exclusive = schema.get(f"exclusive{bound}")
            if exclusive is True and f"{bound.lower()}" in out:
                out[f"exclusive{bound}"] = out.pop(bound.lower())
            elif _is_number(exclusive) and self._usable(f"exclusive{bound}", exclusive, where):
                out[f"exclusive{bound}"] = exclusive
        if out.get("type") == "array" and "items" not in out and "prefixItems" not in out:
            out["items"] = {}
        if (
            out.get("type") == "object"
            and "properties" not in out
            and "additionalProperties" not in out
        ):
            # JSON Schema's default, made explicit: without it the model would read as closed.
            out["additionalProperties"] = True
        move_structured_default(out)
        return out

    def _properties(
        self, schema: Mapping[str, Any], properties: dict[str, Any], where: str
    ) -> Schema:
        listed = schema.get("required")
        required: list[Any] = listed if isinstance(listed, list) else []
        order = schema.get("x-fal-order-properties")
        position = {name: i for i, name in enumerate(order)} if isinstance(order, list) else {}
        names = sorted(
            properties, key=lambda n: (n not in required, position.get(n, len(position)))
        )
        return {name: self._clean(properties[name], pascal(name) or where) for name in names}

    def _discriminator(self, value: Mapping[str, Any], where: str, schema: Schema) -> None:
        """Copy a discriminator into ``schema`` (one naming no property is dropped)."""
        if not isinstance(value.get("propertyName"), str):
            self.warnings.append(f"discriminator of {where} names no property: dropped")
            return
        out: Schema = {"propertyName": value["propertyName"]}
        mapping = value.get("mapping")
        if isinstance(mapping, dict):
            targets = {tag: self._ref(ref, where) for tag, ref in mapping.items()}
            out["mapping"] = {tag: REF_PREFIX + name for tag, name in targets.items() if name}
        schema["discriminator"] = out

    def _hoist(self, schema: Schema, where: str) -> Schema:
        """Give an inline object a component of its own, so its class name and base are chosen."""
        name = class_name(pascal(where) or "Inline", self.taken)
        docs: Schema = {k: schema.pop(k) for k in ("description", "default") if k in schema}
        self.components[name] = schema
        return {"$ref": REF_PREFIX + name, **docs}


# Where a schema stands for its subschemas themselves (not for a property, an item or a value of
# them): a $ref reached only through these keys makes the schema an alias of its target.
_ALIAS_KEYS = ("anyOf", "oneOf", "allOf")


def _alias_refs(schema: object) -> Iterator[str]:
    """The component names ``schema`` is an alias of (its ``$ref``, and those of its unions)."""
    if not isinstance(schema, dict):
        return
    clean = cast(Schema, schema)
    ref = clean.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        yield ref[len(REF_PREFIX) :]
    for key in _ALIAS_KEYS:
        branches = clean.get(key)
        if isinstance(branches, list):
            for branch in cast(list[object], branches):
                yield from _alias_refs(branch)


def _alias_cycles(components: Mapping[str, Schema]) -> list[tuple[str, str]]:
    """The ``(component, target)`` references that close a cycle of aliases (``A = B``, ``B =
    A | None``): such a schema holds no value, and every stage that resolves it would loop for
    ever. A cycle through a property or an item (a tree) is a recursive model, and is kept."""
    done: set[str] = set()
    cuts: list[tuple[str, str]] = []
    for start in sorted(components):
        if start in done:
            continue
        path: list[str] = [start]
        todo: list[Iterator[str]] = [_alias_refs(components[start])]
        while todo:
            target = next(todo[-1], None)
            if target is None:
                done.add(path.pop())
                todo.pop()
            elif target in path:
                cuts.append((path[-1], target))
            elif target not in done and target in components:
                path.append(target)
                todo.append(_alias_refs(components[target]))
    return sorted(set(cuts))


def _without_alias_refs(schema: Schema, target: str) -> Schema:
    """``schema`` with its alias ``$ref`` to ``target`` (or those of its unions) made ``{}``."""
    if schema.get("$ref") == REF_PREFIX + target:
        return {k: v for k, v in schema.items() if k != "$ref"}
    out = dict(schema)
    for key in _ALIAS_KEYS:
        branches = out.get(key)
        if isinstance(branches, list):
            out[key] = [
                _without_alias_refs(cast(Schema, b), target) if isinstance(b, dict) else b
                for b in cast(list[object], branches)
            ]
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keyword_problem(key: str, value: Any) -> str | None:
    """Why a keyword's value cannot go into a model, or None if it can."""
    if key in _VALUE_KEYWORDS or key in _NUMBER_KEYWORDS or key.startswith("exclusive"):
        try:
            literal(value)
        except Unwritable as exc:
            return f"holds a number Python cannot write ({exc})"
    if key in _NUMBER_KEYWORDS or key.startswith("exclusive"):
        if not _is_number(value):
            return f"is not a number: {_short(value)}"
        if key == "multipleOf" and value <= 0:
            return f"is not positive: {_short(value)}"
    elif key in _COUNT_KEYWORDS:
        if not (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT
        ):
            return f"is not a count: {_short(value)}"
    elif key == "pattern":
        return _pattern_problem(value)
    elif key == "enum" and not (
        isinstance(value, list) and value and all(_is_scalar(item) for item in value)
    ):  # a model writes an enum as Literal[...], which holds scalars only
        return f"is not a list of strings, numbers, booleans or nulls: {_short(value)}"
    elif key == "const" and not _is_scalar(value):
        # Literal[...] holds scalars only; and an object here is data, which every later stage
        # (and datamodel-code-generator) would walk as schema: {"$ref": ...} read as a reference.
        return f"is not a string, number, boolean or null: {_short(value)}"
    elif key == "required" and not (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ):
        return f"is not a list of names: {_short(value)}"
    elif key == "type" and not (
        isinstance(value, str)
        or (isinstance(value, list) and all(isinstance(item, str) for item in value))
    ):
        return f"is not a type name: {_short(value)}"
    elif key == "uniqueItems" and not isinstance(value, bool):
        return f"is not a boolean: {_short(value)}"
    return None


@cache
def _pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` cannot constrain a model field, or None.

    A pattern must compile in Python's ``re`` and in pydantic's default engine (Rust's regex,
    which has no lookarounds or backreferences): a model that holds it may be built with either,
    and one it cannot compile fails the module's import.
    """
    from pydantic import Field, TypeAdapter

    if not isinstance(pattern, str):
        return f"is not a string: {_short(pattern)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(pattern)
        except (re.error, ValueError, OverflowError, RecursionError) as exc:
            return f"{_short(pattern)} does not compile in Python's re ({exc})"
        try:
            TypeAdapter(Annotated[str, Field(pattern=pattern)])
        except Exception as exc:  # pydantic-core's SchemaError, or whatever its engine raises
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            return f"{_short(pattern)} is not accepted by pydantic ({reason.strip()})"
    return None


def _with_null(schema: Schema) -> Schema:
    docs: Schema = {k: schema.pop(k) for k in ("description", "default") if k in schema}
    branches = list(schema["anyOf"]) if set(schema) == {"anyOf"} else [schema]
    if {"type": "null"} not in branches:
        branches.append({"type": "null"})
    return {"anyOf": branches, **docs}


def move_structured_default(schema: Schema) -> None:
    """A default that is an object (or a list holding objects or lists) cannot be written as a
    type-correct Python default: state it in the description instead."""
    default = schema.get("default")
    structured = isinstance(default, dict) or (
        isinstance(default, list) and any(isinstance(item, (dict, list)) for item in default)
    )
    if structured:
        del schema["default"]
        text = f"Default: `{json.dumps(default, ensure_ascii=False)}`."
        schema["description"] = (
            f"{schema['description']}\n\n{text}" if schema.get("description") else text
        )
