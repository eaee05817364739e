"""Per-caller limits: billed calls per minute, and requests open at once.

A caller is whoever ``authenticate`` said it is. The counts live in this process's memory: with
several worker processes each one counts its own share (divide the limits, or enforce a shared
limit in ``authenticate`` / ``spend_cap``, which may consult any store).

* ``requests_per_minute`` counts billed calls (submit, run, stream) in any sliding 60 s;
  polling a request's status, fetching its result and uploading files are not counted, since a
  single ``subscribe`` of fal-js polls twice a second.
* ``concurrent_requests`` counts every request the proxy is forwarding for the caller, from
  its arrival until the answer has been streamed back (a long ``/stream`` holds its slot).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .._errors import InvalidArgumentError
from ._refusal import Refused

__all__ = ["CallerLimits", "Limiter"]

_WINDOW = 60.0
_PRUNE_EVERY = 1024


@dataclass(frozen=True)
class CallerLimits:
    """Limits applied to each caller separately (None: no limit)."""

    requests_per_minute: int | None = None
    concurrent_requests: int | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "concurrent_requests"):
            value: object = getattr(self, name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise InvalidArgumentError(
                    f"{name} must be a positive integer or None, got {value!r}"
                )


@dataclass
class _Usage:
    calls: deque[float] = field(default_factory=deque[float])
    open: int = 0


class Limiter:
    """The counts behind :class:`CallerLimits`, per caller; thread-safe."""

    def __init__(self, limits: CallerLimits) -> None:
        self.limits = limits
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()
        self._since_prune = 0

    def _prune(self, now: float) -> None:
        """Forget callers with nothing open and no call in the window (bounded memory)."""
        self._since_prune += 1
        if self._since_prune < _PRUNE_EVERY:
            return
        self._since_prune = 0
        for caller in [c for c, u in self._usage.items() if not u.open and _expire(u, now)]:
            del self._usage[caller]

    def enter(self, caller: str, *, billed: bool) -> None:
        """Count a request in (release it with :meth:`leave`); :class:`Refused` (429) when a
        limit is reached. A refused request counts for nothing."""
        limits = self.limits
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            usage = self._usage.setdefault(caller, _Usage())
            if limits.concurrent_requests is not None and usage.open >= limits.concurrent_requests:
                raise Refused(
                    429,
                    f"at most {limits.concurrent_requests} requests at once",
                    "concurrent_requests_limit",
                    {"Retry-After": "1"},
                )
            if billed and limits.requests_per_minute is not None:
                _expire(usage, now)
                if len(usage.calls) >= limits.requests_per_minute:
                    wait = usage.calls[0] + _WINDOW - now
                    raise Refused(
                        429,
                        f"at most {limits.requests_per_minute} calls per minute",
                        "rate_limited",
                        {"Retry-After": str(max(1, math.ceil(wait)))},
                    )
                usage.calls.append(now)
            usage.open += 1

    def leave(self, caller: str) -> None:
        with self._lock:
            usage = self._usage.get(caller)
            if usage is not None and usage.open > 0:
                usage.open -= 1

    def open_requests(self, caller: str) -> int:
        with self._lock:
            usage = self._usage.get(caller)
            return 0 if usage is None else usage.open


def _expire(usage: _Usage, now: float) -> bool:
    """Drop calls older than the window; True when none is left."""
    while usage.calls and usage.calls[0] <= now - _WINDOW:
        usage.calls.popleft()
    return not usage.calls
