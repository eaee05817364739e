"""What results, files, statuses and logs look like in a notebook: HTML and MIME bundles.

IPython's display protocol asks an object for its representations; the models and status
types answer through the functions here (imported when a notebook first displays one, never at
``import fal_typed``). Everything a server sent is escaped; only ``http(s)`` and ``data:`` URLs
become links or media sources.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from .._errors import FalError
from ..files._data_uri import data_uri_content_type
from ..files._mime import sniff_content_type
from ..files._names import url_path

if TYPE_CHECKING:
    from .._status import Completed, InProgress, Log, Queued
    from ..files._output import FileOutput

__all__ = [
    "EMBED_LIMIT",
    "FileKind",
    "collect_files",
    "file_bundle",
    "file_html",
    "file_kind",
    "gallery_html",
    "log_html",
    "output_html",
    "status_html",
]

FileKind = Literal["image", "video", "audio", "file"]

EMBED_LIMIT = 20 * 1024 * 1024
"""A single image up to this size is embedded in the notebook (its bytes in the output)."""

_MEDIA_KINDS: tuple[FileKind, ...] = ("image", "video", "audio")
_RAW_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})  # Jupyter renders these
_MEDIA_WIDTH = 320  # pixels of a gallery item
_VALUE_CHARS = 200  # characters of a field's value in the table of a result
_MAX_DEPTH = 4  # nested models searched for files
# A media type as RFC 6838 names them: the only content types shown or put in a tag, so one a
# server wrote ('image/x" onerror="...') can never end the attribute it is written into.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _safe_url(url: object) -> str | None:
    """``url`` if it may be a link or a media source (http, https, data), else None."""
    if not isinstance(url, str):
        return None
    scheme = url.split(":", 1)[0].lower()
    return url if scheme in ("http", "https", "data") else None


def _media_type(text: object) -> str | None:
    """The ``type/subtype`` of a content type a server sent, or None if it is not one."""
    if not isinstance(text, str):
        return None
    media_type = text.split(";", 1)[0].strip().lower()
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else None


def _content_type(file: FileOutput) -> str | None:
    """The file's media type: the one it states, its ``data:`` URI's, or its name's."""
    given = _media_type(getattr(file, "content_type", None))
    if given is not None:
        return given
    url = getattr(file, "url", None)
    if isinstance(url, str) and url[:5].lower() == "data:":
        try:
            return _media_type(data_uri_content_type(url))
        except (FalError, ValueError):
            return None
    for name in (getattr(file, "file_name", None), url):
        if isinstance(name, str):
            guessed, _ = mimetypes.guess_type(url_path(name), strict=False)
            if guessed:
                return guessed
    return None


def file_kind(file: FileOutput) -> FileKind:
    """Image, video, audio or another file: from its content type, its name, its class."""
    major = (_content_type(file) or "").split("/", 1)[0]
    name = type(file).__name__.lower()
    for kind in _MEDIA_KINDS:
        if major == kind:
            return kind
    for kind in _MEDIA_KINDS:
        if kind in name:
            return kind
    if getattr(file, "width", None) is not None and getattr(file, "height", None) is not None:
        return "image"
    return "file"


def _size(file: FileOutput) -> str:
    size = getattr(file, "file_size", None)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def _label(file: FileOutput) -> str:
    """What a file is, in words: its name, size, type and pixel size where known."""
    url = getattr(file, "url", None)
    name = getattr(file, "file_name", None)
    if not isinstance(name, str) or not name:
        path = url_path(url) if isinstance(url, str) and url[:5] != "data:" else ""
        name = path.rsplit("/", 1)[-1] or "file"
    parts = [name]
    width, height = getattr(file, "width", None), getattr(file, "height", None)
    if isinstance(width, int) and isinstance(height, int):
        parts.append(f"{width}x{height}")
    if size := _size(file):
        parts.append(size)
    if content_type := _content_type(file):
        parts.append(content_type)
    return ", ".join(parts)


def file_html(file: FileOutput, *, width: int | None = None) -> str:
    """The file as HTML: an image, a video or audio player, or a link with its size and type."""
    url = _safe_url(getattr(file, "url", None))
    kind = file_kind(file)
    label = _text(_label(file))
    style = f' style="max-width:{width}px"' if width else ' style="max-width:100%"'
    if url is None:
        return f"<span>{label} (no downloadable URL)</span>"
    source = _text(url)
    if kind == "image":
        return f'<img src="{source}" alt="{label}" title="{label}" loading="lazy"{style}>'
    if kind == "video":
        return f'<video src="{source}" controls preload="metadata" title="{label}"{style}></video>'
    if kind == "audio":
        return f'<audio src="{source}" controls preload="metadata" title="{label}"></audio>'
    link = "download" if url[:5].lower() == "data:" else 'target="_blank" rel="noopener"'
    return f'<a href="{source}" {link}>{label}</a>'


def file_bundle(file: FileOutput) -> tuple[dict[str, object], dict[str, object]]:
    """The MIME bundle of one file: an image's own bytes (``image/png``, ``image/jpeg``,
    ``image/gif``) when it can be read, so the notebook keeps it; else HTML (players, links)."""
    if file_kind(file) == "image":
        data = _image_bytes(file)
        if data is not None:
            content_type = sniff_content_type(data[:64]) or _content_type(file) or ""
            metadata: dict[str, object] = {}
            width, height = getattr(file, "width", None), getattr(file, "height", None)
            if isinstance(width, int) and isinstance(height, int):
                metadata = {content_type: {"width": width, "height": height}}
            if content_type in _RAW_IMAGE_TYPES:
                return {content_type: data}, metadata
            if content_type.startswith("image/"):
                encoded = base64.b64encode(data).decode("ascii")
                label = _text(_label(file))
                source = _text(f"data:{content_type};base64,{encoded}")
                tag = f'<img src="{source}" alt="{label}" title="{label}">'
                return {"text/html": tag}, {}
    return {"text/html": file_html(file)}, {}


def _image_bytes(file: FileOutput) -> bytes | None:
    """The image's bytes, or None when it is too large or cannot be read now (the HTML form
    then shows it from its URL)."""
    size = getattr(file, "file_size", None)
    if isinstance(size, int) and size > EMBED_LIMIT:
        return None
    try:
        data = file.read()
    except FalError:
        return None
    return data if len(data) <= EMBED_LIMIT else None


def collect_files(
    value: object, path: str = "", depth: int = 0
) -> Iterator[tuple[str, FileOutput]]:
    """Every output file in ``value`` (a file, a result, lists of them), with its path in it."""
    from ..files._output import FileOutput

    if isinstance(value, FileOutput):
        yield path, value
    elif isinstance(value, BaseModel) and depth < _MAX_DEPTH:
        for name, item in _fields(value):
            yield from collect_files(item, f"{path}.{name}" if path else name, depth + 1)
    elif isinstance(value, (list, tuple)) and depth < _MAX_DEPTH:
        items: list[object] | tuple[object, ...] = value  # pyright: ignore[reportUnknownVariableType]
        for index, item in enumerate(items):
            yield from collect_files(item, f"{path}[{index}]", depth + 1)


def _fields(model: BaseModel) -> Iterator[tuple[str, object]]:
    for name in type(model).model_fields:
        yield name, getattr(model, name, None)
    for name, value in (model.model_extra or {}).items():
        yield name, value


def _has_files(value: object) -> bool:
    return next(collect_files(value), None) is not None


def gallery_html(items: list[tuple[str, FileOutput]]) -> str:
    """Files side by side, each captioned with where it is in the result and what it is."""
    figures = [
        f'<figure style="margin:0;max-width:{_MEDIA_WIDTH}px">{file_html(file, width=_MEDIA_WIDTH)}<figcaption style="font-size:85%">'
        f"<code>{_text(path)}</code> {_text(_label(file))}</figcaption></figure>"
        for path, file in items
    ]
    return (
        '<div style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">'
        + "".join(figures)
        + "</div>"
    )


def _value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def output_html(model: BaseModel) -> str:
    """A result: its files as a gallery, then a compact table of its other fields."""
    files = list(collect_files(model))
    rows = [
        f"<tr><td><code>{_text(name)}</code></td><td><code>{_text(_value(value))}</code></td></tr>"
        for name, value in _fields(model)
        if not _has_files(value)
    ]
    title = f"<div><strong>{_text(type(model).__name__)}</strong></div>"
    table = (
        '<table style="margin-top:8px;font-size:90%">' + "".join(rows) + "</table>" if rows else ""
    )
    return "<div>" + title + (gallery_html(files) if files else "") + table + "</div>"


def _time(timestamp: datetime | None) -> str:
    return f"<code>{timestamp.strftime('%H:%M:%S.%f')[:-3]}</code> " if timestamp else ""


def log_html(log: Log) -> str:
    """One log line: time, level, message."""
    colour = {"ERROR": "#c62828", "STDERR": "#c62828", "WARN": "#ef6c00", "WARNING": "#ef6c00"}
    style = f' style="color:{colour[log.level]}"' if log.level in colour else ""
    return (
        f"<div{style}>{_time(log.timestamp)}<strong>{_text(log.level)}</strong> "
        f"<span style='white-space:pre-wrap'>{_text(log.message)}</span></div>"
    )


def _logs_html(logs: list[Log] | None, limit: int | None = None) -> str:
    if not logs:
        return ""
    shown = logs if limit is None else logs[-limit:]
    hidden = len(logs) - len(shown)
    head = f"<div><em>{hidden} earlier lines</em></div>" if hidden else ""
    lines = "".join(log_html(log) for log in shown)
    return f'<div style="font-family:monospace;font-size:85%;margin-left:1em">{head}{lines}</div>'


def status_html(status: Queued | InProgress | Completed, *, log_limit: int | None = None) -> str:
    """A queue status as a readable line (and its log lines)."""
    from .._status import Completed, InProgress, Queued

    if isinstance(status, Queued):
        ahead = status.position
        words = (
            "next in line" if ahead == 0 else f"{ahead} request{'s' if ahead != 1 else ''} ahead"
        )
        return f"<div>⏳ <strong>Queued</strong>: {words}</div>"
    if isinstance(status, InProgress):
        return "<div>⚙️ <strong>Running</strong></div>" + _logs_html(status.logs, log_limit)
    if isinstance(status, Completed):  # pyright: ignore[reportUnnecessaryIsInstance]
        if status.failed:
            reason = _text(status.error or "failed")
            kind = f" (<code>{_text(status.error_type)}</code>)" if status.error_type else ""
            head = f"<div>❌ <strong>Failed</strong>: {reason}{kind}</div>"
        else:
            took = status.metrics.get("inference_time")
            extra = f" in {took:.2f} s" if isinstance(took, (int, float)) else ""
            head = f"<div>✅ <strong>Completed</strong>{extra}</div>"
        return head + _logs_html(status.logs, log_limit)
    return f"<div>{_text(status)}</div>"
