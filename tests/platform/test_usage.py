"""What was spent: usage by endpoint over a period, from the local server's own requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fal_endpoints import flux_schnell

from fal_typed import Client, InvalidArgumentError
from fal_typed.platform import UsageLine, usage, usage_async
from fal_typed.testing import Failure, LocalFal

from .conftest import FLUX, platform_requests, run_flux

SCHNELL = "fal-ai/flux/schnell"


def test_usage_sums_each_endpoints_successful_calls_at_its_price(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    local_fal.platform.set_price(SCHNELL, 0.003, units_per_call=4, unit="megapixel")
    run_flux(client, "a", "b", "c")
    for _ in range(2):
        flux_schnell.subscribe(prompt="fast", client=client)
    local_fal.configure(FLUX, failure=Failure(500, "boom"))
    with pytest.raises(Exception, match="boom"):
        run_flux(client, "failed, not billed")
    report = usage(client=client)
    assert report.lines == (
        UsageLine(FLUX, "image", 3.0, 0.025, 0.075, "USD"),
        UsageLine(SCHNELL, "megapixel", 8.0, 0.003, 0.024, "USD"),
    )
    assert report.totals == {"USD": 0.099}
    (request,) = platform_requests(local_fal, "usage")
    assert request.query["expand"] == "summary"


def test_usage_is_narrowed_by_endpoint_and_period(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    local_fal.platform.set_price(SCHNELL, 0.003)
    run_flux(client, "a")
    flux_schnell.subscribe(prompt="fast", client=client)
    only_flux = usage(endpoint_ids=[FLUX], client=client)
    assert [line.endpoint_id for line in only_flux.lines] == [FLUX]
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    before = usage(start=yesterday - timedelta(days=2), end=yesterday, client=client)
    assert before.lines == () and before.totals == {}
    by_dates = usage(start="2020-01-01", end="2020-02-01", client=client)
    assert by_dates.start == datetime(2020, 1, 1, tzinfo=timezone.utc)


def test_a_bad_period_is_refused_before_anything_is_sent(
    local_fal: LocalFal, client: Client
) -> None:
    with pytest.raises(InvalidArgumentError, match="before end"):
        usage(start="2025-02-01", end="2025-01-01", client=client)
    with pytest.raises(InvalidArgumentError, match="ISO 8601"):
        usage(start="last tuesday", client=client)
    assert local_fal.requests == []


async def test_usage_async(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.set_price(FLUX, 0.5)
    run_flux(client, "a", "b")
    report = await usage_async(days=1, client=client)
    assert report.totals == {"USD": 1.0}
