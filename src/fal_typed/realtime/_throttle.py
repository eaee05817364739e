"""Leading throttles for realtime sends that keep only the latest pending frame.

Interactive realtime apps (a drawing canvas, a slider) produce inputs faster than a model answers.
As fal-js does (128 ms by default there), the first frame goes out at once; frames arriving within
``interval`` of the last one sent replace each other, and the last of them is sent when the
interval ends. So a burst becomes two frames and the final input is always the one processed.

A send that fails in the background is kept and raised by the next :meth:`submit` (or by the
connection's next receive), never lost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

__all__ = ["AsyncThrottle", "Throttle"]


class Throttle:
    """Thread-based throttle for the sync connection; ``send`` may run on a timer thread."""

    def __init__(self, interval: float, send: Callable[[bytes], None]) -> None:
        self.interval = interval
        self._send = send
        self._lock = threading.Lock()
        self._last_sent: float | None = None
        self._pending: bytes | None = None
        self._timer: threading.Timer | None = None
        self._error: BaseException | None = None

    def submit(self, frame: bytes) -> None:
        """Send ``frame`` now if the interval has passed, else keep it as the pending frame."""
        self.raise_error()
        with self._lock:
            now = time.monotonic()
            if self._pending is None and (
                self._last_sent is None or now - self._last_sent >= self.interval
            ):
                self._last_sent = now
                send_now = True
            else:
                self._pending = frame
                send_now = False
                if self._timer is None:
                    last = self._last_sent if self._last_sent is not None else now
                    self._timer = threading.Timer(max(0.0, last + self.interval - now), self._flush)
                    self._timer.daemon = True
                    self._timer.start()
        if send_now:
            self._send(frame)

    def raise_error(self) -> None:
        """Raise (once) the error of a background send, if one failed."""
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def cancel(self) -> None:
        """Drop the pending frame and stop the timer (on close)."""
        with self._lock:
            timer, self._timer, self._pending = self._timer, None, None
        if timer is not None:
            timer.cancel()

    def _flush(self) -> None:
        with self._lock:
            frame, self._pending, self._timer = self._pending, None, None
            self._last_sent = time.monotonic()
        if frame is None:
            return
        try:
            self._send(frame)
        except Exception as exc:  # kept for the caller's next call: a timer thread has no caller
            with self._lock:
                self._error = exc


class AsyncThrottle:
    """Task-based twin of :class:`Throttle` for the async connection (one event loop)."""

    def __init__(self, interval: float, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.interval = interval
        self._send = send
        self._last_sent: float | None = None
        self._pending: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def submit(self, frame: bytes) -> None:
        """Send ``frame`` now if the interval has passed, else keep it as the pending frame."""
        self.raise_error()
        now = time.monotonic()
        if self._pending is None and (
            self._last_sent is None or now - self._last_sent >= self.interval
        ):
            self._last_sent = now
            await self._send(frame)
            return
        self._pending = frame
        if self._task is None:
            last = self._last_sent if self._last_sent is not None else now
            self._task = asyncio.get_running_loop().create_task(
                self._flush_after(max(0.0, last + self.interval - now))
            )

    def raise_error(self) -> None:
        """Raise (once) the error of a background send, if one failed."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    def cancel(self) -> None:
        """Drop the pending frame and stop the flush task (on close)."""
        task, self._task, self._pending = self._task, None, None
        if task is not None:
            task.cancel()

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        frame, self._pending, self._task = self._pending, None, None
        self._last_sent = time.monotonic()
        if frame is None:
            return
        try:
            await self._send(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # kept for the caller's next call: the task has no caller
            self._error = exc
