"""Stage 1: find and read the OpenAPI documents (one per endpoint, ``schemas/*.json``).

A document is read whole or refused: JSON nested deeper than ``MAX_DEPTH`` levels (which would
exhaust the recursion of any later stage) is a DocumentError, and an integer too long for
Python to convert (over 4,000 digits) is read as an infinity, which normalise drops like every
number Python cannot write as a literal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fal_typed.catalog._corpus import MAX_DEPTH, json_depth

from .diagnostics import DocumentError

__all__ = ["Document", "document_paths", "file_sha256", "read_document"]


@dataclass(frozen=True)
class Document:
    """One parsed document; ``sha256`` is the hash of its bytes, the manifest's key."""

    source: str
    sha256: str
    data: dict[str, Any]


def document_paths(schemas_dir: Path) -> list[Path]:
    """Every ``*.json`` document of ``schemas_dir``, in a stable order."""
    return sorted(schemas_dir.glob("*.json"))


def file_sha256(path: Path) -> str:
    """Hash of a file's bytes (what the manifest compares to decide whether to regenerate)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_document(path: Path) -> Document:
    """Read and parse one document; an unreadable or non-object document is a DocumentError."""
    try:
        raw = path.read_bytes()
        data = json.loads(raw, parse_int=_int)
    except RecursionError:
        raise DocumentError(
            f"cannot read document: nested deeper than {MAX_DEPTH} levels"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise DocumentError(f"cannot read document: {exc}") from None
    if not isinstance(data, dict):
        raise DocumentError("document is not a JSON object")
    if json_depth(data) > MAX_DEPTH:
        raise DocumentError(f"cannot read document: nested deeper than {MAX_DEPTH} levels")
    return Document(source=path.name, sha256=hashlib.sha256(raw).hexdigest(), data=data)


def _int(text: str) -> int | float:
    if len(text) > 4000:  # int() refuses over 4,300 digits, and so does a literal in source
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)
