"""Settling a batch's ambiguous rows against fal's request history before anything is re-sent.

A row is ambiguous when its submit may or may not have reached fal: the run died between the
``submitting`` commit and the answer, or the answer was lost (``PossiblyAcceptedError``). fal's
history (:mod:`fal_typed.platform`) holds every request it accepted, with its input, so each such
row is looked for among the endpoint's requests since shortly before it was sent:

- found: the row adopts that request id (``submitted``); its result is fetched, it is not sent;
- absent once the history has caught up (``settle_delay`` after it became ambiguous: fal may
  have taken it until then, a submit's attempts running on after it was sent): ``pending``,
  safe to send (once);
- not known yet: looked for again until it is; the decision is committed before anything is
  sent.

Request ids the journal already holds are never adopted (two identical inputs never share one).
Rows that cannot be settled (the history is unavailable, e.g. a key without access to it; or
inputs with local files, sent as upload URLs the journal does not know) stay ambiguous and are
named, never re-sent unasked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final, Literal

from .._client import Client
from .._errors import FalError
from ._journal import JournalRow
from ._keys import has_files

if TYPE_CHECKING:
    from ..platform._reconcile import Attempt

__all__ = ["DEFAULT_SETTLE_DELAY", "HistorySettler", "Resolved", "SettleReport"]

#: As :data:`fal_typed.platform.DEFAULT_SETTLE_DELAY` (the platform package is imported only
#: when a batch has rows to settle: it is large).
DEFAULT_SETTLE_DELAY: Final = 120.0
_CLOCK_SKEW: Final = 60.0

Resolve = Callable[[JournalRow, "str | None"], Awaitable["Resolved"]]
Resolved = Literal["done", "refused", "gone"]
"""What committing a decision did: ``done``; ``refused`` (the request is another row's, or a row
with the same input is being sent: look again); ``gone`` (the row is no longer ambiguous: another
worker settled it)."""


@dataclass
class SettleReport:
    """What settling did: rows adopted (awaited by id), rows found absent (sent again), rows
    left ambiguous and why (``problem``)."""

    adopted: int = 0
    absent: int = 0
    unsettled: list[str] = field(default_factory=list[str])
    problem: str | None = None


@dataclass(frozen=True)
class HistorySettler:
    """Settles ambiguous rows from fal's request history (the client's ``api_url``).

    ``settle_delay``: seconds after a submit by which the history holds it, if fal accepted it
    (fal's index lags; the local server's ``history_delay`` must be below it).
    ``poll_interval``: how often to look again while some rows are not known yet.
    """

    client: Client
    settle_delay: float = DEFAULT_SETTLE_DELAY
    clock_skew: float = _CLOCK_SKEW
    poll_interval: float = 2.0

    async def settle(
        self,
        endpoint_id: str,
        rows: Sequence[JournalRow],
        known: Callable[[], Awaitable[Collection[str]]],
        resolve: Resolve,
        still_ambiguous: Callable[[], Awaitable[Collection[str]]] | None = None,
        on_wait: Callable[[int, float], object] | None = None,
    ) -> SettleReport:
        """Settle ``rows``, committing each decision through ``resolve(row, request_id|None)``
        as soon as it is made; ``known()``: the request ids the journal holds (asked again on
        every look: other workers adopt and send meanwhile); ``still_ambiguous()``: the slots
        still ambiguous (rows another worker settled or sent meanwhile are dropped)."""
        from ..platform._reconcile import Adopted, Attempt, NotFound, settle_all_async

        report = SettleReport()
        waiting: list[tuple[JournalRow, Attempt]] = []
        for row in rows:
            if row.input is None or row.sent_at is None or has_files(row.input):
                report.unsettled.append(row.key)
                continue
            sent_at = datetime.fromtimestamp(row.sent_at, timezone.utc)
            # fal may have taken the request until the row became ambiguous (a submit retried
            # for a while, then its answer lost; or cut off by a crash, noticed at the next
            # start), not only at sent_at: its history is waited for from then.
            failed_at = datetime.fromtimestamp(max(row.updated_at or 0, row.sent_at), timezone.utc)
            waiting.append((row, Attempt(endpoint_id, row.input, sent_at, failed_at)))
        if report.unsettled:
            report.problem = "inputs with local files cannot be matched to fal's history"
        first = True
        while waiting:
            if still_ambiguous is not None and not first:
                left = set(await still_ambiguous())
                waiting = [(row, attempt) for row, attempt in waiting if row.slot in left]
                if not waiting:
                    break
            first = False
            excluded = await known()
            try:
                outcomes = await settle_all_async(
                    [attempt for _, attempt in waiting],
                    settle_delay=self.settle_delay,
                    clock_skew=self.clock_skew,
                    exclude=excluded,
                    client=self.client,
                )
            except FalError as exc:
                report.problem = f"fal's request history is unavailable: {exc}"
                report.unsettled.extend(row.key for row, _ in waiting)
                return report
            later: list[tuple[JournalRow, Attempt]] = []
            pause = 0.0
            for (row, attempt), outcome in zip(waiting, outcomes, strict=True):
                if isinstance(outcome, Adopted):
                    done = await resolve(row, outcome.request_id)
                    if done == "done":
                        report.adopted += 1
                    elif done == "refused":  # look again once the journal has moved on
                        later.append((row, attempt))
                elif isinstance(outcome, NotFound):
                    if await resolve(row, None) == "done":
                        report.absent += 1
                elif outcome.retry_after is None:
                    report.unsettled.append(row.key)
                    report.problem = (
                        "fal's history holds requests without a stored input in the window: "
                        f"{', '.join(outcome.unreadable[:5])}"
                    )
                else:
                    later.append((row, attempt))
                    pause = max(pause, outcome.retry_after)
            waiting = later
            if waiting:
                wait = min(self.poll_interval, pause) if pause > 0 else self.poll_interval
                if on_wait is not None and pause > 0:
                    on_wait(len(waiting), pause)
                await asyncio.sleep(wait)
        return report
