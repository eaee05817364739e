"""Retry policy: the request-kind x outcome table, backoff bounds, and why nothing paid is sent twice.

:data:`RETRY_TABLE` says, for every kind of request the runtime sends and every outcome it can
observe, whether the request is sent again and which error is raised when it is not (or when
the attempts or the time run out). ``docs/guarantees.md`` prints the same table and a test
checks the two are equal, so the documentation cannot drift from the code.

The rule behind it. A POST that starts paid work (submit, run, stream) or that cannot be
repeated harmlessly (multipart initiate and complete) is sent again *only* after an outcome
that proves the server did not receive it: the connection or the name lookup failed, the
request was not written whole, a 408/409/429 answer, or an nginx 503 (nginx answers 503 itself
when no upstream can take the request, before proxying). A gateway 502 or 504 can come *after*
the upstream accepted the request, and a reset or read timeout after the request was written
leaves the outcome unknown: a paid POST then raises :class:`~fal_typed.PossiblyAcceptedError`,
carrying what is needed to reconcile (URL, status, a hash of the body sent, the time window).
A submit answered 5xx *naming a request id* (an ``x-fal-request-id`` header, or a
``request_id`` in its JSON body) is a :class:`~fal_typed.ServerError` like any fal 5xx (fal
stamps its id on nearly every answer, and most such failures queued nothing), carrying that id
and saying that fal may have queued the request under it: follow it by that id before sending
it again.
The same holds when the call's deadline passes after a paid POST was sent (or answered with
success) but before its answer was read: :class:`~fal_typed.PossiblyAcceptedTimeoutError`, which
is both a timeout and possibly accepted. A deadline that passes before the request was sent
whole, or after an answer that proves it was not received, is a plain timeout.
Idempotent calls (GET and PUT: status, result, cancel, downloads, part uploads) are retried
after any of these.

Backoff: the wait before a retry is ``base_delay * 2**(n-1)`` capped at ``max_delay``, with
jitter, where ``n`` counts the consecutive retries *of the same outcome* (a new kind of failure
starts again at ``base_delay``), or the server's ``Retry-After`` capped at ``max_retry_after``.
No retry starts, and no wait extends, past ``max_elapsed`` seconds after the first attempt.
"""

from __future__ import annotations

import email.utils
import math
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import cast

import httpx

from ._checks import check_count, check_seconds
from ._errors import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    InvalidArgumentError,
    PossiblyAcceptedError,
    PossiblyAcceptedTimeoutError,
    RateLimitError,
    ServerError,
)
from ._errors import named_request_id as _named_request_id

__all__ = [
    "NEVER_RETRIED_ERRORS",
    "NOT_SENT_ERRORS",
    "RETRY_TABLE",
    "Backoff",
    "Decision",
    "Kind",
    "Outcome",
    "RetryPolicy",
    "decide",
    "is_gateway_answer",
    "is_name_resolution_error",
    "is_user_timeout",
    "markdown_table",
    "named_request_id",
    "observe_error",
    "observe_response",
    "parse_retry_after",
]


class Kind(str, Enum):
    """A kind of request the runtime sends (the rows of the table)."""

    SUBMIT = "submit"
    RUN = "run"
    STREAM = "stream"
    STATUS = "status"
    STATUS_STREAM = "status stream"
    RESULT = "result"
    CANCEL = "cancel"
    UPLOAD_TOKEN = "upload: CDN token"
    UPLOAD_INITIATE = "upload: multipart initiate"
    UPLOAD_PART = "upload: part PUT"
    UPLOAD_COMPLETE = "upload: multipart complete"
    UPLOAD_SINGLE = "upload: single upload"
    STORAGE_INITIATE = "upload: storage initiate"
    DOWNLOAD = "download"
    REALTIME_TOKEN = "realtime token"
    OTHER_IDEMPOTENT = "other GET/PUT"
    OTHER_POST = "other POST"


class Outcome(str, Enum):
    """What one attempt of a request came to (the columns of the table)."""

    CONNECT_FAILED = "connect refused/failed"
    DNS_FAILURE = "DNS failure"
    NOT_WRITTEN = "request not written whole"
    RESET_BEFORE_SENT = "reset before the request was read"
    RESET_AFTER_SENT = "reset/disconnect after it was sent"
    READ_TIMEOUT = "read timeout"
    RATE_LIMITED_RETRY_AFTER = "429 with Retry-After"
    RATE_LIMITED = "429 without Retry-After"
    RETRY_STATUS = "408 / 409"
    INGRESS_502 = "ingress 502"
    INGRESS_503 = "ingress 503"
    INGRESS_504 = "ingress 504"
    FAL_5XX = "fal 5xx"
    FAL_5XX_NAMED = "fal 5xx naming a request id"
    CLIENT_4XX = "4xx"
    START_TIMEOUT = "504 X-Fal-Request-Timeout-Type"
    DEADLINE_AFTER_SENT = "deadline passed after it was sent"


@dataclass(frozen=True)
class Decision:
    """Whether to send again, and the error raised when not (or when attempts/time run out)."""

    retry: bool
    error: type[FalError]

    def __str__(self) -> str:
        return f"{'retried' if self.retry else 'not retried'}, {self.error.__name__}"


_O = Outcome
#: Outcomes after which the request may have been received and acted on.
_AMBIGUOUS = frozenset({_O.RESET_BEFORE_SENT, _O.RESET_AFTER_SENT, _O.READ_TIMEOUT})
#: Gateway answers that can come after the upstream accepted the request.
_GATEWAY_AMBIGUOUS = frozenset({_O.INGRESS_502, _O.INGRESS_504})


def _error_of(outcome: Outcome) -> type[FalError]:
    """The error raised for ``outcome`` when it is final (or its retries ran out)."""
    if outcome in (_O.RATE_LIMITED, _O.RATE_LIMITED_RETRY_AFTER):
        return RateLimitError
    if outcome in (
        _O.INGRESS_502,
        _O.INGRESS_503,
        _O.INGRESS_504,
        _O.FAL_5XX,
        _O.FAL_5XX_NAMED,
        _O.START_TIMEOUT,
    ):
        return ServerError
    if outcome in (_O.RETRY_STATUS, _O.CLIENT_4XX):
        return FalHTTPError
    if outcome is _O.DEADLINE_AFTER_SENT:
        return FalTimeoutError
    return FalConnectionError


def _row(
    *,
    not_idempotent: bool,
    paid: bool = False,
    retry_fal_5xx: bool = False,
) -> dict[Outcome, Decision]:
    """One kind's decisions. ``not_idempotent`` (a paid or non-repeatable POST): not sent again
    unless the outcome proves it was not received. ``paid`` (it starts paid work): cut by the
    deadline once sent, it may have been accepted. ``retry_fal_5xx``: a 5xx that is not a
    gateway's is retried too (storage transfers: nothing runs twice). A fal 5xx naming a
    request id is decided as any fal 5xx (a ServerError carrying that id)."""
    row: dict[Outcome, Decision] = {}
    for outcome in Outcome:
        if outcome is _O.DEADLINE_AFTER_SENT:
            row[outcome] = Decision(
                False, PossiblyAcceptedTimeoutError if paid else _error_of(outcome)
            )
        elif outcome is _O.DNS_FAILURE:
            row[outcome] = Decision(False, FalConnectionError)  # fails at once: see the docs
        elif outcome in (_O.CLIENT_4XX, _O.START_TIMEOUT):
            row[outcome] = Decision(False, _error_of(outcome))
        elif outcome in (_O.FAL_5XX, _O.FAL_5XX_NAMED):
            row[outcome] = Decision(retry_fal_5xx, ServerError)
        elif not_idempotent and (outcome in _AMBIGUOUS or outcome in _GATEWAY_AMBIGUOUS):
            row[outcome] = Decision(False, PossiblyAcceptedError)
        else:
            row[outcome] = Decision(True, _error_of(outcome))
    return row


#: The table: kind -> outcome -> decision. The client, the stream, uploads and downloads all
#: ask it (:func:`decide`); docs/guarantees.md prints it.
RETRY_TABLE: Mapping[Kind, Mapping[Outcome, Decision]] = {
    Kind.SUBMIT: _row(not_idempotent=True, paid=True),
    Kind.RUN: _row(not_idempotent=True, paid=True),
    Kind.STREAM: _row(not_idempotent=True, paid=True),
    Kind.STATUS: _row(not_idempotent=False),
    Kind.STATUS_STREAM: _row(not_idempotent=False),
    Kind.RESULT: _row(not_idempotent=False),
    Kind.CANCEL: _row(not_idempotent=False),
    Kind.UPLOAD_TOKEN: _row(not_idempotent=False),
    Kind.UPLOAD_INITIATE: _row(not_idempotent=True, retry_fal_5xx=True),
    Kind.UPLOAD_PART: _row(not_idempotent=False, retry_fal_5xx=True),
    Kind.UPLOAD_COMPLETE: _row(not_idempotent=True, retry_fal_5xx=True),
    Kind.UPLOAD_SINGLE: _row(not_idempotent=False, retry_fal_5xx=True),
    Kind.STORAGE_INITIATE: _row(not_idempotent=False),
    Kind.DOWNLOAD: _row(not_idempotent=False, retry_fal_5xx=True),
    Kind.REALTIME_TOKEN: _row(not_idempotent=False),
    Kind.OTHER_IDEMPOTENT: _row(not_idempotent=False),
    Kind.OTHER_POST: _row(not_idempotent=True),
}


def decide(kind: Kind, outcome: Outcome) -> Decision:
    """The table's decision for one attempt of ``kind`` that came to ``outcome``."""
    return RETRY_TABLE[kind][outcome]


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


def is_gateway_answer(response: httpx.Response) -> bool:
    """A 502/503/504 from something in front of fal (the ingress): no ``x-fal-request-id`` and
    not fal's own JSON error body (fal's answers carry one or the other)."""
    if response.status_code not in _INGRESS_STATUSES or "x-fal-request-id" in response.headers:
        return False
    try:
        body = response.json()
    except httpx.ResponseNotRead:  # a streamed answer not read yet: judge by its type
        return "json" not in response.headers.get("content-type", "").lower()
    except (ValueError, RecursionError, UnicodeDecodeError):
        return True
    return not isinstance(body, dict)


def named_request_id(response: httpx.Response) -> str | None:
    """The request id an answer names (:func:`fal_typed._errors.named_request_id`: its
    ``x-fal-request-id`` header, else a ``request_id`` in its JSON body if the body was read),
    checked: a malformed one stays in the answer's text only. A request id in hand means the
    request may exist (and be paid for)."""
    try:
        body: object = response.json()
    except (httpx.ResponseNotRead, ValueError, RecursionError, UnicodeDecodeError):
        body = None
    return _named_request_id(response.headers, body)


def is_name_resolution_error(exc: BaseException) -> bool:
    """Whether the host name of the request could not be resolved (nothing was sent)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return True
        current = current.__cause__ or current.__context__
    text = str(exc).lower()
    return isinstance(exc, httpx.ConnectError) and (
        "name or service not known" in text
        or "temporary failure in name resolution" in text
        or "nodename nor servname" in text
        or "no address associated with hostname" in text
    )


def observe_error(exc: httpx.TransportError) -> Outcome | None:
    """The outcome of an attempt that raised ``exc``; ``None`` for our own faults (never retried)."""
    if isinstance(exc, NEVER_RETRIED_ERRORS):
        return None
    if isinstance(exc, httpx.ConnectError) and is_name_resolution_error(exc):
        return _O.DNS_FAILURE
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return _O.CONNECT_FAILED
    if isinstance(exc, httpx.ProxyError):  # the proxy could not reach the host
        return _O.CONNECT_FAILED
    if isinstance(exc, (httpx.WriteError, httpx.WriteTimeout)):
        return _O.NOT_WRITTEN
    if isinstance(exc, httpx.ReadTimeout):
        return _O.READ_TIMEOUT
    # ReadError, RemoteProtocolError...: the connection went away with no answer. The client
    # cannot tell whether the server had read the request (RESET_BEFORE_SENT looks the same).
    return _O.RESET_AFTER_SENT


def observe_response(
    response: httpx.Response, *, retry_statuses: frozenset[int] = frozenset({408, 409, 429})
) -> Outcome | None:
    """The outcome of an error answer; ``None`` for a success."""
    status = response.status_code
    if status < 400:
        return None
    if status == 429 and status in retry_statuses:
        has_after = parse_retry_after(response.headers.get("retry-after")) is not None
        return _O.RATE_LIMITED_RETRY_AFTER if has_after else _O.RATE_LIMITED
    if status in retry_statuses:
        return _O.RETRY_STATUS
    if is_user_timeout(response):
        return _O.START_TIMEOUT
    if is_gateway_answer(response):
        return {502: _O.INGRESS_502, 503: _O.INGRESS_503, 504: _O.INGRESS_504}[status]
    if status < 500:
        return _O.CLIENT_4XX
    return _O.FAL_5XX_NAMED if named_request_id(response) is not None else _O.FAL_5XX


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
    """How a :class:`~fal_typed.Client` retries. ``RetryPolicy.disabled()`` turns retries off.

    Which outcomes are retried is the table of :mod:`fal_typed._retry` (docs/guarantees.md);
    this says how often and how long.
    """

    max_attempts: int = 10
    """Attempts in total, the first included (fal-client: 10)."""
    base_delay: float = 0.1
    """Delay before the first retry after an outcome, doubled for each further one of it."""
    max_delay: float = 30.0
    """Cap of the exponential backoff."""
    jitter: float = 0.5
    """Each delay is scaled by a random factor in ``[1 - jitter, 1 + jitter]``."""
    retry_statuses: frozenset[int] = field(default=frozenset({408, 409, 429}))
    """Statuses retried whatever their body: refusals (4xx), where the request was not taken.
    A 5xx may come after fal took a paid request, so the retry table alone decides those:
    this narrows what is retried, never widens what a paid POST may resend."""
    retry_ingress_errors: bool = True
    """Retry 502/503/504 answered by the ingress (no ``x-fal-request-id``), as the table says."""
    max_retry_after: float = 30.0
    """Longest ``Retry-After`` honoured; longer values are cut to this."""
    max_elapsed: float = 120.0
    """No retry starts, and no wait extends, later than this many seconds after the first
    attempt of a call: the bound of one call's retries, whatever the errors (``math.inf``: no
    bound but ``max_attempts``; each wait stays finite)."""

    def __post_init__(self) -> None:
        # Checked at run time: policies are often built from configuration. _checks' rules:
        # a bool is no count, NaN and infinities (and ints no float holds) no delay: an
        # infinite delay waits for ever, or raises OverflowError from time.sleep. Only the
        # budget may be infinite ("no bound"): it is compared with, never waited.
        check_count("max_attempts", self.max_attempts, minimum=1)
        for name in ("base_delay", "max_delay", "max_retry_after"):
            check_seconds(name, getattr(self, name))
        if cast(object, self.max_elapsed) != math.inf:
            check_seconds("max_elapsed", self.max_elapsed)
        check_seconds("jitter", self.jitter, maximum=1, unit="")
        if not isinstance(cast(object, self.retry_ingress_errors), bool):
            raise InvalidArgumentError(
                "retry_ingress_errors must be True or False, "
                f"got {type(self.retry_ingress_errors).__name__}"
            )
        object.__setattr__(self, "retry_statuses", _refusal_statuses(self.retry_statuses))

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
        """Seconds to wait before retry number ``retry`` (1-based) of the same outcome."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.base_delay * 2.0 ** (retry - 1), self.max_delay)
        return backoff * (1 - self.jitter + 2 * self.jitter * rand())

    def decision(self, kind: Kind, outcome: Outcome) -> Decision:
        """The table's decision, with this policy's switches applied (statuses, ingress)."""
        decision = decide(kind, outcome)
        if not decision.retry:
            return decision
        if not self.retry_ingress_errors and outcome in (
            _O.INGRESS_502,
            _O.INGRESS_503,
            _O.INGRESS_504,
        ):
            return Decision(False, decision.error)
        return decision

    def should_retry_response(self, response: httpx.Response, *, idempotent: bool = True) -> bool:
        """Whether an error response may be retried (``idempotent=False``: a paid POST's rules)."""
        outcome = observe_response(response, retry_statuses=self.retry_statuses)
        if outcome is None:
            return False
        kind = Kind.OTHER_IDEMPOTENT if idempotent else Kind.OTHER_POST
        return self.decision(kind, outcome).retry

    @staticmethod
    def should_retry_error(exc: httpx.TransportError, *, idempotent: bool) -> bool:
        """Whether a transport error may be retried (see the module docstring)."""
        outcome = observe_error(exc)
        if outcome is None:
            return False
        kind = Kind.OTHER_IDEMPOTENT if idempotent else Kind.OTHER_POST
        return decide(kind, outcome).retry


def _refusal_statuses(statuses: object) -> frozenset[int]:
    """``retry_statuses`` as a frozenset of 4xx statuses, or an error naming what is wrong."""
    if isinstance(statuses, (str, bytes)) or not isinstance(
        statuses, (set, frozenset, list, tuple)
    ):
        raise InvalidArgumentError(
            f"retry_statuses must be a set of HTTP statuses, got {type(statuses).__name__}"
        )
    items = cast("set[object] | frozenset[object] | list[object] | tuple[object, ...]", statuses)
    for status in items:
        if isinstance(status, bool) or not isinstance(status, int):
            raise InvalidArgumentError(
                f"retry_statuses must hold ints, got {type(status).__name__} {status!r}"
            )
        if not 400 <= status <= 499:
            raise InvalidArgumentError(
                f"retry_statuses holds refusals (4xx) only, got {status}: a 5xx may come after "
                "fal took a paid request, so the retry table decides those (docs/guarantees.md)"
            )
    return frozenset(cast("set[int]", set(items)))


class Backoff:
    """One call's retry clock: the per-outcome backoff count and the ``max_elapsed`` bound."""

    def __init__(self, policy: RetryPolicy, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._start = clock()
        self._last: Outcome | None = None
        self._streak = 0

    def wait(self, outcome: Outcome, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` if the time budget forbids it."""
        self._streak = self._streak + 1 if outcome is self._last else 1
        self._last = outcome
        delay = self.policy.delay(self._streak, retry_after)
        if self._clock() - self._start + delay > self.policy.max_elapsed:
            return None
        return delay


def _cell(decision: Decision) -> str:
    name = decision.error.__name__.removesuffix("Error").removeprefix("Fal") or "Fal"
    return f"{'retry' if decision.retry else '**once**'}: {name}"


def markdown_table() -> str:
    """:data:`RETRY_TABLE` as the Markdown table docs/guarantees.md carries (a test compares)."""
    outcomes = list(Outcome)
    lines = [
        "| request kind | " + " | ".join(o.value for o in outcomes) + " |",
        "|---|" + "---|" * len(outcomes),
    ]
    for kind, row in RETRY_TABLE.items():
        lines.append(f"| {kind.value} | " + " | ".join(_cell(row[o]) for o in outcomes) + " |")
    return "\n".join(lines)
