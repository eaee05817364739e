"""``subscribe`` in a Jupyter kernel shows its progress by itself: decided without importing
IPython (a script never pays for it), drawn by :mod:`fal_typed.notebook`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["auto_progress", "live_callbacks"]

auto_progress = True
"""Set by :func:`fal_typed.notebook.auto_progress`."""


def live_callbacks(
    endpoint_id: str,
    on_enqueue: Callable[[str], Any] | None,
    on_queue_update: Callable[[Any], Any] | None,
) -> tuple[Callable[[str], Any] | None, Callable[[Any], Any] | None]:
    """The callbacks a ``subscribe`` uses: the caller's, or, in a Jupyter kernel when no
    ``on_queue_update`` is given, a live progress display (chained after ``on_enqueue``)."""
    if on_queue_update is not None or not auto_progress or "IPython" not in sys.modules:
        return on_enqueue, on_queue_update
    from .notebook._progress import Progress, in_jupyter_kernel

    if not in_jupyter_kernel():
        return on_enqueue, on_queue_update
    progress = Progress(endpoint_id, notebook=True)
    if on_enqueue is None:
        return progress.on_enqueue, progress
    given = on_enqueue

    def enqueued(request_id: str) -> Any:
        progress.on_enqueue(request_id)
        return given(request_id)  # an async subscribe awaits what an async callback returns

    return enqueued, progress
