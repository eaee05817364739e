"""Constants and helpers shared by the wheel builder tests (imported by name, not via conftest).

The builder package lives at the repository root (``wheels/``); importing this module puts the
root on ``sys.path`` explicitly rather than relying on the current directory.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wheels import Layout  # noqa: E402

# Three endpoints, one per naming case: a plain fal-ai id, a fal-ai id under a partner's name,
# and a partner-owned id (``ideogram/v4`` -> ``fal-endpoints-ideogram-x-v4``).
SAMPLE_IDS = (
    "fal-ai/flux/dev",
    "fal-ai/bytedance/seedream/v5/lite/text-to-image",
    "ideogram/v4",
)
SCHEMA_EPOCH = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def link_generator(root: Path) -> None:
    """The generator and its endpoint templates in a scratch layout at ``root`` (symlinks): the
    runtime wheel ships them, so a layout without them cannot build one."""
    (root / "codegen").symlink_to(ROOT / "codegen")
    (root / "templates").mkdir(exist_ok=True)
    for template in ROOT.joinpath("templates").glob("*.jinja"):
        (root / "templates" / template.name).symlink_to(template)


def copy_project(root: Path, endpoint_ids: tuple[str, ...] = ()) -> Path:
    """A scratch checkout at ``root`` with what the builders read: the project file and README
    (copied), the runtime, the generator and the templates (linked), and the documents of
    ``endpoint_ids`` in schemas/ (copied)."""
    (root / "src").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "schemas").mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, root / name)
    (root / "src" / "fal_typed").symlink_to(ROOT / "src" / "fal_typed")
    (root / "templates" / "wheel").symlink_to(ROOT / "templates" / "wheel")
    link_generator(root)
    for endpoint_id in endpoint_ids:
        name = endpoint_id.replace("/", "__") + ".json"
        shutil.copy(ROOT / "schemas" / name, root / "schemas" / name)
    return root


def fake_module(endpoint_id: str) -> str:
    """A stand-in for a generated module: the builder packages modules verbatim."""
    return f'"""Stand-in module for {endpoint_id}."""\n\nendpoint_id = "{endpoint_id}"\n'


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
