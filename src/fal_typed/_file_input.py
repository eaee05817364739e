"""What a file field of a generated call accepts, and how to tell an upload source from a URL."""

from __future__ import annotations

import os
from typing import IO, Any, Protocol, TypeAlias, Union, runtime_checkable

__all__ = ["FileInput", "SupportsImageSave", "is_upload_source"]


@runtime_checkable
class SupportsImageSave(Protocol):
    """A PIL ``Image`` (or anything saving itself like one); typed without importing Pillow."""

    def save(self, fp: Any, format: str | None = None, **params: Any) -> None: ...


FileInput: TypeAlias = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], SupportsImageSave
]
"""A URL string (http(s) or ``data:``) sent as is, or a local source uploaded before the request."""


def is_upload_source(value: object) -> bool:
    """True for values that must be uploaded (paths, bytes, binary files, PIL images), not strings."""
    if isinstance(value, str):
        return False
    if isinstance(value, (os.PathLike, bytes, bytearray, memoryview)):
        return True
    if hasattr(value, "read") and callable(getattr(value, "read", None)):
        return True
    return isinstance(value, SupportsImageSave) and type(value).__module__.startswith("PIL.")
