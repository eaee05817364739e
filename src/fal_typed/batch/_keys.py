"""Row identity: the stable key of each row, and the hash that tells a changed row from its past.

A row's *slot* is what identifies it across runs: the value of the key field when one is given
(``--key-field id``), else its position in the input. Its *key* is what people read: the key
field's value, or ``<position>-<hash prefix>``. The *hash* is of the row's validated input in
canonical JSON, so a resumed run notices, row by row, an input file that changed under it.

Local files in a row travel through the journal as ``{"$fal_typed_file": "/abs/path"}``: JSON the
journal can hold, turned back into a path (and uploaded) when the row is sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from ..files._arguments import BodyWithUploads

__all__ = [
    "FILE_MARKER",
    "RowIdentity",
    "canonical_json",
    "from_journal_form",
    "has_files",
    "identity",
    "input_hash",
    "to_journal_form",
]

FILE_MARKER: Final = "$fal_typed_file"
"""The one key of the JSON object that stands for a local file inside a journaled input."""

_HASH_PREFIX: Final = 10


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept (what the hash is taken of)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def input_hash(journal_input: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of a row's input in journal form."""
    return hashlib.sha256(canonical_json(journal_input).encode()).hexdigest()


@dataclass(frozen=True)
class RowIdentity:
    """Where a row sits in the journal (``slot``), what it is called (``key``), what it holds."""

    slot: str
    key: str
    hash: str


def identity(position: int, key_value: object | None, digest: str) -> RowIdentity:
    """The identity of the row at ``position`` (0-based) with this key field value, if any."""
    if key_value is None:
        return RowIdentity(f"#{position}", f"{position}-{digest[:_HASH_PREFIX]}", digest)
    key = key_value if isinstance(key_value, str) else canonical_json(key_value)
    return RowIdentity(f"={key}", key, digest)


def to_journal_form(body: Mapping[str, Any]) -> dict[str, Any]:
    """A validated body (placeholders for local files) as plain JSON, files as markers.

    Raises ``ValueError`` for a source that is not a path (bytes, file objects, images): a
    journaled row must be re-readable after a crash, and only a file on disk is.
    """
    uploads = body.uploads if isinstance(body, BodyWithUploads) else {}

    def walk(value: Any) -> Any:
        if isinstance(value, str) and value in uploads:
            source = uploads[value]
            if not isinstance(source, os.PathLike):
                raise ValueError(
                    f"a batch row can hold local files as paths only, not {type(source).__name__}: "
                    "save it to a file first"
                )
            return {FILE_MARKER: os.path.abspath(os.fspath(source))}
        if isinstance(value, Mapping):
            return {str(k): walk(v) for k, v in cast("Mapping[object, Any]", value).items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in cast("list[object]", value)]
        return value

    return cast("dict[str, Any]", walk(dict(body)))


def from_journal_form(journal_input: Mapping[str, Any]) -> dict[str, Any]:
    """The journaled input with each file marker turned back into a ``Path`` (to upload)."""

    def walk(value: Any) -> Any:
        if isinstance(value, Mapping):
            mapping = cast("Mapping[str, Any]", value)
            if len(mapping) == 1 and isinstance(mapping.get(FILE_MARKER), str):
                return Path(mapping[FILE_MARKER])
            return {k: walk(v) for k, v in mapping.items()}
        if isinstance(value, list):
            return [walk(v) for v in cast("list[object]", value)]
        return value

    return cast("dict[str, Any]", walk(journal_input))


def has_files(value: Any) -> bool:
    """Whether a row's journal form holds local files (sent as upload URLs, not as stored)."""
    if isinstance(value, dict):
        return FILE_MARKER in value or any(has_files(v) for v in value.values())  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return any(has_files(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return False
