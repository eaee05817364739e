"""Retry policy: what is retried, how long to wait, and why a submit is never sent twice.

What is retried (fal-client 1.0.3's rules, plus ``Retry-After``):

* responses 408, 409 and 429 (``RetryPolicy.retry_statuses``);
* 502/503/504 from the ingress only: no ``x-fal-request-id`` header and "nginx" in the body.
  A 5xx carrying a request id came from fal itself and is final; a 504 with
  ``X-Fal-Request-Timeout-Type`` is the caller's own ``start_timeout`` expiring and is final;
* transport errors, split by whether the request can have reached fal (below).

The wait before retry ``n`` (1-based) is ``min(base_delay * 2**(n-1), max_delay)`` scaled by a
random factor in ``[1 - jitter, 1 + jitter]``, or the server's ``Retry-After`` when it sends one
(capped at ``max_retry_after``). A call's ``client_timeout`` also bounds the retries.

Why a submit is never silently sent twice. An error *response* (429, ingress 5xx, 408...) proves
fal did not accept the request, so resending is safe for every method. A transport error is safe
to resend only if the request cannot have been received whole: a refused or timed-out connect,
a pool timeout, or a failed write (:data:`NOT_SENT_ERRORS`). A read timeout, a reset or a
disconnect *after* the body was sent leaves the outcome unknown: fal may have queued (and will
bill) the request. For idempotent calls (status, result, cancel: GET and PUT) that is harmless
and they are retried; for POSTs (submit, run) the client raises
:class:`~fal_typed.PossiblyAcceptedError` instead, which says the request may have been accepted.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ._errors import InvalidArgumentError

__all__ = [
    "NEVER_RETRIED_ERRORS",
    "NOT_SENT_ERRORS",
    "RetryPolicy",
    "is_ingress_error",
    "is_user_timeout",
    "parse_retry_after",
]

#: Transport errors raised before fal can have received the whole request: safe to resend.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.ProxyError,
)

#: Transport errors that are our own fault (bad URL scheme, invalid header): never retried.
NEVER_RETRIED_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

_INGRESS_STATUSES = frozenset({502, 503, 504})


def is_user_timeout(response: httpx.Response) -> bool:
    """A 504 caused by the caller's own ``start_timeout`` (never retried)."""
    return response.status_code == 504 and bool(response.headers.get("x-fal-request-timeout-type"))


def is_ingress_error(response: httpx.Response) -> bool:
    """A 502/503/504 from the load balancer, before fal saw the request (fal-client's heuristic)."""
    if response.status_code not in _INGRESS_STATUSES or "x-fal-request-id" in response.headers:
        return False
    return "nginx" in response.text


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How a :class:`~fal_typed.Client` retries. ``RetryPolicy.disabled()`` turns retries off."""

    max_attempts: int = 10
    """Attempts in total, the first included (fal-client: 10)."""
    base_delay: float = 0.1
    """Delay before the first retry, doubled for each further one."""
    max_delay: float = 30.0
    """Cap of the exponential backoff."""
    jitter: float = 0.5
    """Each delay is scaled by a random factor in ``[1 - jitter, 1 + jitter]``."""
    retry_statuses: frozenset[int] = field(default=frozenset({408, 409, 429}))
    """Statuses retried whatever their body."""
    retry_ingress_errors: bool = True
    """Retry 502/503/504 answered by the ingress (see :func:`is_ingress_error`)."""
    max_retry_after: float = 60.0
    """Longest ``Retry-After`` honoured; longer values are cut to this."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("base_delay", "max_delay", "max_retry_after"):
            if getattr(self, name) < 0:
                raise InvalidArgumentError(
                    f"{name} must not be negative, got {getattr(self, name)}"
                )
        if not 0 <= self.jitter <= 1:
            raise InvalidArgumentError(f"jitter must be between 0 and 1, got {self.jitter}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that sends every request exactly once."""
        return cls(max_attempts=1)

    def delay(
        self,
        retry: int,
        retry_after: float | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.base_delay * 2.0 ** (retry - 1), self.max_delay)
        return backoff * (1 - self.jitter + 2 * self.jitter * rand())

    def should_retry_response(self, response: httpx.Response) -> bool:
        """Whether an error response may be retried (safe for every method: fal refused it)."""
        if is_user_timeout(response):
            return False
        if response.status_code in self.retry_statuses:
            return True
        return self.retry_ingress_errors and is_ingress_error(response)

    @staticmethod
    def should_retry_error(exc: httpx.TransportError, *, idempotent: bool) -> bool:
        """Whether a transport error may be retried (see the module docstring)."""
        if isinstance(exc, NEVER_RETRIED_ERRORS):
            return False
        return idempotent or isinstance(exc, NOT_SENT_ERRORS)
