"""Wheels of distributions installed in this environment, for offline installs in tests.

The machine has no package index, so a fresh venv gets the runtime's dependencies from the
distributions already installed here: each one is packed back into a wheel from the files its
RECORD lists, with its own METADATA and WHEEL (so its platform tags stay exact). Console scripts
are left out (pip regenerates them from ``entry_points.txt``); other files of the scripts folder
(ruff's binary) go back into the wheel's ``.data/scripts``, executable.
"""

from __future__ import annotations

import importlib.metadata as metadata
import zipfile
from collections.abc import Iterable
from pathlib import Path

import _wheel_support  # noqa: F401  (puts the repository root, home of ``wheels``, on sys.path)
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from wheels._archive import write_wheel

__all__ = ["dependency_closure", "repack"]

_SKIPPED_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _applies(marker: Marker | None, extras: Iterable[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in ("", *extras))


def dependency_closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively."""
    found: dict[str, metadata.Distribution] = {}
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        dist = metadata.distribution(requirement.name)
        found[name] = dist
        for raw in dist.requires or []:
            child = Requirement(raw)
            if _applies(child.marker, requirement.extras):
                pending.append(child)
    return sorted(found.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def _tag_set(wheel_text: str) -> str:
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_text.splitlines() if line.startswith("Tag:")
    ]
    parts = [sorted({tag.split("-")[i] for tag in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def repack(dist: metadata.Distribution, out_dir: Path) -> Path:
    """Write ``dist`` back into a wheel in ``out_dir`` and return its path."""
    name = dist.metadata["Name"]
    escaped = canonicalize_name(name).replace("-", "_")
    wheel_text = dist.read_text("WHEEL")
    if wheel_text is None or dist.files is None:
        raise RuntimeError(f"{name} was not installed from a wheel (no WHEEL or RECORD)")
    dist_info = f"{escaped}-{dist.version}.dist-info"
    files: dict[str, bytes] = {}
    console = {
        ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")
    }
    scripts: list[str] = []
    for entry in dist.files:
        relative = entry.as_posix()
        parts = relative.split("/")
        if "__pycache__" in parts or relative.endswith(".pyc"):
            continue
        if parts[0] == "..":
            if parts[-2:-1] == ["bin"] and parts[-1] not in console:
                scripts.append(f"{escaped}-{dist.version}.data/scripts/{parts[-1]}")
                files[scripts[-1]] = Path(str(entry.locate())).read_bytes()
            continue
        if parts[0].endswith(".dist-info"):
            if parts[-1] in _SKIPPED_DIST_INFO and len(parts) == 2:
                continue
            relative = "/".join([dist_info, *parts[1:]])
        files[relative] = Path(str(entry.locate())).read_bytes()
    path = write_wheel(
        out_dir / f"{escaped}-{dist.version}-{_tag_set(wheel_text)}.whl", files, dist_info
    )
    if scripts:
        _make_executable(path, set(scripts))
    return path


def _make_executable(path: Path, members: set[str]) -> None:
    """Rewrite the wheel with ``members`` marked executable (pip keeps a member's x bit)."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in entries:
            if info.filename in members:
                info.external_attr = (0o100755 << 16) | (info.external_attr & 0xFFFF)
            target.writestr(info, data)
