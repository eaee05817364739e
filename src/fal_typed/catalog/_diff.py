"""The API diff of two revisions of an endpoint's OpenAPI document: what changed for code.

fal changes its schemas every week. A refresh must say what it changed for code written against
the old bindings, not only which documents differ. :func:`diff_documents` walks the whole input
and output models of both revisions side by side (nested models, arrays, maps, unions, nullable
fields, file objects) and lists each :class:`Change`: a field added or removed, a type widened,
narrowed or changed, required <-> optional, enum values added or removed, a default, a range
(bounds, lengths, item counts, patterns), a model renamed, a description.

Each change gets an :class:`Impact`, judged by what the generated bindings do with it:

- **input** (what callers send; the models are strict): anything that makes an old call fail to
  type-check or be rejected (a removed field, a new required one, a narrower type, fewer enum
  values, a tighter range, a renamed nested model) is *breaking for callers*; a default change
  is a *behaviour change*: arguments left out are not sent, so fal's new default applies to
  code that did not change; widening is *compatible*.
- **output** (what readers parse; the models keep unknown fields, enums accept any string, value
  constraints are not checked): a removed field, a field no longer always present or a wider type
  is *breaking for readers*; additions, narrower types and enum changes are *compatible*; range
  changes do not reach the models and count as *docs*.
- descriptions, the endpoint's text and output ranges are *docs-only*.

A model used in several places is compared once per side, at the first place met in field order
(its changes are reported under that path). Documents are read leniently, like the generator:
``nullable``, ``allOf`` of one schema, type lists and dangling ``$ref`` s are understood.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from ._schema import COMPONENT_PREFIX, DANGLING, DOC_URI, normalise_components

__all__ = [
    "Bump",
    "Change",
    "ChangeKind",
    "EndpointDiff",
    "Impact",
    "Side",
    "diff_documents",
    "io_component_names",
]

Side = Literal["input", "output", "endpoint"]
Bump = Literal["major", "minor", "patch"]

_REF_PREFIX: Final = DOC_URI + COMPONENT_PREFIX
_MAX_DEPTH: Final = 64


class Impact(str, enum.Enum):
    """What a change means for code written against the old bindings, most severe first."""

    BREAKING_CALLERS = "breaking-callers"
    """Code calling the endpoint as before fails to type-check or is rejected."""
    BREAKING_READERS = "breaking-readers"
    """Code reading results as before fails to type-check or to parse a new result."""
    BEHAVIOUR = "behaviour"
    """The same code now does something else (a default fal applies to arguments left out)."""
    COMPATIBLE = "compatible"
    """Old code keeps working; new code can use more (an optional field, a wider type...)."""
    DOCS = "docs"
    """Only documentation changed (descriptions, or constraints the models do not check)."""

    @property
    def rank(self) -> int:
        """0 for the most severe impact, 4 for docs-only."""
        return _IMPACT_ORDER.index(self)

    @property
    def label(self) -> str:
        """How the changelog names this impact."""
        return _IMPACT_LABELS[self]

    @property
    def breaking(self) -> bool:
        return self in (Impact.BREAKING_CALLERS, Impact.BREAKING_READERS)


_IMPACT_ORDER: Final = tuple(Impact)
_IMPACT_LABELS: Final = {
    Impact.BREAKING_CALLERS: "breaking for callers",
    Impact.BREAKING_READERS: "breaking for readers",
    Impact.BEHAVIOUR: "behaviour change without code change",
    Impact.COMPATIBLE: "compatible",
    Impact.DOCS: "docs only",
}


class ChangeKind(str, enum.Enum):
    """What changed (the JSON name is the value)."""

    ENDPOINT_ADDED = "endpoint-added"
    ENDPOINT_REMOVED = "endpoint-removed"
    FIELD_ADDED = "field-added"
    FIELD_REMOVED = "field-removed"
    BECAME_REQUIRED = "became-required"
    BECAME_OPTIONAL = "became-optional"
    TYPE_WIDENED = "type-widened"
    TYPE_NARROWED = "type-narrowed"
    TYPE_CHANGED = "type-changed"
    ENUM_VALUES_ADDED = "enum-values-added"
    ENUM_VALUES_REMOVED = "enum-values-removed"
    DEFAULT_ADDED = "default-added"
    DEFAULT_REMOVED = "default-removed"
    DEFAULT_CHANGED = "default-changed"
    RANGE_WIDENED = "range-widened"
    RANGE_NARROWED = "range-narrowed"
    MODEL_RENAMED = "model-renamed"
    DESCRIPTION_CHANGED = "description-changed"


_K = ChangeKind
_I = Impact
_INPUT_IMPACT: Final[Mapping[ChangeKind, Impact]] = {
    _K.FIELD_REMOVED: _I.BREAKING_CALLERS,
    _K.BECAME_REQUIRED: _I.BREAKING_CALLERS,
    _K.BECAME_OPTIONAL: _I.COMPATIBLE,
    _K.TYPE_WIDENED: _I.COMPATIBLE,
    _K.TYPE_NARROWED: _I.BREAKING_CALLERS,
    _K.TYPE_CHANGED: _I.BREAKING_CALLERS,
    _K.ENUM_VALUES_ADDED: _I.COMPATIBLE,
    _K.ENUM_VALUES_REMOVED: _I.BREAKING_CALLERS,
    _K.DEFAULT_ADDED: _I.BEHAVIOUR,
    _K.DEFAULT_REMOVED: _I.BEHAVIOUR,
    _K.DEFAULT_CHANGED: _I.BEHAVIOUR,
    _K.RANGE_WIDENED: _I.COMPATIBLE,
    _K.RANGE_NARROWED: _I.BREAKING_CALLERS,
    _K.MODEL_RENAMED: _I.BREAKING_CALLERS,
    _K.DESCRIPTION_CHANGED: _I.DOCS,
}
_OUTPUT_IMPACT: Final[Mapping[ChangeKind, Impact]] = {
    _K.FIELD_ADDED: _I.COMPATIBLE,
    _K.FIELD_REMOVED: _I.BREAKING_READERS,
    _K.BECAME_REQUIRED: _I.COMPATIBLE,
    _K.BECAME_OPTIONAL: _I.BREAKING_READERS,
    _K.TYPE_WIDENED: _I.BREAKING_READERS,
    _K.TYPE_NARROWED: _I.COMPATIBLE,
    _K.TYPE_CHANGED: _I.BREAKING_READERS,
    _K.ENUM_VALUES_ADDED: _I.COMPATIBLE,  # output enums are Literal[...] | str
    _K.ENUM_VALUES_REMOVED: _I.COMPATIBLE,
    _K.DEFAULT_ADDED: _I.BEHAVIOUR,  # what the model fills in when fal leaves a field out
    _K.DEFAULT_REMOVED: _I.BEHAVIOUR,
    _K.DEFAULT_CHANGED: _I.BEHAVIOUR,
    _K.RANGE_WIDENED: _I.DOCS,  # output models do not check value constraints
    _K.RANGE_NARROWED: _I.DOCS,
    _K.MODEL_RENAMED: _I.COMPATIBLE,  # attributes read the same; only the class name differs
    _K.DESCRIPTION_CHANGED: _I.DOCS,
}
_ENDPOINT_IMPACT: Final[Mapping[ChangeKind, Impact]] = {
    _K.ENDPOINT_ADDED: _I.COMPATIBLE,
    _K.ENDPOINT_REMOVED: _I.BREAKING_CALLERS,
    _K.DESCRIPTION_CHANGED: _I.DOCS,
}


def _impact(side: Side, kind: ChangeKind, *, required: bool = False) -> Impact:
    if side == "endpoint":
        return _ENDPOINT_IMPACT[kind]
    if side == "input" and kind is ChangeKind.FIELD_ADDED:
        return Impact.BREAKING_CALLERS if required else Impact.COMPATIBLE
    return (_INPUT_IMPACT if side == "input" else _OUTPUT_IMPACT)[kind]


@dataclass(frozen=True)
class Change:
    """One change to an endpoint's API.

    ``path`` names the field from the model's root (``loras[].scale``: the ``scale`` of each item
    of ``loras``; ``timings{}``: each value of the map ``timings``; ``""``: the model itself).
    ``old`` and ``new`` are JSON values (types as short names, enum values, defaults, bounds);
    ``detail`` says which bound, which branch or what else the change is about.
    """

    side: Side
    path: str
    kind: ChangeKind
    impact: Impact
    old: Any = None
    new: Any = None
    detail: str = ""

    @property
    def where(self) -> str:
        """``input loras[].scale``, ``output`` (the model itself), or ``endpoint``."""
        return f"{self.side} {self.path}" if self.path else self.side

    @property
    def message(self) -> str:
        """One line for a person: what changed, where, from what to what."""
        return _message(self)

    def to_json(self) -> dict[str, Any]:
        """A JSON object (``fal-typed diff --format json``)."""
        out: dict[str, Any] = {
            "side": self.side,
            "path": self.path,
            "kind": self.kind.value,
            "impact": self.impact.value,
            "message": self.message,
        }
        if self.old is not None:
            out["old"] = self.old
        if self.new is not None:
            out["new"] = self.new
        if self.detail:
            out["detail"] = self.detail
        return out


def _fmt(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _values(values: Any) -> str:
    return ", ".join(_fmt(v) for v in cast("list[Any]", values))


def _message(change: Change) -> str:
    k, old, new, detail = change.kind, change.old, change.new, change.detail
    name = f"`{change.path}`" if change.path else "model"
    if k is ChangeKind.ENDPOINT_ADDED:
        return "new endpoint"
    if k is ChangeKind.ENDPOINT_REMOVED:
        return "endpoint removed"
    if k is ChangeKind.FIELD_ADDED:
        return f"{change.side} field {name} added ({new}{', ' + detail if detail else ''})"
    if k is ChangeKind.FIELD_REMOVED:
        return f"{change.side} field {name} removed (was {old})"
    if k is ChangeKind.BECAME_REQUIRED:
        return f"{change.side} field {name} is now required"
    if k is ChangeKind.BECAME_OPTIONAL:
        return f"{change.side} field {name} is now optional"
    if k in (ChangeKind.TYPE_WIDENED, ChangeKind.TYPE_NARROWED, ChangeKind.TYPE_CHANGED):
        how = k.value.removeprefix("type-")
        text = f"{change.side} {name}: type {how} from {old} to {new}"
        return f"{text} ({detail})" if detail else text
    if k is ChangeKind.ENUM_VALUES_ADDED:
        return f"{change.side} {name}: values added: {_values(new)}"
    if k is ChangeKind.ENUM_VALUES_REMOVED:
        return f"{change.side} {name}: values removed: {_values(old)}"
    if k is ChangeKind.DEFAULT_ADDED:
        return f"{change.side} {name}: default is now {_fmt(new)} (none before)"
    if k is ChangeKind.DEFAULT_REMOVED:
        return f"{change.side} {name}: default {_fmt(old)} removed"
    if k is ChangeKind.DEFAULT_CHANGED:
        return f"{change.side} {name}: default changed from {_fmt(old)} to {_fmt(new)}"
    if k in (ChangeKind.RANGE_WIDENED, ChangeKind.RANGE_NARROWED):
        verb = "widened" if k is ChangeKind.RANGE_WIDENED else "narrowed"
        before = "none" if old is None else _fmt(old)
        after = "none" if new is None else _fmt(new)
        return f"{change.side} {name}: {detail} {verb}: {before} -> {after}"
    if k is ChangeKind.MODEL_RENAMED:
        return f"{change.side} {name}: model {old} renamed to {new}"
    if change.side == "endpoint":
        return f"endpoint {detail or 'description'} changed"
    return f"{change.side} {name}: description changed"


@dataclass(frozen=True)
class EndpointDiff:
    """Every change between two revisions of one endpoint's document."""

    endpoint_id: str
    changes: tuple[Change, ...] = ()
    status: Literal["added", "removed", "changed", "unchanged"] = "changed"
    """``unchanged``: the two documents are the same JSON (key order aside); ``changed``: they
    differ, or their text does (``changes`` may then be empty: nothing visible changed)."""

    @property
    def impact(self) -> Impact | None:
        """The most severe impact of any change, or None when nothing visible changed."""
        return min((c.impact for c in self.changes), key=lambda i: i.rank, default=None)

    @property
    def breaking(self) -> bool:
        return any(c.impact.breaking for c in self.changes)

    @property
    def bump(self) -> Bump | None:
        """The semantic-version bump this change calls for (None: the text is identical).

        major: breaking for callers or readers; minor: additions and behaviour changes; patch:
        descriptions only, or a document whose text changed with no visible effect.
        """
        if self.status == "unchanged":
            return None
        impact = self.impact
        if impact is None or impact is Impact.DOCS:
            return "patch"
        return "major" if impact.breaking else "minor"

    def by_impact(self, impact: Impact) -> list[Change]:
        return [c for c in self.changes if c.impact is impact]

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "status": self.status,
            "impact": None if self.impact is None else self.impact.value,
            "bump": self.bump,
            "changes": [c.to_json() for c in self.changes],
        }


# -- reading a document --------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return []
    items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
    return items


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        node = _dict(node).get(key)
    return node


def _ref_name(ref: Any, prefix: str = COMPONENT_PREFIX) -> str | None:
    return ref[len(prefix) :] if isinstance(ref, str) and ref.startswith(prefix) else None


def io_component_names(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The input and output component names: the POST requestBody ``$ref`` and the result
    GET's 200 ``$ref`` (components named ``...Input``/``...Output`` when the paths say nothing)."""
    input_name = output_name = None
    for path, item in _dict(document.get("paths")).items():
        body = _dig(item, "post", "requestBody", "content", "application/json", "schema", "$ref")
        if input_name is None:
            input_name = _ref_name(body)
        if path.endswith("/requests/{request_id}") and output_name is None:
            result = _dig(item, "get", "responses", "200", "content", "application/json", "schema")
            output_name = _ref_name(_dig(result, "$ref"))
    components = _dict(_dig(document, "components", "schemas"))
    if input_name is None:
        input_name = next((n for n in components if n.endswith("Input")), None)
    if output_name is None:
        output_name = next((n for n in components if n.endswith("Output")), None)
    return input_name, output_name


def _endpoint_text(document: Mapping[str, Any], key: str) -> str:
    value = _dig(document, "info", "x-fal-metadata", key)
    return " ".join(value.split()) if isinstance(value, str) else ""


def endpoint_id_of(document: Mapping[str, Any]) -> str | None:
    """``info.x-fal-metadata.endpointId``, when the document names one."""
    value = _dig(document, "info", "x-fal-metadata", "endpointId")
    return value if isinstance(value, str) and value else None


class _Document:
    """One revision's normalised components and the schema operations the walk needs."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.components = normalise_components(_dict(_dig(document, "components", "schemas")))
        self.input_name, self.output_name = io_component_names(document)

    def root(self, name: str | None) -> dict[str, Any]:
        if name is None or name not in self.components:
            return {}
        return {"$ref": _REF_PREFIX + name}

    def resolve(self, node: Any) -> tuple[dict[str, Any], str | None]:
        """The node with ``$ref`` chains and single-``allOf`` wrappers followed (the sibling
        keywords beside them win), and the name of the last component reached."""
        current = _dict(node)
        name: str | None = None
        for _ in range(_MAX_DEPTH):
            target_name = _ref_name(current.get("$ref"), _REF_PREFIX)
            if target_name is not None:
                target = _dict(self.components.get(target_name))
                siblings = {k: v for k, v in current.items() if k != "$ref"}
                current, name = {**target, **siblings}, target_name
                continue
            parts = _list(current.get("allOf"))
            if len(parts) == 1:
                siblings = {k: v for k, v in current.items() if k != "allOf"}
                current = {**_dict(parts[0]), **siblings}
                continue
            break
        return current, name


# -- shapes: one branch of a (possibly nullable) union -------------------------------------------


@dataclass(frozen=True)
class _Branch:
    kind: str
    """object | map | array | string | integer | number | boolean | any"""
    node: dict[str, Any]
    name: str | None = None

    @property
    def key(self) -> str:
        return f"object:{self.name}" if self.kind == "object" and self.name else self.kind

    @property
    def label(self) -> str:
        if self.kind == "object":
            return self.name or "object"
        if self.kind in (*_SCALARS, "any") and "enum" in self.node:
            return "Literal[" + _values(self.node["enum"]) + "]"
        return {"map": "dict", "array": "list", "any": "Any"}.get(self.kind, self.kind)


_SCALARS: Final = ("string", "integer", "number", "boolean")


def _kind(node: Mapping[str, Any]) -> str:
    declared = node.get("type")
    if isinstance(declared, str):
        if declared == "object":
            return "object" if _dict(node.get("properties")) else "map"
        return declared if declared in (*_SCALARS, "array", "null") else "any"
    if _dict(node.get("properties")) or len(_list(node.get("allOf"))) > 1:
        return "object"
    if "additionalProperties" in node:
        return "map"
    if "items" in node or "prefixItems" in node:
        return "array"
    return _literal_kind(_enum(node) or [])


def _literal_kind(values: list[Any]) -> str:
    """The JSON type every enum value shares (``any`` for a mix)."""
    kinds = {
        "boolean"
        if isinstance(v, bool)
        else "integer"
        if isinstance(v, int)
        else "number"
        if isinstance(v, float)
        else "string"
        if isinstance(v, str)
        else "any"
        for v in values
    }
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else "any"


def _enum(node: Mapping[str, Any]) -> list[Any] | None:
    if isinstance(node.get("enum"), list):
        return list(_list(node["enum"]))
    if "const" in node:
        return [node["const"]]
    return None


class _Branches:
    """A schema split into its non-null branches, and whether null is allowed."""

    def __init__(self, doc: _Document, node: Any, depth: int = 0) -> None:
        self.branches: list[_Branch] = []
        self.nullable = False
        self._add(doc, node, depth)

    def _add(self, doc: _Document, node: Any, depth: int) -> None:
        resolved, name = doc.resolve(node)
        if resolved.get(DANGLING) is not None:
            self.branches.append(_Branch("any", resolved))
            return
        subs = _list(resolved.get("anyOf")) or _list(resolved.get("oneOf"))
        if subs and depth < _MAX_DEPTH:
            for sub in subs:
                self._add(doc, sub, depth + 1)
            return
        declared = resolved.get("type")
        if isinstance(declared, list):
            for one in _list(declared):
                self._add(doc, {**resolved, "type": one}, depth + 1)
            return
        values = _enum(resolved)
        if values is not None and None in values:
            self.nullable = True
            values = [v for v in values if v is not None]
            if not values:
                return
            resolved = {k: v for k, v in resolved.items() if k != "const"} | {"enum": values}
        kind = _kind(resolved)
        if kind == "null":
            self.nullable = True
            return
        if kind == "object" and len(_list(resolved.get("allOf"))) > 1:
            resolved = _merge_all_of(doc, resolved)
        self.branches.append(_Branch(kind, resolved, name))

    def label(self) -> str:
        labels = list(dict.fromkeys(b.label for b in self.branches)) or ["Any"]
        return " | ".join(labels + (["None"] if self.nullable else []))


def _merge_all_of(doc: _Document, node: dict[str, Any]) -> dict[str, Any]:
    """An ``allOf`` of several objects as one object: their properties and required lists."""
    properties: dict[str, Any] = dict(_dict(node.get("properties")))
    required: list[Any] = list(_list(node.get("required")))
    for part in _list(node.get("allOf")):
        resolved, _ = doc.resolve(part)
        properties.update(_dict(resolved.get("properties")))
        required += _list(resolved.get("required"))
    merged = {k: v for k, v in node.items() if k != "allOf"}
    return merged | {"type": "object", "properties": properties, "required": required}


# -- values --------------------------------------------------------------------------------------


def _value_key(value: Any) -> tuple[str, Any]:
    """Equality as JSON means it: ``1 == 1.0`` but ``True != 1``; containers compared deeply."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("list", tuple(_value_key(v) for v in _list(value)))
    if isinstance(value, dict):
        items = cast("dict[str, Any]", value).items()
        return ("object", tuple(sorted((k, _value_key(v)) for k, v in items)))
    return ("other", repr(value))


def _same(a: Any, b: Any) -> bool:
    return _value_key(a) == _value_key(b)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _show(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.is_integer() else value


def _match(
    olds: Sequence[_Branch], news: Sequence[_Branch]
) -> tuple[list[tuple[_Branch, _Branch]], list[_Branch], list[_Branch]]:
    """Pair union branches (same model name first, then same kind); return the pairs and the
    branches left over on each side. Two single branches always pair (their kinds may differ)."""
    if len(olds) == 1 and len(news) == 1:
        return [(olds[0], news[0])], [], []
    left, right = list(olds), list(news)
    pairs: list[tuple[_Branch, _Branch]] = []
    for by_name in (True, False):
        for new_branch in list(right):
            wanted = new_branch.key if by_name else new_branch.kind
            match = next((o for o in left if (o.key if by_name else o.kind) == wanted), None)
            if match is not None:
                left.remove(match)
                right.remove(new_branch)
                pairs.append((match, new_branch))
    return pairs, left, right


# -- the walk ------------------------------------------------------------------------------------


@dataclass
class _Walk:
    """Compares one side (input or output) of two revisions and collects the changes."""

    old: _Document
    new: _Document
    side: Literal["input", "output"]
    changes: list[Change] = field(default_factory=list[Change])
    seen: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])

    def add(
        self,
        path: str,
        kind: ChangeKind,
        old: Any = None,
        new: Any = None,
        detail: str = "",
        *,
        required: bool = False,
    ) -> None:
        impact = _impact(self.side, kind, required=required)
        self.changes.append(Change(self.side, path, kind, impact, old, new, detail))

    # -- schemas ---------------------------------------------------------------------------------

    def schema(self, old_node: Any, new_node: Any, path: str, depth: int) -> None:
        """Compare two schemas at ``path``: nullability and union branches (one widened and one
        narrowed change at most, saying what was added and removed), then each matched branch."""
        if depth > _MAX_DEPTH:
            return
        old, new = _Branches(self.old, old_node), _Branches(self.new, new_node)
        pairs, only_old, only_new = _match(old.branches, new.branches)
        widened: list[str] = []
        narrowed: list[str] = []
        if new.nullable and not old.nullable:
            widened.append("null is now allowed")
        if old.nullable and not new.nullable:
            narrowed.append("null is no longer allowed")
        if only_new and not any(b.kind == "any" for b in old.branches):
            widened.append("now also " + " | ".join(b.label for b in only_new))
        if only_old and not any(b.kind == "any" for b in new.branches):
            narrowed.append("no longer " + " | ".join(b.label for b in only_old))
        if widened:
            self.add(path, ChangeKind.TYPE_WIDENED, old.label(), new.label(), "; ".join(widened))
        if narrowed:
            self.add(path, ChangeKind.TYPE_NARROWED, old.label(), new.label(), "; ".join(narrowed))
        for old_branch, new_branch in pairs:
            self.branch(old_branch, new_branch, path, depth)

    def branch(self, old: _Branch, new: _Branch, path: str, depth: int) -> None:
        if old.kind != new.kind:
            self._kind_change(old, new, path)
            return
        if old.kind == "object":
            self.model(old, new, path, depth)
        elif old.kind == "array":
            self.ranges(old.node, new.node, path, "array")
            self.schema(
                old.node.get("items", {}), new.node.get("items", {}), f"{path}[]", depth + 1
            )
        elif old.kind == "map":
            self.schema(_map_values(old.node), _map_values(new.node), f"{path}{{}}", depth + 1)
        elif old.kind in _SCALARS or old.kind == "any":
            self.enum(old.node, new.node, path)
            self.ranges(old.node, new.node, path, old.kind)

    def _kind_change(self, old: _Branch, new: _Branch, path: str) -> None:
        widening = {("integer", "number"), ("boolean", "any")}
        if new.kind == "any" or (old.kind, new.kind) in widening:
            kind = ChangeKind.TYPE_WIDENED
        elif old.kind == "any" or (new.kind, old.kind) in widening:
            kind = ChangeKind.TYPE_NARROWED
        else:
            kind = ChangeKind.TYPE_CHANGED
        self.add(path, kind, old.label, new.label)

    def enum(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_values, new_values = _enum(old), _enum(new)
        if old_values is None and new_values is None:
            return
        if old_values is None or new_values is None:
            kind = ChangeKind.TYPE_WIDENED if new_values is None else ChangeKind.TYPE_NARROWED
            old_label = "any value" if old_values is None else f"Literal[{_values(old_values)}]"
            new_label = "any value" if new_values is None else f"Literal[{_values(new_values)}]"
            self.add(path, kind, old_label, new_label, "allowed values")
            return
        old_keys = {_value_key(v) for v in old_values}
        new_keys = {_value_key(v) for v in new_values}
        added = [v for v in new_values if _value_key(v) not in old_keys]
        removed = [v for v in old_values if _value_key(v) not in new_keys]
        if added:
            self.add(path, ChangeKind.ENUM_VALUES_ADDED, None, added)
        if removed:
            self.add(path, ChangeKind.ENUM_VALUES_REMOVED, removed, None)

    def ranges(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str, kind: str) -> None:
        for label, low, high in _bounds(kind):
            old_low, new_low = _lower(old, low, kind), _lower(new, low, kind)
            if old_low != new_low:
                wider = new_low is None or (old_low is not None and new_low < old_low)
                self._range(path, label[0], old_low, new_low, wider=wider)
            old_high, new_high = _upper(old, high, kind), _upper(new, high, kind)
            if old_high != new_high:
                wider = new_high is None or (old_high is not None and new_high > old_high)
                self._range(path, label[1], old_high, new_high, wider=wider)
        for keyword in ("pattern", "multipleOf"):
            before, after = old.get(keyword), new.get(keyword)
            if (before is None and after is None) or (
                before is not None and after is not None and _same(before, after)
            ):
                continue
            kind = ChangeKind.RANGE_WIDENED if after is None else ChangeKind.RANGE_NARROWED
            self.add(path, kind, before, after, keyword)

    def _range(
        self, path: str, label: str, old: float | None, new: float | None, *, wider: bool
    ) -> None:
        kind = ChangeKind.RANGE_WIDENED if wider else ChangeKind.RANGE_NARROWED
        self.add(path, kind, _show(old), _show(new), label)

    # -- models ----------------------------------------------------------------------------------

    def model(self, old: _Branch, new: _Branch, path: str, depth: int) -> None:
        if old.name is not None and new.name is not None:
            if (old.name, new.name) in self.seen:
                return
            self.seen.add((old.name, new.name))
            if old.name != new.name and path:
                self.add(path, ChangeKind.MODEL_RENAMED, old.name, new.name)
        self.description(old.node, new.node, path, "model")
        old_props = _dict(old.node.get("properties"))
        new_props = _dict(new.node.get("properties"))
        old_required = {r for r in _list(old.node.get("required")) if isinstance(r, str)}
        new_required = {r for r in _list(new.node.get("required")) if isinstance(r, str)}
        prefix = f"{path}." if path else ""
        for name, new_prop in new_props.items():
            sub = prefix + name
            if name not in old_props:
                self._added(sub, new_prop, required=name in new_required)
                continue
            self.property(
                old_props[name],
                new_prop,
                sub,
                depth,
                (name in old_required, name in new_required),
            )
        for name, old_prop in old_props.items():
            if name not in new_props:
                label = _Branches(self.old, old_prop).label()
                self.add(prefix + name, ChangeKind.FIELD_REMOVED, label, None)

    def _added(self, path: str, node: Any, *, required: bool) -> None:
        resolved, _ = self.new.resolve(node)
        label = _Branches(self.new, node).label()
        if required and self.side == "output":
            # new results always carry it; results made before do not, and the new models
            # reject them (breaking for readers in the other direction: see the reverse diff)
            detail = "required; results made before lack it"
        elif required:
            detail = "required"
        elif "default" in resolved:
            detail = f"default {_fmt(resolved['default'])}"
        else:
            detail = "optional"
        self.add(path, ChangeKind.FIELD_ADDED, None, label, detail, required=required)

    def property(
        self, old_node: Any, new_node: Any, path: str, depth: int, required: tuple[bool, bool]
    ) -> None:
        was, now = required
        if was != now:
            self.add(path, ChangeKind.BECAME_REQUIRED if now else ChangeKind.BECAME_OPTIONAL)
        old, _ = self.old.resolve(old_node)
        new, _ = self.new.resolve(new_node)
        if not was and not now:  # a required field has no default in the bindings
            self.default(old, new, path)
        self.description(_dict(old_node), _dict(new_node), path, "field", old, new)
        self.schema(old_node, new_node, path, depth + 1)

    def default(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        """A default of ``null`` says what no default says (nothing is sent, nothing is filled
        in), so adding or removing one is not a change."""
        had = "default" in old and old["default"] is not None
        has = "default" in new and new["default"] is not None
        if "default" in old and "default" in new and not _same(old["default"], new["default"]):
            self.add(path, ChangeKind.DEFAULT_CHANGED, old["default"], new["default"])
        elif had and not has:
            self.add(path, ChangeKind.DEFAULT_REMOVED, old["default"], None)
        elif has and not had:
            self.add(path, ChangeKind.DEFAULT_ADDED, None, new["default"])

    def description(
        self,
        old_site: Mapping[str, Any],
        new_site: Mapping[str, Any],
        path: str,
        what: str,
        old_resolved: Mapping[str, Any] | None = None,
        new_resolved: Mapping[str, Any] | None = None,
    ) -> None:
        """A field's description is the one beside its ``$ref`` or in its own schema; a
        model's is the component's (reported once, with the model)."""
        before = _description(old_site, old_resolved)
        after = _description(new_site, new_resolved)
        if before != after:
            self.add(path, ChangeKind.DESCRIPTION_CHANGED, before or None, after or None, what)


def _description(site: Mapping[str, Any], resolved: Mapping[str, Any] | None) -> str:
    text = site.get("description")
    if not isinstance(text, str) and resolved is not None and "$ref" not in site:
        text = resolved.get("description")
    return " ".join(text.split()) if isinstance(text, str) else ""


def _map_values(node: Mapping[str, Any]) -> dict[str, Any]:
    return _dict(node.get("additionalProperties"))


def _bounds(kind: str) -> list[tuple[tuple[str, str], str, str]]:
    if kind in ("integer", "number"):
        return [(("minimum", "maximum"), "minimum", "maximum")]
    if kind == "string":
        return [(("minLength", "maxLength"), "minLength", "maxLength")]
    if kind == "array":
        return [(("minItems", "maxItems"), "minItems", "maxItems")]
    return []


def _lower(node: Mapping[str, Any], keyword: str, kind: str) -> float | None:
    """The smallest allowed value (exclusive bounds made inclusive for integers), or None."""
    value = _number(node.get(keyword))
    if keyword != "minimum":
        return value
    exclusive = _number(node.get("exclusiveMinimum"))
    if exclusive is not None:
        exclusive = (
            float(math.floor(exclusive) + 1)
            if kind == "integer"
            else math.nextafter(exclusive, math.inf)
        )
        value = exclusive if value is None else max(value, exclusive)
    return value


def _upper(node: Mapping[str, Any], keyword: str, kind: str) -> float | None:
    value = _number(node.get(keyword))
    if keyword != "maximum":
        return value
    exclusive = _number(node.get("exclusiveMaximum"))
    if exclusive is not None:
        exclusive = (
            float(math.ceil(exclusive) - 1)
            if kind == "integer"
            else math.nextafter(exclusive, -math.inf)
        )
        value = exclusive if value is None else min(value, exclusive)
    return value


# -- entry point ---------------------------------------------------------------------------------


def diff_documents(
    old: Mapping[str, Any], new: Mapping[str, Any], *, endpoint_id: str | None = None
) -> EndpointDiff:
    """Every change between two revisions of one endpoint's OpenAPI document (parsed JSON).

    ``endpoint_id`` defaults to the new document's ``info.x-fal-metadata.endpointId``.
    """
    endpoint = endpoint_id or endpoint_id_of(new) or endpoint_id_of(old) or "?"
    if old == new and _same(old, new):  # == first: fast, and true whenever _same is
        return EndpointDiff(endpoint, (), "unchanged")
    old_doc, new_doc = _Document(old), _Document(new)
    changes: list[Change] = []
    for key, label in (("about", "description"), ("category", "category")):
        before = _endpoint_text(old, key) or (
            _endpoint_text(old, "description") if key == "about" else ""
        )
        after = _endpoint_text(new, key) or (
            _endpoint_text(new, "description") if key == "about" else ""
        )
        if before != after:
            impact = _impact("endpoint", ChangeKind.DESCRIPTION_CHANGED)
            changes.append(
                Change(
                    "endpoint",
                    "",
                    ChangeKind.DESCRIPTION_CHANGED,
                    impact,
                    before or None,
                    after or None,
                    label,
                )
            )
    for side, old_name, new_name in (
        ("input", old_doc.input_name, new_doc.input_name),
        ("output", old_doc.output_name, new_doc.output_name),
    ):
        walk = _Walk(old_doc, new_doc, cast("Literal['input', 'output']", side))
        walk.schema(old_doc.root(old_name), new_doc.root(new_name), "", 0)
        changes += walk.changes
    return EndpointDiff(endpoint, tuple(changes), "changed")


def endpoint_added(endpoint_id: str) -> EndpointDiff:
    """The diff of an endpoint that did not exist before."""
    change = Change("endpoint", "", ChangeKind.ENDPOINT_ADDED, Impact.COMPATIBLE)
    return EndpointDiff(endpoint_id, (change,), "added")


def endpoint_removed(endpoint_id: str) -> EndpointDiff:
    """The diff of an endpoint whose document is gone."""
    change = Change("endpoint", "", ChangeKind.ENDPOINT_REMOVED, Impact.BREAKING_CALLERS)
    return EndpointDiff(endpoint_id, (change,), "removed")


def most_severe(diffs: Sequence[EndpointDiff]) -> Impact | None:
    """The most severe impact over several endpoints."""
    impacts = [d.impact for d in diffs if d.impact is not None]
    return min(impacts, key=lambda i: i.rank, default=None)
