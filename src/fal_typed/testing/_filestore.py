"""The files the local server's CDN prefix serves (``<base>/cdn/files/b/<hash>/<name>``).

Synthesised outputs are stored here, in memory, content-addressed (the same bytes and name give
the same URL) and bounded: past ``max_memory`` bytes the least recently stored files are
dropped. A module that receives large uploads can hand over a file on disk instead
(:meth:`FileStore.put_file`); such files are deleted on :meth:`FileStore.clear`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["FileStore", "StoredFile"]

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
DEFAULT_MAX_MEMORY: Final = 256 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """One served file: in memory (``data``) or on disk (``path``)."""

    key: str
    content_type: str
    file_name: str
    size: int
    data: bytes | None = None
    path: Path | None = None


def safe_file_name(name: str) -> str:
    """``name`` reduced to URL-safe characters (never empty)."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[:120]


class FileStore:
    """Thread-safe store of served files; see the module docstring."""

    def __init__(self, *, max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        self.max_memory = max_memory
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._memory = 0
        self._lock = threading.Lock()

    def put(self, data: bytes, *, content_type: str, file_name: str) -> StoredFile:
        """Store bytes; returns the entry (its ``key`` goes after ``<cdn>/files/``)."""
        name = safe_file_name(file_name)
        digest = hashlib.sha256(data + b"\x00" + name.encode()).hexdigest()[:12]
        stored = StoredFile(f"b/{digest}/{name}", content_type, name, len(data), data=data)
        with self._lock:
            previous = self._files.pop(stored.key, None)
            if previous is not None and previous.data is not None:
                self._memory -= previous.size
            self._files[stored.key] = stored
            self._memory += stored.size
            self._evict()
        return stored

    def put_file(
        self, path: str | os.PathLike[str], *, key: str, content_type: str, file_name: str
    ) -> StoredFile:
        """Serve a file on disk under ``key``; the store deletes it on :meth:`clear`."""
        source = Path(path)
        stored = StoredFile(
            key, content_type, safe_file_name(file_name), source.stat().st_size, path=source
        )
        with self._lock:
            previous = self._files.pop(key, None)
            self._files[key] = stored
        if previous is not None:
            self._forget(previous)
        return stored

    def get(self, key: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(key)

    def delete(self, key: str) -> bool:
        """Stop serving ``key`` (deleting an on-disk file); False if it was not stored."""
        with self._lock:
            stored = self._files.pop(key, None)
            if stored is not None and stored.data is not None:
                self._memory -= stored.size
        if stored is None:
            return False
        self._forget(stored)
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def clear(self) -> None:
        """Drop every file (and delete the on-disk ones)."""
        with self._lock:
            files = list(self._files.values())
            self._files.clear()
            self._memory = 0
        for stored in files:
            self._forget(stored)

    def _evict(self) -> None:
        while self._memory > self.max_memory and self._files:
            oldest = next((k for k, f in self._files.items() if f.data is not None), None)
            if oldest is None:
                return
            dropped = self._files.pop(oldest)
            self._memory -= dropped.size

    @staticmethod
    def _forget(stored: StoredFile) -> None:
        if stored.path is not None:
            stored.path.unlink(missing_ok=True)

    def routes(self) -> list[BaseRoute]:
        """``GET``/``HEAD /files/{key}``, to mount under the CDN prefix."""

        async def serve(request: Request) -> Response:
            stored = self.get(request.path_params["key"])
            if stored is None:
                return JSONResponse({"detail": "File not found"}, status_code=404)
            headers = {"Cache-Control": "public, max-age=3600"}
            if stored.path is not None:
                return FileResponse(stored.path, media_type=stored.content_type, headers=headers)
            return Response(stored.data, media_type=stored.content_type, headers=headers)

        return [Route("/files/{key:path}", serve, methods=["GET", "HEAD"], name="cdn.file")]
