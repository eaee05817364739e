"""`UploadSource`: what an upload reads from, whatever the caller handed in.

Every flow (single POST, multipart parts, the PUT fallback, retries of each) needs to read an
arbitrary byte range again, possibly from several threads at once, without ever holding a large
file in memory. So a source knows its size up front and hands out fresh range iterators that
read in ``READ_CHUNK`` pieces: paths open their own handle per range, seekable file objects
read under a lock, non-seekable streams are first spooled to a temporary file, and in-memory
data is sliced without copying the whole.

Paths must name regular files of at most ``UploadSettings.max_file_bytes`` (see ``_local``):
a FIFO, a device, a directory or a ``/proc`` pseudo-file is refused before anything is read, and
a file object on a device is refused the same way; a pipe is spooled up to that size, no further.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import os
import tempfile
import threading
import types
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import IO, Any, cast

from typing_extensions import override

from .._errors import InvalidArgumentError
from ._errors import FileInputError, UploadError
from ._input import SupportsImageSave
from ._local import check_local_file, check_open_file, open_checked, too_large
from ._mime import SNIFF_BYTES, check_content_type, default_file_name, guess_content_type
from ._settings import upload_settings

__all__ = ["READ_CHUNK", "UploadSource", "check_source", "open_source"]

READ_CHUNK = 1 << 20
"""Bytes read from the source per step, and so the most a range iterator holds at once."""

_SPOOL_IN_MEMORY = 8 << 20
"""Non-seekable streams up to this size are spooled in memory, larger ones to a temp file."""


class UploadSource(ABC):
    """A byte source of known ``size`` that can be read again, by range, from any thread.

    ``file_name`` and ``content_type`` are what the upload sends; ``label`` names the source in
    errors (a path, a file name, or ``<N bytes>``). Use as a context manager to release handles.
    """

    size: int
    file_name: str
    content_type: str
    label: str

    def _describe(
        self, size: int, file_name: str | None, content_type: str | None, label: str
    ) -> None:
        self.size = size
        self.label = label
        head = self.read_range(0, min(size, SNIFF_BYTES)) if content_type is None else b""
        self.content_type = content_type or guess_content_type(file_name, head)
        self.file_name = file_name or default_file_name(self.content_type)

    @abstractmethod
    def iter_range(self, offset: int, length: int) -> Generator[bytes, None, None]:
        """Yield the bytes ``[offset, offset + length)`` in chunks of at most ``READ_CHUNK``."""

    async def aiter_range(self, offset: int, length: int) -> AsyncIterator[bytes]:
        """Async twin of :meth:`iter_range`; disk reads run in a worker thread."""
        chunks = self.iter_range(offset, length)
        try:
            while True:
                chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            # Cancelled mid-read, the worker thread may still be inside the generator: it then
            # cannot be closed here, and finishes its read and closes its file on its own.
            with contextlib.suppress(ValueError):
                chunks.close()

    def read_range(self, offset: int, length: int) -> bytes:
        """The bytes ``[offset, offset + length)`` at once (small ranges only)."""
        return b"".join(self.iter_range(offset, length))

    def read_all(self) -> bytes:
        """The whole content (used for data URIs, which are small by construction)."""
        return self.read_range(0, self.size)

    def close(self) -> None:
        """Release any handle or temporary file the source owns."""
        return None

    def __enter__(self) -> UploadSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @override
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} {self.content_type} {self.size} bytes>"

    def _short_read(self, expected: int, got: int) -> UploadError:
        return UploadError(
            self.label,
            f"the source changed while uploading: expected {expected} more bytes, got {got}",
        )


class _BytesSource(UploadSource):
    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        file_name: str | None,
        content_type: str | None,
        label: str | None,
    ) -> None:
        view = memoryview(data)
        self._view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
        size = self._view.nbytes
        self._describe(size, file_name, content_type, label or file_name or f"<{size} bytes>")

    @override
    def iter_range(self, offset: int, length: int) -> Generator[bytes, None, None]:
        end = offset + length
        for start in range(offset, end, READ_CHUNK):
            yield self._view[start : min(start + READ_CHUNK, end)].tobytes()

    @override
    async def aiter_range(self, offset: int, length: int) -> AsyncIterator[bytes]:
        for chunk in self.iter_range(offset, length):
            yield chunk


class _PathSource(UploadSource):
    def __init__(
        self, path: Path, info: os.stat_result, file_name: str | None, content_type: str | None
    ) -> None:
        self._path = path
        self._info = info
        self._describe(info.st_size, file_name or path.name, content_type, str(path))

    @override
    def iter_range(self, offset: int, length: int) -> Generator[bytes, None, None]:
        # One handle per range: parallel parts read without sharing a file position. Each open
        # checks it is still the regular file looked at (a FIFO swapped in would block a read).
        with open_checked(self._path, self._info, field=None) as handle:
            handle.seek(offset)
            remaining = length
            while remaining:
                chunk = handle.read(min(READ_CHUNK, remaining))
                if not chunk:
                    raise self._short_read(remaining, 0)
                remaining -= len(chunk)
                yield chunk


class _FileObjectSource(UploadSource):
    def __init__(
        self,
        handle: IO[bytes],
        start: int,
        size: int,
        file_name: str | None,
        content_type: str | None,
        label: str,
        *,
        owned: bool,
        field: str | None = None,
    ) -> None:
        self._handle = handle
        self._field = field
        self._start = start
        self._owned = owned
        self._lock = threading.Lock()
        self._describe(size, file_name, content_type, label)

    @override
    def iter_range(self, offset: int, length: int) -> Generator[bytes, None, None]:
        position = self._start + offset
        remaining = length
        while remaining:
            with self._lock:  # the handle's position is shared by every reader
                self._handle.seek(position)
                chunk = _binary(
                    self._handle.read(min(READ_CHUNK, remaining)), self.label, self._field
                )
            if not chunk:
                raise self._short_read(remaining, 0)
            position += len(chunk)
            remaining -= len(chunk)
            yield chunk  # bytes already (_binary)

    @override
    def close(self) -> None:
        if self._owned:
            self._handle.close()
        else:
            # Leave a caller's file where a plain read() would: at its end.
            with self._lock:
                self._handle.seek(self._start + self.size)


def _binary(chunk: object, label: str, field: str | None = None) -> bytes:
    """What a file object's ``read()`` gave, if bytes: a text stream's ``str`` (or anything
    else a ``read`` returns) is refused naming the file, not written as a raw TypeError."""
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray):
        return bytes(chunk)  # (a buffer the stream may reuse: copied)
    if isinstance(chunk, memoryview):
        return chunk.tobytes()
    raise FileInputError(
        f"{label}: read() returned {type(chunk).__name__}, not bytes: open the file in binary "
        "mode ('rb') or pass bytes",
        field=field,
    )


def _is_pil_image(value: object) -> bool:
    return isinstance(value, SupportsImageSave) and type(value).__module__.startswith("PIL.")


def _file_object_name(handle: object) -> str | None:
    name = getattr(handle, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else None


def check_source(
    value: object, *, field: str | None = None, max_bytes: int | None = None
) -> os.stat_result | None:
    """Reject, before any request, a source that cannot be uploaded; reads nothing (but one
    byte of a file that says it is empty). Returns the ``stat`` of a path's file.

    ``max_bytes`` defaults to the process-wide ``UploadSettings.max_file_bytes``.
    """
    limit = upload_settings().max_file_bytes if max_bytes is None else max_bytes
    if isinstance(value, str):
        raise FileInputError(
            "a str is not an upload source: pass pathlib.Path(...) for a local file or .encode() for text",
            field=field,
        )
    if isinstance(value, (bytes, bytearray, memoryview)) or _is_pil_image(value):
        return None
    if isinstance(value, os.PathLike):
        path = Path(cast("os.PathLike[str]", value))
        return check_local_file(path, field=field, max_bytes=limit)
    read = getattr(value, "read", None)
    if isinstance(value, (type, types.ModuleType)):
        kind = "class" if isinstance(value, type) else "module"
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", "?")
        raise FileInputError(
            f"cannot upload the {kind} {name}: pass an open binary file (open(path, 'rb')), "
            "a pathlib.Path or bytes",
            field=field,
        )
    if not callable(read):
        raise FileInputError(
            f"cannot upload a {type(value).__name__}: expected a URL str, pathlib.Path, bytes, "
            "a binary file object or a PIL image",
            field=field,
        )
    if inspect.iscoroutinefunction(read):
        raise FileInputError(
            "async file objects are not supported: pass the file's Path instead", field=field
        )
    mode = getattr(value, "mode", "b")
    if isinstance(value, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise FileInputError("file object is open in text mode: open it with 'rb'", field=field)
    if getattr(value, "closed", False):
        raise FileInputError("file object is closed", field=field)
    check_open_file(value, field=field, max_bytes=limit)
    return None


def _encode_image(image: Any, content_type: str | None, field: str | None) -> tuple[bytes, str]:
    """Encode a PIL image in its own format (PNG if it has none, or the one ``content_type`` asks)."""
    from PIL import Image

    fmt = str(getattr(image, "format", None) or "PNG").upper()
    if content_type:
        fmt = content_type.split("/", 1)[1].split(";", 1)[0].strip().upper()
        fmt = {"JPG": "JPEG", "X-ICON": "ICO"}.get(fmt, fmt)
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (KeyError, OSError, ValueError) as exc:
        if content_type:
            raise FileInputError(
                f"cannot encode the image as {content_type}: {exc}", field=field
            ) from None
        fmt = "PNG"  # the image's own format cannot be written (a read-only codec): use PNG
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
    return buffer.getvalue(), content_type or Image.MIME.get(fmt, f"image/{fmt.lower()}")


def _open_file_object(
    handle: IO[bytes],
    file_name: str | None,
    content_type: str | None,
    *,
    field: str | None,
    max_bytes: int,
) -> UploadSource:
    name = file_name or _file_object_name(handle)
    label = name or f"<{type(handle).__name__}>"
    seekable = False
    with contextlib.suppress(AttributeError, OSError, ValueError):
        seekable = bool(handle.seekable())
    if seekable:
        start = handle.tell()
        size = handle.seek(0, os.SEEK_END) - start
        handle.seek(start)
        if size > max_bytes:
            raise too_large(f"{label} ({size} bytes)", max_bytes, field)
        return _FileObjectSource(
            handle, start, size, name, content_type, label, owned=False, field=field
        )
    # A pipe or socket can be read once: spool it, so parts and retries can read it again.
    spool = cast("IO[bytes]", tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY))  # noqa: SIM115 - owned by the source
    try:
        while chunk := _binary(
            handle.read(min(READ_CHUNK, max_bytes + 1 - spool.tell())), label, field
        ):
            spool.write(chunk)
            if spool.tell() > max_bytes:
                raise too_large(f"{label}: the stream", max_bytes, field)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    return _FileObjectSource(spool, 0, size, name, content_type, label, owned=True)


def open_source(
    value: object,
    *,
    content_type: str | None = None,
    file_name: str | None = None,
    field: str | None = None,
    max_bytes: int | None = None,
) -> UploadSource:
    """Wrap ``value`` (bytes, path, binary file object or PIL image) as an :class:`UploadSource`.

    Raises :class:`FileInputError` naming ``field`` for anything that cannot be uploaded (a local
    file past ``max_bytes``, default ``UploadSettings.max_file_bytes``, among them).
    """
    limit = upload_settings().max_file_bytes if max_bytes is None else max_bytes
    info = check_source(value, field=field, max_bytes=limit)
    if content_type is not None:
        try:
            check_content_type(content_type)
        except InvalidArgumentError as exc:
            raise FileInputError(exc.message, field=field) from None
    if file_name is not None and (
        not isinstance(file_name, str)  # pyright: ignore[reportUnnecessaryIsInstance]
        or not file_name
        or "/" in file_name
        or "\\" in file_name
    ):
        raise FileInputError(
            f"file_name {file_name!r} must be a non-empty name without path separators", field=field
        )
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _BytesSource(cast("bytes", value), file_name, content_type, None)
        if _is_pil_image(value):
            data, image_type = _encode_image(value, content_type, field)
            size = getattr(value, "size", ("?", "?"))
            return _BytesSource(data, file_name, image_type, f"<PIL image {size[0]}x{size[1]}>")
        if isinstance(value, os.PathLike):
            assert info is not None
            path = Path(cast("os.PathLike[str]", value))
            return _PathSource(path, info, file_name, content_type)
        return _open_file_object(
            cast("IO[bytes]", value), file_name, content_type, field=field, max_bytes=limit
        )
    except OSError as exc:
        raise FileInputError(f"cannot read {value!r}: {exc}", field=field) from exc
