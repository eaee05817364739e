"""Endpoint wheel versions that say what changed, derived from each document's git history.

The rule (docs/schema-changes.md states it for users):

- A document's first committed revision is ``1.0.0``.
- Each later revision bumps the version by the API diff of the previous revision and this one
  (:mod:`fal_typed.catalog._diff`): **major** when a change breaks callers or readers, **minor**
  for additions and behaviour changes (a default fal now applies), **patch** for descriptions
  only, or a new text with no visible change.
- A new fal-typed release (the ``version`` in ``pyproject.toml`` changed) regenerates every
  endpoint: **patch**, unless the same commit also changed the document more. Which runtime
  releases an endpoint wheel works with is said by its ``Requires-Dist`` range, not its version.
- A document (or runtime version) changed in the working tree and not committed yet gets one
  more version, by the same rule.

History follows the first-parent line of ``HEAD`` (:mod:`fal_typed.catalog._git`), so every
clone of the same commit derives the same versions, and rebuilding gives the same bytes. Outside
a git checkout there is no history: every document is at its first version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fal_typed.catalog._diff import Bump, EndpointDiff, diff_documents
from fal_typed.catalog._git import (
    GitError,
    Revision,
    document_history,
    file_history,
    first_parent_commits,
    read_blobs,
    repository_root,
    uncommitted,
)

from ._project import project_version

__all__ = [
    "FIRST_VERSION",
    "EndpointHistory",
    "Release",
    "bump_version",
    "endpoint_histories",
]

FIRST_VERSION = "1.0.0"
_LEVELS: tuple[Bump, ...] = ("patch", "minor", "major")

ReleaseKind = Literal["first", "schema", "runtime", "working-tree"]


def bump_version(version: str, level: Bump) -> str:
    """``1.4.2`` bumped: major ``2.0.0``, minor ``1.5.0``, patch ``1.4.3``."""
    major, minor, patch = (int(part) for part in version.split("."))
    if level == "major":
        return f"{major + 1}.0.0"
    if level == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def _higher(a: Bump | None, b: Bump | None) -> Bump | None:
    if a is None or b is None:
        return a or b
    return a if _LEVELS.index(a) >= _LEVELS.index(b) else b


@dataclass(frozen=True)
class Release:
    """One version of an endpoint wheel and why it exists."""

    version: str
    kind: ReleaseKind
    runtime: str
    """The fal-typed version the wheel is generated with."""
    commit: str | None = None
    """The commit that made it (None: the working tree, or no git history)."""
    time: int | None = None
    diff: EndpointDiff | None = None
    """The schema changes since the previous release (None when the schema did not change)."""
    unreadable: bool = False
    """A revision on either side was not valid JSON, so the change is unknown (major)."""


@dataclass(frozen=True)
class EndpointHistory:
    """Every release of one endpoint's wheel, oldest first; the last is what a build makes."""

    file: str
    releases: tuple[Release, ...]

    @property
    def version(self) -> str:
        return self.releases[-1].version

    @property
    def current(self) -> Release:
        return self.releases[-1]


def _parse(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _runtime_version(pyproject: bytes) -> str | None:
    try:
        return project_version(pyproject.decode("utf-8"))
    except UnicodeDecodeError:
        return None


@dataclass
class _Walker:
    """Replays one document's events (its revisions, runtime releases) into releases."""

    file: str
    releases: list[Release]
    content: bytes | None = None
    """The document's text at the last event (None: absent or deleted)."""
    seen: bytes | None = None
    """The last text it had before it was deleted (a re-added document is compared with it)."""
    runtime: str | None = None

    @property
    def version(self) -> str | None:
        return self.releases[-1].version if self.releases else None

    def step(
        self,
        kind: ReleaseKind,
        content: bytes | None,
        runtime: str,
        commit: str | None,
        time: int | None,
    ) -> None:
        runtime_changed = self.runtime is not None and runtime != self.runtime
        self.runtime = runtime
        if content is None:  # absent or deleted: nothing to version
            if self.content is not None:
                self.seen = self.content
            self.content = None
            return
        previous = self.content if self.content is not None else self.seen
        self.content = content
        if self.version is None:
            self.releases.append(Release(FIRST_VERSION, "first", runtime, commit, time))
            return
        level: Bump | None = None
        diff: EndpointDiff | None = None
        unreadable = False
        if previous != content:
            old, new = _parse(previous), _parse(content)
            if old is None or new is None:
                level, unreadable = "major", True
            else:  # a new text is a new wheel: patch at least, even with the same JSON
                diff = diff_documents(old, new)
                level = diff.bump or "patch"
        if runtime_changed:
            level = _higher(level, "patch")
        if level is None:
            return
        if kind != "working-tree":
            kind = "schema" if diff is not None or unreadable else "runtime"
        version = bump_version(self.version, level)
        self.releases.append(Release(version, kind, runtime, commit, time, diff, unreadable))


@dataclass(frozen=True)
class _RuntimeRelease:
    version: str
    commit: str
    time: int


def _runtime_timeline(root: Path, order: Mapping[str, int]) -> dict[int, _RuntimeRelease]:
    """The commits (by first-parent index) that changed ``pyproject.toml``'s version; the
    first commit holding one starts the timeline."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    revisions = file_history(pyproject)
    blobs = read_blobs(root, (r.blob for r in revisions if r.blob is not None))
    timeline: dict[int, _RuntimeRelease] = {}
    last: str | None = None
    for revision in revisions:
        version = _runtime_version(blobs[revision.blob]) if revision.blob else None
        if version is not None and version != last and revision.commit in order:
            timeline[order[revision.commit]] = _RuntimeRelease(
                version, revision.commit, revision.time
            )
            last = version
    return timeline


def endpoint_histories(
    schema_paths: Sequence[Path], runtime_version: str
) -> dict[Path, EndpointHistory]:
    """The release history of each document (all in one folder), ending at the working tree.

    ``runtime_version`` is the fal-typed version the build generates with (the working tree's
    ``pyproject.toml``).
    """
    paths = [p.resolve() for p in schema_paths]
    if not paths:
        return {}
    directory = paths[0].parent
    if any(p.parent != directory for p in paths):
        raise ValueError("endpoint_histories() expects documents from one directory")
    names = [p.name for p in paths]
    try:
        root = repository_root(directory)
    except GitError:
        root = None
    if root is None:  # no history: each document as it is, at its first version
        return {
            p: EndpointHistory(p.name, (Release(FIRST_VERSION, "first", runtime_version),))
            for p in paths
        }
    order = {commit: index for index, commit in enumerate(first_parent_commits(directory))}
    history = document_history(directory, names)
    blobs = read_blobs(
        root, (r.blob for revs in history.values() for r in revs if r.blob is not None)
    )
    runtime = _runtime_timeline(root, order)
    dirty = uncommitted(directory, names)
    result: dict[Path, EndpointHistory] = {}
    for path in paths:
        revisions = {r.commit: r for r in history.get(path.name, []) if r.commit in order}
        result[path] = _replay(path, revisions, order, runtime, blobs, runtime_version, dirty)
    return result


def _replay(
    path: Path,
    revisions: Mapping[str, Revision],
    order: Mapping[str, int],
    runtime: Mapping[int, _RuntimeRelease],
    blobs: Mapping[str, bytes],
    runtime_version: str,
    dirty: set[str],
) -> EndpointHistory:
    """Walk the document's revisions and the runtime releases in commit order, then the
    working tree."""
    walker = _Walker(path.name, [])
    by_index = {order[c]: r for c, r in revisions.items()}
    current_runtime = runtime[min(runtime)].version if runtime else runtime_version
    for index in sorted(set(by_index) | set(runtime)):
        release = runtime.get(index)
        if release is not None:
            current_runtime = release.version
        revision = by_index.get(index)
        if revision is not None:
            content = blobs[revision.blob] if revision.blob is not None else None
            walker.step("schema", content, current_runtime, revision.commit, revision.time)
        elif release is not None:
            walker.step("schema", walker.content, current_runtime, release.commit, release.time)
    content = path.read_bytes() if path.is_file() else None
    if path.name in dirty or not walker.releases or current_runtime != runtime_version:
        walker.step("working-tree", content, runtime_version, None, None)
    return EndpointHistory(path.name, tuple(walker.releases))
