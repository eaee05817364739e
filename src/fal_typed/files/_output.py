"""`FileOutput`: base of the generated output models that describe a file (File, Image, Video...).

They keep every schema field (``url``, ``content_type``, ``file_name``, ``file_size``, width...)
and gain ``read``/``save`` and their async twins, for http(s) URLs and ``data:`` URIs (fal's
``sync_mode`` results) alike, downloading through the client's own httpx clients.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import urllib.parse
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .._errors import FalError, InvalidArgumentError
from .._models import OutputModel
from ._data_uri import decode_data_uri
from ._download import adownload, download, safe_url

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["FileOutput", "decode_data_uri"]


def _client(client: Client | None) -> Client:
    if client is not None:
        return client
    from .._client import default_client

    return default_client()


def _is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def _safe_name(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    name = os.path.basename(name.replace("\\", "/")).strip()
    return name if name not in ("", ".", "..") else None


@contextmanager
def _atomic_file(target: Path) -> Generator[IO[bytes], None, None]:
    """A temp file beside ``target``, renamed over it on success and removed on any failure."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class FileOutput(OutputModel):
    """A file in a result. ``read()`` returns its bytes, ``save(path)`` streams it to disk.

    Both take ``client=`` (a :class:`~fal_typed.Client`, default ``default_client()``) whose
    httpx clients make the download; the API key is never sent with it.
    """

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> tuple[dict[str, object], dict[str, object]]:
        """In a notebook: an image as itself (its bytes kept), a video or audio as a player,
        any other file as a link with its size and type."""
        from ..notebook._html import file_bundle

        return file_bundle(self)

    def _file_url(self) -> str:
        url = getattr(self, "url", None)
        if not isinstance(url, str) or not url:
            raise FalError(f"{type(self).__name__} has no url to download")
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https", "data"):
            raise FalError(
                f"cannot download {safe_url(url)[:80]!r}: only http(s) and data: URLs are supported"
            )
        return url

    def _default_name(self, url: str) -> str:
        name = _safe_name(getattr(self, "file_name", None))
        if name is None and not _is_data_uri(url):
            name = _safe_name(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
        return name or "download"

    def _target(self, path: str | os.PathLike[str], url: str) -> Path:
        target = Path(path)
        if target.is_dir():
            return target / self._default_name(url)
        if not target.parent.is_dir():
            raise InvalidArgumentError(
                f"cannot save to {target}: directory {target.parent} does not exist"
            )
        return target

    def read(self, *, client: Client | None = None) -> bytes:
        """Download the file and return its bytes."""
        url = self._file_url()
        if _is_data_uri(url):
            return decode_data_uri(url)
        buffer = bytearray()
        download(_client(client), url, buffer.extend, buffer.clear)
        return bytes(buffer)

    def save(self, path: str | os.PathLike[str], *, client: Client | None = None) -> Path:
        """Stream the file to ``path`` and return where it went.

        The file appears whole or not at all (written beside it, then renamed). If ``path`` is a
        directory the file keeps its own name (``file_name``, else the URL's last segment).
        """
        url = self._file_url()
        target = self._target(path, url)
        with _atomic_file(target) as out:
            if _is_data_uri(url):
                out.write(decode_data_uri(url))
            else:

                def reset() -> None:
                    out.seek(0)
                    out.truncate()

                download(_client(client), url, out.write, reset)
        return target

    async def aread(self, *, client: Client | None = None) -> bytes:
        """Async twin of :meth:`read`."""
        url = self._file_url()
        if _is_data_uri(url):
            return decode_data_uri(url)
        buffer = bytearray()

        async def write(chunk: bytes) -> None:
            buffer.extend(chunk)

        async def reset() -> None:
            buffer.clear()

        await adownload(_client(client), url, write, reset)
        return bytes(buffer)

    async def asave(self, path: str | os.PathLike[str], *, client: Client | None = None) -> Path:
        """Async twin of :meth:`save`; disk writes run in a worker thread."""
        url = self._file_url()
        target = self._target(path, url)
        with _atomic_file(target) as out:
            if _is_data_uri(url):
                await asyncio.to_thread(out.write, decode_data_uri(url))
            else:

                async def write(chunk: bytes) -> None:
                    await asyncio.to_thread(out.write, chunk)

                async def reset() -> None:
                    out.seek(0)
                    out.truncate()

                await adownload(_client(client), url, write, reset)
        return target
