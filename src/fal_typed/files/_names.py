"""File names chosen by a server (``file_name``, a URL's last segment), made safe to create.

A result may name its file ``../../.bashrc``, ``.ssh``, ``con.txt\\x00``, or 250 characters
long; saved as is, that replaces a user's dotfile, escapes the folder, or fails with ``OSError``
(the temporary file beside it is longer still). :func:`safe_file_name` keeps the last path
segment, replaces every run of characters outside ``[A-Za-z0-9._-]`` with ``_``, strips the
dots at either end (no hidden files, no ``..``), puts ``_`` before a name Windows reads as a
device (``con.txt``, ``NUL``, ``com1.png``) and bounds the length, keeping the extension. The library's
``FileOutput.save`` and the command line's ``--save`` both name files this way.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.parse
from typing import Final

__all__ = ["MAX_NAME_LENGTH", "output_file_name", "safe_file_name", "url_path"]

MAX_NAME_LENGTH: Final = 128
"""Longest name kept (file systems allow 255 bytes; the temporary file adds to it)."""
_MAX_SUFFIX: Final = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Windows opens a device for these names, whatever their extension or letter case ("con.txt",
# "NUL", "com1.png"): a file saved so would go to the console or nowhere, or fail.
_DEVICE = re.compile(r"(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\..*)?", re.IGNORECASE)


def url_path(url: str) -> str:
    """The path of ``url``; empty when ``urlsplit`` cannot read it as a URL (a server-written
    ``https://[x/a.png`` raises ValueError: 'Invalid IPv6 URL'), so a name or a type guessed
    from it falls back to another, instead of the caller failing."""
    try:
        return urllib.parse.urlsplit(url).path
    except ValueError:
        return ""


def safe_file_name(name: object) -> str | None:
    """``name`` made safe to create in a folder, or ``None`` if nothing usable is left."""
    if not isinstance(name, str):
        return None
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", last).strip(".")
    if not cleaned:
        return None
    if _DEVICE.fullmatch(cleaned):
        cleaned = "_" + cleaned
    if len(cleaned) > MAX_NAME_LENGTH:
        stem, dot, suffix = cleaned.rpartition(".")
        if dot and stem and 0 < len(suffix) <= _MAX_SUFFIX:
            cleaned = f"{stem[: MAX_NAME_LENGTH - len(suffix) - 1]}.{suffix}"
        else:
            cleaned = cleaned[:MAX_NAME_LENGTH]
    return cleaned


def output_file_name(url: str, file_name: object, content_type: object, *, fallback: str) -> str:
    """The name to save an output file under: its ``file_name``, else its URL's last segment
    (not for ``data:`` URIs), else ``fallback``; made safe, and given the extension of its
    ``content_type`` when it has none."""
    name = safe_file_name(file_name)
    if name is None and url[:5].lower() != "data:":
        name = safe_file_name(urllib.parse.unquote(url_path(url)))
    name = name or fallback
    if "." not in name and isinstance(content_type, str):
        name += mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return name
