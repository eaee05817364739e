"""Strings in file fields: one rule for the library and the command line.

A file field (``url``, ``*_url``, ``*_urls``: the names the generator types ``FileInput``) may be
given a string. What it stands for:

* an ``http://``/``https://`` URL or a ``data:`` URI, or any other ``scheme://`` URL: sent as is;
* the name of something on this machine (``"in.png"``, ``"~/photos/cat.jpg"``): a local file,
  uploaded like a ``Path`` (so it must be a regular file of a bounded size);
* text that looks like a path (a ``/`` or ``\\``, a leading ``~`` or ``.``, or a file
  extension) but names nothing: an error naming the field, before anything is sent; it would
  otherwise leave the machine as a URL no server can fetch;
* any other text (``"canny"``: some fields also take a name the endpoint knows): sent as is.

So ``image_url="in.png"`` uploads ``in.png``, exactly as ``fal-typed call --image-url in.png``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final, cast

from ._errors import FileInputError

__all__ = ["file_string", "is_file_field", "strings_as_files"]

_SENT_AS_IS: Final = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://|data:)")
_PATH_LIKE: Final = re.compile(r"[/\\]|^[~.]|\.[A-Za-z0-9]{1,8}$")
_SHOWN: Final = 80


def is_file_field(name: object) -> bool:
    """Whether a field of this name holds files (``url``, ``*_url``, ``*_urls``)."""
    return isinstance(name, str) and (name == "url" or name.endswith(("_url", "_urls")))


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "\u2026")


def file_string(value: str, *, field: str | None = None) -> str | Path:
    """What a string given for a file field stands for: itself (sent as is) or a local file
    (a ``Path``, to upload). Raises :class:`FileInputError` naming ``field`` for a string that
    looks like a path to nothing. Reads nothing; whether a file can be uploaded is checked with
    the other upload sources."""
    if not value or _SENT_AS_IS.match(value):
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


def strings_as_files(key: object, value: object, field: str) -> object:
    """``value`` of the argument ``key`` with each string :func:`file_string` turns into a local
    file made a ``Path`` (a file field only; anything else is returned as is)."""
    if not is_file_field(key):
        return value
    if isinstance(value, str):
        return file_string(value, field=field)
    if isinstance(value, (list, tuple)) and str(key).endswith("_urls"):
        sequence = cast("list[object] | tuple[object, ...]", value)
        items = [
            file_string(item, field=f"{field}[{index}]") if isinstance(item, str) else item
            for index, item in enumerate(sequence)
        ]
        return tuple(items) if isinstance(sequence, tuple) else items
    return value  # pyright: ignore[reportUnknownVariableType]
