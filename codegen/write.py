"""Stage 5: format with ruff, write only files whose content changed, keep the manifest.

The manifest (``<out>/codegen-manifest.json``) records, per document, the hash of its bytes and
of the module written from it, under a fingerprint of the generator itself (its code, templates,
datamodel-code-generator and ruff versions). A run regenerates a document only if
its hash, the fingerprint or the module on disk differ from the record: a no-op run reads hashes
and nothing else, and a document edited by hand is regenerated alone.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST_NAME",
    "MEMBER_FILES",
    "PACKAGE",
    "REPO_ROOT",
    "TEMPLATES",
    "TYPED_MARKER",
    "Manifest",
    "ManifestEntry",
    "format_each",
    "format_sources",
    "generator_fingerprint",
    "member_source",
    "members_sha256",
    "text_sha256",
    "write_if_changed",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The jinja2 templates: beside the generator when it is installed (the runtime wheel ships it as
#: ``fal_typed/_codegen/`` with ``templates/`` inside, for ``fal-typed add``), else the checkout's.
TEMPLATES = (
    Path(__file__).resolve().parent / "templates"
    if (Path(__file__).resolve().parent / "templates").is_dir()
    else REPO_ROOT / "templates"
)
PACKAGE = "fal_endpoints"
MANIFEST_NAME = "codegen-manifest.json"
TYPED_MARKER = "py.typed"


#: The sources of an endpoint member: its calls, its models and its realtime classes, apart so
#: that importing the calls loads neither pydantic models nor the realtime code.
MEMBER_FILES = ("__init__.py", "_models.py", "_realtime.py")


def member_source(member: str, file: str = "__init__.py") -> str:
    """Where a source of a member of the package goes, relative to ``fal_endpoints/``.

    Every member (each endpoint, and ``_index``) is a package of its own, its sources
    (:data:`MEMBER_FILES`; ``_index`` has only ``__init__.py``) beside its ``py.typed``,
    exactly as its wheel installs it: ``fal_endpoints`` is a PEP 420 namespace that no one
    owns, so PEP 561 wants the typing marker inside each member. A checkout, an editable
    install and the wheels then type-check alike.
    """
    return f"{member}/{file}"


# The project's formatting (pyproject [tool.ruff]), given explicitly so the output never depends
# on which configuration file ruff finds; tests/codegen check it stays ruff-clean in the project.
_FORMAT = ("--isolated", "--line-length", "100", "--target-version", "py310")


@dataclass
class ManifestEntry:
    """What one document produced last time (``module`` is None if it was broken)."""

    sha256: str
    module: str | None = None
    output_sha256: str | None = None
    index: list[str] | None = None  # [endpoint_id, module, category, description]
    diagnostics: list[list[str]] = field(default_factory=list)  # [level, message]


@dataclass
class Manifest:
    """Every document's last result, valid only under the generator ``fingerprint``."""

    fingerprint: str = ""
    index_sha256: str | None = None
    documents: dict[str, ManifestEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        """The manifest in ``out_dir``, or an empty one if it is missing or unreadable."""
        try:
            data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
            documents = {name: ManifestEntry(**entry) for name, entry in data["documents"].items()}
            return cls(data["fingerprint"], data.get("index_sha256"), documents)
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def dumps(self) -> str:
        """Deterministic JSON (sorted keys, one document per line group)."""
        data: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "index_sha256": self.index_sha256,
            "documents": {name: asdict(entry) for name, entry in sorted(self.documents.items())},
        }
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def members_sha256(texts: dict[str, str]) -> str:
    """One hash of a member's sources (file name -> text), for the manifest."""
    return text_sha256("".join(f"{name}\0{texts[name]}\0" for name in sorted(texts)))


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], capture_output=True, text=True, check=False
    )


@cache
def generator_fingerprint() -> str:
    """Hash of everything that shapes the output besides the documents."""
    import datamodel_code_generator

    digest = hashlib.sha256()
    code_dir = Path(__file__).resolve().parent
    for path in sorted([*code_dir.glob("*.py"), *TEMPLATES.glob("*.jinja")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(datamodel_code_generator.get_version().encode())
    digest.update(_ruff("--version").stdout.encode())
    return digest.hexdigest()


def format_sources(sources: dict[str, str]) -> dict[str, str]:
    """Run ``ruff format`` over ``sources`` (relative path -> text), files the generator owns whole
    (the index, the Platform API package): any refusal is a generator bug, raised."""
    formatted, refused = format_each(sources)
    if refused:
        name, reason = next(iter(refused.items()))
        raise RuntimeError(f"ruff format failed on {name}:\n{reason}")
    return formatted


def format_each(sources: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Run ``ruff format`` over ``sources`` (relative path -> text): the formatted texts, and why
    each file ruff refused was refused (relative path -> ruff's message).

    One run formats everything; if ruff fails, the batch is halved until each refused file stands
    alone, so one module ruff cannot format costs only itself (and its document).
    """
    formatted: dict[str, str] = {}
    refused: dict[str, str] = {}
    if sources:
        with tempfile.TemporaryDirectory(prefix="codegen-") as tmp:
            _format_batch(Path(tmp), sources, formatted, refused)
    return formatted, refused


def _format_batch(
    root: Path, sources: dict[str, str], formatted: dict[str, str], refused: dict[str, str]
) -> None:
    for name, text in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    done = _ruff("format", *_FORMAT, "--no-cache", "--quiet", *(str(root / n) for n in sources))
    if done.returncode == 0:
        for name in sources:
            formatted[name] = (root / name).read_text(encoding="utf-8")
            (root / name).unlink()
        return
    if len(sources) == 1:
        (name,) = sources
        refused[name] = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        (root / name).unlink()
        return
    names = sorted(sources)
    half = len(names) // 2
    for part in (names[:half], names[half:]):
        _format_batch(root, {name: sources[name] for name in part}, formatted, refused)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True if written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8", newline="\n")
    partial.replace(path)
    return True
