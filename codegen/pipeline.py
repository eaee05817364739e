"""The whole run: decide what is stale, build it over a process pool, format, write, index.

A broken document never stops the run: it is reported, gets no module, and the rest goes on.
The package directory holds exactly one member package per good document plus ``_index``, each
``<member>/__init__.py`` (an endpoint's with its ``_models.py`` and ``_realtime.py``) with its
``py.typed`` (see :func:`.write.member_source`). A module file
directly in the package (the flat layout of earlier versions) and a member package no document
produces any more are leftovers, and are removed.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .diagnostics import Diagnostic
from .load import document_paths, file_sha256
from .write import (
    MANIFEST_NAME,
    MEMBER_FILES,
    PACKAGE,
    TYPED_MARKER,
    Manifest,
    ManifestEntry,
    format_each,
    format_sources,
    generator_fingerprint,
    member_source,
    members_sha256,
    text_sha256,
    write_if_changed,
)

if TYPE_CHECKING:
    from .build import BuildResult

__all__ = ["INDEX", "INDEX_FILE", "Report", "check", "generate"]

INDEX = "_index"
INDEX_FILE = member_source(INDEX)
# What a generated member package may hold; a directory with anything else is not ours.
_MEMBER_FILES = frozenset({*MEMBER_FILES, TYPED_MARKER, "__pycache__"})


@dataclass
class Report:
    """What a run did."""

    documents: int = 0
    modules: int = 0
    rebuilt: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "error"]

    def summary(self) -> str:
        warnings = len(self.diagnostics) - len(self.errors)
        return (
            f"{self.modules} modules from {self.documents} documents in {self.seconds:.1f} s: "
            f"{self.rebuilt} rebuilt, {len(self.written)} files written, {len(self.removed)} removed; "
            f"{len(self.errors)} documents skipped with errors, {warnings} warnings"
        )


def generate(
    schemas_dir: Path, out_dir: Path, *, jobs: int | None = None, force: bool = False
) -> Report:
    """Bring ``out_dir/fal_endpoints`` up to date with the documents of ``schemas_dir``."""
    started = time.perf_counter()
    package = out_dir / PACKAGE
    paths = document_paths(schemas_dir)
    hashes = {path.name: file_sha256(path) for path in paths}
    old = Manifest.load(out_dir)
    manifest = Manifest(fingerprint=generator_fingerprint(), index_sha256=old.index_sha256)
    reusable = old.documents if old.fingerprint == manifest.fingerprint and not force else {}

    stale: list[Path] = []
    for path in paths:
        entry = reusable.get(path.name)
        if entry is not None and entry.sha256 == hashes[path.name] and _intact(package, entry):
            manifest.documents[path.name] = entry
        else:
            stale.append(path)
    built = {result.source: result for result in _build_all(stale, jobs or os.cpu_count() or 1)}
    sources, owner_of = _record(manifest, built, hashes)
    formatted, refused = format_each(sources)
    for name, reason in refused.items():  # ruff could not format it: that document is skipped
        document = owner_of[name]
        entry = manifest.documents[document]
        entry.diagnostics.append(["error", f"ruff format failed: {reason.splitlines()[-1]}"])
        entry.module = entry.index = entry.output_sha256 = None
    for name in [
        name for name, document in owner_of.items() if not manifest.documents[document].module
    ]:
        formatted.pop(name, None)  # a skipped document writes none of its files
        del owner_of[name]

    rows = sorted(e.index for e in manifest.documents.values() if e.index and e.module)
    index_stale = stale or old.documents.keys() != hashes.keys()
    if index_stale or not _file_matches(package / INDEX_FILE, manifest.index_sha256):
        from .render import IndexEntry, render_index

        formatted.update(format_sources({INDEX_FILE: render_index(IndexEntry(*r) for r in rows)}))

    report = Report(documents=len(paths), modules=len(rows), rebuilt=len(stale))
    member_texts: dict[str, dict[str, str]] = {}
    for name, text in formatted.items():
        if write_if_changed(package / name, text):
            report.written.append(name)
        if name == INDEX_FILE:
            manifest.index_sha256 = text_sha256(text)
        else:
            member_texts.setdefault(owner_of[name], {})[name.split("/", 1)[1]] = text
    for document, texts in member_texts.items():
        manifest.documents[document].output_sha256 = members_sha256(texts)
    members = {row[1] for row in rows} | {INDEX}
    for member in sorted(members):
        if write_if_changed(package / member / TYPED_MARKER, ""):
            report.written.append(f"{member}/{TYPED_MARKER}")
    report.removed = _remove_leftovers(package, members)
    write_if_changed(out_dir / MANIFEST_NAME, manifest.dumps())

    for name, entry in sorted(manifest.documents.items()):
        for level, message in entry.diagnostics:
            kind: Literal["error", "warning"] = "error" if level == "error" else "warning"
            report.diagnostics.append(Diagnostic(name, kind, message))
    report.seconds = time.perf_counter() - started
    return report


def _record(
    manifest: Manifest, built: dict[str, BuildResult], hashes: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Enter the built documents in the manifest; return the sources to write (file name
    -> unformatted text) and which document each comes from."""
    for name, result in built.items():
        entry = ManifestEntry(
            hashes[name], diagnostics=[[d.level, d.message] for d in result.diagnostics]
        )
        if result.module and result.files is not None and result.index is not None:
            entry.module = result.module
            entry.index = [
                result.index.endpoint_id,
                result.module,
                result.index.category,
                result.index.description,
            ]
        manifest.documents[name] = entry
    _resolve_collisions(manifest)
    sources: dict[str, str] = {}
    owner_of: dict[str, str] = {}
    for name, result in built.items():
        module = manifest.documents[name].module
        if module is not None and result.files is not None:
            for file, text in result.files.items():
                sources[member_source(module, file)] = text
                owner_of[member_source(module, file)] = name
    return sources, owner_of


def _remove_leftovers(package: Path, members: set[str]) -> list[str]:
    """Delete what no document produces any more: flat modules of the earlier layout, and the
    member packages of removed or now broken documents. A directory holding anything but a
    member's files is left alone (it is not the generator's)."""
    removed: list[str] = []
    for path in sorted(package.iterdir()) if package.is_dir() else []:
        if path.is_file() and path.suffix == ".py":
            path.unlink()
            removed.append(path.name)
        elif (
            path.is_dir()
            and path.name not in members
            and (path / "__init__.py").is_file()
            and {child.name for child in path.iterdir()} <= _MEMBER_FILES
        ):
            shutil.rmtree(path)
            removed.append(f"{path.name}/")
    return removed


def check(schemas_dir: Path, out_dir: Path, *, jobs: int | None = None) -> list[str]:
    """Regenerate from scratch into a temporary directory; list what differs from ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="codegen-check-") as tmp:
        fresh = Path(tmp)
        generate(schemas_dir, fresh, jobs=jobs, force=True)
        return _differences(fresh, out_dir)


def _differences(fresh: Path, current: Path) -> list[str]:
    def files(root: Path) -> dict[str, Path]:
        package = root / PACKAGE
        found = {
            f"{PACKAGE}/{path.relative_to(package).as_posix()}": path
            for path in package.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        if (root / MANIFEST_NAME).exists():
            found[MANIFEST_NAME] = root / MANIFEST_NAME
        return found

    want, have = files(fresh), files(current)
    problems = [f"missing: {name}" for name in sorted(want.keys() - have.keys())]
    problems += [f"not generated: {name}" for name in sorted(have.keys() - want.keys())]
    problems += [
        f"stale: {name}" + (_manifest_difference(fresh, current) if name == MANIFEST_NAME else "")
        for name in sorted(want.keys() & have.keys())
        if want[name].read_bytes() != have[name].read_bytes()
    ]
    return problems


def _manifest_difference(fresh: Path, current: Path) -> str:
    """Say what differs between two manifests, so a stale one explains itself."""
    new, old = Manifest.load(fresh), Manifest.load(current)
    parts: list[str] = []
    if new.fingerprint != old.fingerprint:
        parts.append(f"generator fingerprint {old.fingerprint[:12]} -> {new.fingerprint[:12]}")
    if new.index_sha256 != old.index_sha256:
        parts.append("index")
    changed = sorted(
        name
        for name in new.documents.keys() | old.documents.keys()
        if new.documents.get(name) != old.documents.get(name)
    )
    if changed:
        parts.append(f"{len(changed)} document records, e.g. {changed[0]}")
    return f" ({'; '.join(parts)})" if parts else ""


def _intact(package: Path, entry: ManifestEntry) -> bool:
    """Whether the member recorded for ``entry`` is on disk unchanged (or it had none)."""
    if entry.module is None:
        return True
    try:
        texts = {
            file: (package / member_source(entry.module, file)).read_text(encoding="utf-8")
            for file in MEMBER_FILES
        }
    except (OSError, UnicodeDecodeError):
        return False
    return entry.output_sha256 is not None and members_sha256(texts) == entry.output_sha256


def _file_matches(path: Path, sha256: str | None) -> bool:
    try:
        return sha256 is not None and text_sha256(path.read_text(encoding="utf-8")) == sha256
    except (OSError, UnicodeDecodeError):
        return False


def _build_all(paths: Sequence[Path], jobs: int) -> list[BuildResult]:
    from .build import build

    if jobs <= 1 or len(paths) <= 1:
        return [build(path) for path in paths]
    # "spawn": workers start clean even when the caller has threads (a test runner, a server),
    # which a forked worker would inherit mid-flight.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=spawn) as pool:
        return list(pool.map(build, paths, chunksize=max(1, len(paths) // (jobs * 16))))


def _resolve_collisions(manifest: Manifest) -> None:
    """Two documents naming the same module: the first by file name keeps it, the other errs."""
    owners: dict[str, str] = {}
    for name, entry in sorted(manifest.documents.items()):
        if entry.module is None:
            continue
        if entry.module in owners:
            entry.diagnostics.append(
                ["error", f"module {entry.module} is already generated from {owners[entry.module]}"]
            )
            entry.module = entry.index = entry.output_sha256 = None
        else:
            owners[entry.module] = name
