"""``fal-typed fetch``: the progress bar and the report around :mod:`fal_typed.catalog._fetch`.

Progress and the report go to stderr; stdout stays empty so scripts can rely on the exit
status alone (0: everything fetched, 1: something failed, 130: interrupted). Ids and reasons
come from the server: they are made printable (no escape sequences) before they are shown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from .._printable import printable
from ..catalog._corpus import iter_document_paths, read_info
from ..catalog._settings import FetchSettings

if TYPE_CHECKING:  # the fetching code (httpx, asyncio) and the progress bar load with a fetch
    from rich.progress import Progress, TaskID

    from ..catalog._fetch import FetchReport, Outcome

__all__ = [
    "FetchRequest",
    "existing_ids",
    "format_size",
    "parse_size",
    "render_report",
    "run_fetch",
    "timed_fetch",
]

_SHOWN = 50
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3})


def parse_size(text: str | int) -> int:
    """``"8MiB"`` -> 8388608: a size in bytes, KB/MB/GB or KiB/MiB/GiB (``ValueError`` if not)."""
    if isinstance(text, int):  # a default, already in bytes
        return text
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid size {text!r}: expected e.g. 8MiB, 500KB or 1000000")
    number, unit = match.groups()
    size = int(float(number) * _UNITS[(unit or "b").lower()])
    if size < 1:
        raise ValueError(f"invalid size {text!r}: must be at least 1 byte")
    return size


def format_size(size: int) -> str:
    """The shortest exact form :func:`parse_size` reads back: 8388608 -> ``8MiB``."""
    for unit in ("GiB", "MiB", "KiB"):
        if size % _UNITS[unit.lower()] == 0:
            return f"{size // _UNITS[unit.lower()]}{unit}"
    return str(size)


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch, from where, into where."""

    schemas_dir: Path
    ids: Sequence[str]
    catalog: bool
    category: str | None
    openapi_url: str
    api_url: str
    prune: bool
    settings: FetchSettings
    key: str | None = field(default=None, repr=False)
    """Sent to the platform API as ``Authorization: Key``; never shown."""


class _BarListener:
    """Feeds the progress bar; called from the event loop and from the writer thread."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task
        self.expected = 0

    def expect(self, count: int) -> None:
        self.expected += count
        self.progress.update(self.task, total=self.expected)

    def document(self, endpoint_id: str, outcome: Outcome) -> None:
        self.progress.advance(self.task)

    def retrying(self, url: str, attempt: int, delay: float, reason: str) -> None:
        self.progress.console.print(
            f"[yellow]{_shown(reason)}[/yellow] from {_shown(url)}: retry {attempt} in {delay:.1f} s",
            highlight=False,
        )


def _shown(text: str) -> str:
    """Text from a server, for the console: no escape sequences, no rich markup."""
    return escape(printable(text))


def existing_ids(schemas_dir: Path) -> list[str]:
    """The endpoint ids of the documents already in ``schemas_dir``."""
    ids: list[str] = []
    for path in iter_document_paths(schemas_dir):
        try:
            ids.append(read_info(path).endpoint_id)
        except ValueError:
            continue
    return ids


def run_fetch(request: FetchRequest, console: Console) -> FetchReport:
    """Run one fetch with a progress bar on ``console``."""
    import asyncio

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from ..catalog._fetch import fetch_catalog, fetch_endpoints

    headers = {"Authorization": f"Key {request.key}"} if request.key else None
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        label = "catalog" if request.catalog else "documents"
        listener = _BarListener(progress, progress.add_task(f"fetching {label}", total=None))
        if request.catalog:
            job = fetch_catalog(
                request.schemas_dir,
                api_url=request.api_url,
                category=request.category,
                prune=request.prune,
                headers=headers,
                settings=request.settings,
                listener=listener,
            )
        else:
            job = fetch_endpoints(
                request.ids,
                request.schemas_dir,
                openapi_url=request.openapi_url,
                headers=headers,
                settings=request.settings,
                listener=listener,
            )
        return asyncio.run(job)


def _names(label: str, style: str, ids: Sequence[str], console: Console, mark: str) -> None:
    if not ids:
        return
    console.print(f"[{style}]{label}[/{style}]")
    for endpoint_id in ids[:_SHOWN]:
        console.print(f"  {mark} {_shown(endpoint_id)}", highlight=False)
    if len(ids) > _SHOWN:
        console.print(f"  ... and {len(ids) - _SHOWN} more", highlight=False)


def render_report(report: FetchReport, *, pruned: bool, elapsed: float, console: Console) -> None:
    """The summary: counts, then the endpoints added, changed, removed, skipped and failed."""
    counts = (
        f"added {len(report.added)}, changed {len(report.changed)}, "
        f"removed {len(report.removed)}, unchanged {len(report.unchanged)}, "
        f"skipped {len(report.skipped)}, failed {len(report.failed)}"
    )
    console.print(f"{counts} ({elapsed:.1f} s)", highlight=False)
    _names("added", "green", sorted(report.added), console, "+")
    _names("changed", "yellow", sorted(report.changed), console, "~")
    removed_label = "removed" if pruned else "no longer listed (kept, --keep-removed)"
    _names(removed_label, "red", report.removed, console, "-")
    for title, style, entries in (
        ("skipped (no document in the record)", "yellow", report.skipped),
        ("failed", "red", report.failed),
    ):
        if entries:
            console.print(f"[{style}]{title}[/{style}]")
            for endpoint_id, reason in sorted(entries.items()):
                console.print(f"  {_shown(endpoint_id)}: {_shown(reason)}", highlight=False)
    if not report.complete:
        console.print("[red]the catalog was not listed to its end: nothing was removed[/red]")


def timed_fetch(request: FetchRequest, console: Console) -> tuple[FetchReport, float]:
    """:func:`run_fetch` and how long it took, in seconds."""
    start = time.perf_counter()
    report = run_fetch(request, console)
    return report, time.perf_counter() - start
