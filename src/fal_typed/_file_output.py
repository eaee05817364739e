"""`FileOutput`: base of the generated output models that describe a file (File, Image, Video...).

They keep every schema field (``url``, ``content_type``, ``file_name``, ``file_size``, width...)
and gain ``read``/``save`` and their async twins, for http(s) URLs and ``data:`` URIs alike.
"""

from __future__ import annotations

import base64
import binascii
import os
import urllib.parse
from pathlib import Path

import httpx

from ._errors import FalError
from ._models import OutputModel

__all__ = ["FileOutput", "decode_data_uri"]

_CHUNK = 1 << 20


def decode_data_uri(uri: str) -> bytes:
    """Decode a ``data:[<type>][;base64],<data>`` URI (fal's sync_mode results)."""
    header, sep, payload = uri.partition(",")
    if not sep or not header.startswith("data:"):
        raise FalError(f"not a data URI: {uri[:40]!r}")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise FalError(f"malformed base64 in data URI: {exc}") from None
    return urllib.parse.unquote_to_bytes(payload)


class FileOutput(OutputModel):
    """A file in a result. ``read()`` returns its bytes, ``save(path)`` streams it to disk."""

    def _file_url(self) -> str:
        url = getattr(self, "url", None)
        if not isinstance(url, str) or not url:
            raise FalError(f"{type(self).__name__} has no url to download")
        return url

    def read(self, *, client: httpx.Client | None = None) -> bytes:
        """Download the file and return its bytes."""
        url = self._file_url()
        if url.startswith("data:"):
            return decode_data_uri(url)
        from ._client import default_client

        http = client or default_client().http
        response = http.get(url, follow_redirects=True)
        response.raise_for_status()
        return response.content

    def save(self, path: str | os.PathLike[str], *, client: httpx.Client | None = None) -> Path:
        """Stream the file to ``path`` (written whole or not at all) and return the path."""
        url = self._file_url()
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as out:
                if url.startswith("data:"):
                    out.write(decode_data_uri(url))
                else:
                    from ._client import default_client

                    http = client or default_client().http
                    with http.stream("GET", url, follow_redirects=True) as response:
                        response.raise_for_status()
                        for chunk in response.iter_bytes(_CHUNK):
                            out.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    async def aread(self, *, client: httpx.AsyncClient | None = None) -> bytes:
        """Async twin of :meth:`read`."""
        url = self._file_url()
        if url.startswith("data:"):
            return decode_data_uri(url)
        from ._client import default_client

        http = client or default_client().async_http
        response = await http.get(url, follow_redirects=True)
        response.raise_for_status()
        return response.content

    async def asave(self, path: str | os.PathLike[str], *, client: httpx.AsyncClient | None = None) -> Path:
        """Async twin of :meth:`save`."""
        url = self._file_url()
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("wb") as out:
                if url.startswith("data:"):
                    out.write(decode_data_uri(url))
                else:
                    from ._client import default_client

                    http = client or default_client().async_http
                    async with http.stream("GET", url, follow_redirects=True) as response:
                        response.raise_for_status()
                        async for chunk in response.aiter_bytes(_CHUNK):
                            out.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target
