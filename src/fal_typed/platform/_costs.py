"""Prices before you spend: unit prices, and what a number of calls will cost.

``prices(ids)`` asks ``GET /v1/models/pricing`` (50 ids per request, as fal allows) and
``estimate_cost(id, rows=N)`` asks ``POST /v1/models/pricing/estimate``: by default fal's
historical price per call (what ``N`` calls of this endpoint have cost on average, whatever
their units), or with ``units_per_call`` the unit price times the units. Both use the client's
key, retries and ``api_url``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .._client import Client, check_client
from .._errors import InvalidArgumentError, ProtocolError
from ._arguments import endpoint_id as checked_id
from ._arguments import endpoint_ids as checked_ids
from ._arguments import number
from ._generated.client import AsyncPlatform, Platform
from ._generated.models import (
    EstimatePricingHistoricalApiPrice,
    EstimatePricingHistoricalApiPriceEndpointsValue,
    EstimatePricingResponse,
    EstimatePricingUnitPrice,
    EstimatePricingUnitPriceEndpointsValue,
    Price,
)

__all__ = [
    "Estimate",
    "estimate_cost",
    "estimate_cost_async",
    "format_cost",
    "prices",
    "prices_async",
]

_IDS_PER_REQUEST = 50
EstimateBasis = Literal["historical_api_price", "unit_price"]


def format_cost(amount: float, currency: str = "USD") -> str:
    """``$1.25``, ``$0.025``, ``$0.00000015``, ``1,200.00 EUR``: at least cents, and every digit
    that counts. A unit price per token or per second is often below a millionth of a dollar:
    cut at six places it read ``$0.00`` (free) or ``$0.000013`` for ``$0.0000125``. Digits past
    the twelfth significant one (a float sum's ``0.30000000000000004``) are not shown."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"amount must be a number, got {type(amount).__name__}")
    if not math.isfinite(amount):
        raise InvalidArgumentError(f"amount must be a finite number, got {amount!r}")
    if not isinstance(currency, str) or not currency.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"currency must be a currency code, got {currency!r}")
    exact = Decimal(f"{abs(amount):.12g}")
    whole, _, fraction = format(exact, "f").partition(".")
    text = f"{int(whole):,}.{fraction.rstrip('0').ljust(2, '0')}"
    sign = "-" if amount < 0 and exact else ""
    return f"{sign}${text}" if currency.upper() == "USD" else f"{sign}{text} {currency.upper()}"


@dataclass(frozen=True)
class Estimate:
    """What ``calls`` calls of ``endpoint_id`` are estimated to cost, and on what basis.

    ``price`` is the endpoint's unit price (for display: "$0.025 per image").
    """

    endpoint_id: str
    calls: int
    total_cost: float
    currency: str
    basis: EstimateBasis
    price: Price

    @property
    def per_call(self) -> float:
        return self.total_cost / self.calls if self.calls else 0.0

    def __str__(self) -> str:
        unit = format_cost(self.price.unit_price, self.price.currency)
        return (
            f"{format_cost(self.total_cost, self.currency)} for {self.calls} call"
            f"{'' if self.calls == 1 else 's'} of {self.endpoint_id} ({unit} per {self.price.unit})"
        )


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + _IDS_PER_REQUEST]) for i in range(0, len(ids), _IDS_PER_REQUEST)]


def _in_order(ids: Sequence[str], found: Iterable[Price]) -> dict[str, Price]:
    by_id = {price.endpoint_id: price for price in found}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ProtocolError(f"fal's pricing answer lacks {', '.join(missing)}")
    return {i: by_id[i] for i in ids}


def prices(endpoint_ids: Iterable[str] | str, *, client: Client | None = None) -> dict[str, Price]:
    """The unit price of each endpoint, in the order given (an unknown id raises
    :class:`~fal_typed.NotFoundError`)."""
    check_client(client)
    ids = checked_ids(endpoint_ids)
    platform = Platform(client)
    found = [p for chunk in _chunks(ids) for p in platform.get_pricing(endpoint_id=chunk).prices]
    return _in_order(ids, found)


async def prices_async(
    endpoint_ids: Iterable[str] | str, *, client: Client | None = None
) -> dict[str, Price]:
    """Async twin of :func:`prices`."""
    check_client(client)
    ids = checked_ids(endpoint_ids)
    platform = AsyncPlatform(client)
    found: list[Price] = []
    for chunk in _chunks(ids):
        found.extend((await platform.get_pricing(endpoint_id=chunk)).prices)
    return _in_order(ids, found)


def _estimate_body(
    endpoint_id: object, rows: int, units_per_call: float | None, client: object
) -> tuple[str, EstimatePricingHistoricalApiPrice | EstimatePricingUnitPrice]:
    """The endpoint and the estimate's body, every argument checked before any request."""
    check_client(client)
    endpoint_id = checked_id(endpoint_id)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"rows must be a positive number of calls, got {rows!r}")
    return endpoint_id, _body(endpoint_id, rows, units_per_call)


def _body(
    endpoint_id: str, rows: int, units_per_call: float | None
) -> EstimatePricingHistoricalApiPrice | EstimatePricingUnitPrice:
    if units_per_call is None:
        return EstimatePricingHistoricalApiPrice(
            estimate_type="historical_api_price",
            endpoints={
                endpoint_id: EstimatePricingHistoricalApiPriceEndpointsValue(call_quantity=rows)
            },
        )
    units = number("units_per_call", units_per_call)
    try:
        quantity = rows * units
    except OverflowError:  # rows beyond any float
        quantity = math.inf
    if not math.isfinite(quantity):
        raise InvalidArgumentError(
            f"rows * units_per_call must be a finite number of units, got {rows} * {units:g}"
        )
    return EstimatePricingUnitPrice(
        estimate_type="unit_price",
        endpoints={endpoint_id: EstimatePricingUnitPriceEndpointsValue(unit_quantity=quantity)},
    )


def _estimate(
    endpoint_id: str, rows: int, answer: EstimatePricingResponse, price: Price
) -> Estimate:
    basis: EstimateBasis = (
        "unit_price" if answer.estimate_type == "unit_price" else "historical_api_price"
    )
    return Estimate(endpoint_id, rows, answer.total_cost, answer.currency, basis, price)


def estimate_cost(
    endpoint_id: str,
    rows: int = 1,
    *,
    units_per_call: float | None = None,
    client: Client | None = None,
) -> Estimate:
    """What ``rows`` calls of ``endpoint_id`` will cost.

    By default fal's historical price per call; with ``units_per_call`` (e.g. images per call)
    the unit price times ``rows * units_per_call``. Checked before anything is sent.
    """
    endpoint_id, body = _estimate_body(endpoint_id, rows, units_per_call, client)
    platform = Platform(client)
    answer = platform.estimate_pricing(body)
    price = _in_order([endpoint_id], platform.get_pricing(endpoint_id=[endpoint_id]).prices)
    return _estimate(endpoint_id, rows, answer, price[endpoint_id])


async def estimate_cost_async(
    endpoint_id: str,
    rows: int = 1,
    *,
    units_per_call: float | None = None,
    client: Client | None = None,
) -> Estimate:
    """Async twin of :func:`estimate_cost`."""
    endpoint_id, body = _estimate_body(endpoint_id, rows, units_per_call, client)
    platform = AsyncPlatform(client)
    answer = await platform.estimate_pricing(body)
    found = (await platform.get_pricing(endpoint_id=[endpoint_id])).prices
    return _estimate(endpoint_id, rows, answer, _in_order([endpoint_id], found)[endpoint_id])
