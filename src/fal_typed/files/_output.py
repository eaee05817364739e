"""`FileOutput`: base of the generated output models that describe a file (File, Image, Video...).

They keep every schema field (``url``, ``content_type``, ``file_name``, ``file_size``, width...)
and gain ``read``/``save`` and their async twins, for http(s) URLs and ``data:`` URIs (fal's
``sync_mode`` results) alike, downloading through the client's own httpx clients within its
:class:`~fal_typed.Limits` (size, decompression, total time: see ``_download``).

Saving is atomic and leaves nothing behind (``_save``); a name the server chose is made safe
(``_names``: no path, no dotfile, bounded length) before a folder is given it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .._errors import FalError
from .._models import OutputModel
from ._errors import DownloadError
from ._names import output_file_name
from ._save import atomic_file, save_target

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["FileOutput"]

# The download code (``_download``, ``_data_uri``, ``asyncio``) loads at the first read or save:
# every endpoint module with a file in its output imports this one.


def _client(client: Client | None) -> Client:
    if client is not None:
        return client
    from .._client import default_client

    return default_client()


def _is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def _write_failed(url: str, target: Path, exc: OSError) -> DownloadError:
    from ._download import safe_url

    return DownloadError(
        safe_url(url)[:200], f"cannot write the file ({exc.strerror or exc})", file=str(target)
    )


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
            from ._download import safe_url

            raise FalError(
                f"cannot download {safe_url(url)[:80]!r}: only http(s) and data: URLs are supported"
            )
        return url

    def _default_name(self, url: str) -> str:
        """The file's own name, made safe: ``file_name``, else the URL's last segment."""
        return output_file_name(
            url,
            getattr(self, "file_name", None),
            getattr(self, "content_type", None),
            fallback="download",
        )

    def _target(self, path: str | os.PathLike[str], url: str) -> Path:
        return save_target(path, self._default_name(url))

    def read(self, *, client: Client | None = None) -> bytes:
        """Download the file and return its bytes (held in memory: ``save`` streams to disk)."""
        from ._data_uri import decode_data_uri
        from ._download import download

        url = self._file_url()
        if _is_data_uri(url):
            return decode_data_uri(url)
        buffer = bytearray()
        download(_client(client), url, buffer.extend, buffer.clear)
        return bytes(buffer)

    def save(self, path: str | os.PathLike[str], *, client: Client | None = None) -> Path:
        """Stream the file to ``path`` and return where it went.

        The file appears whole or not at all (written beside it, then renamed), with the mode
        ``open()`` would give it; temporary files an interrupted save left there are removed.
        If ``path`` is a folder, or ends with a separator (``"outputs/"``, created if missing),
        the file keeps its own name (``file_name``, else the URL's last segment), made safe.
        """
        from ._data_uri import decode_data_uri
        from ._download import download

        url = self._file_url()
        target = self._target(path, url)
        try:
            with atomic_file(target) as out:
                if _is_data_uri(url):
                    out.write(decode_data_uri(url))
                else:
                    download(_client(client), url, out.write, _rewinder(out))
        except FalError:
            raise  # FalTimeoutError is an OSError too (a TimeoutError): not a failed write
        except OSError as exc:
            raise _write_failed(url, target, exc) from None
        return target

    async def aread(self, *, client: Client | None = None) -> bytes:
        """Async twin of :meth:`read`."""
        from ._data_uri import decode_data_uri
        from ._download import adownload

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
        import asyncio

        from ._data_uri import decode_data_uri
        from ._download import adownload

        url = self._file_url()
        target = await asyncio.to_thread(self._target, path, url)
        try:
            with atomic_file(target) as out:
                if _is_data_uri(url):
                    await asyncio.to_thread(out.write, decode_data_uri(url))
                else:

                    async def write(chunk: bytes) -> None:
                        await asyncio.to_thread(out.write, chunk)

                    async def reset() -> None:
                        _rewinder(out)()

                    await adownload(_client(client), url, write, reset)
        except FalError:
            raise  # FalTimeoutError is an OSError too (a TimeoutError): not a failed write
        except OSError as exc:
            raise _write_failed(url, target, exc) from None
        return target


def _rewinder(out: IO[bytes]) -> Callable[[], None]:
    """Empties ``out`` for a download that starts again from its first byte."""

    def rewind() -> None:
        out.seek(0)
        out.truncate()

    return rewind
