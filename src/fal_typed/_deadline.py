"""`Deadline`: one wall-clock budget shared by every request, sleep and stream read of a call."""

from __future__ import annotations

import time

import httpx

from ._errors import FalTimeoutError

__all__ = ["Deadline"]


class Deadline:
    """A monotonic deadline ``seconds`` from creation (``client_timeout`` of a whole call)."""

    __slots__ = ("_end", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds: float = seconds
        self._end = time.monotonic() + seconds

    @property
    def end(self) -> float:
        """When it passes, on the ``time.monotonic()`` clock."""
        return self._end

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def cap(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """``timeout`` with every phase shortened to the time left (None becomes the time left)."""
        left = max(self.remaining(), 0.001)

        def capped(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=capped(timeout.connect),
            read=capped(timeout.read),
            write=capped(timeout.write),
            pool=capped(timeout.pool),
        )

    def error(self, what: str) -> FalTimeoutError:
        """The error for ``what`` running out of time."""
        return FalTimeoutError(
            f"{what} did not complete within {self.seconds:g}s", timeout=self.seconds
        )

    def check(self, what: str) -> None:
        """Raise :meth:`error` if the deadline has passed."""
        if self.expired:
            raise self.error(what)

    def bound(self, seconds: float) -> float:
        """``seconds`` cut to the time left (for sleeps)."""
        return min(seconds, self.remaining())
