"""``data:`` URIs: inline small inputs without an upload, and read fal's ``sync_mode`` outputs.

fal models accept a ``data:<type>;base64,<payload>`` wherever they accept a file URL; fal advises
against them above a few KB (the payload travels inside every request and status body).
"""

from __future__ import annotations

import base64
import binascii
import os
import urllib.parse
from pathlib import Path
from typing import cast

from .._errors import FalError, InvalidArgumentError
from ._source import UploadSource, open_source

__all__ = ["data_uri_content_type", "decode_data_uri", "encode", "encode_file", "encode_source"]


def encode_source(source: UploadSource) -> str:
    """``data:<content type>;base64,<payload>`` of a whole source."""
    return (
        f"data:{source.content_type};base64,{base64.b64encode(source.read_all()).decode('ascii')}"
    )


def encode(data: object, content_type: str | None = None) -> str:
    """Encode bytes, a binary file object or a PIL image as a ``data:`` URI (no network).

    ``content_type`` defaults to what the bytes announce (PNG, JPEG, WAV, MP4... signatures),
    else ``application/octet-stream``; a PIL image is encoded in its own format, PNG if none.
    """
    if isinstance(data, os.PathLike):
        raise TypeError("encode() takes in-memory data; use encode_file() for a path")
    with open_source(data, content_type=content_type) as source:
        return encode_source(source)


def encode_file(path: str | os.PathLike[str], content_type: str | None = None) -> str:
    """Encode the file at ``path`` as a ``data:`` URI; the type is guessed from its name and bytes."""
    if not isinstance(path, (str, os.PathLike)):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"path must be a str or a path, got {type(path).__name__}")
    with open_source(Path(path), content_type=content_type) as source:
        return encode_source(source)


def _split(uri: str) -> tuple[str, str]:
    given = cast(object, uri)
    if not isinstance(given, str):  # None (a field fal left out), bytes: not a URI to split
        raise InvalidArgumentError(f"a data URI must be a string, got {type(given).__name__}")
    header, sep, payload = uri.partition(",")
    if not sep or not header[:5].lower() == "data:":
        raise FalError(f"not a data URI: {uri[:40]!r}")
    return header[5:], payload


def data_uri_content_type(uri: str) -> str:
    """The media type a ``data:`` URI declares (``text/plain`` when it declares none, per RFC 2397)."""
    header, _ = _split(uri)
    media_type = header.split(";", 1)[0].strip()
    return media_type or "text/plain"


def decode_data_uri(uri: str) -> bytes:
    """The bytes of a ``data:[<type>][;base64],<data>`` URI."""
    header, payload = _split(uri)
    if header.lower().endswith(";base64"):
        try:
            text = "".join(urllib.parse.unquote(payload).split())  # tolerate line breaks
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FalError(f"malformed base64 in data URI: {exc}") from None
    return urllib.parse.unquote_to_bytes(payload)
