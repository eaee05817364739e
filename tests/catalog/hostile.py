"""A catalog server that attacks its client: the other side of `fal-typed fetch`, on 127.0.0.1.

It serves the two URLs a fetch reads, at the local server's paths (so ``--base-url`` works), and
answers whatever the test scripts: pages that never end, cursors that loop, documents trickled
a byte at a time, documents without end, JSON nested thousands deep, documents naming another
id, error bodies full of terminal escape sequences. Every answer is bounded (a stream stops
after ``limit`` bytes, a trickle after ``count`` bytes) so a broken client fails a test instead
of hanging it; the server counts what it sent, so a test can see where its client stopped.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from fal_typed._hosts import LOCAL_OPENAPI_PATH, LOCAL_PLATFORM_PREFIX

Answer = Callable[[Request], Response]


def document(endpoint_id: str, **extra: Any) -> dict[str, Any]:
    """A small valid document of ``endpoint_id`` (what a catalog record's ``openapi`` holds)."""
    return {
        "openapi": "3.0.4",
        "info": {"title": endpoint_id, "x-fal-metadata": {"endpointId": endpoint_id}},
        "paths": {},
        **extra,
    }


def nested(depth: int) -> str:
    """JSON text of a document whose ``x`` nests ``depth`` arrays."""
    text = json.dumps(document("fal-ai/deep"))
    return text[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"


def json_answer(value: object, status: int = 200) -> Answer:
    return lambda request: JSONResponse(value, status_code=status)


def raw_answer(body: str | bytes, status: int = 200) -> Answer:
    return lambda request: Response(body, status_code=status, media_type="application/json")


@dataclass
class HostileCatalog:
    """The server. ``documents[id]`` answers the per-endpoint URL (404 if absent); ``pages``
    answers the catalog URL for a cursor (None for the first page)."""

    documents: dict[str, Answer] = field(default_factory=dict[str, Answer])
    pages: Callable[[str | None], Response] = lambda cursor: JSONResponse({"models": []})
    requests: list[str] = field(default_factory=list[str])
    """The query string of every request, in order."""
    sent: int = 0
    """Bytes the streamed answers sent before they ended or the client left."""

    def __post_init__(self) -> None:
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openapi_url(self) -> str:
        return self.base_url + LOCAL_OPENAPI_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + LOCAL_PLATFORM_PREFIX

    # -- answers a test can script -----------------------------------------------------------

    def stream(self, limit: int, chunk: bytes = b" " * 65536, declare: bool = False) -> Answer:
        """A 200 whose body goes on for ``limit`` bytes (a document without end), until the
        client leaves (uvicorn's writes block while the client does not read)."""

        async def body(request: Request) -> AsyncIterator[bytes]:
            yield b'{"openapi": "3.0.4", "x": "'
            while self.sent < limit and not await request.is_disconnected():
                self.sent += len(chunk)
                yield chunk
            yield b'"}'

        headers = {"content-length": str(limit + 30)} if declare else None
        return lambda request: StreamingResponse(
            body(request), media_type="application/json", headers=headers
        )

    def trickle(self, data: bytes, interval: float) -> Answer:
        """A 200 that sends ``data`` one byte every ``interval`` seconds, until the client leaves."""

        async def body(request: Request) -> AsyncIterator[bytes]:
            for byte in data:
                if await request.is_disconnected():
                    return
                self.sent += 1
                yield bytes([byte])
                await asyncio.sleep(interval)

        return lambda request: StreamingResponse(body(request), media_type="application/json")

    # -- routes --------------------------------------------------------------------------------

    async def _openapi(self, request: Request) -> Response:
        self.requests.append(str(request.url.query))
        answer = self.documents.get(request.query_params.get("endpoint_id", ""))
        if answer is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return answer(request)

    async def _models(self, request: Request) -> Response:
        self.requests.append(str(request.url.query))
        return self.pages(request.query_params.get("cursor"))

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> HostileCatalog:
        app = Starlette(
            routes=[
                Route(LOCAL_OPENAPI_PATH, self._openapi),
                Route(f"{LOCAL_PLATFORM_PREFIX}/v1/models", self._models),
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app, log_config=None, log_level="critical", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="hostile-catalog", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the hostile catalog did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)


def page(records: list[dict[str, Any]], cursor: str | None) -> Response:
    """One catalog page."""
    return JSONResponse({"models": records, "next_cursor": cursor, "has_more": cursor is not None})


def record(endpoint_id: object, openapi: object) -> dict[str, Any]:
    return {"endpoint_id": endpoint_id, "metadata": {}, "openapi": openapi}
