"""Fixtures for the wheel builder tests: a scratch layout beside the real repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from _wheel_support import SAMPLE_IDS, SCHEMA_EPOCH, copy_project, fake_module

from fal_typed.naming import module_name
from wheels import Layout


@pytest.fixture
def scratch(tmp_path: Path) -> Layout:
    """A layout with the real runtime, generator, templates and project file, and copied documents.

    The documents live outside git, so their versions come from ``SOURCE_DATE_EPOCH`` (set by
    :func:`schema_epoch`); the generated modules are stand-ins written by :func:`generate`.
    """
    root = copy_project(tmp_path / "repo", SAMPLE_IDS)
    (root / "generated" / "fal_endpoints").mkdir(parents=True)
    return Layout(root=root, out_dir=tmp_path / "dist")


@pytest.fixture
def schema_epoch(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(SCHEMA_EPOCH))
    return SCHEMA_EPOCH


@pytest.fixture
def generate(scratch: Layout) -> Callable[..., Path]:
    """Write a stand-in generated module for an endpoint id (or custom text)."""

    def write(endpoint_id: str, text: str | None = None) -> Path:
        """The module as the generator lays it out: ``<module>/__init__.py`` (its calls), its
        ``_models.py`` and ``_realtime.py``, and ``py.typed``."""
        path = scratch.generated_dir / module_name(endpoint_id) / "__init__.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fake_module(endpoint_id) if text is None else text, encoding="utf-8")
        for part in ("_models", "_realtime"):
            (path.parent / f"{part}.py").write_text(f'"""Stand-in {part}."""\n', encoding="utf-8")
        (path.parent / "py.typed").write_text("", encoding="utf-8")
        return path

    return write
