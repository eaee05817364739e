"""How many requests a batch keeps in flight: the user's limit, and an adaptive one below it.

fal enforces a per-account concurrency limit and answers 429 past it. Sending faster than the
account allows only collects 429s, so the limiter behaves like TCP's congestion control: it starts
small and doubles per round trip (slow start), and on a 429 it cuts the limit by a quarter, pauses
every new submit for the server's ``Retry-After``, then grows back by about one request per round
trip. A batch thus settles just under the account's limit instead of failing rows.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

__all__ = ["AdaptiveLimiter"]

_INITIAL: Final = 8
_DECREASE: Final = 0.75
_DEFAULT_PAUSE: Final = 1.0
_MAX_PAUSE: Final = 60.0


class AdaptiveLimiter:
    """At most ``limit`` (<= ``ceiling``) holders at once; :meth:`rate_limited` backs off."""

    def __init__(self, ceiling: int, *, initial: int = _INITIAL, adaptive: bool = True) -> None:
        if ceiling < 1:
            raise ValueError(f"concurrency must be at least 1, got {ceiling}")
        self.ceiling = ceiling
        self.adaptive = adaptive
        self.limit: float = float(min(ceiling, initial) if adaptive else ceiling)
        self._threshold: float = float(ceiling)
        self.in_flight: int = 0
        self.rate_limited_count: int = 0
        self._resume_at = 0.0
        self._last_cut = 0.0
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"AdaptiveLimiter(limit={self.limit:.1f}/{self.ceiling}, in_flight={self.in_flight})"

    @property
    def paused_for(self) -> float:
        """Seconds until submits may go again (0 when they may now)."""
        return max(0.0, self._resume_at - time.monotonic())

    async def acquire(self) -> None:
        """Wait for room below the limit and for the end of any pause; then hold one place."""
        while True:
            pause = self.paused_for
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.in_flight < max(1, int(self.limit)):
                self.in_flight += 1
                return
            self._changed.clear()
            await self._changed.wait()

    def hold(self) -> None:
        """Count a request already in flight (a resumed row awaited by request id): no waiting."""
        self.in_flight += 1

    def release(self, *, succeeded: bool = False) -> None:
        """Give a place back; ``succeeded`` (the request was accepted and answered) grows the limit."""
        self.in_flight = max(0, self.in_flight - 1)
        if succeeded and self.adaptive and self.limit < self.ceiling:
            growth = 1.0 if self.limit < self._threshold else 1.0 / self.limit
            self.limit = min(float(self.ceiling), self.limit + growth)
        self._changed.set()

    def rate_limited(self, retry_after: float | None) -> None:
        """fal answered 429: pause new submits (``Retry-After``) and lower the limit (once per
        pause: the 429s of one burst are one signal)."""
        self.rate_limited_count += 1
        now = time.monotonic()
        pause = min(_MAX_PAUSE, retry_after if retry_after is not None else _DEFAULT_PAUSE)
        self._resume_at = max(self._resume_at, now + pause)
        if self.adaptive and now >= self._last_cut:
            cut = max(1.0, min(self.limit, float(max(self.in_flight, 1))) * _DECREASE)
            self.limit = cut
            self._threshold = cut
            self._last_cut = now + pause
        self._changed.set()
