"""Stage 3: decide everything about each operation's method: names, arguments, body, answer.

- The method is the operationId in snake case (``listRequestsByEndpoint`` ->
  ``list_requests_by_endpoint``); its classes are named after the operationId in Pascal case.
- Path, query and header parameters are keyword arguments (``Idempotency-Key`` ->
  ``idempotency_key``), required first; ``None`` means "not sent". One ``<Op>Params`` model
  validates them all before anything is sent.
- A JSON object body is given as its model (positional) or as keyword arguments, one per field
  (a field named like a parameter gets a ``_body`` suffix). Any other JSON body (a union, an
  array) is one ``body`` argument typed by an alias. A multipart body's fields are file
  arguments.
- The answer is a model or alias (JSON), ``None`` (no content), ``str`` (CSV, text), ``bytes``
  (files), or an iterator of events (``text/event-stream``).
- An operation taking a ``cursor`` whose answer carries ``next_cursor`` and ``has_more`` is
  paginated: it also gets ``iter_<name>_pages`` (every page) and, when its pages hold one list,
  ``iter_<name>`` (every item).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Literal

from ..normalise import pascal, words
from .document import Operation, Parameter, PlatformDocument
from .schemas import Components

__all__ = ["BodyPlan", "FieldPlan", "OperationPlan", "ParamPlan", "plan_operations"]

# POSTs that only read: retried like a GET after a connection failure.
READ_ONLY_POSTS = frozenset({"estimatePricing", "serverlessLogsHistory"})
# Argument names every method has, or that would shadow one.
_METHOD_NAMES = frozenset({"self", "body", "fields"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class ParamPlan:
    """A path, query or header parameter as the method takes it.

    ``slashes``: a path parameter whose value is a file path (``datasets/images/cat.jpg``),
    sent with its ``/`` unescaped.
    """

    name: str
    keyword: str
    location: Literal["path", "query", "header"]
    required: bool
    description: str
    slashes: bool


@dataclass(frozen=True)
class FieldPlan:
    """A body field as a keyword argument (``nullable``: the schema allows ``null``)."""

    name: str
    keyword: str
    required: bool
    nullable: bool
    description: str


@dataclass(frozen=True)
class BodyPlan:
    """``model``: an object (model or keywords); ``value``: one ``body`` argument (a union or
    array, typed by the alias ``type_name``); ``multipart``: file fields."""

    kind: Literal["model", "value", "multipart"]
    type_name: str
    required: bool
    fields: tuple[FieldPlan, ...]
    description: str


@dataclass(frozen=True)
class OperationPlan:
    operation: Operation
    name: str
    stem: str
    path: str
    params_class: str | None
    params: tuple[ParamPlan, ...]
    body: BodyPlan | None
    response_type: str | None
    paginated: bool
    idempotent: bool | None

    @property
    def response_class(self) -> str:
        return f"{self.stem}Response"


def snake(identifier: str) -> str:
    """``listRequestsByEndpoint`` -> ``list_requests_by_endpoint``."""
    return _CAMEL.sub("_", identifier).lower()


def _keyword(name: str, taken: set[str], suffix: str = "_") -> str:
    """A Python argument name for the wire name ``name``, unique in ``taken`` (added to it)."""
    base = name if name.isidentifier() else "_".join(w.lower() for w in words(name)) or "value"
    if base[0].isdigit():
        base = f"f_{base}"
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in _METHOD_NAMES:
        base += "_"
    unique = base
    while unique in taken:
        unique += suffix
        suffix = "_"
    taken.add(unique)
    return unique


def plan_operations(document: PlatformDocument, components: Components) -> list[OperationPlan]:
    """Plan every operation and register its root schemas with ``components``."""
    return [_plan(document, operation, components) for operation in document.operations]


def _plan(
    document: PlatformDocument, operation: Operation, components: Components
) -> OperationPlan:
    stem = pascal(operation.operation_id)
    taken: set[str] = set()
    ordered = sorted(operation.parameters, key=lambda p: not p.required)
    params = tuple(_param(p, taken) for p in ordered)
    params_class = None
    if params:
        params_class = f"{stem}Params"
        components.add(params_class, stem, "input", _params_schema(operation.parameters))
    body = _body(operation, stem, taken, components)
    response_type: str | None = None
    if operation.response.kind == "json":
        response_type = f"{stem}Response"
        components.add(response_type, stem, "output", operation.response.schema or {})
    properties = (operation.response.schema or {}).get("properties") or {}
    paginated = (
        any(p.name == "cursor" and p.location == "query" for p in operation.parameters)
        and "next_cursor" in properties
        and "has_more" in properties
    )
    return OperationPlan(
        operation=operation,
        name=snake(operation.operation_id),
        stem=stem,
        path=document.base_path + operation.path,
        params_class=params_class,
        params=params,
        body=body,
        response_type=response_type,
        paginated=paginated,
        idempotent=True if operation.operation_id in READ_ONLY_POSTS else None,
    )


def _param(parameter: Parameter, taken: set[str]) -> ParamPlan:
    example = parameter.example
    slashes = parameter.location == "path" and isinstance(example, str) and "/" in example
    return ParamPlan(
        name=parameter.name,
        keyword=_keyword(parameter.name, taken),
        location=parameter.location,
        required=parameter.required,
        description=parameter.description,
        slashes=slashes,
    )


def _params_schema(parameters: tuple[Parameter, ...]) -> dict[str, object]:
    properties: dict[str, object] = {}
    for parameter in parameters:
        schema = dict(parameter.schema)
        if parameter.description:
            schema["description"] = parameter.description
        properties[parameter.name] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": [p.name for p in parameters if p.required],
    }


def _body(
    operation: Operation, stem: str, taken: set[str], components: Components
) -> BodyPlan | None:
    body = operation.body
    if body is None:
        return None
    schema = body.schema
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else None
    if body.kind == "multipart":
        assert properties is not None  # the document stage checked it
        single = len(properties) == 1
        fields = tuple(
            FieldPlan(
                name=name,
                keyword=_keyword(name, taken, "_body"),
                required=body.required and single,
                nullable=False,
                description=str(sub.get("description", "")) if isinstance(sub, dict) else "",
            )
            for name, sub in properties.items()
        )
        return BodyPlan("multipart", "", body.required, fields, body.description)
    name = f"{stem}Body"
    components.add(name, stem, "input", schema)
    if not properties:
        return BodyPlan("value", name, body.required, (), body.description)
    required = set(schema.get("required") or ())
    ordered = sorted(properties, key=lambda n: n not in required)
    fields = tuple(
        FieldPlan(
            name=field,
            keyword=_keyword(field, taken, "_body"),
            required=field in required,
            nullable=_nullable(properties[field]),
            description=str(properties[field].get("description", ""))
            if isinstance(properties[field], dict)
            else "",
        )
        for field in ordered
    )
    return BodyPlan("model", name, body.required, fields, body.description)


def _nullable(schema: object) -> bool:
    if not isinstance(schema, dict):
        return True
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    branches = [b for key in ("anyOf", "oneOf") for b in schema.get(key) or []]
    return any(_nullable(b) for b in branches if isinstance(b, dict)) or (
        not schema.keys() - {"description", "default", "example", "deprecated"}
    )
