"""Stage 1: the operations of a multi-operation OpenAPI 3.1 document, as plain records.

Reads what the later stages need and nothing else: each operation's id, method, path (with the
server's base path, ``/v1``), texts, parameters (path, query, header), request body (JSON or
multipart) and success response (JSON, none, text, binary or server-sent events), and whether it
needs an admin key. Error responses are not read: errors become the runtime's typed exceptions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ..diagnostics import DocumentError
from ..normalise import Schema, clean_text

__all__ = [
    "Body",
    "Operation",
    "Parameter",
    "PlatformDocument",
    "Response",
    "read_platform_document",
]

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
ParameterLocation = Literal["path", "query", "header"]
ResponseKind = Literal["json", "none", "text", "binary", "events"]
_TEXT_TYPES = ("text/plain", "text/csv")


@dataclass(frozen=True)
class Parameter:
    """A path, query or header parameter (cookies are not used by the document)."""

    name: str
    location: ParameterLocation
    required: bool
    schema: Schema
    description: str
    example: Any = None


@dataclass(frozen=True)
class Body:
    """The request body: ``multipart`` (file fields) or ``json``."""

    kind: Literal["json", "multipart"]
    schema: Schema
    required: bool
    description: str


@dataclass(frozen=True)
class Response:
    """The success response: its status, how to read it and (for JSON) its schema."""

    status: int
    kind: ResponseKind
    schema: Schema | None
    description: str


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    tags: tuple[str, ...]
    admin: bool
    deprecated: bool
    parameters: tuple[Parameter, ...]
    body: Body | None
    response: Response


@dataclass(frozen=True)
class PlatformDocument:
    """The document's title, server and operations, in document order."""

    source: str
    title: str
    description: str
    server_url: str
    base_path: str
    operations: tuple[Operation, ...]


def read_platform_document(path: Path) -> PlatformDocument:
    """Read and parse the document at ``path``; a malformed one is a DocumentError."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(f"cannot read document: {exc}") from None
    if not isinstance(data, dict):
        raise DocumentError("document is not a JSON object")
    servers = data.get("servers")
    server_url = (
        servers[0].get("url")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict)
        else None
    )
    if not isinstance(server_url, str) or not server_url.startswith("https://"):
        raise DocumentError("no https server URL in servers[0]")
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    paths = data.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise DocumentError("no paths")
    operations: list[Operation] = []
    for route, item in paths.items():
        if not isinstance(item, dict):
            raise DocumentError(f"path {route!r} is not an object")
        shared = item.get("parameters") or []
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                operations.append(_operation(route, method, item[method], shared))
    ids = [op.operation_id for op in operations]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise DocumentError(f"operationIds used twice: {duplicated}")
    return PlatformDocument(
        source=path.name,
        title=_text(info.get("title")) or "API",
        description=_text(info.get("description")),
        server_url=server_url.rstrip("/"),
        base_path=urlsplit(server_url).path.rstrip("/"),
        operations=tuple(operations),
    )


def _text(value: Any) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def _operation(route: str, method: str, raw: dict[str, Any], shared: list[Any]) -> Operation:
    where = f"{method.upper()} {route}"
    operation_id = raw.get("operationId")
    if not isinstance(operation_id, str) or not operation_id.isidentifier():
        raise DocumentError(f"{where} has no usable operationId: {operation_id!r}")
    security = raw.get("security")
    schemes = {
        name
        for requirement in security or []
        if isinstance(requirement, dict)
        for name in requirement
    }
    tags = raw.get("tags")
    return Operation(
        operation_id=operation_id,
        method=method.upper(),
        path=route,
        summary=_text(raw.get("summary")),
        description=_text(raw.get("description")),
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        admin="adminApiKey" in schemes,
        deprecated=raw.get("deprecated") is True,
        parameters=_parameters(where, [*shared, *(raw.get("parameters") or [])]),
        body=_body(where, raw.get("requestBody")),
        response=_response(where, raw.get("responses")),
    )


def _parameters(where: str, raw: list[Any]) -> tuple[Parameter, ...]:
    found: dict[tuple[str, str], Parameter] = {}
    for item in raw:
        if not isinstance(item, dict) or "$ref" in item:
            raise DocumentError(f"{where}: unsupported parameter {item!r}")
        name, location = item.get("name"), item.get("in")
        if not isinstance(name, str) or location not in ("path", "query", "header"):
            raise DocumentError(f"{where}: unsupported parameter {name!r} in {location!r}")
        schema = item.get("schema") if isinstance(item.get("schema"), dict) else {}
        description = _text(item.get("description")) or _text(schema.get("description"))
        found[(name, location)] = Parameter(
            name=name,
            location=location,
            required=location == "path" or item.get("required") is True,
            schema=schema,
            description=description,
            example=schema.get("example", item.get("example")),
        )
    return tuple(found.values())


def _body(where: str, raw: Any) -> Body | None:
    if not isinstance(raw, dict):
        return None
    content = raw.get("content") or {}
    required = raw.get("required") is True
    description = _text(raw.get("description"))
    if "application/json" in content:
        schema = content["application/json"].get("schema")
        return Body("json", schema if isinstance(schema, dict) else {}, required, description)
    if "multipart/form-data" in content:
        schema = content["multipart/form-data"].get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            raise DocumentError(f"{where}: a multipart body without properties")
        return Body("multipart", schema, required, description)
    raise DocumentError(f"{where}: unsupported request body types {sorted(content)}")


def _response(where: str, raw: Any) -> Response:
    if not isinstance(raw, dict):
        raise DocumentError(f"{where} has no responses")
    successes = sorted(code for code in raw if isinstance(code, str) and code.startswith("2"))
    if not successes:
        raise DocumentError(f"{where} has no success response")
    status = successes[0]
    answer = raw[status] if isinstance(raw[status], dict) else {}
    description = _text(answer.get("description"))
    content = answer.get("content") or {}
    if not content:
        return Response(int(status), "none", None, description)
    if "application/json" in content:
        schema = content["application/json"].get("schema")
        return Response(
            int(status), "json", schema if isinstance(schema, dict) else {}, description
        )
    if "text/event-stream" in content:
        return Response(int(status), "events", None, description)
    if any(kind in content for kind in _TEXT_TYPES):
        return Response(int(status), "text", None, description)
    if "application/octet-stream" in content:
        return Response(int(status), "binary", None, description)
    raise DocumentError(f"{where}: unsupported response types {sorted(content)}")
