"""Local files a caller names: regular files of a bounded size, looked at before anything is read.

A path can name something that is not a file at all: a FIFO (``open`` blocks until a writer
comes, so a call hangs before it has sent anything), ``/dev/zero`` (endless), a directory, or a
``/proc`` or ``/sys`` pseudo-file (its size says 0, or 4096, whatever it holds). So a path is
``stat``-ed first and only a regular file of at most ``max_bytes`` on a real filesystem passes;
it is then opened with ``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the open) and
checked to be the very file that was looked at. Every refusal is a
:class:`~fal_typed.FileInputError` naming the field and the path, raised before any request.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO

from ._errors import FileInputError

__all__ = [
    "check_local_file",
    "check_open_file",
    "folder_problem",
    "kind_of",
    "open_checked",
    "pseudo_filesystem",
    "too_large",
]

#: Filesystems whose files are views of the kernel, not stored bytes (Linux names).
_PSEUDO_FILESYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "debugfs",
        "tracefs",
        "securityfs",
        "configfs",
        "efivarfs",
        "pstore",
        "bpf",
        "cgroup",
        "cgroup2",
        "fusectl",
        "devpts",
        "mqueue",
        "binfmt_misc",
    }
)
_MOUNTINFO = Path("/proc/self/mountinfo")
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


def kind_of(mode: int) -> str | None:
    """What a non-regular file is (``"a directory"``...), or ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be (or be made) a folder, or None: it, or the nearest of its
    parents that exists, is something else (a file, a device...). ``/dev/full`` as a folder
    failed in ``mkdir`` with "File exists", which names nothing wrong."""
    probe = folder
    while True:  # the nearest that exists: missing, or under something that is no folder
        try:
            mode = probe.stat().st_mode
            break
        except (FileNotFoundError, NotADirectoryError):
            if probe.parent == probe:  # its anchor is missing: a Windows drive not there
                return f"{probe} does not exist, so {folder} cannot be made"
            probe = probe.parent
        except OSError as exc:  # a name too long, a parent it may not enter...
            return f"{folder} cannot be used: {exc.strerror or exc}"
    if not stat.S_ISDIR(mode):
        kind = kind_of(mode) or "a file"
        if probe == folder:
            return f"{folder} is {kind}, not a folder"
        return f"{probe} is {kind}, so {folder} cannot be made"
    return None


def pseudo_filesystem(info: os.stat_result) -> str | None:
    """The kernel filesystem (``proc``, ``sysfs``...) a file lives on, if it is one (Linux)."""
    if os.major(info.st_dev) != 0 or not _MOUNTINFO.exists():
        return None  # pseudo filesystems have anonymous (major 0) devices
    device = f"{os.major(info.st_dev)}:{os.minor(info.st_dev)}"
    try:
        lines = _MOUNTINFO.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == device and " - " in line:
            fstype = line.split(" - ", 1)[1].split()[0]
            return fstype if fstype in _PSEUDO_FILESYSTEMS else None
    return None


def too_large(subject: str, max_bytes: int, field: str | None) -> FileInputError:
    """``subject`` (``"<path> (N bytes)"``, ``"<name>: the stream"``) is past the upload limit."""
    return FileInputError(
        f"{subject} is more than the limit of {max_bytes} bytes (UploadSettings.max_file_bytes)",
        field=field,
    )


def check_local_file(
    path: Path, *, field: str | None, max_bytes: int, allow_pipes: bool = False
) -> os.stat_result:
    """``path``'s ``stat``, if it is a readable regular file of at most ``max_bytes`` bytes that
    holds what its size says; else :class:`FileInputError`. Opens nothing but, for a file that
    says it is empty, the file itself (non-blocking) to see whether it really is. ``allow_pipes``
    also lets FIFOs through (a command line reading ``@/dev/stdin``)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileInputError(f"no such file: {path}", field=field) from None
    except OSError as exc:
        raise FileInputError(f"cannot read {path}: {exc.strerror or exc}", field=field) from None
    kind = kind_of(info.st_mode)
    if kind is not None and not (allow_pipes and stat.S_ISFIFO(info.st_mode)):
        if stat.S_ISDIR(info.st_mode):
            raise FileInputError(f"is a directory, not a file: {path}", field=field)
        raise FileInputError(f"{path} is {kind}, not a regular file", field=field)
    if kind is None and info.st_size > max_bytes:
        raise too_large(f"{path} ({info.st_size} bytes)", max_bytes, field)
    if not os.access(path, os.R_OK):
        raise FileInputError(f"file is not readable: {path}", field=field)
    fstype = pseudo_filesystem(info)
    if fstype is not None or (kind is None and info.st_size == 0 and _has_content(path, field)):
        where = f"on the {fstype} pseudo-filesystem" if fstype else "a pseudo-file"
        raise FileInputError(
            f"{path} is {where}: its size ({info.st_size}) is not what it holds; read it and "
            "pass the bytes instead",
            field=field,
        )
    return info


def _has_content(path: Path, field: str | None) -> bool:
    with open_checked(path, None, field=field) as handle:
        return bool(handle.read(1))


def open_checked(path: Path, expected: os.stat_result | None, *, field: str | None) -> IO[bytes]:
    """``path`` opened for reading without blocking, if it is (still) a regular file, and the
    same one as ``expected`` when given (its device, inode and size)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        raise FileInputError(f"cannot read {path}: {exc.strerror or exc}", field=field) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (
            expected is not None
            and (info.st_dev, info.st_ino, info.st_size)
            != (expected.st_dev, expected.st_ino, expected.st_size)
        ):
            raise FileInputError(f"{path} changed after it was checked", field=field)
        return os.fdopen(fd, "rb")
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def check_open_file(handle: object, *, field: str | None, max_bytes: int) -> bool:
    """For a binary file object with a file descriptor: refuse devices, directories, pseudo-files
    and files over ``max_bytes``. ``True`` if it is a regular file (sized by seeking), ``False``
    if it is a pipe or socket (read once, up to ``max_bytes``) or has no descriptor."""
    fileno = getattr(handle, "fileno", None)
    if not callable(fileno):
        return False
    try:
        fd = fileno()
        info = os.fstat(fd) if isinstance(fd, int) else None
    except (OSError, ValueError, AttributeError):  # io.BytesIO & co. have no descriptor
        return False
    if info is None:
        return False
    name = getattr(handle, "name", None)
    label = name if isinstance(name, str) else f"<file descriptor {fd}>"
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        return False
    kind = kind_of(info.st_mode)
    if kind is not None:
        raise FileInputError(f"{label} is {kind}, not a regular file", field=field)
    if info.st_size > max_bytes:
        raise too_large(f"{label} ({info.st_size} bytes)", max_bytes, field)
    fstype = pseudo_filesystem(info)
    if fstype is not None:
        raise FileInputError(
            f"{label} is on the {fstype} pseudo-filesystem: read it and pass the bytes instead",
            field=field,
        )
    return True
