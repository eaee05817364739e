"""What ``fal-typed call`` shows while it waits: queue position, state changes, log lines and
stream events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape

from .._printable import printable
from .._status import Completed, InProgress, Queued, Status
from ._streams import spinner

__all__ = ["LiveStatus"]


class LiveStatus:
    """Shows the queue position, state changes and log lines on stderr as they arrive."""

    def __init__(self, console: Console, show_logs: bool) -> None:
        self.console = console
        self.show_logs = show_logs
        self.request_id: str | None = None
        self._spinner = console.status("submitting", spinner=spinner(console.file))
        self._last: str | None = None

    def __enter__(self) -> LiveStatus:
        self._spinner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._spinner.__exit__(None, None, None)

    def running(self) -> None:
        """A direct call (run or stream): no queue to show, only that it runs."""
        self._state("running")

    def event(self, event: Mapping[str, Any]) -> None:
        """One partial event of a stream, as compact JSON (the final result goes to stdout)."""
        self.console.print(
            f"[dim]event[/dim] {escape(json.dumps(event, separators=(',', ':')))}",
            highlight=False,
            soft_wrap=True,
        )

    def enqueued(self, request_id: str) -> None:
        self.request_id = request_id
        self.console.print(f"[dim]request id: {escape(request_id)}[/dim]")
        self._state("queued")

    def _state(self, text: str) -> None:
        if text != self._last:
            self._last = text
            self.console.print(f"[cyan]{escape(text)}[/cyan]")
            self._spinner.update(text)

    def update(self, status: Status) -> None:
        if isinstance(status, Queued):
            self._state(f"in queue, position {status.position}")
            return
        self._state("in progress" if isinstance(status, InProgress) else "completed")
        if self.show_logs:
            for log in status.logs or []:
                self.console.print(
                    f"[dim]{escape(printable(log.level))}[/dim] "
                    f"{escape(printable(log.message, lines=True))}",
                    highlight=False,
                )
        if isinstance(status, Completed) and status.error:
            self.console.print(f"[red]{escape(printable(status.error, lines=True))}[/red]")
