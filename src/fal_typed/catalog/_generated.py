"""What a regeneration changed for code: the documents the bindings were built from, before and
after.

The generator records, in ``<out>/codegen-manifest.json``, the SHA-256 of each document it built
a module from. Reading it before and after ``fal-typed generate`` says which documents the new
bindings come from that the old ones did not; the old texts are found in the folder's git history
by their hash (the generator needs no copy). A document built from a text that was never
committed cannot be compared, and is reported as such.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from ._changelog import Changelog, diff_document_sets
from ._git import GitError, document_history, read_blobs, repository_root

__all__ = ["MANIFEST_NAME", "built_from", "regeneration_changelog"]

MANIFEST_NAME = "codegen-manifest.json"


def _object(value: object) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def built_from(out_dir: Path) -> dict[str, str]:
    """``{document file name: SHA-256}`` the bindings in ``out_dir`` were generated from
    (empty when there is no readable manifest: nothing generated yet)."""
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    hashes: dict[str, str] = {}
    for name, entry in _object(_object(data).get("documents")).items():
        digest = _object(entry).get("sha256")
        if isinstance(digest, str):
            hashes[name] = digest
    return hashes


def _committed_texts(schemas_dir: Path, wanted: Mapping[str, str]) -> dict[str, bytes] | None:
    """The committed text of each document whose SHA-256 is ``wanted[name]``, if any (None:
    the folder is not in a git repository)."""
    try:
        root = repository_root(schemas_dir)
    except GitError:
        return None
    history = document_history(schemas_dir, list(wanted))
    blobs = read_blobs(root, (r.blob for revs in history.values() for r in revs if r.blob))
    found: dict[str, bytes] = {}
    for name, revisions in history.items():
        for revision in reversed(revisions):  # newest first: the likeliest
            data = blobs.get(revision.blob or "")
            if data is not None and hashlib.sha256(data).hexdigest() == wanted[name]:
                found[name] = data
                break
    return found


def regeneration_changelog(
    schemas_dir: Path, before: Mapping[str, str], after: Mapping[str, str]
) -> Changelog:
    """The changelog between the documents of two manifests (see the module docstring)."""
    changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    if not before or not changed:
        return Changelog("the previous bindings", "the new bindings")
    old_texts = _committed_texts(schemas_dir, {n: before[n] for n in changed if n in before})
    if old_texts is None:
        why = "not in a git repository, so the texts the previous bindings came from are unknown"
        return Changelog(
            "the previous bindings", "the new bindings", errors=((str(schemas_dir), why),)
        )
    old: dict[str, bytes] = {}
    new: dict[str, bytes] = {}
    errors: list[tuple[str, str]] = []
    for name in sorted(changed):
        if name in after:
            try:
                new[name] = (schemas_dir / name).read_bytes()
            except OSError as exc:
                errors.append((name, f"cannot read it ({exc.strerror or exc})"))
                continue
        if name in before:
            if name not in old_texts:
                errors.append(
                    (name, "the text the previous bindings came from was never committed")
                )
                new.pop(name, None)
                continue
            old[name] = old_texts[name]
    changelog = diff_document_sets(
        old, new, old_label="the previous bindings", new_label="the new bindings"
    )
    unchanged = sum(1 for name in after if name not in changed)
    errors = [*changelog.errors, *errors]
    return Changelog(changelog.old, changelog.new, changelog.endpoints, tuple(errors), unchanged)
