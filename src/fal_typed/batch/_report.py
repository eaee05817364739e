"""``index.html``: an offline gallery of a batch, beside ``results.jsonl``.

One card per row: its key and state, its inputs, its output media (images, video and audio
players, links for other files) and its error, highlighted. Downloaded files are linked
relatively, so the folder can be zipped, moved or opened without a network; rows whose files
were not downloaded link fal's URLs instead. The page is written row by row from the journal, so
its size, not the memory used to write it, grows with the batch.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import IO, Final

from ._downloads import file_nodes
from ._journal import JournalRow

__all__ = ["REPORT_NAME", "write_report"]

REPORT_NAME: Final = "index.html"

_IMAGE = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".svg", ".avif"})
_VIDEO = frozenset({".mp4", ".webm", ".mov", ".m4v", ".ogv"})
_AUDIO = frozenset({".wav", ".mp3", ".ogg", ".oga", ".m4a", ".flac", ".aac", ".opus"})
_MAX_INPUT_CHARS = 2000

_STYLE: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f5;color:#18181b}
header{padding:16px 24px;background:#18181b;color:#fafafa}
header h1{margin:0 0 4px;font-size:18px}
.counts span{margin-right:16px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px;padding:24px}
.row{background:#fff;border:1px solid #e4e4e7;border-radius:8px;padding:12px;overflow:hidden}
.row.failed,.row.invalid{border:2px solid #dc2626;background:#fef2f2}
.row.ambiguous{border:2px solid #d97706;background:#fffbeb}
.key{font-weight:600;word-break:break-all}
.state{float:right;font-size:12px;padding:1px 8px;border-radius:9px;background:#e4e4e7}
.failed .state,.invalid .state{background:#dc2626;color:#fff}
.ambiguous .state{background:#d97706;color:#fff}
.completed .state{background:#16a34a;color:#fff}
.error{color:#b91c1c;font-weight:600;white-space:pre-wrap;word-break:break-word}
.media img,.media video{max-width:100%;display:block;margin:8px 0;border-radius:4px}
.media audio{width:100%;margin:8px 0}
pre{white-space:pre-wrap;word-break:break-word;font-size:12px;background:#fafafa;padding:6px;
border-radius:4px;max-height:160px;overflow:auto}
.rid{font-size:11px;color:#71717a;word-break:break-all}
"""


def _media(href: str) -> str:
    suffix = PurePosixPath(href.split("?", 1)[0]).suffix.lower()
    src = html.escape(href, quote=True)
    if suffix in _IMAGE:
        return f'<a href="{src}"><img src="{src}" loading="lazy" alt="{src}"></a>'
    if suffix in _VIDEO:
        return f'<video src="{src}" controls preload="metadata"></video>'
    if suffix in _AUDIO:
        return f'<audio src="{src}" controls preload="none"></audio>'
    return f'<a href="{src}">{html.escape(PurePosixPath(href).name or href)}</a>'


def _links(row: JournalRow, directory: Path) -> list[str]:
    """The row's downloaded files (relative), or fal's URLs when they are not here (not
    downloaded, or downloaded by another worker into its own folder)."""
    if row.files and all((directory / f).is_file() for f in row.files):
        return list(row.files)
    return [url for _, url, _ in file_nodes(row.output) if url.startswith(("http://", "https://"))]


def _card(row: JournalRow, directory: Path) -> str:
    parts = [
        f'<section class="row {html.escape(row.state)}" id="row-{html.escape(row.key, quote=True)}">',
        f'<span class="state">{html.escape(row.state)}</span>',
        f'<div class="key">{html.escape(row.key)}</div>',
    ]
    if row.request_id:
        parts.append(f'<div class="rid">request {html.escape(row.request_id)}</div>')
    if row.error is not None:
        status = f" (HTTP {row.error.status})" if row.error.status else ""
        parts.append(
            f'<div class="error">{html.escape(row.error.kind)}{status}: '
            f"{html.escape(row.error.message)}</div>"
        )
    links = _links(row, directory)
    if links:
        parts.append('<div class="media">' + "".join(_media(link) for link in links) + "</div>")
    if row.input is not None:
        text = json.dumps(row.input, indent=1, ensure_ascii=False)
        if len(text) > _MAX_INPUT_CHARS:
            text = text[:_MAX_INPUT_CHARS] + " ..."
        parts.append(
            f"<details open><summary>input</summary><pre>{html.escape(text)}</pre></details>"
        )
    if row.output is not None and not links:
        text = json.dumps(row.output, indent=1, ensure_ascii=False)[:_MAX_INPUT_CHARS]
        parts.append(f"<details><summary>output</summary><pre>{html.escape(text)}</pre></details>")
    parts.append("</section>\n")
    return "".join(parts)


def _header(title: str, counts: Mapping[str, int], out: IO[str]) -> None:
    summary = "".join(
        f"<span>{html.escape(state)}: {count}</span>" for state, count in counts.items() if count
    )
    out.write(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>\n"
        f'<header><h1>{html.escape(title)}</h1><div class="counts">{summary}</div></header>\n'
        "<main>\n"
    )


def write_report(
    directory: Path, title: str, counts: Mapping[str, int], rows: Iterable[JournalRow]
) -> Path:
    """Write ``directory/index.html`` (atomically) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / REPORT_NAME
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".index.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            _header(title, counts, out)
            for row in rows:
                out.write(_card(row, directory))
            out.write("</main>\n</body></html>\n")
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
