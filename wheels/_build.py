"""Build the runtime wheel, one wheel per endpoint, and the umbrella wheel.

Every wheel is assembled in memory and written by :mod:`._archive`, so a build is fast (no
backend, no temporary trees) and reproducible (same inputs, same bytes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fal_typed.naming import split_endpoint_id

from ._archive import write_wheel
from ._data import endpoint_data_files
from ._generator import generator_files
from ._naming import (
    UMBRELLA_NAME,
    dist_info_dir,
    distribution_name,
    normalize,
    runtime_requirement,
    umbrella_version,
    wheel_filename,
)
from ._project import RuntimeProject, load_runtime_project
from ._render import (
    Metadata,
    endpoint_readme,
    endpoint_summary,
    entry_points_txt,
    metadata_file,
    umbrella_readme,
    wheel_file,
)
from ._revisions import schema_times
from ._sources import EndpointSource, load_endpoint, schema_path_for
from ._versions import FIRST_VERSION, EndpointHistory, Release, endpoint_histories

__all__ = [
    "BuildReport",
    "BuiltWheel",
    "Layout",
    "WheelBuildError",
    "build_endpoint_wheel",
    "build_runtime_wheel",
    "build_umbrella_wheel",
    "build_wheels",
]

NAMESPACE = "fal_endpoints"
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")
# Below this many endpoints a process pool costs more than it saves.
_POOL_THRESHOLD = 64


class WheelBuildError(Exception):
    """The requested wheels cannot be built; the message says what to fix."""


@dataclass(frozen=True)
class Layout:
    """Where the builder reads from and writes to (defaults: this repository's layout)."""

    root: Path
    out_dir: Path
    generated: Path | None = None
    """The generated ``fal_endpoints`` directory, when not ``<root>/generated/fal_endpoints``."""

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def generated_dir(self) -> Path:
        return self.generated if self.generated is not None else self.root / "generated" / NAMESPACE

    @property
    def runtime_dir(self) -> Path:
        return self.root / "src" / "fal_typed"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates" / "wheel"


@dataclass(frozen=True)
class BuiltWheel:
    """One wheel written to disk."""

    name: str
    version: str
    path: Path
    endpoint_id: str | None = None
    module: str | None = None
    category: str | None = None
    schema_time: int | None = None
    """When the endpoint's schema was committed (the umbrella's version takes the newest)."""


@dataclass
class BuildReport:
    """What :func:`build_wheels` wrote, and the endpoints it had to leave out (and why)."""

    runtime: BuiltWheel
    endpoints: list[BuiltWheel] = field(default_factory=lambda: [])
    umbrella: BuiltWheel | None = None
    skipped: list[tuple[str, str]] = field(default_factory=lambda: [])


def _generator(project: RuntimeProject) -> str:
    return f"{project.name}-wheels ({project.version})"


def _dist_files(
    layout: Layout, project: RuntimeProject, dist_info: str, metadata: Metadata
) -> dict[str, bytes]:
    return {
        f"{dist_info}/METADATA": metadata_file(layout.templates_dir, metadata),
        f"{dist_info}/WHEEL": wheel_file(layout.templates_dir, _generator(project)),
    }


def _write(layout: Layout, name: str, version: str, files: dict[str, bytes]) -> Path:
    """Write the wheel and remove other versions of the same distribution from the output."""
    filename = wheel_filename(name, version)
    path = write_wheel(layout.out_dir / filename, files, dist_info_dir(name, version))
    for stale in layout.out_dir.glob(filename.split("-", 1)[0] + "-*.whl"):
        if stale.name != filename:
            stale.unlink()
    return path


def _with_extra(requirement: str, extra: str) -> str:
    spec, _, marker = requirement.partition(";")
    condition = f'extra == "{extra}"'
    return (
        f"{spec.strip()}; ({marker.strip()}) and {condition}"
        if marker.strip()
        else f"{spec.strip()}; {condition}"
    )


def _package_files(package_dir: Path, prefix: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        for filename in filenames:
            if filename.endswith(_IGNORED_SUFFIXES):
                continue
            path = Path(dirpath) / filename
            files[f"{prefix}/{path.relative_to(package_dir).as_posix()}"] = path.read_bytes()
    return files


def build_runtime_wheel(layout: Layout, project: RuntimeProject) -> BuiltWheel:
    """The ``fal-typed`` wheel: ``src/fal_typed`` and the generator as ``fal_typed/_codegen``
    (for ``fal-typed add``, see :mod:`._generator`); never ``fal_endpoints``."""
    files = _package_files(layout.runtime_dir, "fal_typed")
    if "fal_typed/py.typed" not in files:
        raise WheelBuildError(
            f"{layout.runtime_dir}/py.typed is missing: the runtime would ship untyped"
        )
    try:
        files |= generator_files(layout.root)
    except FileNotFoundError as exc:
        raise WheelBuildError(str(exc)) from None
    dist_info = dist_info_dir(project.name, project.version)
    requires = list(project.dependencies)
    for extra in sorted(project.extras):
        requires += [_with_extra(r, extra) for r in project.extras[extra]]
    metadata = Metadata(
        name=project.name,
        version=project.version,
        summary=project.summary,
        license=project.license,
        requires_python=project.requires_python,
        description=project.readme,
        requires=requires,
        extras=sorted(project.extras),
        keywords=("fal", "fal.ai", "typed", "client"),
    )
    files |= _dist_files(layout, project, dist_info, metadata)
    if project.entry_points:
        files[f"{dist_info}/entry_points.txt"] = entry_points_txt(project.entry_points)
    path = _write(layout, project.name, project.version, files)
    return BuiltWheel(project.name, project.version, path)


def _member_files(source: EndpointSource, package: str) -> dict[str, bytes]:
    """The endpoint's member package as ``generated/`` holds it: every source (its calls, its
    models, its realtime classes) byte for byte, and its ``py.typed``."""
    directory = source.module_path.parent
    try:
        calls = source.module_path.read_bytes()
    except FileNotFoundError:
        raise WheelBuildError(
            f"{source.endpoint_id}: no generated module at {source.module_path}"
        ) from None
    if not (directory / "py.typed").is_file():
        raise WheelBuildError(f"{directory}/py.typed is missing: the endpoint would ship untyped")
    if (
        f'"{source.endpoint_id}"'.encode() not in calls
        and f"'{source.endpoint_id}'".encode() not in calls
    ):
        raise WheelBuildError(
            f"{source.module_path} does not name endpoint {source.endpoint_id!r}: regenerate it"
        )
    files = {f"{package}/{path.name}": path.read_bytes() for path in sorted(directory.glob("*.py"))}
    return files | {f"{package}/py.typed": b""}


def build_endpoint_wheel(
    layout: Layout,
    project: RuntimeProject,
    source: EndpointSource,
    schema_time: int,
    history: EndpointHistory | None = None,
) -> BuiltWheel:
    """One endpoint's wheel: ``fal_endpoints/<module>/`` exactly as ``generated/`` holds it (its
    sources and its ``py.typed``), plus the data read without a checkout: ``endpoint.json`` and
    ``openapi.json`` (see :mod:`._data`).

    The module is a package so that its ``py.typed`` is its own: PEP 561 puts the marker of a
    namespace package's members inside each member, never in the shared ``fal_endpoints/``
    directory, which no single wheel may own. Its version and the changelog in its README come
    from ``history`` (:mod:`._versions`; without one: the first version).
    """
    name = distribution_name(source.module)
    if history is None:
        first = Release(FIRST_VERSION, "first", project.version)
        history = EndpointHistory(source.schema_path.name, (first,))
    version = history.version
    requirement = runtime_requirement(project.name, project.version)
    package = f"{NAMESPACE}/{source.module}"
    files = _member_files(source, package)
    files |= endpoint_data_files(package, source)  # for the local server and the listing
    readme = endpoint_readme(
        layout.templates_dir,
        source,
        name=name,
        version=version,
        runtime_name=project.name,
        runtime_version=project.version,
        runtime_requirement=requirement,
        schema_time=schema_time,
        history=history,
    )
    metadata = Metadata(
        name=name,
        version=version,
        summary=endpoint_summary(source),
        license=project.license,
        requires_python=project.requires_python,
        description=readme,
        requires=[requirement],
        keywords=tuple(k for k in ("fal", "fal.ai", source.category, source.endpoint_id) if k),
        links=[(label, url) for label, url in source.links if label != "Thumbnail"],
    )
    files |= _dist_files(layout, project, dist_info_dir(name, version), metadata)
    path = _write(layout, name, version, files)
    return BuiltWheel(
        name, version, path, source.endpoint_id, source.module, source.category, schema_time
    )


def build_umbrella_wheel(
    layout: Layout, project: RuntimeProject, endpoints: Sequence[BuiltWheel]
) -> BuiltWheel:
    """``fal-endpoints``: no code, a dependency on every endpoint wheel given (and the runtime).

    A bundle holding every module would own the same files as the per-endpoint wheels, and
    uninstalling either would break the other; depending on them keeps every file single-owned.
    """
    if not endpoints:
        raise WheelBuildError("the umbrella wheel needs at least one endpoint wheel")
    ordered = sorted(endpoints, key=lambda e: normalize(e.name))
    version = umbrella_version(project.version, max(e.schema_time or 0 for e in ordered))
    requirement = runtime_requirement(project.name, project.version)
    readme = umbrella_readme(
        layout.templates_dir,
        name=UMBRELLA_NAME,
        runtime_name=project.name,
        runtime_requirement=requirement,
        endpoints=[
            {
                "endpoint_id": e.endpoint_id or "",
                "name": e.name,
                "module": e.module or "",
                "category": e.category or "",
            }
            for e in sorted(ordered, key=lambda e: e.endpoint_id or "")
        ],
    )
    metadata = Metadata(
        name=UMBRELLA_NAME,
        version=version,
        summary=f"Typed fal.ai clients for every endpoint: depends on {len(ordered)} fal-endpoints-* packages.",
        license=project.license,
        requires_python=project.requires_python,
        description=readme,
        requires=[requirement, *(f"{e.name}>={e.version}" for e in ordered)],
        keywords=("fal", "fal.ai", "typed", "client"),
    )
    files = _dist_files(layout, project, dist_info_dir(UMBRELLA_NAME, version), metadata)
    path = _write(layout, UMBRELLA_NAME, version, files)
    return BuiltWheel(UMBRELLA_NAME, version, path)


@dataclass(frozen=True)
class _Job:
    layout: Layout
    project: RuntimeProject
    schema_path: Path
    schema_time: int
    history: EndpointHistory


def _run_job(job: _Job) -> BuiltWheel | tuple[str, str]:
    """Build one endpoint wheel; a failure comes back as ``(document, reason)``."""
    try:
        source = load_endpoint(job.schema_path, job.layout.generated_dir)
        return build_endpoint_wheel(job.layout, job.project, source, job.schema_time, job.history)
    except (WheelBuildError, ValueError, OSError) as exc:
        return (job.schema_path.name, str(exc))


def _select(layout: Layout, endpoint_ids: Sequence[str]) -> list[Path]:
    """Check every requested id up front; one error lists every problem."""
    problems: list[str] = []
    paths: list[Path] = []
    for endpoint_id in dict.fromkeys(endpoint_ids):
        try:
            split_endpoint_id(endpoint_id)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        path = schema_path_for(layout.schemas_dir, endpoint_id)
        try:
            source = load_endpoint(path, layout.generated_dir)
        except FileNotFoundError:
            problems.append(f"{endpoint_id}: unknown endpoint (no {path.relative_to(layout.root)})")
            continue
        except ValueError as exc:
            problems.append(f"{endpoint_id}: {exc}")
            continue
        if source.endpoint_id != endpoint_id.strip("/"):
            problems.append(f"{endpoint_id}: {path.name} describes {source.endpoint_id!r}")
        elif not source.module_path.is_file():
            problems.append(f"{endpoint_id}: not generated yet (no {source.module_path})")
        paths.append(path)
    if problems:
        raise WheelBuildError(
            "cannot build the requested endpoint wheels:\n  " + "\n  ".join(problems)
        )
    return paths


def _check_unique(built: Iterable[BuiltWheel]) -> None:
    seen: dict[str, str] = {}
    for wheel in built:
        other = seen.setdefault(normalize(wheel.name), wheel.endpoint_id or "")
        if other != (wheel.endpoint_id or ""):
            raise WheelBuildError(
                f"{other!r} and {wheel.endpoint_id!r} both map to the distribution {wheel.name!r}"
            )


def build_wheels(
    layout: Layout,
    endpoint_ids: Sequence[str] | None = None,
    *,
    jobs: int | None = None,
    umbrella: bool | None = None,
) -> BuildReport:
    """Build the runtime wheel and the endpoint wheels (all of them, or ``endpoint_ids``).

    A full build skips documents it cannot package (reported in :attr:`BuildReport.skipped`)
    and also builds the umbrella; an explicit selection fails before writing anything if any
    id is unknown or not generated, and builds the umbrella only when ``umbrella`` is true.
    """
    project = load_runtime_project(layout.root)
    if endpoint_ids is None:
        schema_paths = sorted(layout.schemas_dir.glob("*.json"))
    else:
        schema_paths = _select(layout, endpoint_ids)
    times = schema_times(schema_paths)
    histories = endpoint_histories(schema_paths, project.version)
    layout.out_dir.mkdir(parents=True, exist_ok=True)
    report = BuildReport(runtime=build_runtime_wheel(layout, project))
    work = [
        _Job(layout, project, p, times[p.resolve()], histories[p.resolve()]) for p in schema_paths
    ]
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    if workers == 1 or len(work) < _POOL_THRESHOLD:
        results = [_run_job(job) for job in work]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_run_job, work, chunksize=max(1, len(work) // (workers * 8))))
    for result in results:
        if isinstance(result, BuiltWheel):
            report.endpoints.append(result)
        else:
            report.skipped.append(result)
    if endpoint_ids is not None and report.skipped:
        raise WheelBuildError("; ".join(f"{doc}: {reason}" for doc, reason in report.skipped))
    _check_unique(report.endpoints)
    if report.endpoints and (umbrella if umbrella is not None else endpoint_ids is None):
        report.umbrella = build_umbrella_wheel(layout, project, report.endpoints)
    return report
