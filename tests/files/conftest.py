"""Fixtures of the file tests: the local server's storage routes, over a real loopback socket."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from fal_typed import Client
from fal_typed._upload import UploadSettings
from fal_typed.testing._filestore import FileStore
from fal_typed.testing._storage import Storage

KEY = "files-test-id:files-test-secret-7f3a9c"

SMALL = UploadSettings(
    multipart_threshold=256 * 1024, part_size=64 * 1024, max_concurrency=4, retry_backoff=0.01
)
"""Multipart above 256 KiB in 64 KiB parts: the multipart logic without 100 MiB files."""


@dataclass
class StorageServer:
    base: str
    storage: Storage
    files: FileStore

    def client(self, key: str = KEY) -> Client:
        return Client(
            key,
            queue_url=f"{self.base}/queue",
            run_url=f"{self.base}/run",
            rest_url=f"{self.base}/rest",
            cdn_url=f"{self.base}/cdn",
        )

    def fetch(self, url: str) -> bytes:
        response = httpx.get(url, timeout=60)
        response.raise_for_status()
        return response.content


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _serve(app: Starlette) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("storage test server did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def _storage_server() -> Iterator[StorageServer]:
    files = FileStore()
    storage = Storage(files)
    app = Starlette(
        routes=[
            Mount("/rest", routes=storage.rest_routes()),
            Mount("/cdn", routes=[*storage.cdn_routes(), *files.routes()]),
        ]
    )
    for base in _serve(app):
        yield StorageServer(base, storage, files)
    storage.close()
    files.clear()


@pytest.fixture
def server(_storage_server: StorageServer) -> Iterator[StorageServer]:
    """The session's server with a clean storage (no faults, counters at zero)."""
    _storage_server.storage.reset()
    _storage_server.files.clear()
    yield _storage_server
    _storage_server.storage.reset()


@pytest.fixture
def client(server: StorageServer) -> Iterator[Client]:
    with server.client() as client:
        yield client


@pytest.fixture
async def aclient(server: StorageServer) -> AsyncIterator[Client]:
    async with server.client() as client:
        yield client
