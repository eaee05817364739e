"""What ``fal-typed call`` shows and writes: the result (JSON or a table) and its output files.

The result goes to stdout alone, so it can be piped; everything else goes to stderr. Files are
found by shape (an object with a ``url``, as fal's File/Image/Video/Audio outputs are), fetched
without credentials (the key is for fal's API, never for the file host) within the client's
limits and written atomically, under names made safe the way ``FileOutput.save`` makes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._client import Client
from ..files._data_uri import decode_data_uri
from ..files._download import download
from ..files._names import output_file_name
from ..files._save import atomic_file
from ._streams import encodes_everything, json_text, representable

__all__ = ["find_files", "print_result", "save_files"]


def print_result(data: Any, *, table: bool, console: Console) -> None:
    """Print ``data`` as indented JSON (``\\uXXXX`` escapes where the console's encoding lacks
    characters: ``_streams``), or as a two-column table of its top-level fields."""
    if not table or not isinstance(data, dict):
        text = json_text(data, console.file)
        if console.is_terminal:
            console.print_json(text, ensure_ascii=not encodes_everything(console.file))
        else:
            console.file.write(text + "\n")
            console.file.flush()
        return
    grid = Table("field", "value", show_lines=False)
    grid.columns[1].overflow = "fold"  # a URL is folded across lines, never cut short
    for key, value in cast("dict[str, Any]", data).items():
        cells = (representable(console.file, text) for text in (str(key), _cell(value)))
        grid.add_row(*(Text(text) for text in cells))
    console.print(grid)


def _cell(value: Any) -> str:
    files = list(find_files(value))
    if files and (isinstance(value, list) or "url" in cast("dict[str, Any]", value)):
        return "\n".join(url for url, _ in files)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "null" if value is None else str(value)


def find_files(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``(url, file object)`` in a result, depth first, in document order."""
    if isinstance(data, dict):
        node = cast("dict[str, Any]", data)
        url = node.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://", "data:")):
            yield url, node
            return
        for value in node.values():
            yield from find_files(value)
    elif isinstance(data, list):
        for item in cast("list[object]", data):
            yield from find_files(item)


def _file_name(url: str, node: dict[str, Any], index: int) -> str:
    return output_file_name(
        url, node.get("file_name"), node.get("content_type"), fallback=f"output-{index}"
    )


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{stem}-{number}{suffix}", number + 1
    used.add(candidate)
    return candidate


def _save(url: str, target: Path, client: Client) -> None:
    with atomic_file(target) as out:
        if url.startswith("data:"):
            out.write(decode_data_uri(url))
            return

        def rewind() -> None:
            out.seek(0)
            out.truncate()

        download(client, url, out.write, rewind)


def save_files(data: Any, directory: Path, client: Client) -> list[Path]:
    """Download every output file of ``data`` into ``directory``; return the paths written.

    Names come from ``file_name``, else the URL; clashes within one result get ``-2``, ``-3``.
    Raises ``FalError`` (a download failed, or a malformed data URI) or ``OSError``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written: list[Path] = []
    for index, (url, node) in enumerate(find_files(data), start=1):
        target = directory / _unique(_file_name(url, node, index), used)
        _save(url, target, client)
        written.append(target)
    return written
