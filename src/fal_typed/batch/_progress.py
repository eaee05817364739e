"""What a running batch shows: a live display on a terminal, periodic lines otherwise, or nothing.

The runner hands a :class:`Snapshot` to the display a few times a second; the display decides what
to draw. :func:`progress_for` picks one: ``rich`` (counts by state, rate, ETA and the adaptive
concurrency, redrawn in place) when the stream is a terminal, one plain line every ``interval``
seconds when it is not (a log file, CI), nothing when quiet.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TextIO

from .._printable import printable
from ._states import STATES

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

__all__ = ["PlainProgress", "Progress", "QuietProgress", "RichProgress", "Snapshot", "progress_for"]


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands: rows per state, rows finished by this run, the concurrency now."""

    counts: Mapping[str, int]
    finished: int
    elapsed: float
    limit: float
    ceiling: int
    in_flight: int
    paused_for: float
    rate_limited: int

    @property
    def rate(self) -> float:
        """Rows finished per second in this run."""
        return self.finished / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining(self) -> int:
        return sum(
            self.counts.get(s, 0) for s in ("pending", "submitting", "submitted", "downloading")
        )

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return self.remaining / rate if rate > 0 else None

    def line(self) -> str:
        """One line: counts, rate, ETA, concurrency."""
        counts = ", ".join(f"{s} {self.counts[s]}" for s in STATES if self.counts.get(s))
        eta = self.eta
        parts = [
            counts or "no rows",
            f"{self.rate:.1f} rows/s",
            f"ETA {_duration(eta)}" if eta is not None and self.remaining else "",
            f"in flight {self.in_flight} (limit {int(self.limit)}/{self.ceiling})",
            f"429s {self.rate_limited}" if self.rate_limited else "",
            f"paused {self.paused_for:.1f}s" if self.paused_for > 0 else "",
        ]
        return " | ".join(p for p in parts if p)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


class Progress(Protocol):
    """A display of a run."""

    def start(self, snapshot: Snapshot) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def stop(self, snapshot: Snapshot) -> None: ...

    def message(self, text: str) -> None: ...


class QuietProgress:
    """Shows nothing (``--quiet``)."""

    def start(self, snapshot: Snapshot) -> None:
        pass

    def update(self, snapshot: Snapshot) -> None:
        pass

    def stop(self, snapshot: Snapshot) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class PlainProgress:
    """A line every ``interval`` seconds, for logs and pipes."""

    def __init__(self, stream: TextIO, *, interval: float = 10.0) -> None:
        self.stream = stream
        self.interval = interval
        self._last = 0.0

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, snapshot: Snapshot) -> None:
        self._last = time.monotonic()
        self._write(f"batch: {snapshot.line()}")

    def update(self, snapshot: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._write(f"batch: {snapshot.line()}")

    def stop(self, snapshot: Snapshot) -> None:
        self._write(f"batch: {snapshot.line()}")

    def message(self, text: str) -> None:
        self._write(printable(text, lines=True))  # a message may quote a server's error text


class RichProgress:
    """A live panel redrawn in place (a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=stream)
        self._live: Live | None = None

    def _render(self, snapshot: Snapshot) -> Table:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        for state in STATES:
            count = snapshot.counts.get(state, 0)
            if count:
                style = {"completed": "green", "failed": "red", "ambiguous": "yellow"}.get(
                    state, ""
                )
                table.add_row(f"[{style}]{state}[/{style}]" if style else state, str(count))
        eta = snapshot.eta
        table.add_row("rate", f"{snapshot.rate:.1f} rows/s")
        if eta is not None and snapshot.remaining:
            table.add_row("ETA", _duration(eta))
        concurrency = (
            f"{snapshot.in_flight} in flight, limit {int(snapshot.limit)}/{snapshot.ceiling}"
        )
        if snapshot.rate_limited:
            concurrency += f", {snapshot.rate_limited} x 429"
        if snapshot.paused_for > 0:
            concurrency += f", paused {snapshot.paused_for:.1f}s"
        table.add_row("concurrency", concurrency)
        return table

    def start(self, snapshot: Snapshot) -> None:
        from rich.live import Live

        self._live = Live(
            self._render(snapshot),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self._live.start()

    def update(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(self._render(snapshot))

    def stop(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(self._render(snapshot))
            self._live.stop()
            self._live = None

    def message(self, text: str) -> None:
        # rich takes out a few controls, not ESC: a message may quote a server's error text
        self.console.print(printable(text, lines=True), markup=False, highlight=False)


def progress_for(
    kind: Literal["auto", "rich", "plain", "quiet"] = "auto",
    stream: TextIO | None = None,
    *,
    interval: float = 10.0,
) -> Progress:
    """The display for ``kind`` (``auto``: rich on a terminal, plain lines otherwise)."""
    if kind == "quiet":
        return QuietProgress()
    target: TextIO = stream if stream is not None else sys.stderr
    if kind == "rich" or (kind == "auto" and target.isatty()):
        try:
            return RichProgress(target)
        except ImportError:
            pass
    return PlainProgress(target, interval=interval)
