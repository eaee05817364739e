"""Results read across schema revisions: outputs of one revision parsed by another's models.

For each pair of revisions (old, new) of an endpoint document, the local server's synthesiser
makes an output valid against each revision's output schema, and each output is parsed by the
``Output`` model generated from the *other* revision:

- ``new->old``: fal changed the endpoint, the user has not regenerated (old bindings, new
  results). It must parse whenever the diff old -> new has no change *breaking for readers*.
- ``old->new``: the user regenerated and reads a result produced before (a stored webhook, a
  batch journal, a request fetched later). It must parse whenever the diff new -> old has none.

Every output also parses with its own revision's model (``old->old``, ``new->new``): the
baseline, which separates a defect of the synthesiser or the generator from schema evolution.

The harness is shared by ``tests/catalog/test_cross_revision.py`` and
``bench/bench_cross_revision.py``. Models of the old documents come from the generator
(``python -m codegen``) run into a cache folder (incremental: only changed documents are rebuilt);
those of the current documents are the checkout's ``generated/`` (or another generator output).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import subprocess
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fal_typed.catalog import Impact, diff_documents
from fal_typed.naming import module_name
from fal_typed.testing._endpoints import EndpointSchema
from fal_typed.testing._synth import synthesize_output

ROOT = Path(__file__).resolve().parents[2]
SHARED_HISTORY = ROOT.parent / "shared" / "fal-openapi-history" / "2026-01-28"
SAMPLE_HISTORY = Path(__file__).parent / "data" / "history-2026-01-28"
CACHE = ROOT / ".codegen-cache"

__all__ = [
    "CACHE",
    "SAMPLE_HISTORY",
    "SHARED_HISTORY",
    "Outcome",
    "PairReport",
    "generate_models",
    "load_module",
    "load_output_model",
    "run_pairs",
]


def generate_models(schemas: Path, out: Path, *, jobs: int = 2) -> Path:
    """Run the generator over ``schemas`` into ``out`` (incremental); return the package dir."""
    command = [sys.executable, "-m", "codegen", "--schemas", str(schemas), "--out", str(out)]
    subprocess.run(
        [*command, "--quiet", "--jobs", str(jobs)], cwd=ROOT, check=True, capture_output=True
    )
    return out / "fal_endpoints"


def _module_file(package: Path, module: str) -> Path | None:
    for candidate in (package / f"{module}.py", package / module / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def load_module(package: Path | None, endpoint_id: str) -> types.ModuleType | None:
    """The generated module of ``endpoint_id``: from ``package`` (a generator output folder,
    loaded under a private name), or ``fal_endpoints`` as installed when ``package`` is None."""
    module = module_name(endpoint_id)
    if package is None:
        return importlib.import_module(f"fal_endpoints.{module}")
    path = _module_file(package, module)
    if path is None:
        return None
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"_cross_revision_{digest}_{module}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
    return sys.modules[name]


def load_output_model(package: Path | None, endpoint_id: str) -> type[BaseModel] | None:
    """The ``Output`` model of ``endpoint_id`` (see :func:`load_module`)."""
    loaded = load_module(package, endpoint_id)
    output = getattr(loaded, "Output", None)
    return output if isinstance(output, type) and issubclass(output, BaseModel) else None


def _sink(data: bytes, content_type: str, file_name: str) -> str:
    return f"https://v3.fal.media/files/cross-revision/{file_name}"


def synthesize(endpoint_id: str, document: dict[str, Any]) -> Any:
    """An output valid against ``document``'s output schema (as the local server makes it)."""
    return synthesize_output(EndpointSchema.from_document(endpoint_id, document), {}, _sink)


@dataclass(frozen=True)
class Outcome:
    """One parse: which output, which model, whether it parsed, and the errors if not."""

    direction: str
    ok: bool
    errors: tuple[str, ...] = ()


@dataclass
class PairReport:
    """The four parses of one pair, and what the diff says in each direction."""

    file: str
    endpoint_id: str
    outcomes: dict[str, Outcome] = field(default_factory=dict[str, Outcome])
    breaking_forward: tuple[str, ...] = ()
    """Messages of the changes old -> new breaking for readers (new results, old models)."""
    breaking_backward: tuple[str, ...] = ()
    """Messages of the changes new -> old breaking for readers (old results, new models)."""
    problem: str | None = None
    """Why the pair could not be checked (no generated module), if so."""

    def expected_ok(self, direction: str) -> bool:
        """Whether the diff promises that ``direction`` parses."""
        if direction == "new->old":
            return not self.breaking_forward
        if direction == "old->new":
            return not self.breaking_backward
        return True

    @property
    def broken_promises(self) -> list[str]:
        """Directions the diff calls reader-compatible that did not parse."""
        return [d for d, o in self.outcomes.items() if not o.ok and self.expected_ok(d)]


def _parse(model: type[BaseModel], data: Any, direction: str) -> Outcome:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = tuple(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        return Outcome(direction, False, errors)
    return Outcome(direction, True)


def _readers(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    diff = diff_documents(old, new)
    return tuple(c.message for c in diff.changes if c.impact is Impact.BREAKING_READERS)


def check_pair(
    file: str, old_doc: dict[str, Any], new_doc: dict[str, Any], old_pkg: Path, new_pkg: Path | None
) -> PairReport:
    """Synthesise both outputs and parse each with both models."""
    endpoint_id = new_doc["info"]["x-fal-metadata"]["endpointId"]
    report = PairReport(file, endpoint_id)
    old_model = load_output_model(old_pkg, endpoint_id)
    new_model = load_output_model(new_pkg, endpoint_id)
    if old_model is None or new_model is None:
        report.problem = (
            "no generated module for "
            + ("the old" if old_model is None else "the new")
            + " revision"
        )
        return report
    report.breaking_forward = _readers(old_doc, new_doc)
    report.breaking_backward = _readers(new_doc, old_doc)
    old_output = synthesize(endpoint_id, old_doc)
    new_output = synthesize(endpoint_id, new_doc)
    for direction, model, data in (
        ("old->old", old_model, old_output),
        ("new->new", new_model, new_output),
        ("new->old", old_model, new_output),
        ("old->new", new_model, old_output),
    ):
        report.outcomes[direction] = _parse(model, data, direction)
    return report


def history_files(history: Path) -> list[Path]:
    return sorted(history.glob("*.json"))


def run_pairs(
    history: Path,
    schemas: Path,
    old_pkg: Path,
    new_pkg: Path | None,
    files: Iterable[Path] | None = None,
) -> Iterator[PairReport]:
    """Check every document of ``history`` against its revision in ``schemas``."""
    for path in files if files is not None else history_files(history):
        old_doc = json.loads(path.read_bytes())
        new_doc = json.loads((schemas / path.name).read_bytes())
        yield check_pair(path.name, old_doc, new_doc, old_pkg, new_pkg)
