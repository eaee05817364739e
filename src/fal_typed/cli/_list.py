"""``fal-typed list``: the installed endpoints (or a folder's documents), found by words.

Each endpoint is two lines: its module name (what ``from fal_endpoints import ...`` takes), id
and category, then its description cut to the terminal's width. Ids and module names are never
broken: a first line too long for the terminal puts the id on a line of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from .._installed import EndpointInfo, category_note, display_name, installed_endpoints, rank
from .._printable import printable
from ..catalog._corpus import iter_document_paths, read_info
from ..naming import module_name
from ._streams import can_encode, json_text

__all__ = ["folder_endpoints", "matching", "one_line", "print_listing"]

_INDENT = "    "
_MIN_WIDTH = 40


def one_line(text: str, limit: int, *, ellipsis: str = "\u2026") -> str:
    """The first line (or sentence) of ``text``, whitespace collapsed, cut at ``limit`` (the
    cut marked by ``ellipsis``: ``...`` for a stream that has no ``…``)."""
    line = " ".join(text.strip().split("\n\n", 1)[0].split())
    if (cut := line.find(". ")) != -1:
        line = line[: cut + 1]
    if len(line) <= limit:
        return line
    return line[: max(1, limit - len(ellipsis))].rstrip() + ellipsis


def folder_endpoints(schemas_dir: Path) -> Iterator[EndpointInfo]:
    """The endpoints a folder of documents describes (unreadable documents are left out)."""
    for path in iter_document_paths(schemas_dir):
        try:
            info = read_info(path)
            module = module_name(info.endpoint_id)
        except ValueError:
            continue
        yield EndpointInfo(
            info.endpoint_id, module, display_name(info.endpoint_id), info.category, info.about
        )


def matching(
    schemas_dir: Path | None, category: str | None, search: Sequence[str]
) -> tuple[list[EndpointInfo], str | None]:
    """The endpoints (installed, or of ``schemas_dir``) of ``category`` holding every word, and,
    when none is of ``category``, a note saying so (the close categories, every one there is)."""
    infos = installed_endpoints() if schemas_dir is None else list(folder_endpoints(schemas_dir))
    found = rank(infos, " ".join(search), category=category)
    note = category_note(category, infos) if category is not None and not found else None
    return found, note


def _head_lines(info: EndpointInfo, width: int) -> list[str]:
    module, endpoint_id, category = (
        printable(text) for text in (info.module, info.endpoint_id, info.category)
    )
    line = f"{module}  {endpoint_id}  {category}"
    if len(line) <= width:
        return [line]
    # Never wrap inside a name: the id (and the category) go on lines of their own.
    second = f"{_INDENT}{endpoint_id}  {category}"
    if len(second) <= width:
        return [module, second]
    return [module, f"{_INDENT}{endpoint_id}", f"{_INDENT}{category}"]


def print_listing(
    infos: Sequence[EndpointInfo], *, as_json: bool, out: TextIO, width: int | None = None
) -> None:
    """The endpoints as text records (or a JSON array) on ``out``."""
    if as_json:
        rows = [
            {
                "endpoint_id": i.endpoint_id,
                "module": i.module,
                "title": i.title,
                "category": i.category,
                "description": one_line(i.description, 10_000),
            }
            for i in infos
        ]
        out.write(json_text(rows, out) + "\n")
        return
    columns = max(_MIN_WIDTH, width or shutil.get_terminal_size().columns)
    ellipsis = "\u2026" if can_encode(out, "\u2026") else "..."
    lines: list[str] = []
    for info in infos:
        lines += _head_lines(info, columns)
        if info.description.strip():
            # document text: shown without the escape sequences it may hold
            description = printable(info.description, lines=True)
            lines.append(_INDENT + one_line(description, columns - len(_INDENT), ellipsis=ellipsis))
    count = len(infos)
    lines.append(f"{count} endpoint{'s' if count != 1 else ''}")
    out.write("\n".join(lines) + "\n")
