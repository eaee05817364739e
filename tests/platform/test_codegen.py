"""The Platform generator (codegen.platform): the committed package is what it makes now, every
operation is a method, and a small document shows the rules (names, dedup, the two sides,
bodies, answers, pagination, escaping) on generated code that is imported and called through
mock transports (the real operations are tested over sockets in the other modules)."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from codegen.platform.document import read_platform_document
from codegen.platform.pipeline import DEFAULT_DOCUMENT, DEFAULT_PACKAGE, generate
from codegen.platform.plan import snake
from fal_typed import Client, InputValidationError, InvalidArgumentError, ProtocolError
from fal_typed.platform import AsyncPlatform, Platform

REPO = Path(__file__).resolve().parents[2]
HOSTILE = 'Quotes """ end here; a backslash \\ and a \\n; then """ + __import__("os").system("x")'


def test_the_committed_package_is_not_stale() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "codegen.platform", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout


def test_every_operation_of_the_document_is_a_method_sync_and_async() -> None:
    document = read_platform_document(DEFAULT_DOCUMENT)
    assert len(document.operations) == 82
    for operation in document.operations:
        name = snake(operation.operation_id)
        sync, run_async = getattr(Platform, name), getattr(AsyncPlatform, name)
        assert operation.summary.split("\n")[0] in (sync.__doc__ or "")
        returns_iterator = operation.response.kind == "events"
        assert inspect.iscoroutinefunction(run_async) is not returns_iterator, name
    paginated = [m for m in dir(Platform) if m.startswith("iter_") and m.endswith("_pages")]
    assert "iter_list_requests_by_endpoint_pages" in paginated and len(paginated) >= 15


def test_the_committed_package_passes_ruff() -> None:
    package = str(DEFAULT_PACKAGE)
    for command in (["check", "--no-cache", package], ["format", "--no-cache", "--check", package]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


# -- a small document with every shape -----------------------------------------------------------

PAGE = {
    "type": "object",
    "properties": {
        "next_cursor": {"type": ["string", "null"]},
        "has_more": {"type": "boolean"},
        "things": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "owner": {
                        "type": "object",
                        "properties": {"name": {"type": "string", "maxLength": 3}},
                        "description": "Who owns it.",
                    },
                },
                "required": ["id"],
                "additionalProperties": False,  # an answer still keeps what fal adds later
            },
        },
    },
    "required": ["next_cursor", "has_more", "things"],
}
OWNER = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}}


def _op(operation_id: str, **fields: Any) -> dict[str, Any]:
    responses = fields.pop("responses", {"200": {"description": "ok", "content": {}}})
    return {"operationId": operation_id, "summary": operation_id, "responses": responses, **fields}


def _json(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "ok", "content": {"application/json": {"schema": schema}}}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Things", "version": "1"},
    "servers": [{"url": "https://api.example.test/v2"}],
    "components": {"schemas": {}},
    "paths": {
        "/things": {
            "get": _op(
                "listThings",
                parameters=[
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "tag",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                ],
                responses=_json(PAGE),
            ),
            "post": _op(
                "createThing",
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}, "owner": OWNER},
                                "required": ["name"],
                            }
                        }
                    },
                },
                parameters=[
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                ],
                responses=_json({"type": "object", "properties": {"owner": OWNER}}, "201"),
            ),
        },
        "/estimate": {
            "post": _op(
                "estimate",
                requestBody={
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {
                                        "type": "object",
                                        "properties": {
                                            "kind": {"type": "string", "enum": ["by_call"]},
                                            "calls": {"type": "integer", "minimum": 1},
                                        },
                                        "required": ["kind", "calls"],
                                    },
                                    {
                                        "type": "object",
                                        "properties": {
                                            "kind": {"type": "string", "enum": ["by_unit"]},
                                            "units": {"type": "number"},
                                        },
                                        "required": ["kind", "units"],
                                    },
                                ]
                            }
                        }
                    }
                },
                responses=_json({"type": "boolean"}),
            )
        },
        "/files/{path}": {
            "get": _op(
                "download",
                description=HOSTILE,
                parameters=[
                    {
                        "name": "path",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "example": "a/b.txt"},
                    }
                ],
                responses={
                    "200": {
                        "description": "bytes",
                        "content": {"application/octet-stream": {"schema": {}}},
                    }
                },
            ),
            "post": _op(
                "upload",
                parameters=[
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {"type": "object", "properties": {"file_upload": {}}}
                        }
                    },
                },
                responses=_json({"type": "boolean"}),
            ),
        },
        "/logs": {
            "post": _op(
                "streamLogs",
                responses={
                    "200": {"description": "sse", "content": {"text/event-stream": {"schema": {}}}}
                },
            ),
            "delete": _op("dropLogs", responses={"204": {"description": "gone"}}),
        },
        "/report": {
            "get": _op(
                "report",
                security=[{"adminApiKey": []}],
                responses={
                    "200": {
                        "description": "csv",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
    },
}


@pytest.fixture(scope="module")
def things(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    """The small document, generated into a package and imported: (models, client)."""
    root = tmp_path_factory.mktemp("things")
    document = root / "things.json"
    document.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    report = generate(document, root / "things_api")
    assert report.operations == 8 and report.warnings == []
    sys.path.insert(0, str(root))
    try:
        yield (
            importlib.import_module("things_api.models"),
            importlib.import_module("things_api.client"),
        )
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("things_api")]:
            del sys.modules[name]


def test_classes_are_named_where_they_sit_deduplicated_and_split_by_side(
    things: tuple[ModuleType, ModuleType],
) -> None:
    models, _ = things
    assert set(models.__all__) >= {
        "ListThingsParams", "ListThingsResponse", "Thing",  # ``things`` items, singular
        "CreateThingParams", "CreateThingBody", "CreateThingResponse",
        "Owner",  # the body's (strict) ...
        "OwnerOutput",  # ... and the answers' (lenient): the same schema on both sides
        "EstimateBody", "EstimateByCall", "EstimateByUnit",  # a union named by its tags
        "EstimateResponse",
    }  # fmt: skip
    # One Owner class for the answers, wherever it appears (its description stays on the field).
    assert models.Thing.model_fields["owner"].annotation == models.OwnerOutput | None
    assert models.CreateThingResponse.model_fields["owner"].annotation == models.OwnerOutput | None
    # Answers are lenient (open enums, no constraints); bodies strict.
    thing = models.Thing.model_validate(
        {"id": "1", "kind": "c", "owner": {"name": "long"}, "added": 2}
    )
    assert thing.kind == "c" and thing.owner.name == "long"
    assert thing.model_extra == {"added": 2}
    with pytest.raises(ValueError, match="at most 3"):
        models.Owner(name="long")
    assert models.EstimateResponse is bool  # a non-object answer is an alias


def test_docstrings_carry_hostile_text_verbatim_and_nothing_runs(
    things: tuple[ModuleType, ModuleType],
) -> None:
    _, client = things
    doc = inspect.getdoc(client.Platform.download) or ""
    assert HOSTILE in doc
    assert "Needs an admin API key." in (inspect.getdoc(client.Platform.report) or "")


def _platform(client_module: ModuleType, handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    transport = httpx.MockTransport(handler)
    fal = Client(
        "test-key-123456",
        api_url="https://api.example.test",
        http_client=httpx.Client(transport=transport),
    )
    return client_module.Platform(fal)


def test_pages_follow_the_cursor_and_a_repeated_cursor_stops_the_loop(
    things: tuple[ModuleType, ModuleType],
) -> None:
    _, client = things
    seen: list[httpx.URL] = []

    def pages(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        cursor = request.url.params.get("cursor")
        following = {None: "c1", "c1": "c2", "c2": None}[cursor]
        things = [{"id": f"{cursor}-{n}"} for n in range(2)]
        return httpx.Response(
            200,
            json={"next_cursor": following, "has_more": following is not None, "things": things},
        )

    platform = _platform(client, pages)
    ids = [thing.id for thing in platform.iter_list_things(limit=2, tag=["x", "y"])]
    assert ids == ["None-0", "None-1", "c1-0", "c1-1", "c2-0", "c2-1"]
    assert seen[0].path == "/v2/things"
    assert seen[0].params.get_list("tag") == ["x", "y"]  # arrays are repeated parameters
    assert [url.params.get("cursor") for url in seen] == [None, "c1", "c2"]
    with pytest.raises(InputValidationError, match="limit"):
        platform.iter_list_things(limit=11)  # checked at the call, before any page

    def stuck(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"next_cursor": "same", "has_more": True, "things": []})

    with pytest.raises(ProtocolError, match="twice"):
        list(_platform(client, stuck).iter_list_things_pages())


def test_bodies_as_keywords_or_models_and_headers_and_renamed_keywords(
    things: tuple[ModuleType, ModuleType],
) -> None:
    models, client = things
    sent: list[httpx.Request] = []

    def created(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"owner": {"name": "ann", "extra": 1}})

    platform = _platform(client, created)
    # ``name`` is both a query parameter and a body field: the body's keyword is ``name_body``.
    answer = platform.create_thing(name="q", name_body="box", idempotency_key="k1")
    assert answer.owner.name == "ann" and answer.owner.model_extra == {"extra": 1}
    platform.create_thing(models.CreateThingBody(name="box", owner=models.Owner(name="bo")))
    first, second = sent
    assert json.loads(first.content) == {"name": "box"}  # only what was given
    assert first.url.params["name"] == "q" and first.headers["idempotency-key"] == "k1"
    assert json.loads(second.content) == {"name": "box", "owner": {"name": "bo"}}
    with pytest.raises(InputValidationError, match="name"):
        platform.create_thing()  # a required field is missing: nothing sent
    with pytest.raises(InvalidArgumentError, match="not both"):
        platform.create_thing(models.CreateThingBody(name="a"), name_body="b")
    with pytest.raises(InvalidArgumentError, match="control characters"):
        platform.create_thing(name_body="a", idempotency_key="k\r\nX-Injected: 1")
    assert len(sent) == 2


def test_union_bodies_non_json_answers_files_and_events(
    things: tuple[ModuleType, ModuleType],
) -> None:
    models, client = things
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        path = request.url.path
        if path == "/v2/estimate":
            return httpx.Response(200, json=True)
        if path.startswith("/v2/files/") and request.method == "GET":
            return httpx.Response(200, content=b"\x00bytes")
        if path.startswith("/v2/files/"):
            return httpx.Response(200, json=True)
        if path == "/v2/report":
            return httpx.Response(200, text="a,b\n1,2\n")
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=b'data: {"line": 1}\n\ndata: plain\n\n',
        )

    platform = _platform(client, answer)
    assert platform.estimate(models.EstimateByUnit(kind="by_unit", units=2.5)) is True
    assert json.loads(sent[-1].content) == {"kind": "by_unit", "units": 2.5}
    with pytest.raises(InputValidationError):
        platform.estimate({"kind": "by_call", "calls": 0})
    assert platform.download(path="a/b c.txt") == b"\x00bytes"
    assert sent[-1].url.raw_path == b"/v2/files/a/b%20c.txt"  # a file path keeps its slashes
    assert platform.upload(path="x.bin", file_upload=b"DATA") is True
    upload = sent[-1]
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b"DATA" in upload.content and b'name="file_upload"' in upload.content
    platform.upload(path="../keys", file_upload=b"x")
    assert sent[-1].url.raw_path == b"/v2/files/..%2Fkeys"  # one segment: its slash escaped
    with pytest.raises(InvalidArgumentError, match="path"):
        platform.upload(path="..", file_upload=b"x")  # would climb out of the route
    assert platform.report() == "a,b\n1,2\n"
    assert platform.drop_logs() is None
    assert list(platform.stream_logs()) == [{"line": 1}, "plain"]
