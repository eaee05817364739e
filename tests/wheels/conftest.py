"""Fixtures for the wheel builder tests: a scratch layout beside the real repository.

The builder package lives at the repository root (``wheels/``), which is put on ``sys.path``
explicitly rather than relying on the current directory.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fal_typed.naming import module_name  # noqa: E402
from wheels import Layout  # noqa: E402

# Three endpoints, one per naming case: a plain fal-ai id, a fal-ai id under a partner's name,
# and a partner-owned id (``ideogram/v4`` -> ``fal-endpoints-ideogram-x-v4``).
SAMPLE_IDS = (
    "fal-ai/flux/dev",
    "fal-ai/bytedance/seedream/v5/lite/text-to-image",
    "ideogram/v4",
)
SCHEMA_EPOCH = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def fake_module(endpoint_id: str) -> str:
    """A stand-in for a generated module: the builder packages modules verbatim."""
    return f'"""Stand-in module for {endpoint_id}."""\n\nendpoint_id = "{endpoint_id}"\n'


@pytest.fixture
def scratch(tmp_path: Path) -> Layout:
    """A layout with the real runtime, templates and project file, and copied documents.

    The documents live outside git, so their versions come from ``SOURCE_DATE_EPOCH`` (set by
    :func:`schema_epoch`); the generated modules are stand-ins written by :func:`generate`.
    """
    root = tmp_path / "repo"
    (root / "schemas").mkdir(parents=True)
    (root / "generated" / "fal_endpoints").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "templates").mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, root / name)
    (root / "src" / "fal_typed").symlink_to(ROOT / "src" / "fal_typed")
    (root / "templates" / "wheel").symlink_to(ROOT / "templates" / "wheel")
    for endpoint_id in SAMPLE_IDS:
        name = endpoint_id.replace("/", "__") + ".json"
        shutil.copy(ROOT / "schemas" / name, root / "schemas" / name)
    return Layout(root=root, out_dir=tmp_path / "dist")


@pytest.fixture
def schema_epoch(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(SCHEMA_EPOCH))
    return SCHEMA_EPOCH


@pytest.fixture
def generate(scratch: Layout) -> Callable[..., Path]:
    """Write a stand-in generated module for an endpoint id (or custom text)."""

    def write(endpoint_id: str, text: str | None = None) -> Path:
        path = scratch.generated_dir / f"{module_name(endpoint_id)}.py"
        path.write_text(fake_module(endpoint_id) if text is None else text, encoding="utf-8")
        return path

    return write


def add_document(layout: Layout, endpoint_id: str, about: str | None = None) -> Path:
    """Copy fal-ai/flux/dev's document under another id (optionally with another description)."""
    document = json.loads((ROOT / "schemas" / "fal-ai__flux__dev.json").read_text(encoding="utf-8"))
    meta = document["info"]["x-fal-metadata"]
    meta["endpointId"] = endpoint_id
    if about is not None:
        meta["about"] = about
    document["paths"] = {
        p.replace("fal-ai/flux/dev", endpoint_id): v for p, v in document["paths"].items()
    }
    path = layout.schemas_dir / (endpoint_id.replace("/", "__") + ".json")
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
