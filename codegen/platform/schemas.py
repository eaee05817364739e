"""Stage 2: the document's inline schemas as named, deduplicated components.

Every schema of the Platform document is written inline (``components.schemas`` is empty), so
the generator names them. Each operation gets its root classes, named after its operationId:
``<Op>Params`` (path, query and header parameters), ``<Op>Body`` and ``<Op>Response``. Nested
objects become classes of their own, named after where they sit:

- a property's object: the property in Pascal case (``collection`` -> ``Collection``);
- an array's items: the property, singular (``prices`` -> ``Price``, ``entities`` -> ``Entity``);
- a map's values: the property + ``Value``; a union member: the value of its one-value enum
  (``estimate_type: "unit_price"`` -> ``...UnitPrice``), else ``Option<n>``.

Objects of identical structure (their own description aside, which stays on the field) are one
class, wherever they appear. When one name would stand for different structures, each is
qualified by the class that holds it (``ListRequestsByEndpoint`` + ``Item``). As in the
endpoint modules, the two sides differ: parameters and bodies are strict (``InputModel``, every
constraint kept), answers lenient (``OutputModel``, open enums, no value constraints), and a
structure used on both sides becomes two classes, the answer's suffixed ``Output``.

Schemas are cleaned on the way: texts dedented, ``deprecated`` stated in the description, a
structured default moved into the description, examples, titles and formats dropped (except
``date-time`` on the input side, so parameters like ``start`` accept a ``datetime``).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..normalise import (
    REF_PREFIX,
    Schema,
    class_name,
    clean_text,
    move_structured_default,
    pascal,
    words,
)
from ..plan import lenient

__all__ = ["INPUT_BASE", "OUTPUT_BASE", "RESERVED_NAMES", "Components", "Side", "singular"]

Side = Literal["input", "output"]
INPUT_BASE = "fal_typed.platform._models.InputModel"
OUTPUT_BASE = "fal_typed.platform._models.OutputModel"

# Names the generated modules import or define: no model class may take them.
RESERVED_NAMES: frozenset[str] = frozenset(
    {
        "Annotated", "Any", "AsyncIterator", "AsyncPlatform", "AwareDatetime", "Client",
        "ConfigDict", "Field", "FileContent", "Final", "InputModel", "Iterator", "Literal",
        "Mapping", "NOT_GIVEN", "NotGiven", "Operation", "OutputModel", "Platform", "RootModel",
        "TypeAlias", "annotations", "overload",
    }
    | set(dir(builtins))
)  # fmt: skip

_PLAIN_KEYWORDS = frozenset({
    "type", "enum", "const", "default", "required",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties",
})  # fmt: skip
_INPUT_FORMATS = frozenset({"date-time"})
_DOCS = ("description", "default")


def singular(name: str) -> str:
    """``prices`` -> ``price``, ``entities`` -> ``entity``, ``statuses`` -> ``status``; words
    that are not plurals (``time_series``, ``status``, ``children``) are kept."""
    *head, last = words(name) or [name]
    lower = last.lower()
    if lower.endswith("series") or lower.endswith(("ss", "us", "is")) or not lower.endswith("s"):
        single = last
    elif lower.endswith("ies"):
        single = last[:-3] + "y"
    elif lower.endswith(("sses", "uses", "xes", "ches", "shes")):
        single = last[:-2]
    else:
        single = last[:-1]
    return "_".join([*head, single])


def clean(schema: Any, side: Side) -> Schema:
    """The schema with only what the models use (see the module docstring)."""
    if not isinstance(schema, dict):
        return {}
    out: Schema = {}
    for key, value in schema.items():
        if key in _PLAIN_KEYWORDS:
            out[key] = value
        elif key == "description" and isinstance(value, str) and (text := clean_text(value)):
            out[key] = text
        elif key == "format" and side == "input" and value in _INPUT_FORMATS:
            out[key] = value
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: clean(sub, side) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = value if isinstance(value, bool) else clean(value, side)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [clean(sub, side) for sub in value]
    if isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1:
        (only,) = out.pop("allOf")
        out = {**only, **{k: v for k, v in out.items() if k in _DOCS}}
    if schema.get("deprecated") is True:
        description = out.get("description", "")
        if not description.lower().startswith("deprecated"):
            out["description"] = f"Deprecated. {description}".strip()
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = True  # JSON Schema's default, made explicit
    # With properties, the base class decides: InputModel forbids unknown fields, OutputModel
    # keeps them (an answer must never break on a field fal adds). Only an open input differs,
    # and its extra fields are not typed (pydantic can only type them through a private hack).
    if "properties" in out and "additionalProperties" in out:
        extra = out.pop("additionalProperties")
        if side == "input" and extra is not False:
            out["additionalProperties"] = True
    move_structured_default(out)
    return out


def _is_class(schema: Schema) -> bool:
    """Whether a schema becomes a class of its own (an object with properties)."""
    return isinstance(schema.get("properties"), dict) and bool(schema["properties"])


def _own(schema: Schema) -> Schema:
    """The schema without its own description and default (they stay beside the ``$ref``)."""
    return {key: value for key, value in schema.items() if key not in _DOCS}


@dataclass
class _Entry:
    """One distinct structure on one side: where it was first seen and what it is called."""

    side: Side
    structure: str
    candidate: str
    owner: _Entry | str  # the holding entry, or the stem of the root holding it
    schema: Schema
    name: str = ""


@dataclass
class _Root:
    name: str
    stem: str
    side: Side
    schema: Schema


@dataclass
class Components:
    """Collects the root schemas of every operation, then names and emits all classes."""

    roots: list[_Root] = field(default_factory=list[_Root])

    def add(self, name: str, stem: str, side: Side, schema: Any) -> None:
        """A root class ``name`` (its operation's ``stem``, for qualified names) on ``side``."""
        self.roots.append(_Root(name, stem, side, clean(schema, side)))

    def build(self) -> tuple[dict[str, Schema], dict[str, str]]:
        """Every component (name -> JSON Schema with ``$ref`` s) and each class's base class."""
        entries: dict[tuple[Side, str], _Entry] = {}
        for root in self.roots:
            for position in _positions(root.schema, root.stem, items=f"{root.name}Item"):
                self._collect(position, root.side, root.stem, entries)
        taken = set(RESERVED_NAMES) | {root.name for root in self.roots}
        _name(list(entries.values()), taken)
        components: dict[str, Schema] = {}
        bases: dict[str, str] = {}
        for root in self.roots:
            components[root.name] = self._emit(root.schema, root.side, entries, top=True)
            bases[root.name] = INPUT_BASE if root.side == "input" else OUTPUT_BASE
        for entry in entries.values():
            components[entry.name] = self._emit(entry.schema, entry.side, entries, top=True)
            bases[entry.name] = INPUT_BASE if entry.side == "input" else OUTPUT_BASE
        return components, bases

    def _collect(
        self,
        position: tuple[Schema, str],
        side: Side,
        owner: _Entry | str,
        entries: dict[tuple[Side, str], _Entry],
    ) -> None:
        schema, candidate = position
        if _is_class(schema):
            key = (side, _structure(schema))
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = _Entry(side, key[1], candidate, owner, _own(schema))
                for child in _positions(schema, ""):
                    self._collect(child, side, entry, entries)
            return
        for child in _positions(schema, candidate):
            self._collect(child, side, owner, entries)

    def _emit(
        self, schema: Schema, side: Side, entries: dict[tuple[Side, str], _Entry], *, top: bool
    ) -> Schema:
        if not top and _is_class(schema):
            target = entries[(side, _structure(schema))].name
            docs = {key: schema[key] for key in _DOCS if key in schema}
            return {"$ref": REF_PREFIX + target, **docs}
        out: Schema = {}
        for key, value in schema.items():
            if key == "properties":
                out[key] = {n: self._emit(s, side, entries, top=False) for n, s in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = self._emit(value, side, entries, top=False)
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                out[key] = [self._emit(s, side, entries, top=False) for s in value]
            else:
                out[key] = value
        return lenient(out) if side == "output" and top else out


def _structure(schema: Schema) -> str:
    """What makes two objects the same class: everything but their own description/default."""
    return json.dumps(_own(schema), sort_keys=True, ensure_ascii=False)


def _positions(
    schema: Schema, context: str, *, items: str | None = None
) -> Iterator[tuple[Schema, str]]:
    """The subschemas directly inside ``schema``, each with the name its class would take.

    ``context`` is the name of the place ``schema`` sits (a property's Pascal name, or the
    operation's stem for a root, whose array items are named ``items``); inside an object the
    properties name their own places.
    """
    for name, sub in (schema.get("properties") or {}).items():
        yield sub, pascal(name) or "Field"
    item = schema.get("items")
    if isinstance(item, dict):
        yield item, items or (pascal(singular(context)) if context else "Item")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield extra, f"{context}Value"
    for key in ("anyOf", "oneOf"):
        members = [m for m in schema.get(key) or [] if isinstance(m, dict)]
        objects = [m for m in members if _is_class(m)]
        for index, member in enumerate(members, 1):
            if _is_class(member) and len(objects) > 1:
                tag = _tag(member)
                yield member, f"{context}{pascal(tag) if tag else f'Option{index}'}"
            else:
                yield member, context


def _tag(schema: Schema) -> str | None:
    """The value of the member's one property with a single allowed value, if any."""
    found = [
        sub["enum"][0] if "enum" in sub else sub["const"]
        for sub in (schema.get("properties") or {}).values()
        if isinstance(sub, dict) and (("enum" in sub and len(sub["enum"]) == 1) or "const" in sub)
    ]
    return found[0] if len(found) == 1 and isinstance(found[0], str) else None


def _name(entries: list[_Entry], taken: set[str]) -> None:
    """Name every entry (in first-seen order, so holders are named before what they hold)."""
    structures_by_candidate: dict[str, set[str]] = {}
    sides: dict[str, set[Side]] = {}
    for entry in entries:
        structures_by_candidate.setdefault(entry.candidate, set()).add(entry.structure)
        sides.setdefault(entry.structure, set()).add(entry.side)
    both_sides = {structure for structure, seen in sides.items() if len(seen) == 2}
    for entry in entries:
        name = entry.candidate
        if len(structures_by_candidate[entry.candidate]) > 1:
            owner = entry.owner
            name = (owner if isinstance(owner, str) else owner.name) + name
        if entry.side == "output" and entry.structure in both_sides:
            name += "Output"
        entry.name = class_name(name, taken)
