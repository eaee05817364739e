"""Output files of a batch, downloaded under deterministic names.

A row's files go to ``<out>/files/<key>-<where>.<ext>``: ``where`` is the file's place in the
output (``images-0``, ``video``), the extension comes from the file name, the content type or the
URL. The same row always gets the same names, so a re-run overwrites instead of duplicating, and
the report links them relatively. Each file appears whole or not at all (written beside its name,
flushed to disk, then renamed).
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Final, cast

from .._client import Client
from ..files._data_uri import decode_data_uri
from ..files._download import adownload
from ..files._names import url_path

__all__ = ["FILES_DIR", "Downloader", "file_nodes", "safe_name"]

FILES_DIR: Final = "files"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
_SAFE = re.compile(r"[a-z0-9](?:[a-z0-9._=-]*[a-z0-9=-])?")
_MAX_NAME = 120
_HASH = 10


def safe_name(text: str) -> str:
    """``text`` as a file name part: letters, digits and ``._=-`` only, bounded in length.

    Distinct texts get distinct names, so no row's files overwrite another's: a text that is not
    a safe name already (other characters, capitals, which a case-insensitive disk folds, or too
    long) keeps a readable part and gains a hash of itself (``猫`` and ``犬`` were both ``row``,
    ``a/b`` and ``a_b`` both ``a_b``)."""
    if len(text) <= _MAX_NAME and _SAFE.fullmatch(text):
        return text
    readable = _UNSAFE.sub("_", text).strip("._")[: _MAX_NAME - _HASH - 1] or "row"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    return f"{readable}-{digest}"


def file_nodes(data: Any, where: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every ``(where, url, node)`` file object (a mapping with an http(s) or data: ``url``) of a
    result, depth first, in document order."""
    if isinstance(data, dict):
        node = cast("dict[str, Any]", data)
        url = node.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://", "data:")):
            yield where or "file", url, node
            return
        for key, value in node.items():
            yield from file_nodes(value, f"{where}-{key}" if where else str(key))
    elif isinstance(data, list):
        for index, item in enumerate(cast("list[object]", data)):
            yield from file_nodes(item, f"{where}-{index}" if where else str(index))


def _extension(url: str, node: dict[str, Any]) -> str:
    for candidate in (node.get("file_name"), None if url.startswith("data:") else url):
        if isinstance(candidate, str):
            suffix = PurePosixPath(url_path(candidate)).suffix
            if 1 < len(suffix) <= 8 and suffix[1:].isalnum():
                return suffix.lower()
    content_type = node.get("content_type")
    if not isinstance(content_type, str) and url.startswith("data:"):
        content_type = url[5:].split(";", 1)[0].split(",", 1)[0]
    if isinstance(content_type, str):
        guessed = mimetypes.guess_extension(content_type.split(";")[0].strip())
        if guessed:
            return ".jpg" if guessed == ".jpe" else guessed
    return ".bin"


def _write_atomic(target: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class Downloader:
    """Saves a row's output files under ``root/files`` (at most ``concurrency`` at once)."""

    def __init__(self, root: Path, client: Client, *, concurrency: int = 16) -> None:
        self.root = root
        self.client = client
        self._slots = asyncio.Semaphore(concurrency)
        (root / FILES_DIR).mkdir(parents=True, exist_ok=True)

    async def save(self, key: str, data: Any) -> list[str]:
        """Download every file of ``data``; their paths relative to ``root`` (POSIX style)."""
        stem = safe_name(key)
        saved: list[str] = []
        for where, url, node in file_nodes(data):
            name = f"{stem}-{safe_name(where)}{_extension(url, node)}"
            relative = f"{FILES_DIR}/{name}"
            async with self._slots:
                content = await self._fetch(url)
                await asyncio.to_thread(_write_atomic, self.root / relative, content)
            saved.append(relative)
        return saved

    async def _fetch(self, url: str) -> bytes:
        if url.startswith("data:"):
            return decode_data_uri(url)
        buffer = bytearray()

        async def write(chunk: bytes) -> None:
            buffer.extend(chunk)

        async def reset() -> None:
            buffer.clear()

        await adownload(self.client, url, write, reset)
        return bytes(buffer)
