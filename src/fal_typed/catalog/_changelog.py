"""The changelog of many endpoints: two folders, a folder and a git revision, or any two sets.

:func:`diff_document_sets` pairs documents by file name (``<endpoint id with / as __>.json``),
skips byte-identical ones, and diffs the rest with :func:`~._diff.diff_documents`. A document
that cannot be read is reported in :attr:`Changelog.errors` and the others are still compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._corpus import iter_document_paths
from ._diff import (
    EndpointDiff,
    Impact,
    diff_documents,
    endpoint_added,
    endpoint_id_of,
    endpoint_removed,
)
from ._git import documents_at

__all__ = [
    "Changelog",
    "diff_document_sets",
    "diff_folders",
    "diff_since",
    "documents_in",
]


@dataclass(frozen=True)
class Changelog:
    """What changed between two sets of endpoint documents (``old`` and ``new`` say which)."""

    old: str
    new: str
    endpoints: tuple[EndpointDiff, ...] = ()
    """Endpoints added, removed or changed, sorted by endpoint id (identical ones are left out)."""
    errors: tuple[tuple[str, str], ...] = ()
    """``(file name, why)`` for documents that could not be compared."""
    unchanged: int = 0

    @property
    def impact(self) -> Impact | None:
        """The most severe impact of any change."""
        impacts = [d.impact for d in self.endpoints if d.impact is not None]
        return min(impacts, key=lambda i: i.rank, default=None)

    def count(self, impact: Impact) -> int:
        """How many endpoints have ``impact`` as their most severe one."""
        return sum(1 for d in self.endpoints if d.impact is impact)

    def select(self, endpoint_ids: Iterable[str]) -> Changelog:
        """Only these endpoints."""
        wanted = set(endpoint_ids)
        kept = tuple(d for d in self.endpoints if d.endpoint_id in wanted)
        return Changelog(self.old, self.new, kept, self.errors, self.unchanged)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "summary": {
                "added": sum(1 for d in self.endpoints if d.status == "added"),
                "removed": sum(1 for d in self.endpoints if d.status == "removed"),
                "changed": sum(1 for d in self.endpoints if d.status == "changed"),
                "unchanged": self.unchanged,
                **{impact.value: self.count(impact) for impact in Impact},
            },
            "endpoints": [d.to_json() for d in self.endpoints],
            "errors": [{"file": name, "error": why} for name, why in self.errors],
        }


def _parse(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document  # pyright: ignore[reportUnknownVariableType]


def _id_from_name(name: str) -> str:
    return name.removesuffix(".json").replace("__", "/")


def diff_document_sets(
    old: Mapping[str, bytes],
    new: Mapping[str, bytes],
    *,
    old_label: str = "old",
    new_label: str = "new",
    keep: Callable[[str], bool] | None = None,
) -> Changelog:
    """Compare two ``{file name: document bytes}`` sets (``keep`` filters by endpoint id)."""
    diffs: list[EndpointDiff] = []
    errors: list[tuple[str, str]] = []
    unchanged = 0
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            unchanged += 1
            continue
        try:
            old_doc = _parse(before) if before is not None else None
            new_doc = _parse(after) if after is not None else None
        except ValueError as exc:
            errors.append((name, f"not a readable JSON document ({exc})"))
            continue
        named = [endpoint_id_of(doc) for doc in (new_doc, old_doc) if doc is not None]
        endpoint_id = next((i for i in named if i), None) or _id_from_name(name)
        if keep is not None and not keep(endpoint_id):
            continue
        if old_doc is None:
            diffs.append(endpoint_added(endpoint_id))
        elif new_doc is None:
            diffs.append(endpoint_removed(endpoint_id))
        else:
            diff = diff_documents(old_doc, new_doc, endpoint_id=endpoint_id)
            # different bytes, same JSON (key order, number lexemes): a new text, nothing visible
            diffs.append(EndpointDiff(endpoint_id) if diff.status == "unchanged" else diff)
    diffs.sort(key=lambda d: d.endpoint_id)
    return Changelog(old_label, new_label, tuple(diffs), tuple(errors), unchanged)


def documents_in(directory: Path) -> dict[str, bytes]:
    """``{file name: bytes}`` of every document in a folder (``FileNotFoundError`` if none)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    return {path.name: path.read_bytes() for path in iter_document_paths(directory)}


def diff_folders(old: Path, new: Path, *, keep: Callable[[str], bool] | None = None) -> Changelog:
    """Compare two folders of documents."""
    return diff_document_sets(
        documents_in(old), documents_in(new), old_label=str(old), new_label=str(new), keep=keep
    )


def diff_since(
    directory: Path, revision: str, *, keep: Callable[[str], bool] | None = None
) -> Changelog:
    """Compare a folder as git recorded it at ``revision`` with the folder as it is now."""
    return diff_document_sets(
        documents_at(directory, revision),
        documents_in(directory),
        old_label=f"{directory} at {revision}",
        new_label=f"{directory} (working tree)",
        keep=keep,
    )


@dataclass
class Snapshot:
    """A folder's documents held in memory before something rewrites them (fetch, generate)."""

    directory: Path
    documents: dict[str, bytes] = field(default_factory=dict[str, bytes])

    @classmethod
    def take(cls, directory: Path, names: Iterable[str] | None = None) -> Snapshot:
        """Read the documents now (only ``names``, when given); a missing folder is empty and
        an unreadable document is left out, so taking a snapshot never fails."""
        if not directory.is_dir():
            return cls(directory)
        wanted = [p.name for p in iter_document_paths(directory)] if names is None else list(names)
        documents: dict[str, bytes] = {}
        for name in wanted:
            try:
                documents[name] = (directory / name).read_bytes()
            except OSError:  # missing or unreadable: compared as absent
                continue
        return cls(directory, documents)

    def changelog(self, names: Iterable[str] | None = None) -> Changelog:
        """What changed since the snapshot (in ``names`` only, when given)."""
        now = documents_in(self.directory) if self.directory.is_dir() else {}
        before = self.documents
        if names is not None:
            wanted = set(names)
            now = {n: d for n, d in now.items() if n in wanted}
            before = {n: d for n, d in before.items() if n in wanted}
        return diff_document_sets(
            before, now, old_label=f"{self.directory} before", new_label=f"{self.directory} now"
        )
