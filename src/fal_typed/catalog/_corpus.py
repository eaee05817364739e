"""The schemas/ directory: one OpenAPI document per endpoint, in one exact text format.

Documents are named ``<endpoint id with "/" -> "__">.json`` and written with a 2-space indent,
keys in their original order, numbers exactly as fal wrote them (``2.50`` stays ``2.50``) and
non-ASCII text unescaped, followed by a newline. Keeping the lexemes means a refresh that changes
nothing rewrites nothing, and a diff of schemas/ shows only what fal changed.

Writes are atomic (temporary file in the same directory, then ``os.replace``): a reader, or a
fetch killed half-way, only ever sees a whole old document or a whole new one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

__all__ = [
    "DEBRIS_PREFIX",
    "DocumentInfo",
    "RawNumber",
    "document_filename",
    "dumps_document",
    "iter_document_paths",
    "loads_document",
    "read_info",
    "remove_debris",
    "validate_endpoint_id",
    "write_atomic",
]

DEBRIS_PREFIX = ".fal-typed-"
"""Temporary files of an unfinished write start with this; they are never documents."""

_ID_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RawNumber(str):
    """A JSON number kept as the exact text it was written as."""

    __slots__ = ()


def validate_endpoint_id(endpoint_id: str) -> str:
    """Return ``endpoint_id`` if it can name an endpoint and a file, else raise ``ValueError``."""
    segments = endpoint_id.split("/")
    if len(segments) < 2 or not all(_ID_SEGMENT.match(s) for s in segments):
        raise ValueError(
            f"invalid endpoint id {endpoint_id!r}: expected 'owner/app[/path...]' made of "
            "letters, digits, '.', '_' and '-'"
        )
    return endpoint_id


def document_filename(endpoint_id: str) -> str:
    """The corpus file name of an endpoint: ``fal-ai/flux/dev`` -> ``fal-ai__flux__dev.json``."""
    return validate_endpoint_id(endpoint_id).replace("/", "__") + ".json"


def loads_document(text: str | bytes) -> Any:
    """Parse JSON, keeping key order and every number's lexeme (as :class:`RawNumber`)."""
    return json.loads(text, parse_float=RawNumber, parse_int=RawNumber, parse_constant=RawNumber)


def _write(value: object, depth: int, out: list[str]) -> None:
    if isinstance(value, RawNumber):
        out.append(str(value))
    elif isinstance(value, dict) and value:
        inner = "  " * (depth + 1)
        out.append("{\n")
        for index, (key, item) in enumerate(cast("dict[str, object]", value).items()):
            if index:
                out.append(",\n")
            out.append(f"{inner}{json.dumps(key, ensure_ascii=False)}: ")
            _write(item, depth + 1, out)
        out.append("\n" + "  " * depth + "}")
    elif isinstance(value, list) and value:
        inner = "  " * (depth + 1)
        out.append("[\n")
        for index, item in enumerate(cast("list[object]", value)):
            if index:
                out.append(",\n")
            out.append(inner)
            _write(item, depth + 1, out)
        out.append("\n" + "  " * depth + "]")
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def dumps_document(document: Any) -> str:
    """Serialise a document (parsed by :func:`loads_document`) in the corpus format."""
    out: list[str] = []
    _write(document, 0, out)
    out.append("\n")
    return "".join(out)


def _create_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new hidden temp file beside the target, with the mode a plain ``open`` would give."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = directory / f"{DEBRIS_PREFIX}{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(temp, flags, 0o666), temp  # the umask applies, unlike mkstemp's 0o600
        except FileExistsError:
            continue


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temp file, fsync, ``os.replace``)."""
    fd, temp = _create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def iter_document_paths(directory: Path) -> Iterator[Path]:
    """Every endpoint document in ``directory``, sorted (hidden and temporary files excluded)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.json")):
        if not path.name.startswith(".") and path.is_file():
            yield path


def remove_debris(directory: Path) -> int:
    """Delete temporary files left by an interrupted write; return how many were removed."""
    removed = 0
    if directory.is_dir():
        for path in directory.glob(f"{DEBRIS_PREFIX}*.tmp"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass(frozen=True)
class DocumentInfo:
    """What ``list`` and ``fetch`` need to know about one document, without its schemas."""

    endpoint_id: str
    category: str
    about: str
    path: Path


def _object(value: object) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _text(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def read_info(path: Path) -> DocumentInfo:
    """Read the endpoint id, category and description of a document.

    The id falls back to the file name for documents without ``x-fal-metadata``.
    Raises ``ValueError`` for a file that is not a JSON object.
    """
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path.name}: not a readable JSON document ({exc})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: not a JSON object")
    info = _object(cast("dict[str, Any]", document).get("info"))
    meta = _object(info.get("x-fal-metadata"))
    endpoint_id = _text(meta, "endpointId") or path.stem.replace("__", "/")
    return DocumentInfo(
        endpoint_id, _text(meta, "category") or "unknown", _text(meta, "about"), path
    )
