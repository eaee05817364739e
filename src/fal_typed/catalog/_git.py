"""The documents of a schemas folder as git recorded them: at a revision, and their history.

Git is the one record of schema revisions that is the same in every clone, so the changelog of
a refresh (``fal-typed diff --since REV``) and the endpoint wheels' versions are read from it.
History follows the first-parent line of ``HEAD`` (a merge counts as one change, against its
first parent), so it is linear and identical wherever the same commit is checked out. Two
``git`` processes answer any question: one ``log`` or ``ls-tree``, one ``cat-file --batch``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GitError",
    "Revision",
    "document_history",
    "documents_at",
    "file_history",
    "first_parent_commits",
    "read_blobs",
    "repository_root",
    "uncommitted",
]

_NULL_BLOB = "0" * 40


class GitError(RuntimeError):
    """git is missing, the folder is not in a repository, or a revision does not exist."""


def _git(directory: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args], input=stdin, capture_output=True, check=True
        )
    except FileNotFoundError:
        raise GitError("git is not installed (it reads the schemas' history)") from None
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(detail[-1] if detail else f"git {args[0]} failed") from None
    return done.stdout


def repository_root(directory: Path) -> Path:
    """The top of the git work tree holding ``directory`` (``GitError`` if there is none)."""
    if not directory.is_dir():
        raise GitError(f"{directory} is not a directory")
    out = _git(directory, "rev-parse", "--show-toplevel")
    return Path(out.decode().strip()).resolve()


def _prefix(directory: Path) -> tuple[Path, str]:
    root = repository_root(directory)
    relative = directory.resolve().relative_to(root).as_posix()
    return root, "" if relative == "." else relative + "/"


def read_blobs(root: Path, blobs: Iterable[str]) -> dict[str, bytes]:
    """The contents of git blobs (by id), read through one ``git cat-file --batch``."""
    wanted = sorted(set(blobs))
    if not wanted:
        return {}
    out = _git(root, "cat-file", "--batch", stdin="".join(f"{b}\n" for b in wanted).encode())
    contents: dict[str, bytes] = {}
    position = 0
    for blob in wanted:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        if len(header) != 3:
            raise GitError(f"cannot read blob {blob}: {out[position:end].decode(errors='replace')}")
        size = int(header[2])
        contents[blob] = out[end + 1 : end + 1 + size]
        position = end + 1 + size + 1
    return contents


def documents_at(directory: Path, revision: str, *, suffix: str = ".json") -> dict[str, bytes]:
    """The files of ``directory`` (its ``*.json`` documents) as they were at ``revision``.

    ``revision`` is anything git understands (``HEAD~3``, a tag, a commit id). Keys are file
    names. ``GitError`` when the folder is not in a repository or the revision is unknown.
    """
    root, prefix = _prefix(directory)
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except GitError:
        raise GitError(f"unknown revision {revision!r} in {root}") from None
    listing = _git(root, "ls-tree", "-z", "--full-tree", revision, "--", prefix or ".")
    blobs: dict[str, str] = {}
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.decode("utf-8").partition("\t")
        _, kind, blob = meta.split()
        name = path[len(prefix) :]
        if (
            kind == "blob"
            and "/" not in name
            and name.endswith(suffix)
            and not name.startswith(".")
        ):
            blobs[name] = blob
    contents = read_blobs(root, blobs.values())
    return {name: contents[blob] for name, blob in sorted(blobs.items())}


@dataclass(frozen=True)
class Revision:
    """One committed state of a document: ``blob`` is None where the commit deleted it."""

    commit: str
    time: int
    blob: str | None


def _log(root: Path, pathspec: str) -> Iterator[tuple[str, int, str, str | None]]:
    """``(commit, time, path, blob or None if deleted)`` for every change under ``pathspec``,
    oldest first, along the first-parent line of HEAD (a merge counts as one change)."""
    try:
        _git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    except GitError:
        return  # a repository without commits: no history yet
    log = _git(
        root,
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--reverse",
        "--no-renames",
        "--no-abbrev",
        "--raw",
        "-z",
        "--format=%x01%H %ct",
        "--",
        pathspec,
    )
    for chunk in log.split(b"\x01")[1:]:
        head, _, body = chunk.partition(b"\0")
        commit, time = head.decode().split()
        fields = body.lstrip(b"\n").split(b"\0")
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if meta.startswith(b":"):
                blob = meta.decode().split()[3]
                yield commit, int(time), path.decode("utf-8"), None if blob == _NULL_BLOB else blob


def document_history(
    directory: Path, names: Sequence[str] | None = None, *, suffix: str = ".json"
) -> dict[str, list[Revision]]:
    """Every commit (oldest first, first-parent line of HEAD) that changed each document.

    Keys are file names (only ``names`` when given); a document never committed is absent.
    """
    root, prefix = _prefix(directory)
    wanted = None if names is None else set(names)
    history: dict[str, list[Revision]] = {}
    for commit, time, path, blob in _log(root, prefix or "."):
        name = path[len(prefix) :]
        if "/" in name or not name.endswith(suffix) or name.startswith("."):
            continue
        if wanted is None or name in wanted:
            history.setdefault(name, []).append(Revision(commit, time, blob))
    return history


def file_history(path: Path) -> list[Revision]:
    """Every commit (oldest first, first-parent line of HEAD) that changed one file."""
    root, prefix = _prefix(path.parent)
    return [Revision(c, t, b) for c, t, _, b in _log(root, prefix + path.name)]


def first_parent_commits(directory: Path) -> list[str]:
    """The commits of the first-parent line of HEAD, oldest first (empty without commits)."""
    root = repository_root(directory)
    try:
        out = _git(root, "rev-list", "--first-parent", "--reverse", "HEAD")
    except GitError:
        return []
    return out.decode().split()


def uncommitted(directory: Path, names: Iterable[str] | None = None) -> set[str]:
    """File names in ``directory`` whose working-tree state differs from ``HEAD``."""
    root, prefix = _prefix(directory)
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", prefix or ".")
    dirty: set[str] = set()
    entries = iter(out.decode("utf-8").split("\0"))
    for entry in entries:
        if not entry:
            continue
        name = entry[3:][len(prefix) :]
        dirty.add(name)
        if entry[0] in "RC":  # a rename or copy is followed by its source path
            next(entries, None)
    if names is not None:
        dirty &= set(names)
    return dirty
