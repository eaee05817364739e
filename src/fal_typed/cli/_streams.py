"""Output that survives any encoding of stdout and stderr.

A Windows console or pipe (cp1252), ``PYTHONIOENCODING=ascii`` or a C locale give streams that
cannot encode every character, and Python writes to them strictly: one character they lack (a
``☃`` in a prompt echoed in a result, an ellipsis in a shortened description) would end a
command with a ``UnicodeEncodeError`` after fal has run, and billed, the request. So text is
written with backslash escapes for the characters the stream lacks (``harden_streams``), and
JSON, which backslash escapes would break outside the Basic Multilingual Plane, with JSON's own
``\\uXXXX`` escapes when the stream cannot encode everything (``json_text``): the same JSON
value either way.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
from typing import Any

__all__ = [
    "can_encode",
    "encodes_everything",
    "harden_streams",
    "json_text",
    "representable",
    "spinner",
]


def harden_streams() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` write what their encoding lacks as backslash
    escapes instead of raising (on a UTF-8 stream only lone surrogates are concerned)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # closed or detached: nothing will be written there
                continue


def encodes_everything(stream: object) -> bool:
    """Whether ``stream`` can encode every character: a UTF encoding, or an in-memory text
    stream (no encoding: nothing is encoded)."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str) or not encoding:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def can_encode(stream: object, text: str) -> bool:
    """Whether ``stream`` can write ``text`` as it is (cp1252 has ``…``, ASCII does not)."""
    if encodes_everything(stream):
        return True
    try:
        text.encode(str(getattr(stream, "encoding", "")))
    except (UnicodeError, LookupError):
        return False
    return True


def representable(stream: object, text: str) -> str:
    """``text`` as ``stream`` will show it (backslash escapes for what it cannot encode), for
    layouts that measure text before writing it (tables)."""
    if encodes_everything(stream):
        return text
    encoding = str(getattr(stream, "encoding", ""))
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


def json_text(data: Any, stream: object, *, indent: int | None = 2) -> str:
    """``data`` as JSON for ``stream``: non-ASCII text as is where the stream can encode it,
    else as ``\\uXXXX`` escapes (which any ASCII-compatible encoding carries)."""
    return json.dumps(data, indent=indent, ensure_ascii=not encodes_everything(stream))


def spinner(stream: object) -> str:
    """The rich spinner for ``stream``: braille dots where they can be encoded, else ASCII."""
    return "dots" if encodes_everything(stream) else "line"
