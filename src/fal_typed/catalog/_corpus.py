"""The schemas/ directory: one OpenAPI document per endpoint, in one exact text format.

Documents are named ``<endpoint id with "/" -> "__">.json`` and written with a 2-space indent,
keys in their original order, numbers exactly as fal wrote them (``2.50`` stays ``2.50``) and
non-ASCII text unescaped, followed by a newline. Keeping the lexemes means a refresh that changes
nothing rewrites nothing, and a diff of schemas/ shows only what fal changed.

Writes are atomic (temporary file in the same directory, then ``os.replace``): a reader, or a
fetch killed half-way, only ever sees a whole old document or a whole new one.

Ids follow :func:`fal_typed.naming.check_endpoint_id`. Two ids can still share a file name
(``a__b/c`` and ``a/b/c`` are both ``a__b__c.json``): each document names its own id
(``info.x-fal-metadata.endpointId``), so the fetch never lets one replace the other.
Documents come from the network: they are parsed with a nesting limit (``MAX_DEPTH``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..naming import check_endpoint_id

__all__ = [
    "DEBRIS_PREFIX",
    "MAX_DEPTH",
    "DocumentInfo",
    "RawNumber",
    "TooDeep",
    "document_endpoint_id",
    "document_filename",
    "dumps_document",
    "iter_document_paths",
    "json_depth",
    "loads_document",
    "read_info",
    "remove_debris",
    "stored_endpoint_id",
    "write_atomic",
]

DEBRIS_PREFIX = ".fal-typed-"
"""Temporary files of an unfinished write start with this; they are never documents."""

MAX_DEPTH = 64
"""How deeply a document may nest objects and arrays (fal's deepest: 13 levels)."""


class TooDeep(ValueError):
    """JSON nested deeper than allowed."""


class RawNumber(str):
    """A JSON number kept as the exact text it was written as."""

    __slots__ = ()


def document_filename(endpoint_id: str) -> str:
    """The corpus file name of an endpoint: ``fal-ai/flux/dev`` -> ``fal-ai__flux__dev.json``."""
    return check_endpoint_id(endpoint_id).replace("/", "__") + ".json"


def json_depth(value: object) -> int:
    """How deeply ``value`` nests objects and arrays (a scalar is 0), without recursion."""
    deepest = 0
    todo: list[tuple[object, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children: Iterable[object] = cast("dict[str, object]", item).values()
        elif isinstance(item, list):
            children = cast("list[object]", item)
        else:
            continue
        deepest = max(deepest, depth + 1)
        todo.extend((child, depth + 1) for child in children)
    return deepest


def loads_document(text: str | bytes, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """Parse JSON, keeping key order and every number's lexeme (as :class:`RawNumber`).

    Raises ``ValueError`` for text that is not JSON, :class:`TooDeep` for JSON nested deeper
    than ``max_depth`` (None: as deep as the parser can go; the caller checks what it keeps).
    """
    too_deep = (
        "nested too deeply" if max_depth is None else f"nested deeper than {max_depth} levels"
    )
    try:
        value = json.loads(
            text, parse_float=RawNumber, parse_int=RawNumber, parse_constant=RawNumber
        )
    except RecursionError:  # deeper than the interpreter's stack: far deeper than any limit
        raise TooDeep(too_deep) from None
    if max_depth is not None and json_depth(value) > max_depth:
        raise TooDeep(too_deep)
    return value


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


def document_endpoint_id(document: object) -> str | None:
    """The id a parsed document names (``info.x-fal-metadata.endpointId``), if it names one."""
    info = _object(_object(document).get("info"))
    endpoint_id = _object(info.get("x-fal-metadata")).get("endpointId")
    return endpoint_id if isinstance(endpoint_id, str) and endpoint_id else None


def stored_endpoint_id(path: Path) -> str | None:
    """The id the document at ``path`` names; None if it is missing, unreadable or names none."""
    try:
        return document_endpoint_id(json.loads(path.read_bytes()))
    except (OSError, ValueError, RecursionError):
        return None


def read_info(path: Path) -> DocumentInfo:
    """Read the endpoint id, category and description of a document.

    The id falls back to the file name for documents without ``x-fal-metadata``.
    Raises ``ValueError`` for a file that is not a JSON object.
    """
    try:
        document = json.loads(path.read_bytes())
    except RecursionError:
        raise ValueError(f"{path.name}: not a readable JSON document (nested too deeply)") from None
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
