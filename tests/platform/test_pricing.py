"""Prices before you spend: unit prices and estimates, over sockets against the local server's
price table, through the helpers and through the generated client they use."""

from __future__ import annotations

import pytest

from fal_typed import Client, InputValidationError, InvalidArgumentError, NotFoundError
from fal_typed.platform import (
    AsyncPlatform,
    Estimate,
    Platform,
    estimate_cost,
    estimate_cost_async,
    format_cost,
    prices,
    prices_async,
)
from fal_typed.platform.models import GetPricingResponse, Price
from fal_typed.testing import LocalFal

from .conftest import FLUX, platform_requests

SCHNELL = "fal-ai/flux/schnell"


def test_unit_prices_come_from_the_servers_table_in_the_order_asked(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    local_fal.platform.set_price(SCHNELL, 0.003, unit="megapixel", currency="EUR")
    found = prices([SCHNELL, FLUX, SCHNELL], client=client)
    assert list(found) == [SCHNELL, FLUX]
    assert found[FLUX] == Price(endpoint_id=FLUX, unit_price=0.025, unit="image", currency="USD")
    assert (found[SCHNELL].unit, found[SCHNELL].currency) == ("megapixel", "EUR")
    (request,) = platform_requests(local_fal, "pricing")  # both ids in one request
    assert request.headers["authorization"] == "Key <redacted>"


def test_the_generated_method_answers_the_documented_model(
    local_fal: LocalFal, platform: Platform
) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    answer = platform.get_pricing(endpoint_id=FLUX)
    assert isinstance(answer, GetPricingResponse)
    assert answer.has_more is False and answer.next_cursor is None
    assert [p.endpoint_id for p in answer.prices] == [FLUX]


def test_more_than_fifty_ids_are_asked_fifty_at_a_time(local_fal: LocalFal, client: Client) -> None:
    ids = [f"acme/model-{n}" for n in range(120)]
    for n, endpoint_id in enumerate(ids):
        local_fal.platform.set_price(endpoint_id, n / 1000)
    found = prices(ids, client=client)
    assert list(found) == ids and found[ids[77]].unit_price == 0.077
    assert len(platform_requests(local_fal, "pricing")) == 3  # 50 + 50 + 20


def test_an_unknown_endpoint_is_a_not_found_error_with_fals_message(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    with pytest.raises(NotFoundError) as caught:
        prices([FLUX, "acme/nope"], client=client)
    assert "acme/nope" in str(caught.value)
    assert caught.value.error_type == "not_found"  # fal's {"error": {"type": ...}}
    assert caught.value.request_id  # fal's error.request_id


def test_an_estimate_by_past_calls_or_by_units(local_fal: LocalFal, client: Client) -> None:
    # A flux call makes two images on average here: its historical price per call is 0.05.
    local_fal.platform.set_price(FLUX, 0.025, units_per_call=2)
    by_calls = estimate_cost(FLUX, rows=40, client=client)
    assert isinstance(by_calls, Estimate)
    assert (by_calls.basis, by_calls.calls, by_calls.total_cost) == (
        "historical_api_price",
        40,
        2.0,
    )
    assert by_calls.per_call == pytest.approx(0.05)
    assert str(by_calls) == "$2.00 for 40 calls of fal-ai/flux/dev ($0.025 per image)"
    by_units = estimate_cost(FLUX, rows=40, units_per_call=1, client=client)
    assert (by_units.basis, by_units.total_cost) == ("unit_price", 1.0)
    sent = [r.json() for r in platform_requests(local_fal, "estimate")]
    assert sent == [
        {"estimate_type": "historical_api_price", "endpoints": {FLUX: {"call_quantity": 40}}},
        {"estimate_type": "unit_price", "endpoints": {FLUX: {"unit_quantity": 40.0}}},
    ]


@pytest.mark.parametrize(
    ("rows", "units_per_call"), [(0, None), (-3, None), (True, None), (5, 0.0), (5, -1.0)]
)
def test_a_bad_estimate_is_refused_before_anything_is_sent(
    local_fal: LocalFal, client: Client, rows: int, units_per_call: float | None
) -> None:
    with pytest.raises(InvalidArgumentError):
        estimate_cost(FLUX, rows=rows, units_per_call=units_per_call, client=client)
    assert local_fal.requests == []


def test_parameters_are_checked_by_the_documents_rules_before_sending(
    local_fal: LocalFal, platform: Platform
) -> None:
    with pytest.raises(InputValidationError) as caught:
        platform.list_requests_by_endpoint(endpoint_id=FLUX, limit=500, status="lost")  # type: ignore[arg-type]
    assert sorted(caught.value.fields) == ["limit", "status"]
    assert "GET /v1/models/requests/by-endpoint" in str(caught.value)
    with pytest.raises(InvalidArgumentError, match="request_id"):
        platform.delete_request_payloads(request_id="..")  # would climb out of the path
    assert local_fal.requests == []


def test_format_cost_shows_cents_and_more_only_when_they_count() -> None:
    assert format_cost(2) == "$2.00"
    assert format_cost(0.025) == "$0.025"
    assert format_cost(1234.5) == "$1,234.50"
    assert format_cost(3.1, "eur") == "3.10 EUR"


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0.0000004, "$0.0000004"),  # a price per token: it read $0.00, as if free
        (0.00000015, "$0.00000015"),
        (0.0000125, "$0.0000125"),  # a price per second: it read $0.000013
        (0.1 + 0.2, "$0.30"),  # a float sum's last digits are not money
        (10_000_000.01, "$10,000,000.01"),
        (1e16, "$10,000,000,000,000,000.00"),
        (0.0, "$0.00"),
        (-0.5, "-$0.50"),
        (-0.0, "$0.00"),
    ],
)
def test_format_cost_shows_every_digit_of_a_small_price_and_none_of_float_noise(
    amount: float, shown: str
) -> None:
    assert format_cost(amount) == shown
    assert format_cost(amount, "EUR") == shown.replace("$", "") + " EUR"


async def test_the_async_twins(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    assert (await prices_async(FLUX, client=client))[FLUX].unit_price == 0.025
    estimate = await estimate_cost_async(FLUX, rows=4, client=client)
    assert estimate.total_cost == 0.1
    answer = await AsyncPlatform(client).get_pricing(endpoint_id=[FLUX])
    assert answer.prices[0].endpoint_id == FLUX
