"""fal's real sizes: exactly 100 MiB (one POST) and past it (10 MiB parts). Slow on 2 cores."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from fal_typed import Client
from fal_typed.files._settings import MiB
from fal_typed.files._upload import upload, upload_async

from .conftest import StorageServer

pytestmark = pytest.mark.slow


def _random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes in 4 MiB steps; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        remaining = size
        while remaining:
            block = os.urandom(min(4 * MiB, remaining))
            digest.update(block)
            out.write(block)
            remaining -= len(block)
    return digest.hexdigest()


def _served_sha256(url: str) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_exactly_100_mib_is_one_post(server: StorageServer, client: Client, tmp_path: Path) -> None:
    path = tmp_path / "hundred.bin"
    expected = _random_file(path, 100 * MiB)
    url = upload(path, client=client)
    assert server.storage.uploads[url].flow == "cdn"
    assert server.storage.uploads[url].size == 100 * MiB
    assert _served_sha256(url) == expected


def test_one_byte_past_100_mib_is_multipart(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "hundred-and-one.bin"
    expected = _random_file(path, 100 * MiB + 1)
    url = upload(path, client=client)
    assert server.storage.uploads[url].flow == "multipart"
    assert [server.storage.attempts[f"part:{n}"] for n in range(1, 12)] == [
        1
    ] * 11  # 10 x 10 MiB + 1 byte
    assert _served_sha256(url) == expected


async def test_async_multipart_with_a_failing_part(
    server: StorageServer, aclient: Client, tmp_path: Path
) -> None:
    path = tmp_path / "async-big.bin"
    expected = _random_file(path, 125 * MiB)
    server.storage.fail("part", part=7, times=2, status=500)
    url = await upload_async(path, client=aclient)
    assert server.storage.attempts["part:7"] == 3
    assert server.storage.uploads[url].size == 125 * MiB
    assert _served_sha256(url) == expected
