"""The runtime distribution (``fal-typed``) as ``pyproject.toml`` declares it.

Only the fields the runtime wheel needs are read; anything the builder does not understand
(dynamic fields, a readme given as a table) is an error rather than a silently wrong wheel.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev environment is 3.11; tomli is tomllib's backport
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["RuntimeProject", "load_runtime_project", "project_version"]


@dataclass(frozen=True)
class RuntimeProject:
    """What the runtime wheel's metadata is made of."""

    name: str
    version: str
    summary: str
    requires_python: str
    license: str
    readme: str
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]] = field(default_factory=lambda: {})
    entry_points: dict[str, dict[str, str]] = field(default_factory=lambda: {})


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"pyproject.toml: {where} must be a table")
    return cast("dict[str, Any]", value)


def _string(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise ValueError(f"pyproject.toml: {where}.{key} must be a string")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) for v in cast("list[object]", value)
    ):
        raise ValueError(f"pyproject.toml: {where} must be a list of strings")
    return tuple(cast("list[str]", value))


def load_runtime_project(root: Path) -> RuntimeProject:
    """Read ``<root>/pyproject.toml`` (and the README it names)."""
    path = root / "pyproject.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    project = _table(data.get("project"), "[project]")
    if project.get("dynamic"):
        raise ValueError(
            "pyproject.toml: dynamic [project] fields are not supported by the wheel builder"
        )
    readme_file = _string(project, "readme", "project")
    extras = {
        extra: _strings(reqs, f"project.optional-dependencies.{extra}")
        for extra, reqs in _table(
            project.get("optional-dependencies", {}), "project.optional-dependencies"
        ).items()
    }
    entry_points: dict[str, dict[str, str]] = {}
    scripts = _table(project.get("scripts", {}), "project.scripts")
    if scripts:
        entry_points["console_scripts"] = {k: str(v) for k, v in scripts.items()}
    for group, points in _table(project.get("entry-points", {}), "project.entry-points").items():
        entry_points[group] = {
            k: str(v) for k, v in _table(points, f"project.entry-points.{group}").items()
        }
    return RuntimeProject(
        name=_string(project, "name", "project"),
        version=_string(project, "version", "project"),
        summary=_string(project, "description", "project"),
        requires_python=_string(project, "requires-python", "project"),
        license=_string(project, "license", "project"),
        readme=(root / readme_file).read_text(encoding="utf-8"),
        dependencies=_strings(project.get("dependencies", []), "project.dependencies"),
        extras=extras,
        entry_points=entry_points,
    )


def project_version(text: str) -> str | None:
    """``[project].version`` of a ``pyproject.toml`` text, or None (not TOML, no version)."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    project = data.get("project")
    version = project.get("version") if isinstance(project, dict) else None
    return version if isinstance(version, str) else None
