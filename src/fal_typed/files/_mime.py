"""Content types of uploads: from the file name, else from the first bytes, else octet-stream.

Models read the content type of their inputs (an audio model wants ``audio/wav``, not
``application/octet-stream``), and raw ``bytes`` carry no name, so a small magic-number table
covers the media types fal models take.
"""

from __future__ import annotations

import mimetypes
import re

from .._errors import InvalidArgumentError

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "SNIFF_BYTES",
    "check_content_type",
    "default_file_name",
    "guess_content_type",
    "sniff_content_type",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
SNIFF_BYTES = 64
"""How many leading bytes :func:`sniff_content_type` looks at."""

_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")

# (offset, magic, content type); checked in order, first match wins.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"glTF", "model/gltf-binary"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FTYP = {
    b"qt  ": "video/quicktime",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"avif": "image/avif",
    b"M4A ": "audio/mp4",
}


def sniff_content_type(head: bytes) -> str | None:
    """The content type announced by ``head`` (a file's first bytes), or ``None``."""
    for offset, magic, content_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return content_type
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "video/mp4")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # MPEG audio frame sync without an ID3 tag
    return None


def guess_content_type(file_name: str | None, head: bytes) -> str:
    """Content type from the name's extension, else from the leading bytes, else octet-stream."""
    if file_name:
        guessed, _ = mimetypes.guess_type(file_name, strict=False)
        if guessed:
            return guessed
    return sniff_content_type(head) or DEFAULT_CONTENT_TYPE


def check_content_type(content_type: object) -> str:
    """Return ``content_type`` if it is a string of the form ``type/subtype``, else raise
    :class:`~fal_typed.InvalidArgumentError` (a ``ValueError``)."""
    if not isinstance(content_type, str):
        raise InvalidArgumentError(
            f"content_type must be a string, got {type(content_type).__name__}"
        )
    if not _CONTENT_TYPE.match(content_type) or not content_type.isascii():
        raise InvalidArgumentError(
            f"content_type {content_type!r} is not of the form 'type/subtype'"
        )
    return content_type


def default_file_name(content_type: str) -> str:
    """``upload.<ext>`` for a nameless upload, so the stored object keeps a useful extension."""
    base = content_type.split(";", 1)[0].strip()
    extension = (
        mimetypes.guess_extension(base, strict=False) if base != DEFAULT_CONTENT_TYPE else None
    )
    return f"upload{extension or '.bin'}"
