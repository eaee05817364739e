"""Settling doubts: was a request that may have been accepted accepted? fal's history says.

A submit whose answer was lost (:class:`~fal_typed.PossiblyAcceptedError`, a batch journal row
left "submitting" by a crash) must be neither lost nor run twice. fal's request history
(``GET /v1/models/requests/by-endpoint?expand=payloads``) lists each request of an endpoint with
the input it received; the requests sent since shortly before the submit are compared with the
body that was sent (JSON equality: the same keys, values and types, numbers by value):

- a match is :class:`Adopted`: that request is the one sent, its result can be fetched by id
  (``endpoint.handle(adopted.request_id).get()``), and nothing is sent again;
- no match once fal's history has caught up (``settle_delay`` seconds after the submit: the
  history is an index that lags) is :class:`NotFound`: fal never received it, sending it again
  is safe;
- no match before that is :class:`NotYetKnown`: ask again after ``retry_after`` seconds.

:func:`settle` asks once (what a batch journal resuming calls for each doubtful row);
:func:`reconcile` keeps asking until the answer is known, from an :class:`Attempt` or the error
itself. ``exclude`` names request ids already adopted by other attempts, so two identical inputs
sent twice on purpose each find their own request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final, TypeAlias, cast

from .._client import Client
from .._errors import InvalidArgumentError, PossiblyAcceptedError
from ._generated.client import AsyncPlatform, Platform
from ._generated.models import ListRequestsByEndpointItem

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_SETTLE_DELAY",
    "Adopted",
    "Attempt",
    "NotFound",
    "NotYetKnown",
    "Settlement",
    "reconcile",
    "reconcile_async",
    "same_json",
    "settle",
    "settle_all_async",
    "settle_async",
]

#: Seconds after a submit by which fal's history is taken to hold it, if it was accepted. fal
#: does not document its index's lag; two minutes is generous. Lower it at your own risk.
DEFAULT_SETTLE_DELAY: Final = 120.0
#: How far around the recorded submit time a request may have been sent (clocks differ).
DEFAULT_CLOCK_SKEW: Final = 60.0
_PAGE: Final = 100


@dataclass(frozen=True)
class Attempt:
    """A request that may have been accepted: the endpoint, the JSON body sent, and when it was
    sent (the time taken just before sending; a naive time is local time)."""

    endpoint_id: str
    body: Mapping[str, Any]
    sent_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.endpoint_id, str) or not self.endpoint_id.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(
                f"endpoint_id must be a non-empty string, got {self.endpoint_id!r}"
            )
        object.__setattr__(self, "sent_at", _aware(self.sent_at))
        try:
            json.dumps(self.body)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"the body must be JSON (what was sent): {exc}") from None

    @classmethod
    def from_error(
        cls,
        error: PossiblyAcceptedError,
        *,
        body: Mapping[str, Any] | None = None,
        sent_at: datetime | None = None,
        endpoint_id: str | None = None,
    ) -> Attempt:
        """The attempt a :class:`PossiblyAcceptedError` describes; what the error does not
        carry (``endpoint_id``, the ``payload`` sent, ``sent_at``) must be given."""
        endpoint_id = endpoint_id or _attribute(error, "endpoint_id", str)
        if body is None:
            payload = _attribute(error, "payload", bytes)
            body = _json_object(payload) if payload is not None else None
        sent_at = sent_at or _attribute(error, "sent_at", datetime)
        missing = [
            name
            for name, value in (("endpoint_id", endpoint_id), ("body", body), ("sent_at", sent_at))
            if value is None
        ]
        if missing or endpoint_id is None or body is None or sent_at is None:
            raise InvalidArgumentError(
                f"the error does not say {', '.join(missing)}: pass them (or an Attempt)"
            )
        return cls(endpoint_id, body, sent_at)


@dataclass(frozen=True)
class Adopted:
    """The attempt was accepted: ``request_id`` is its request (fetch its result by id)."""

    endpoint_id: str
    request_id: str
    record: ListRequestsByEndpointItem


@dataclass(frozen=True)
class NotFound:
    """fal's history has caught up and holds no request with this body: safe to send again."""

    endpoint_id: str
    searched_from: datetime
    checked_at: datetime


@dataclass(frozen=True)
class NotYetKnown:
    """No match yet. ``retry_after``: seconds until the history should have caught up; None
    when waiting will not tell (requests in the window without a stored input: compare them
    by hand, ``unreadable`` names them)."""

    endpoint_id: str
    retry_after: float | None
    unreadable: tuple[str, ...] = ()


Settlement: TypeAlias = "Adopted | NotFound | NotYetKnown"


def same_json(a: object, b: object) -> bool:
    """JSON equality: the same keys, list order and types, numbers compared by value (``1`` and
    ``1.0`` are equal, ``true`` and ``1`` are not; NaN is nothing JSON can carry)."""
    same_kind = type(a) is type(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return same_kind and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        left = cast("dict[object, object]", a)
        right = cast("dict[object, object]", b)
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(a, list) and isinstance(b, list):
        first, second = cast("list[object]", a), cast("list[object]", b)
        return len(first) == len(second) and all(
            same_json(x, y) for x, y in zip(first, second, strict=True)
        )
    return same_kind and a == b


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"expected a datetime, got {moment!r}")
    return moment if moment.tzinfo is not None else moment.astimezone(timezone.utc)


def _parsed(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _attribute(error: PossiblyAcceptedError, name: str, kind: type[Any]) -> Any:
    value = getattr(error, name, None)
    return value if isinstance(value, kind) else None


def _json_object(payload: bytes) -> Mapping[str, Any] | None:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _normalised(body: Mapping[str, Any]) -> Any:
    """The body as fal received it: through JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(body, ensure_ascii=False))


class _Search:
    """One look at the history for one attempt."""

    def __init__(
        self,
        attempt: Attempt,
        *,
        settle_delay: float,
        clock_skew: float,
        exclude: Collection[str],
    ) -> None:
        if settle_delay < 0 or clock_skew < 0:
            raise InvalidArgumentError("settle_delay and clock_skew must not be negative")
        self.attempt = attempt
        self.body = _normalised(attempt.body)
        self.settle_delay = settle_delay
        # Only a lower bound: fal's ``sent_at`` may be when a queued request reached a runner,
        # long after it was submitted.
        self.start = attempt.sent_at - timedelta(seconds=clock_skew)
        self.exclude = frozenset(exclude)
        self.matches: list[tuple[timedelta, ListRequestsByEndpointItem]] = []
        self.unreadable: list[str] = []

    def arguments(self) -> dict[str, Any]:
        return {
            "endpoint_id": [self.attempt.endpoint_id],
            "start": self.start,
            "expand": ["payloads"],
            "limit": _PAGE,
        }

    def read(self, items: Iterable[ListRequestsByEndpointItem]) -> None:
        for item in items:
            if item.request_id in self.exclude:
                continue
            sent = _parsed(item.sent_at)
            if item.json_input is None:
                self.unreadable.append(item.request_id)
            elif same_json(item.json_input, self.body):
                distance = abs(sent - self.attempt.sent_at) if sent is not None else timedelta.max
                self.matches.append((distance, item))

    def outcome(self, now: datetime) -> Settlement:
        endpoint_id = self.attempt.endpoint_id
        if self.matches:
            # Identical inputs sent on purpose around the same time: ours is the one sent
            # nearest to when we sent it (``exclude`` takes out those already adopted).
            _, chosen = min(self.matches, key=lambda match: (match[0], match[1].request_id))
            return Adopted(endpoint_id, chosen.request_id, chosen)
        caught_up = self.attempt.sent_at + timedelta(seconds=self.settle_delay)
        if now < caught_up:
            return NotYetKnown(endpoint_id, (caught_up - now).total_seconds())
        if self.unreadable:
            return NotYetKnown(endpoint_id, None, tuple(self.unreadable))
        return NotFound(endpoint_id, self.start, now)


def settle(
    attempt: Attempt,
    *,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    exclude: Collection[str] = (),
    client: Client | None = None,
) -> Settlement:
    """Look once: :class:`Adopted`, :class:`NotFound` or :class:`NotYetKnown` (see the module
    docstring)."""
    search = _Search(attempt, settle_delay=settle_delay, clock_skew=clock_skew, exclude=exclude)
    now = datetime.now(timezone.utc)
    search.read(Platform(client).iter_list_requests_by_endpoint(**search.arguments()))
    return search.outcome(now)


async def settle_async(
    attempt: Attempt,
    *,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    exclude: Collection[str] = (),
    client: Client | None = None,
) -> Settlement:
    """Async twin of :func:`settle`."""
    search = _Search(attempt, settle_delay=settle_delay, clock_skew=clock_skew, exclude=exclude)
    now = datetime.now(timezone.utc)
    items = AsyncPlatform(client).iter_list_requests_by_endpoint(**search.arguments())
    search.read(await _collect(items))
    return search.outcome(now)


async def settle_all_async(
    attempts: Sequence[Attempt],
    *,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    exclude: Collection[str] = (),
    client: Client | None = None,
) -> list[Settlement]:
    """Look once for many attempts of one endpoint (a batch journal resuming): the history is
    read once, from before the earliest attempt, and each attempt is answered in order of when
    it was sent; a request adopted by one is excluded for the others (as ``exclude`` is for
    all), so identical inputs never adopt the same request."""
    if not attempts:
        return []
    endpoints = {a.endpoint_id for a in attempts}
    if len(endpoints) != 1:
        raise InvalidArgumentError(f"attempts of one endpoint at a time, got {sorted(endpoints)}")
    excluded = set(exclude)
    searches = [
        _Search(a, settle_delay=settle_delay, clock_skew=clock_skew, exclude=()) for a in attempts
    ]
    earliest = min(searches, key=lambda s: s.start)
    now = datetime.now(timezone.utc)
    items = await _collect(
        AsyncPlatform(client).iter_list_requests_by_endpoint(**earliest.arguments())
    )
    outcomes: list[Settlement | None] = [None] * len(attempts)
    for index in sorted(range(len(attempts)), key=lambda i: attempts[i].sent_at):
        search = searches[index]
        search.exclude = frozenset(excluded)
        search.read(items)
        outcome = search.outcome(now)
        if isinstance(outcome, Adopted):
            excluded.add(outcome.request_id)
        outcomes[index] = outcome
    return [o for o in outcomes if o is not None]


async def _collect(
    items: AsyncIterator[ListRequestsByEndpointItem],
) -> list[ListRequestsByEndpointItem]:
    return [item async for item in items]


def _attempt(
    attempt: Attempt | PossiblyAcceptedError,
    endpoint_id: str | None,
    body: Mapping[str, Any] | None,
    sent_at: datetime | None,
) -> Attempt:
    if isinstance(attempt, Attempt):
        return attempt
    if isinstance(attempt, PossiblyAcceptedError):  # pyright: ignore[reportUnnecessaryIsInstance]
        return Attempt.from_error(attempt, endpoint_id=endpoint_id, body=body, sent_at=sent_at)
    raise InvalidArgumentError(
        f"reconcile() takes an Attempt or a PossiblyAcceptedError, got {type(attempt).__name__}"
    )


def _pause(outcome: NotYetKnown, poll_interval: float, deadline: float | None) -> float | None:
    """How long to sleep before looking again; None to stop and answer ``outcome``."""
    if outcome.retry_after is None:
        return None
    pause = min(poll_interval, outcome.retry_after)
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        pause = min(pause, left)
    return max(pause, 0.0)


def reconcile(
    attempt: Attempt | PossiblyAcceptedError,
    *,
    endpoint_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    sent_at: datetime | None = None,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    poll_interval: float = 5.0,
    timeout: float | None = None,
    exclude: Collection[str] = (),
    client: Client | None = None,
) -> Settlement:
    """Look until the answer is known (at most until ``settle_delay`` after the submit, or
    ``timeout`` seconds): :class:`Adopted` or :class:`NotFound`, or :class:`NotYetKnown` when
    ``timeout`` ran out first or waiting cannot tell.

    ``attempt`` is an :class:`Attempt` or the :class:`~fal_typed.PossiblyAcceptedError` itself
    (``endpoint_id``, ``body`` and ``sent_at`` complete what it does not carry).
    """
    if poll_interval <= 0:
        raise InvalidArgumentError(f"poll_interval must be positive, got {poll_interval}")
    resolved = _attempt(attempt, endpoint_id, body, sent_at)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        outcome = settle(
            resolved,
            settle_delay=settle_delay,
            clock_skew=clock_skew,
            exclude=exclude,
            client=client,
        )
        if not isinstance(outcome, NotYetKnown):
            return outcome
        pause = _pause(outcome, poll_interval, deadline)
        if pause is None:
            return outcome
        time.sleep(pause)


async def reconcile_async(
    attempt: Attempt | PossiblyAcceptedError,
    *,
    endpoint_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    sent_at: datetime | None = None,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    poll_interval: float = 5.0,
    timeout: float | None = None,
    exclude: Collection[str] = (),
    client: Client | None = None,
) -> Settlement:
    """Async twin of :func:`reconcile`."""
    if poll_interval <= 0:
        raise InvalidArgumentError(f"poll_interval must be positive, got {poll_interval}")
    resolved = _attempt(attempt, endpoint_id, body, sent_at)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        outcome = await settle_async(
            resolved,
            settle_delay=settle_delay,
            clock_skew=clock_skew,
            exclude=exclude,
            client=client,
        )
        if not isinstance(outcome, NotYetKnown):
            return outcome
        pause = _pause(outcome, poll_interval, deadline)
        if pause is None:
            return outcome
        await asyncio.sleep(pause)
