"""When each schema was last committed: the second half of an endpoint wheel's version.

Git is the one record of schema revisions that is the same on every clone, so two builds of the
same commit get the same versions. A document that is not committed yet (new or modified) has no
such time: the build then uses ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) when it
is set, and otherwise refuses with the list of documents to commit.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["UncommittedSchemaError", "schema_times"]


class UncommittedSchemaError(RuntimeError):
    """Some documents have no commit time and no ``SOURCE_DATE_EPOCH`` stands in for it."""


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise UncommittedSchemaError(
            f"cannot read schema commit times with git in {repo} ({detail}); "
            "outside a git checkout, set SOURCE_DATE_EPOCH"
        ) from None
    return done.stdout


def _committed_times(repo: Path, directory: str) -> dict[str, int]:
    """Map each path under ``directory`` to the time of the newest commit that touched it."""
    times: dict[str, int] = {}
    current = 0
    log = _git(repo, "log", "--format=%x00%ct", "--name-only", "--no-renames", "--", directory)
    for line in log.splitlines():
        if line.startswith("\0"):
            current = int(line[1:])
        elif line:
            times.setdefault(line, current)  # the log is newest first
    return times


def _dirty(repo: Path, directory: str) -> set[str]:
    out = _git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", directory)
    dirty: set[str] = set()
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        dirty.add(entry[3:])
        if entry[0] in "RC":  # a rename or copy is followed by its source path
            next(entries, None)
    return dirty


def schema_times(
    schema_paths: Iterable[Path], *, environ: Mapping[str, str] | None = None
) -> dict[Path, int]:
    """Return the commit time (Unix seconds) of each document in ``schema_paths``."""
    paths = [p.resolve() for p in schema_paths]
    if not paths:
        return {}
    env = os.environ if environ is None else environ
    fallback_raw = env.get("SOURCE_DATE_EPOCH")
    try:
        fallback = int(fallback_raw) if fallback_raw else None
    except ValueError:
        raise UncommittedSchemaError(
            f"SOURCE_DATE_EPOCH={fallback_raw!r} is not a whole number of seconds"
        ) from None
    directory = paths[0].parent
    if any(p.parent != directory for p in paths):
        raise ValueError("schema_times() expects documents from one directory")
    try:
        repo = Path(_git(directory, "rev-parse", "--show-toplevel").strip()).resolve()
    except UncommittedSchemaError:
        if fallback is None:
            raise
        return dict.fromkeys(paths, fallback)  # not a checkout: SOURCE_DATE_EPOCH versions all
    relative = directory.relative_to(repo).as_posix()
    committed = _committed_times(repo, relative)
    dirty = _dirty(repo, relative)
    times: dict[Path, int] = {}
    missing: list[str] = []
    for path in paths:
        key = path.relative_to(repo).as_posix()
        if key in committed and key not in dirty:
            times[path] = committed[key]
        elif fallback is not None:
            times[path] = fallback
        else:
            missing.append(key)
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise UncommittedSchemaError(
            f"{len(missing)} schema(s) are not committed, so their wheels have no version: {shown}. "
            "Commit them, or set SOURCE_DATE_EPOCH to version them explicitly."
        )
    return times
