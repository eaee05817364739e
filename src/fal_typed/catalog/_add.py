"""``fal-typed add ID...``: a typed module for any endpoint, generated into the user's project.

Three steps, each reusing what exists:

1. fetch each endpoint's document from fal (:func:`~._fetch.fetch_endpoints`: retried, checked,
   written atomically) into a temporary folder;
2. run the generator over those documents into another temporary folder: the generator shipped
   in the runtime wheel (``fal_typed._codegen``, its dependencies are the ``codegen`` extra:
   ``pip install "fal-typed[codegen]"``), else the ``codegen/`` of the checkout this runtime is
   installed from (an editable install);
3. install each module as ``<target>/fal_endpoints/<module>/`` with what a wheel installs beside
   it: ``py.typed``, ``endpoint.json`` (listing, search) and ``openapi.json`` (the local server).

``fal_endpoints`` is a namespace package, so with ``<target>`` on ``sys.path`` (a project's root
usually is) ``from fal_endpoints import <module>`` finds the added module beside the installed
wheels, and ``LocalFal()`` serves it. A ``<target>/fal_endpoints/__init__.py`` would hide every
other portion of the namespace, so its presence is an error.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._installed import DOCUMENT_FILE, INDEX_FILE, NAMESPACE, compact_document, index_record
from ..naming import module_name
from ._corpus import document_filename, read_info, write_atomic
from ._fetch import FetchSettings, fetch_endpoints

__all__ = [
    "AddReport",
    "AddedModule",
    "GeneratorUnavailableError",
    "add_endpoints",
    "find_generator",
]

_GENERATOR_DEPENDENCIES = ("datamodel_code_generator", "jinja2", "ruff")
_EXTRA_HINT = 'pip install "fal-typed[codegen]"'


class GeneratorUnavailableError(Exception):
    """The generator (or one of its dependencies) is not installed; the message says how to
    install it."""


@dataclass(frozen=True)
class Generator:
    """How to run the generator: a command, and the directory to run it in."""

    command: tuple[str, ...]
    cwd: Path | None = None


def find_generator() -> Generator:
    """The installed generator, or the checkout's; :class:`GeneratorUnavailableError` if none
    can run here."""
    missing = [name for name in _GENERATOR_DEPENDENCIES if importlib.util.find_spec(name) is None]
    if importlib.util.find_spec("fal_typed._codegen") is not None:
        generator = Generator((sys.executable, "-m", "fal_typed._codegen"))
    else:
        checkout = Path(__file__).resolve().parents[3]
        if not (checkout / "codegen" / "__main__.py").is_file():
            raise GeneratorUnavailableError(
                f"this fal-typed has no generator (not a wheel build, not a checkout): {_EXTRA_HINT}"
            )
        generator = Generator((sys.executable, "-m", "codegen"), checkout)
    if missing:
        raise GeneratorUnavailableError(
            f"the generator needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'}"
            f" not installed: {_EXTRA_HINT}"
        )
    return generator


@dataclass(frozen=True)
class AddedModule:
    """One endpoint added to the project."""

    endpoint_id: str
    module: str
    path: Path
    """The package directory, ``<target>/fal_endpoints/<module>/``."""
    replaced: bool
    """Whether an earlier copy was there (``add`` again refreshes a module)."""


@dataclass
class AddReport:
    """What :func:`add_endpoints` did: the modules added and the ids that failed, with why."""

    added: list[AddedModule] = field(default_factory=list[AddedModule])
    failed: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def ok(self) -> bool:
        return not self.failed


def _check_target(target: Path) -> Path:
    package = target / NAMESPACE
    if (package / "__init__.py").exists():
        raise ValueError(
            f"{package}/__init__.py makes fal_endpoints a regular package there, which hides every "
            "installed endpoint: remove it (fal_endpoints is a namespace package)"
        )
    return package


def _generated_source(out: Path, module: str) -> Path | None:
    """The generated module, in either layout of the generator (module or package)."""
    for candidate in (out / NAMESPACE / module / "__init__.py", out / NAMESPACE / f"{module}.py"):
        if candidate.is_file():
            return candidate
    return None


def _generator_complaint(output: str, document: str) -> str:
    lines = [line.strip() for line in output.splitlines() if document in line]
    return "; ".join(lines) or "the generator made no module from its document"


def _install(package: Path, endpoint_id: str, source: Path, document: Path) -> AddedModule:
    module = module_name(endpoint_id)
    if (package / f"{module}.py").exists():
        raise ValueError(f"{package / module}.py is in the way: remove it first")
    directory = package / module
    replaced = directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    info = read_info(document)
    # The member's sources (its calls, models and realtime classes), or a flat module's one.
    sources = (
        {path.name: path for path in source.parent.glob("*.py")}
        if source.name == "__init__.py"
        else {"__init__.py": source}
    )
    files = {
        **{name: path.read_bytes() for name, path in sources.items()},
        "py.typed": b"",
        DOCUMENT_FILE: compact_document(document.read_bytes()),
        INDEX_FILE: index_record(endpoint_id, info.category, info.about),
    }
    for name, data in files.items():
        write_atomic(directory / name, data)
    return AddedModule(endpoint_id, module, directory, replaced)


def add_endpoints(
    endpoint_ids: Sequence[str],
    target: Path,
    *,
    openapi_url: str | None = None,
    settings: FetchSettings | None = None,
    generator: Generator | None = None,
) -> AddReport:
    """Fetch, generate and install a typed module for each of ``endpoint_ids`` under
    ``target/fal_endpoints/``.

    ``openapi_url`` defaults to fal's (a local server's when ``FAL_TYPED_BASE_URL`` is set).
    Problems found before any request (a malformed id, no generator, a target that would hide
    the namespace) raise ``ValueError`` / :class:`GeneratorUnavailableError`; an id whose
    document cannot be fetched or generated is reported in :attr:`AddReport.failed` and the
    others are still added.
    """
    ids = list(dict.fromkeys(i.strip("/") for i in endpoint_ids))
    for endpoint_id in ids:
        document_filename(endpoint_id)  # ValueError naming a malformed id
    package = _check_target(target)
    generator = generator or find_generator()
    report = AddReport()
    with tempfile.TemporaryDirectory(prefix="fal-typed-add-") as scratch:
        documents, out = Path(scratch) / "schemas", Path(scratch) / "out"
        fetched = asyncio.run(
            fetch_endpoints(ids, documents, openapi_url=openapi_url, settings=settings)
        )
        report.failed.update(fetched.failed)
        wanted = [i for i in ids if i not in fetched.failed]
        if not wanted:
            return report
        done = subprocess.run(
            [
                *generator.command,
                "--schemas",
                str(documents),
                "--out",
                str(out),
                "--jobs",
                "1",
                "--quiet",
            ],
            cwd=generator.cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        for endpoint_id in wanted:
            name = document_filename(endpoint_id)
            source = _generated_source(out, module_name(endpoint_id))
            if source is None:
                report.failed[endpoint_id] = _generator_complaint(done.stderr + done.stdout, name)
                continue
            try:
                report.added.append(_install(package, endpoint_id, source, documents / name))
            except (OSError, ValueError) as exc:
                report.failed[endpoint_id] = str(exc)
    return report
