"""Fixtures of the file tests: the project's local fal server (``local_fal``), over real sockets."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import cast

import httpx
import pytest

from fal_typed import Client
from fal_typed.files._upload import UploadSettings
from fal_typed.testing import LocalFal
from fal_typed.testing._filestore import FileStore
from fal_typed.testing._storage import Storage

SMALL = UploadSettings(
    multipart_threshold=256 * 1024, part_size=64 * 1024, max_concurrency=4, retry_backoff=0.01
)
"""Multipart above 256 KiB in 64 KiB parts: the multipart logic without 100 MiB files."""


@dataclass
class StorageServer:
    """The local server, seen from the storage side."""

    fal: LocalFal

    @property
    def base(self) -> str:
        return self.fal.base_url

    @property
    def storage(self) -> Storage:
        return cast(Storage, self.fal.state.extensions["storage"])

    @property
    def files(self) -> FileStore:
        return self.fal.state.files

    def client(self, **overrides: object) -> Client:
        return self.fal.client(**overrides)

    def fetch(self, url: str) -> bytes:
        response = httpx.get(url, timeout=60)
        response.raise_for_status()
        return response.content


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(local_fal: LocalFal) -> StorageServer:
    """The session's local server, reset (no faults, counters at zero, no files)."""
    return StorageServer(local_fal)


@pytest.fixture
def key(local_fal: LocalFal) -> str:
    """The API key the test clients send."""
    return local_fal.client().credentials().key


@pytest.fixture
def client(server: StorageServer) -> Iterator[Client]:
    with server.client() as client:
        yield client


@pytest.fixture
async def aclient(server: StorageServer) -> AsyncIterator[Client]:
    async with server.client() as client:
        yield client
