"""Strings in file fields: what a string given for a file field stands for.

A file field (``url``, ``*_url``, ``*_urls``: the names the generator types ``FileInput``) may be
given a string:

* an ``http://``/``https://`` URL or a ``data:`` URI, or any other ``scheme://`` URL: sent as is;
* a ``file:`` URL: a local file (see below), never sent, since fal cannot fetch it;
* text that looks like a path (a ``/`` or ``\\``, a leading ``~`` or ``.``, or a file extension):
  an error naming the field, before anything is sent, since it would leave the machine as a URL
  no server can fetch. Unless local files were asked for (below), the filesystem is not looked
  at, so the error says nothing of what exists here;
* any other text (``"canny"``: some fields also take a name the endpoint knows): sent as is.

Where strings are the user's own (the command line, batch input files, or a process that set
``configure_uploads(local_file_strings=True)``), a string naming something on this machine
(``"in.png"``, ``"~/photos/cat.jpg"``) is a local file, uploaded like a ``Path``. A library call
does not read strings so by default: a service passing its users' strings into file fields
would otherwise upload whatever local file they name.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import Final, cast

from ._errors import FileInputError
from ._settings import upload_settings

__all__ = ["file_string", "is_file_field", "strings_as_files"]

_SENT_AS_IS: Final = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://|data:)")
_PATH_LIKE: Final = re.compile(r"[/\\]|^[~.]|\.[A-Za-z0-9]{1,8}$")
_FILE_URL: Final = re.compile(r"^file:", re.IGNORECASE)
_SHOWN: Final = 80


def is_file_field(name: object) -> bool:
    """Whether a field of this name holds files (``url``, ``*_url``, ``*_urls``)."""
    return isinstance(name, str) and (name == "url" or name.endswith(("_url", "_urls")))


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "\u2026")


def file_string(value: str, *, field: str | None = None, local: bool = True) -> str | Path:
    """What a string given for a file field stands for: itself (sent as is) or, with ``local``, a
    local file (a ``Path``, to upload). Raises :class:`FileInputError` naming ``field`` for a
    string that looks like a path: to nothing, or (without ``local``) to anything. Reads nothing;
    whether a file can be uploaded is checked with the other upload sources."""
    if _FILE_URL.match(value):
        return _file_url(value, field=field, local=local)
    if value != value.strip() and _SENT_AS_IS.match(value.strip()):
        # A URL pasted with a line break or spaces around it: fal would be sent it so, and fail
        # to fetch it (after the call was taken).
        raise FileInputError(
            f"{_shown(value)} is a URL with spaces or a line break around it: strip it",
            field=field,
        )
    if not value or _SENT_AS_IS.match(value):
        return value
    if not local:
        if _PATH_LIKE.search(value):
            raise FileInputError(
                f"{_shown(value)} is not a URL (URLs start with http://, https:// or data:); to "
                "upload a local file, give it as a pathlib.Path or as bytes (or let strings name "
                "local files: configure_uploads(local_file_strings=True))",
                field=field,
            )
        return value
    path = Path(value).expanduser()
    if os.path.lexists(path):
        return path
    if _PATH_LIKE.search(value):
        where = "" if path.is_absolute() else f"; paths are relative to {os.getcwd()}"
        raise FileInputError(
            f"{_shown(value)} is neither a URL nor an existing file (URLs start with http://, "
            f"https:// or data:{where})",
            field=field,
        )
    return value


def _file_url(value: str, *, field: str | None, local: bool) -> Path:
    """A ``file:`` URL names a file on this machine, which fal cannot fetch: with ``local``, the
    file to upload; otherwise refused, as a path is."""
    if not local:
        raise FileInputError(
            f"{_shown(value)} names a file on this machine, which fal cannot fetch; to upload "
            "it, give it as a pathlib.Path or as bytes",
            field=field,
        )
    try:
        parsed = urllib.parse.urlsplit(value)
    except ValueError:  # 'file://[x/a.png' (Invalid IPv6 URL) was raised out of the call as is
        parsed = None
    if parsed is None or parsed.netloc.lower() not in ("", "localhost") or not parsed.path:
        raise FileInputError(f"{_shown(value)} is not a file URL of this machine", field=field)
    from urllib.request import url2pathname  # heavy (http.client, email): only file: URLs pay

    path = Path(url2pathname(parsed.path))
    if not os.path.lexists(path):
        raise FileInputError(f"{_shown(value)} names no existing file", field=field)
    return path


def strings_as_files(key: object, value: object, field: str) -> object:
    """``value`` of the argument ``key`` with each string judged by :func:`file_string` (local
    files as the process-wide ``UploadSettings.local_file_strings`` says): a string naming a
    local file made a ``Path``. A file field only; anything else is returned as is."""
    if not is_file_field(key):
        return value
    local = upload_settings().local_file_strings
    if isinstance(value, str):
        return file_string(value, field=field, local=local)
    if isinstance(value, (list, tuple)) and str(key).endswith("_urls"):
        sequence = cast("list[object] | tuple[object, ...]", value)
        items = [
            file_string(item, field=f"{field}[{index}]", local=local)
            if isinstance(item, str)
            else item
            for index, item in enumerate(sequence)
        ]
        return tuple(items) if isinstance(sequence, tuple) else items
    return value  # pyright: ignore[reportUnknownVariableType]
