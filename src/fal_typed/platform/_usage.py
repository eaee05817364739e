"""What you spent: fal's usage over a period, summed by endpoint (``GET /v1/models/usage``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Final

from .._client import Client, check_client
from .._errors import InvalidArgumentError
from ._arguments import before, moment, number
from ._arguments import endpoint_ids as checked_ids
from ._generated.client import AsyncPlatform, Platform
from ._generated.models import GetUsageResponse, GetUsageTimeSeriesResult

__all__ = ["DEFAULT_DAYS", "UsageLine", "UsageReport", "usage", "usage_async"]


@dataclass(frozen=True)
class UsageLine:
    """One endpoint's usage at one price: ``quantity`` units of ``unit`` costing ``cost``."""

    endpoint_id: str
    unit: str
    quantity: float
    unit_price: float
    cost: float
    currency: str


@dataclass(frozen=True)
class UsageReport:
    """Usage from ``start`` to ``end`` (exclusive), one line per endpoint and price, costliest
    first."""

    start: datetime
    end: datetime
    lines: tuple[UsageLine, ...] = field(default_factory=tuple[UsageLine, ...])

    @property
    def totals(self) -> dict[str, float]:
        """The total cost per currency."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.currency] = round(totals.get(line.currency, 0.0) + line.cost, 6)
        return totals


#: The period ``usage()`` covers when given neither ``start`` nor ``days``.
DEFAULT_DAYS: Final = 30.0


def _period(start: object, end: object, days: object) -> tuple[datetime, datetime]:
    """The period asked, checked: ``start`` and ``days`` are two ways of saying where it
    begins, so both together are refused rather than one silently ignored."""
    if start is not None and days is not None:
        raise InvalidArgumentError(
            "give start or days, not both (days counts back from end, or from now)"
        )
    stop = moment("end", end) if end is not None else datetime.now(timezone.utc)
    if start is not None:
        begin = moment("start", start)
    else:
        span = number("days", DEFAULT_DAYS if days is None else days, unit="days")
        begin = before(stop, span)
    if begin >= stop:
        raise InvalidArgumentError(
            f"start ({begin.isoformat()}) must be before end ({stop.isoformat()})"
        )
    return begin, stop


def _report(start: datetime, end: datetime, pages: Iterable[GetUsageResponse]) -> UsageReport:
    sums: dict[tuple[str, str, float, str], list[float]] = {}
    rows: list[GetUsageTimeSeriesResult] = [row for page in pages for row in page.summary or ()]
    for row in rows:
        key = (row.endpoint_id, row.unit, row.unit_price, row.currency)
        totals = sums.setdefault(key, [0.0, 0.0])
        totals[0] += row.quantity
        totals[1] += row.cost_total
    lines = [
        UsageLine(endpoint_id, unit, round(quantity, 6), unit_price, round(cost, 6), currency)
        for (endpoint_id, unit, unit_price, currency), (quantity, cost) in sums.items()
    ]
    lines.sort(key=lambda line: (-line.cost, line.endpoint_id))
    return UsageReport(start, end, tuple(lines))


def _ids(value: object) -> list[str] | None:
    """The endpoints to narrow to (one id as a string, or several), or None for all. An empty
    list is refused: narrowing to nothing must not report every endpoint's spend."""
    if value is None:
        return None
    ids = checked_ids(value)
    if not ids:
        raise InvalidArgumentError("endpoint_ids is empty: pass None for every endpoint")
    return ids


def _arguments(
    start: object, end: object, days: object, ids: object, client: object
) -> tuple[datetime, datetime, list[str] | None]:
    check_client(client)
    begin, stop = _period(start, end, days)
    return begin, stop, _ids(ids)


def usage(
    *,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    days: float | None = None,
    endpoint_ids: Iterable[str] | str | None = None,
    client: Client | None = None,
) -> UsageReport:
    """What was spent from ``start`` (or ``days`` days before ``end``; default 30) to ``end``
    (default: now), by endpoint; ``endpoint_ids`` (one id, or several) narrows it. Bounds
    without an offset are UTC. Arguments are checked before anything is sent. Needs an admin
    key on fal."""
    begin, stop, ids = _arguments(start, end, days, endpoint_ids, client)
    pages = Platform(client).iter_get_usage_pages(
        start=begin, end=stop, endpoint_id=ids, expand=["summary"]
    )
    return _report(begin, stop, pages)


async def usage_async(
    *,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    days: float | None = None,
    endpoint_ids: Iterable[str] | str | None = None,
    client: Client | None = None,
) -> UsageReport:
    """Async twin of :func:`usage`."""
    begin, stop, ids = _arguments(start, end, days, endpoint_ids, client)
    pages = AsyncPlatform(client).iter_get_usage_pages(
        start=begin, end=stop, endpoint_id=ids, expand=["summary"]
    )
    return _report(begin, stop, [page async for page in pages])
