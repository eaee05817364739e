"""``fal-typed price`` and ``fal-typed usage``, run as real subprocesses against the local server."""

from __future__ import annotations

import json

import pytest

from fal_typed import Client
from fal_typed.testing import DEFAULT_KEY, LocalFal

from ..cli.helpers import run_cli
from .conftest import FLUX, run_flux

SCHNELL = "fal-ai/flux/schnell"


def test_price_prints_the_unit_price_of_each_endpoint(local_fal: LocalFal) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    local_fal.platform.set_price(SCHNELL, 0.003, unit="megapixel")
    done = run_cli("price", FLUX, SCHNELL, "--base-url", local_fal.base_url, "--key", DEFAULT_KEY)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert ["fal-ai/flux/dev", "$0.025", "image"] in lines
    assert ["fal-ai/flux/schnell", "$0.003", "megapixel"] in lines
    assert DEFAULT_KEY.split(":")[1] not in done.stdout + done.stderr


def test_price_with_calls_adds_the_estimate_and_json_is_machine_readable(
    local_fal: LocalFal,
) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    done = run_cli(
        "price", FLUX, "--calls", "200", "--json", "--base-url", local_fal.base_url,
        "--key", DEFAULT_KEY,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {
            "endpoint_id": FLUX,
            "unit_price": 0.025,
            "unit": "image",
            "currency": "USD",
            "estimate": {"calls": 200, "total_cost": 5.0},
        }
    ]


def test_price_of_an_unknown_endpoint_exits_1_with_fals_message(local_fal: LocalFal) -> None:
    done = run_cli("price", "acme/nope", "--base-url", local_fal.base_url, "--key", DEFAULT_KEY)
    assert done.returncode == 1
    assert "Endpoint not found: acme/nope" in done.stderr


def test_price_without_a_key_says_so(local_fal: LocalFal) -> None:
    done = run_cli("price", FLUX)  # toward fal: the missing key is found before sending
    assert done.returncode == 2  # a usage error, as for every command: nothing was sent
    assert "FAL_KEY" in done.stderr
    # A local server accepts any key: without one, the local key is sent (as the library does).
    local_fal.platform.set_price(FLUX, 0.025)
    done = run_cli("price", FLUX, "--base-url", local_fal.base_url)
    assert done.returncode == 0, done.stderr
    assert "0.025" in done.stdout


def test_usage_prints_spend_by_endpoint_with_a_total(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    run_flux(client, "a", "b")
    done = run_cli("usage", "--since", "1d", "--base-url", local_fal.base_url, FAL_KEY=DEFAULT_KEY)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert ["fal-ai/flux/dev", "2", "image", "$0.025", "$0.05"] in lines
    assert ["total", "$0.05"] in lines
    as_json = run_cli(
        "usage", "--json", "--endpoint", FLUX, "--base-url", local_fal.base_url, FAL_KEY=DEFAULT_KEY
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["totals"] == {"USD": 0.05}


def test_usage_with_a_bad_span_exits_2_before_sending(local_fal: LocalFal) -> None:
    done = run_cli("usage", "--since", "forever", "--base-url", local_fal.base_url)
    assert done.returncode == 2 and "24h, 7d or 2w" in done.stderr
    assert local_fal.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["price", ""], "ENDPOINT_IDS takes endpoint ids such as fal-ai/flux/dev, got ''"),
        (["usage", "--endpoint", " "], "--endpoint takes endpoint ids such as fal-ai/flux/dev, got ' '"),
        (["usage", "--since", "0d"], "--since takes a span above 0 and within the calendar, got '0d'"),
        (["usage", "--since", "99999999999d"], "--since takes a span above 0 and within the calendar"),
        (["usage", "--start", "last tuesday"], "--start must be an ISO 8601 date or date-time"),
        (["usage", "--end", "2025-13-01"], "--end must be an ISO 8601 date or date-time"),
        (["usage", "--start", "2025-02-01", "--end", "2025-01-01"], "must be before end"),
    ],
)  # fmt: skip
def test_bad_values_exit_2_naming_the_option_before_sending(
    local_fal: LocalFal, args: list[str], message: str
) -> None:
    done = run_cli(*args, "--base-url", local_fal.base_url)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert local_fal.requests == []
