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

from .._client import Client, check_client
from .._errors import InvalidArgumentError, PossiblyAcceptedError
from . import _arguments as arguments
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
    sent (the time taken just before sending: a timezone-aware datetime, or Unix seconds as
    :class:`~fal_typed.PossiblyAcceptedError` carries it; a naive datetime is refused, since
    read in the wrong zone it would search the wrong hours). ``failed_at``, when known, is when
    the answer was lost: fal may have taken the request up to then, so its history is waited
    for from then."""

    endpoint_id: str
    body: Mapping[str, Any]
    sent_at: datetime
    failed_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint_id", arguments.endpoint_id(self.endpoint_id))
        arguments.json_object(self.body, "body")
        object.__setattr__(self, "sent_at", arguments.instant("sent_at", self.sent_at))
        if self.failed_at is not None:
            object.__setattr__(self, "failed_at", arguments.instant("failed_at", self.failed_at))
        try:
            json.dumps(self.body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"the body must be JSON (what was sent): {exc}") from None

    @classmethod
    def from_error(
        cls,
        error: PossiblyAcceptedError,
        *,
        body: Mapping[str, Any] | None = None,
        sent_at: datetime | float | None = None,
        endpoint_id: str | None = None,
    ) -> Attempt:
        """The attempt a :class:`PossiblyAcceptedError` describes: its ``endpoint_id``,
        ``sent_at`` and ``failed_at`` (Unix seconds) are taken from it; what it does not carry
        (the body sent: it keeps only its hash) must be given. Arguments given win."""
        if not isinstance(error, PossiblyAcceptedError):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(
                f"expected a PossiblyAcceptedError, got {type(error).__name__}"
            )
        if endpoint_id is None:
            endpoint_id = _attribute(error, "endpoint_id", str)
        if body is None:
            payload = _attribute(error, "payload", bytes)
            body = _json_object(payload) if payload is not None else None
        when: object = sent_at if sent_at is not None else _carried(error, "sent_at")
        failed_at = _carried(error, "failed_at")
        missing = [
            name
            for name, value in (("endpoint_id", endpoint_id), ("body", body), ("sent_at", when))
            if value is None
        ]
        if missing or endpoint_id is None or body is None or when is None:
            raise InvalidArgumentError(
                f"the error does not say {', '.join(missing)}: pass them (or an Attempt)"
            )
        return cls(
            endpoint_id,
            body,
            arguments.instant("sent_at", when),
            None if failed_at is None else arguments.instant("failed_at", failed_at),
        )


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


def _parsed(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _attribute(error: PossiblyAcceptedError, name: str, kind: type[Any]) -> Any:
    value = getattr(error, name, None)
    return value if isinstance(value, kind) else None


def _carried(error: PossiblyAcceptedError, name: str) -> datetime | float | None:
    """A moment the error carries: Unix seconds as the client records them (a datetime too)."""
    value = getattr(error, name, None)
    if isinstance(value, datetime) or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    ):
        return value
    return None


def _json_object(payload: bytes) -> Mapping[str, Any] | None:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _normalised(body: Mapping[str, Any]) -> Any:
    """The body as fal received it: through JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(body, ensure_ascii=False))


@dataclass(frozen=True)
class _Look:
    """How a look at the history is made: the options of :func:`settle`, checked."""

    settle_delay: float
    clock_skew: float
    exclude: frozenset[str]


def _look(settle_delay: object, clock_skew: object, exclude: object, client: object) -> _Look:
    """The options every settle and reconcile takes, checked before any request (``exclude``:
    one request id as a string, or several)."""
    check_client(client)
    return _Look(
        arguments.seconds("settle_delay", settle_delay, positive=False),
        arguments.seconds("clock_skew", clock_skew, positive=False),
        arguments.request_ids(exclude, "exclude"),
    )


def _an_attempt(attempt: object, function: str) -> Attempt:
    if not isinstance(attempt, Attempt):
        raise InvalidArgumentError(
            f"{function}() takes an Attempt, got {type(attempt).__name__} (reconcile() also "
            "takes a PossiblyAcceptedError)"
        )
    return attempt


class _Search:
    """One look at the history for one attempt."""

    def __init__(self, attempt: Attempt, look: _Look, exclude: Collection[str]) -> None:
        self.attempt = attempt
        self.body = _normalised(attempt.body)
        self.settle_delay = look.settle_delay
        # Only a lower bound: fal's ``sent_at`` may be when a queued request reached a runner,
        # long after it was submitted.
        self.start = attempt.sent_at - timedelta(seconds=look.clock_skew)
        # fal may have taken the request as late as when its answer was lost.
        self.last_sent = max(attempt.sent_at, attempt.failed_at or attempt.sent_at)
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
        caught_up = self.last_sent + timedelta(seconds=self.settle_delay)
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
    exclude: Collection[str] | str = (),
    client: Client | None = None,
) -> Settlement:
    """Look once: :class:`Adopted`, :class:`NotFound` or :class:`NotYetKnown` (see the module
    docstring). Arguments are checked before anything is sent."""
    look = _look(settle_delay, clock_skew, exclude, client)
    return _settle(_an_attempt(attempt, "settle"), look, client)


def _settle(attempt: Attempt, look: _Look, client: Client | None) -> Settlement:
    search = _Search(attempt, look, look.exclude)
    now = datetime.now(timezone.utc)
    search.read(Platform(client).iter_list_requests_by_endpoint(**search.arguments()))
    return search.outcome(now)


async def settle_async(
    attempt: Attempt,
    *,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    exclude: Collection[str] | str = (),
    client: Client | None = None,
) -> Settlement:
    """Async twin of :func:`settle`."""
    look = _look(settle_delay, clock_skew, exclude, client)
    return await _settle_async(_an_attempt(attempt, "settle_async"), look, client)


async def _settle_async(attempt: Attempt, look: _Look, client: Client | None) -> Settlement:
    search = _Search(attempt, look, look.exclude)
    now = datetime.now(timezone.utc)
    items = AsyncPlatform(client).iter_list_requests_by_endpoint(**search.arguments())
    search.read(await _collect(items))
    return search.outcome(now)


async def settle_all_async(
    attempts: Sequence[Attempt],
    *,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    exclude: Collection[str] | str = (),
    client: Client | None = None,
) -> list[Settlement]:
    """Look once for many attempts of one endpoint (a batch journal resuming): the history is
    read once, from before the earliest attempt, and each attempt is answered in order of when
    it was sent; a request adopted by one is excluded for the others (as ``exclude`` is for
    all), so identical inputs never adopt the same request."""
    look = _look(settle_delay, clock_skew, exclude, client)
    attempts = [_an_attempt(a, "settle_all_async") for a in attempts]
    if not attempts:
        return []
    endpoints = {a.endpoint_id for a in attempts}
    if len(endpoints) != 1:
        raise InvalidArgumentError(f"attempts of one endpoint at a time, got {sorted(endpoints)}")
    excluded = set(look.exclude)
    searches = [_Search(a, look, ()) for a in attempts]
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
    sent_at: datetime | float | None,
) -> Attempt:
    if isinstance(attempt, Attempt):
        given = [
            name
            for name, value in (("endpoint_id", endpoint_id), ("body", body), ("sent_at", sent_at))
            if value is not None
        ]
        if given:  # never silently ignored: which one was meant?
            raise InvalidArgumentError(
                f"{', '.join(given)} complete(s) a PossiblyAcceptedError; an Attempt already "
                "holds them"
            )
        return attempt
    if isinstance(attempt, PossiblyAcceptedError):  # pyright: ignore[reportUnnecessaryIsInstance]
        return Attempt.from_error(attempt, endpoint_id=endpoint_id, body=body, sent_at=sent_at)
    raise InvalidArgumentError(
        f"reconcile() takes an Attempt or a PossiblyAcceptedError, got {type(attempt).__name__}"
    )


def _waiting(poll_interval: object, timeout: object) -> tuple[float, float | None]:
    """``poll_interval`` and ``timeout`` (None: no limit but ``settle_delay``), checked."""
    interval = arguments.seconds("poll_interval", poll_interval)
    return interval, None if timeout is None else arguments.seconds("timeout", timeout)


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
    sent_at: datetime | float | None = None,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    poll_interval: float = 5.0,
    timeout: float | None = None,
    exclude: Collection[str] | str = (),
    client: Client | None = None,
) -> Settlement:
    """Look until the answer is known (at most until ``settle_delay`` after the submit, or
    ``timeout`` seconds): :class:`Adopted` or :class:`NotFound`, or :class:`NotYetKnown` when
    ``timeout`` ran out first or waiting cannot tell.

    ``attempt`` is an :class:`Attempt` or the :class:`~fal_typed.PossiblyAcceptedError` itself,
    whose ``endpoint_id``, ``sent_at`` and ``failed_at`` are used; ``body`` (the error keeps
    only its hash) and, to override the error's, ``endpoint_id`` and ``sent_at`` (a
    timezone-aware datetime or Unix seconds) complete it. Arguments are checked before
    anything is sent.
    """
    look = _look(settle_delay, clock_skew, exclude, client)
    poll_interval, timeout = _waiting(poll_interval, timeout)
    resolved = _attempt(attempt, endpoint_id, body, sent_at)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        outcome = _settle(resolved, look, client)
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
    sent_at: datetime | float | None = None,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    poll_interval: float = 5.0,
    timeout: float | None = None,
    exclude: Collection[str] | str = (),
    client: Client | None = None,
) -> Settlement:
    """Async twin of :func:`reconcile`."""
    look = _look(settle_delay, clock_skew, exclude, client)
    poll_interval, timeout = _waiting(poll_interval, timeout)
    resolved = _attempt(attempt, endpoint_id, body, sent_at)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        outcome = await _settle_async(resolved, look, client)
        if not isinstance(outcome, NotYetKnown):
            return outcome
        pause = _pause(outcome, poll_interval, deadline)
        if pause is None:
            return outcome
        await asyncio.sleep(pause)
