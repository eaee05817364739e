"""``fal-typed list``: the endpoints in schemas/, with category and a one-line description."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..catalog._corpus import DocumentInfo, iter_document_paths, read_info
from ..catalog._text import printable

__all__ = ["matching", "one_line", "print_listing"]

_LINE = 100


def one_line(text: str, limit: int = _LINE) -> str:
    """The first line (or sentence) of ``text``, whitespace collapsed, cut at ``limit``."""
    line = " ".join(text.strip().split("\n\n", 1)[0].split())
    if (cut := line.find(". ")) != -1:
        line = line[: cut + 1]
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "\u2026"


def matching(schemas_dir: Path, category: str | None, search: Sequence[str]) -> list[DocumentInfo]:
    """Documents of ``category`` (if given) whose id, category or description hold every word."""
    words = [w.lower() for w in search]
    found: list[DocumentInfo] = []
    for path in iter_document_paths(schemas_dir):
        try:
            info = read_info(path)
        except ValueError:
            continue
        if category is not None and info.category != category:
            continue
        haystack = f"{info.endpoint_id} {info.category} {info.about}".lower()
        if all(w in haystack for w in words):
            found.append(info)
    return sorted(found, key=lambda i: i.endpoint_id)


def print_listing(infos: Sequence[DocumentInfo], *, as_json: bool, console: Console) -> None:
    """A table (or JSON lines' array) of endpoint id, category and description."""
    if as_json:
        rows = [
            {
                "endpoint_id": i.endpoint_id,
                "category": i.category,
                "description": one_line(i.about, 10_000),
            }
            for i in infos
        ]
        console.file.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("endpoint", overflow="fold")
    table.add_column("category", no_wrap=True)
    table.add_column("description")
    for info in infos:  # document text: shown without the escape sequences it may hold
        cells = (info.endpoint_id, info.category, one_line(info.about))
        table.add_row(*(Text(printable(cell)) for cell in cells))
    console.print(table)
    console.print(f"{len(infos)} endpoint{'s' if len(infos) != 1 else ''}", style="dim")
