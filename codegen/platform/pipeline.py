"""The whole run: read the document, render the package, format it, write or compare it.

The package directory holds exactly the generated files (``__init__.py``, ``models.py``,
``client.py``); any other ``.py`` file there is a leftover and is removed. One document, so no
manifest: every run regenerates (a few seconds) and writes only files whose text changed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..write import REPO_ROOT, format_sources, write_if_changed
from .document import read_platform_document
from .render import render_platform

__all__ = ["DEFAULT_DOCUMENT", "DEFAULT_PACKAGE", "PlatformReport", "check", "generate"]

DEFAULT_DOCUMENT = REPO_ROOT / "schemas" / "platform" / "platform-v1.json"
DEFAULT_PACKAGE = REPO_ROOT / "src" / "fal_typed" / "platform" / "_generated"


@dataclass
class PlatformReport:
    """What a run did."""

    operations: int = 0
    classes: int = 0
    written: list[str] = field(default_factory=list[str])
    removed: list[str] = field(default_factory=list[str])
    warnings: list[str] = field(default_factory=list[str])

    def summary(self) -> str:
        return (
            f"{self.operations} operations, {self.classes} models: {len(self.written)} files "
            f"written, {len(self.removed)} removed; {len(self.warnings)} warnings"
        )


def _cited(document: Path) -> str:
    """How module docstrings name the document: relative to the checkout when inside it."""
    try:
        return document.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return document.name


def render(document: Path) -> tuple[dict[str, str], PlatformReport]:
    """The formatted files of the package for ``document``, and the report of the run."""
    parsed = read_platform_document(document)
    sources, warnings = render_platform(parsed, _cited(document))
    report = PlatformReport(operations=len(parsed.operations), warnings=warnings)
    report.classes = sources["models.py"].count("\nclass ")
    return format_sources(sources), report


def generate(document: Path = DEFAULT_DOCUMENT, package: Path = DEFAULT_PACKAGE) -> PlatformReport:
    """Bring ``package`` up to date with ``document``."""
    files, report = render(document)
    for name, text in files.items():
        if write_if_changed(package / name, text):
            report.written.append(name)
    for leftover in sorted(package.glob("*.py")):
        if leftover.name not in files:
            leftover.unlink()
            report.removed.append(leftover.name)
    return report


def check(document: Path = DEFAULT_DOCUMENT, package: Path = DEFAULT_PACKAGE) -> list[str]:
    """What differs between ``package`` and a fresh generation (empty: up to date)."""
    with tempfile.TemporaryDirectory(prefix="codegen-platform-") as tmp:
        fresh = Path(tmp)
        generate(document, fresh)
        want = {p.name: p for p in fresh.glob("*.py")}
        have = {p.name: p for p in package.glob("*.py")} if package.is_dir() else {}
        problems = [f"missing: {name}" for name in sorted(want.keys() - have.keys())]
        problems += [f"not generated: {name}" for name in sorted(have.keys() - want.keys())]
        problems += [
            f"stale: {name}"
            for name in sorted(want.keys() & have.keys())
            if want[name].read_bytes() != have[name].read_bytes()
        ]
        return problems
