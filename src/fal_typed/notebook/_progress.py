"""Live progress of a queued request: one display that updates in place in a notebook, one
line per change elsewhere.

``subscribe`` in a Jupyter kernel uses it by itself when no ``on_queue_update`` is given
(:func:`fal_typed.notebook.auto_progress` turns that off); ``progress()`` makes one to pass by
hand, in a notebook or a terminal.
"""

from __future__ import annotations

import html
import importlib
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .._checks import check_bool, check_callable, check_count, check_seconds
from .._printable import printable
from .._status import Completed, InProgress, Log, Queued, Status
from ._html import status_html

__all__ = ["Progress", "in_jupyter_kernel"]


def _print(line: str) -> None:
    print(line, flush=True)


def in_jupyter_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython already loaded; never imported here)."""
    ipython = sys.modules.get("IPython")
    get_ipython: Any = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


class Progress:
    """Follows one request: pass it as ``on_queue_update`` (and ``on_enqueue=progress.on_enqueue``).

    In a Jupyter kernel it keeps one display up to date: where the request is in the queue, the
    last ``max_logs`` log lines (with the number of earlier ones), then how it ended; updates
    come at most every ``min_interval`` seconds (the last one always shows). Elsewhere it prints
    one line per change and each new log line.
    """

    def __init__(
        self,
        endpoint_id: str | None = None,
        *,
        max_logs: int = 10,
        min_interval: float = 0.2,
        notebook: bool | None = None,
        write: Callable[[str], object] | None = None,
    ) -> None:
        check_count("max_logs", max_logs, minimum=0)
        check_seconds("min_interval", min_interval)
        if notebook is not None:
            check_bool("notebook", notebook)
        check_callable("write", write)
        self.endpoint_id = endpoint_id
        self.request_id: str | None = None
        self.status: Status | None = None
        self.logs: list[Log] = []
        self.max_logs = max_logs
        self.min_interval = min_interval
        self._notebook = in_jupyter_kernel() if notebook is None else notebook
        self._write: Callable[[str], object] = write or _print
        self._started = time.monotonic()
        self._shown_at = 0.0
        self._handle: Any = None
        self._lock = threading.Lock()
        self._last_line = ""

    def __repr__(self) -> str:
        return f"Progress({self._headline()})"

    def on_enqueue(self, request_id: str) -> None:
        """Record the request id (``subscribe(..., on_enqueue=progress.on_enqueue)``)."""
        self.request_id = request_id
        self._show(force=True)

    def __call__(self, status: Status) -> None:
        """Take one status update (the ``on_queue_update`` callback)."""
        with self._lock:
            self.status = status
            new: list[Log] = []
            if isinstance(status, (InProgress, Completed)) and status.logs:
                new = status.logs
            self.logs.extend(new)
        self._show(force=isinstance(status, Completed))
        if not self._notebook:
            for log in new:
                # A model's own words: no escape sequence may reach the terminal.
                self._write(
                    f"  {printable(str(log.level))} {printable(str(log.message), lines=True)}"
                )

    # -- rendering ----------------------------------------------------------------------------

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:.1f} s"

    def _headline(self) -> str:
        who = " ".join(part for part in (self.endpoint_id, self.request_id) if part)
        status = self.status
        if status is None:
            state = "submitted" if self.request_id else "submitting"
        elif isinstance(status, Queued):
            state = f"queued, {status.position} ahead"
        elif isinstance(status, InProgress):
            state = "running"
        elif status.failed:
            state = f"failed: {printable(str(status.error or status.error_type))}"
        else:
            state = "completed"
        return f"{who + ': ' if who else ''}{state} ({self._elapsed()})"

    def _repr_html_(self) -> str:
        """The display a notebook keeps updating."""
        who = " · ".join(
            f"<code>{html.escape(part)}</code>"
            for part in (self.endpoint_id, self.request_id)
            if part
        )
        status = self.status
        if status is None:
            body = (
                "<div>📤 <strong>Submitting</strong></div>"
                if not self.request_id
                else ("<div>📨 <strong>Submitted</strong></div>")
            )
        elif isinstance(status, InProgress):
            body = status_html(InProgress(logs=self.logs), log_limit=self.max_logs)
        elif isinstance(status, Completed):
            body = status_html(
                Completed(
                    logs=self.logs,
                    metrics=status.metrics,
                    error=status.error,
                    error_type=status.error_type,
                ),
                log_limit=self.max_logs,
            )
        else:
            body = status_html(status)
        return (
            '<div style="border-left:3px solid #7986cb;padding-left:8px">'
            f"<div style='font-size:85%;opacity:0.8'>{who} · {self._elapsed()}</div>{body}</div>"
        )

    def _show(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._shown_at < self.min_interval:
            return
        self._shown_at = now
        if self._notebook:
            display: Any = importlib.import_module("IPython.display").display
            if self._handle is None:
                self._handle = display(self, display_id=True)
            else:
                self._handle.update(self)
            return
        line = self._headline().rsplit(" (", 1)[0]
        if line != self._last_line:  # one line per change, not per update
            self._last_line = line
            self._write(self._headline())
