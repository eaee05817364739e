"""Writing a file whole or not at all, and leaving nothing behind.

:func:`atomic_file` writes to a hidden temporary file beside the target (``.<name>.<pid>.<random>
.part``), flushes it to disk and renames it over the target; on any failure the temporary file is
removed. A process killed mid-write cannot remove it, so each save first removes the temporary
files of the same target left by processes that no longer run (on this machine; elsewhere, those
older than a day). The file is created with mode ``0o666`` less the umask, as ``open()`` would
(``tempfile.mkstemp`` makes ``0o600`` files). Target folders given with a trailing separator are
created, as :func:`save_target` says.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final, cast

from .._errors import InvalidArgumentError
from ._local import folder_problem, kind_of

__all__ = ["atomic_file", "check_replaceable", "remove_stale_parts", "save_target"]

_SUFFIX: Final = ".part"
#: Bytes of the target's name kept in its temporary files' names (the whole must fit 255).
_NAME_BYTES: Final = 160
#: Where a process cannot be asked whether it still runs, temporary files this old are stale.
_STALE_AGE: Final = 24 * 3600.0
_TEMP_TAIL: Final = re.compile(r"([0-9]+)\.[0-9a-f]{8}")
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _prefix(target: Path) -> str:
    name = target.name.encode("utf-8", "surrogateescape")[:_NAME_BYTES]
    return "." + name.decode("utf-8", "ignore") + "."


def _process_gone(pid: int) -> bool:
    if os.name != "posix":
        return False
    if pid == os.getpid():
        return False  # our own: another thread may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, someone else's
    return False


def remove_stale_parts(target: Path) -> int:
    """Remove the temporary files of ``target`` whose writer is gone; return how many."""
    prefix = _prefix(target)
    removed = 0
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(_SUFFIX)):
            continue
        # Exactly ``<pid>.<random>``: ``.a.`` must not match the files of a target ``a.b``.
        found = _TEMP_TAIL.fullmatch(entry.name[len(prefix) : -len(_SUFFIX)])
        if found is None:
            continue
        try:
            stale = _process_gone(int(found.group(1))) or (
                time.time() - entry.stat(follow_symlinks=False).st_mtime > _STALE_AGE
            )
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed


def check_replaceable(target: Path) -> None:
    """Refuse a ``target`` that a save's rename would put a file in place of, other than a
    regular file (or a symbolic link, replaced itself, never followed): ``/dev/null``, a FIFO,
    a socket or a folder. The rename replaces any of them, and a device node replaced by a
    file (``save("/dev/null")`` run as root) breaks every program on the machine."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InvalidArgumentError(f"cannot save to {target}: {exc.strerror or exc}") from None
    if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
        return
    raise InvalidArgumentError(
        f"cannot save to {target}: it is {kind_of(info.st_mode)}, not a regular file, and a save "
        "replaces what is there; give a file's path (or a folder ending with a separator)"
    )


@contextmanager
def atomic_file(target: Path) -> Generator[IO[bytes], None, None]:
    """A new temporary file beside ``target``, renamed over it when the block ends without an
    error, removed otherwise. Stale temporary files of ``target`` are removed first. A target
    that is not a regular file is refused (:func:`check_replaceable`)."""
    check_replaceable(target)
    remove_stale_parts(target)
    prefix = _prefix(target)
    while True:
        temp = target.parent / f"{prefix}{os.getpid()}.{secrets.token_hex(4)}{_SUFFIX}"
        try:
            fd = os.open(temp, _FLAGS, 0o666)  # the umask applies, as for open()
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def save_target(path: str | os.PathLike[str], name: str) -> Path:
    """Where ``save(path)`` writes: ``path`` itself, or ``path/name`` when ``path`` is an
    existing folder or ends with a separator (``"outputs/"``: created if missing)."""
    given = cast(object, path)  # typed, but often not: a bytes path, a number, None
    raw = os.fspath(path) if isinstance(given, (str, os.PathLike)) else None
    if not isinstance(raw, str):
        raise InvalidArgumentError(
            f"path must be a str or an os.PathLike of str, got {type(path).__name__}"
        )
    if not raw.strip():  # Path("") is the working directory: say it, not guess it
        raise InvalidArgumentError(
            "path must not be empty: give a file's path, or a folder ('.' for this one)"
        )
    target = Path(raw)
    separators = tuple({"/", os.sep, os.altsep or "/"})
    try:
        is_dir = target.is_dir()
        parent_is_dir = is_dir or target.parent.is_dir()
    except OSError as exc:  # a name too long for the file system, a permission...
        raise InvalidArgumentError(f"cannot save to {raw[:300]}: {exc.strerror or exc}") from None
    if raw.endswith(separators) or is_dir:
        problem = folder_problem(target)
        if problem is not None:  # mkdir would say "File exists" or "Not a directory"
            raise InvalidArgumentError(f"cannot save into {raw}: {problem}")
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgumentError(
                f"cannot save into {raw}: cannot create the folder ({exc.strerror or exc})"
            ) from None
        check_replaceable(target / name)
        return target / name
    if not parent_is_dir:
        problem = folder_problem(target.parent)
        if problem is not None:  # not missing: a file (or a device) where its folder would be
            raise InvalidArgumentError(f"cannot save to {target}: {problem}")
        raise InvalidArgumentError(
            f"cannot save to {target}: directory {target.parent} does not exist "
            "(end the path with a separator to save into a new folder)"
        )
    check_replaceable(target)
    return target
