"""Stage 1: find and read the OpenAPI documents (one per endpoint, ``schemas/*.json``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(f"cannot read document: {exc}") from None
    if not isinstance(data, dict):
        raise DocumentError("document is not a JSON object")
    return Document(source=path.name, sha256=hashlib.sha256(raw).hexdigest(), data=data)
