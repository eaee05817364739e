"""What you spent: fal's usage over a period, summed by endpoint (``GET /v1/models/usage``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from .._client import Client
from .._errors import InvalidArgumentError
from ._generated.client import AsyncPlatform, Platform
from ._generated.models import GetUsageResponse, GetUsageTimeSeriesResult

__all__ = ["UsageLine", "UsageReport", "usage", "usage_async"]


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


def _moment(name: str, value: datetime | date | str) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise InvalidArgumentError(
                f"{name} must be an ISO 8601 date or date-time, got {text!r}"
            ) from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _period(
    start: datetime | date | str | None, end: datetime | date | str | None, days: float
) -> tuple[datetime, datetime]:
    stop = _moment("end", end) if end is not None else datetime.now(timezone.utc)
    begin = _moment("start", start) if start is not None else stop - timedelta(days=days)
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


def _ids(endpoint_ids: Sequence[str] | None) -> list[str] | None:
    return list(endpoint_ids) if endpoint_ids else None


def usage(
    *,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    days: float = 30,
    endpoint_ids: Sequence[str] | None = None,
    client: Client | None = None,
) -> UsageReport:
    """What was spent from ``start`` to ``end`` (default: the last ``days`` days up to now),
    by endpoint; ``endpoint_ids`` narrows it. Needs an admin key on fal."""
    begin, stop = _period(start, end, days)
    pages = Platform(client).iter_get_usage_pages(
        start=begin, end=stop, endpoint_id=_ids(endpoint_ids), expand=["summary"]
    )
    return _report(begin, stop, pages)


async def usage_async(
    *,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    days: float = 30,
    endpoint_ids: Sequence[str] | None = None,
    client: Client | None = None,
) -> UsageReport:
    """Async twin of :func:`usage`."""
    begin, stop = _period(start, end, days)
    pages = AsyncPlatform(client).iter_get_usage_pages(
        start=begin, end=stop, endpoint_id=_ids(endpoint_ids), expand=["summary"]
    )
    return _report(begin, stop, [page async for page in pages])
