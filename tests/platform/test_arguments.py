"""The arguments of ``fal_typed.platform``'s public functions are checked for type and range
before any request, and a wrong one is an ``InvalidArgumentError`` naming it: never a raw
TypeError, a client accepted now to fail later, an argument silently ignored, or a string split
into its characters (a spend report of endpoints "f", "a", "l"...)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, InvalidArgumentError, PossiblyAcceptedError
from fal_typed.platform import (
    AsyncPlatform,
    Attempt,
    Platform,
    estimate_cost,
    estimate_cost_async,
    format_cost,
    prices,
    prices_async,
    reconcile,
    settle,
    usage,
    usage_async,
)
from fal_typed.testing import LocalFal

from .conftest import FLUX, flux_body, platform_requests

NOW = datetime.now(timezone.utc)


def test_one_endpoint_id_as_a_string_is_one_id_never_its_characters(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.set_price(FLUX, 0.025)
    usage(days=1, endpoint_ids=FLUX, client=client)
    (request,) = platform_requests(local_fal, "usage")
    assert request.query["endpoint_id"] == FLUX
    assert list(prices(FLUX, client=client)) == [FLUX]
    assert usage(days=1, endpoint_ids=(FLUX, f" {FLUX} "), client=client).lines == ()
    assert platform_requests(local_fal, "usage")[-1].query["endpoint_id"] == FLUX  # once


def test_days_and_start_say_the_period_once(local_fal: LocalFal, client: Client) -> None:
    report = usage(days=3, end=NOW, client=client)
    assert report.end - report.start == timedelta(days=3)
    default = usage(client=client)
    assert default.end - default.start == timedelta(days=30)
    with pytest.raises(InvalidArgumentError, match="give start or days, not both"):
        usage(start=date(2025, 2, 1), days=3, client=client)


def call_each(
    calls: dict[str, Callable[[], object]],
) -> dict[str, str]:
    """Each call's refusal: its message, or what it did instead."""
    refused: dict[str, str] = {}
    for label, call in calls.items():
        try:
            outcome = call()
            if asyncio.iscoroutine(outcome):
                asyncio.run(outcome)
            refused[label] = "accepted"
        except InvalidArgumentError as exc:
            refused[label] = str(exc)
        except Exception as exc:  # what the test is about: no raw error
            refused[label] = f"raw {type(exc).__name__}: {exc}"
    return refused


def test_bad_arguments_are_refused_naming_them_before_any_request(
    local_fal: LocalFal, client: Client
) -> None:
    error = PossiblyAcceptedError("lost", endpoint_id=FLUX, sent_at=NOW.timestamp())
    attempt = Attempt(FLUX, flux_body("x"), NOW)
    bad: dict[str, tuple[Callable[[], object], str]] = {
        "usage days nan": (lambda: usage(days=float("nan"), client=client), "days must be a finite number of days, got nan"),
        "usage days str": (lambda: usage(days="7", client=client), "days must be a number of days, got str"),  # type: ignore[arg-type]
        "usage days huge": (lambda: usage(days=10**9, client=client), "days=1e+09 reaches back before the year 1"),
        "usage days 0": (lambda: usage(days=0, client=client), "days must be > 0 days, got 0"),
        "usage days bool": (lambda: usage(days=True, client=client), "days must be a number of days, got bool"),
        "usage start int": (lambda: usage(start=5, client=client), "start must be a datetime, a date or ISO 8601 text, got int"),  # type: ignore[arg-type]
        "usage end list": (lambda: usage(end=[], client=client), "end must be a datetime, a date or ISO 8601 text, got list"),  # type: ignore[arg-type]
        "usage ids empty": (lambda: usage(endpoint_ids=[], client=client), "endpoint_ids is empty: pass None for every endpoint"),
        "usage ids int": (lambda: usage(endpoint_ids=5, client=client), "endpoint_ids must be an endpoint id (a string) or a list of them, got int"),  # type: ignore[arg-type]
        "usage ids bytes": (lambda: usage(endpoint_ids=b"fal-ai/flux/dev", client=client), "got bytes"),  # type: ignore[arg-type]
        "usage ids blank": (lambda: usage(endpoint_ids=[FLUX, " "], client=client), "endpoint_ids must be a non-empty endpoint id, got ' '"),
        "usage client": (lambda: usage(client="x"), "client must be a fal_typed.Client, got str"),  # type: ignore[arg-type]
        "usage_async days": (lambda: usage_async(days=float("inf"), client=client), "days must be a finite number of days, got inf"),
        "prices None": (lambda: prices(None, client=client), "endpoint_ids must be an endpoint id (a string) or a list of them, got NoneType"),  # type: ignore[arg-type]
        "prices item": (lambda: prices([FLUX, None], client=client), "endpoint_ids must be a non-empty endpoint id, got None"),  # type: ignore[list-item]
        "prices client": (lambda: prices(FLUX, client=5), "client must be a fal_typed.Client, got int"),  # type: ignore[arg-type]
        "prices_async None": (lambda: prices_async(None, client=client), "got NoneType"),  # type: ignore[arg-type]
        "estimate None": (lambda: estimate_cost(None, rows=2, client=client), "endpoint_id must be a non-empty endpoint id, got None"),  # type: ignore[arg-type]
        "estimate list": (lambda: estimate_cost([FLUX], rows=2, client=client), "endpoint_id must be a non-empty endpoint id, got ['fal-ai/flux/dev']"),  # type: ignore[arg-type]
        "estimate units str": (lambda: estimate_cost(FLUX, units_per_call="2", client=client), "units_per_call must be a number, got str"),  # type: ignore[arg-type]
        "estimate units inf": (lambda: estimate_cost(FLUX, units_per_call=float("inf"), client=client), "units_per_call must be a finite number, got inf"),
        "estimate units nan": (lambda: estimate_cost(FLUX, units_per_call=float("nan"), client=client), "units_per_call must be a finite number, got nan"),
        "estimate product": (lambda: estimate_cost(FLUX, rows=10**400, units_per_call=2, client=client), "rows * units_per_call must be a finite number"),
        "estimate client": (lambda: estimate_cost(FLUX, client="x"), "client must be a fal_typed.Client"),  # type: ignore[arg-type]
        "estimate_async None": (lambda: estimate_cost_async(None, client=client), "endpoint_id must be a non-empty endpoint id"),  # type: ignore[arg-type]
        "Platform client": (lambda: Platform(client="x"), "client must be a fal_typed.Client, got str"),  # type: ignore[arg-type]
        "AsyncPlatform client": (lambda: AsyncPlatform(client=object()), "client must be a fal_typed.Client, got object"),  # type: ignore[arg-type]
        "format_cost str": (lambda: format_cost("1.5"), "amount must be a number, got str"),  # type: ignore[arg-type]
        "format_cost nan": (lambda: format_cost(float("nan")), "amount must be a finite number"),
        "format_cost currency": (lambda: format_cost(1, None), "currency must be a currency code"),  # type: ignore[arg-type]
        "settle delay nan": (lambda: settle(attempt, settle_delay=float("nan"), client=client), "settle_delay must be a finite number of seconds, got nan"),
        "settle delay str": (lambda: settle(attempt, settle_delay="5", client=client), "settle_delay must be a number of seconds, got str"),  # type: ignore[arg-type]
        "settle skew huge": (lambda: settle(attempt, clock_skew=1e12, client=client), "clock_skew must be at most 2592000 seconds, got 1000000000000.0"),
        "settle exclude item": (lambda: settle(attempt, exclude=[5], client=client), "exclude must hold request ids (strings), got 5"),  # type: ignore[list-item]
        "settle error": (lambda: settle(error, client=client), "settle() takes an Attempt, got PossiblyAcceptedError"),  # type: ignore[arg-type]
        "settle client": (lambda: settle(attempt, client="x"), "client must be a fal_typed.Client"),  # type: ignore[arg-type]
        "reconcile poll 0": (lambda: reconcile(attempt, poll_interval=0, client=client), "poll_interval must be > 0 seconds, got 0"),
        "reconcile timeout nan": (lambda: reconcile(attempt, timeout=float("nan"), client=client), "timeout must be a finite number of seconds, got nan"),
        "reconcile attempt and body": (lambda: reconcile(attempt, body={"prompt": "y"}, client=client), "body complete(s) a PossiblyAcceptedError; an Attempt already holds them"),
        "reconcile body list": (lambda: reconcile(error, body=["x"], client=client), "body must be the JSON object that was sent (a dict), got list"),  # type: ignore[arg-type]
        "reconcile str": (lambda: reconcile("req-1", client=client), "reconcile() takes an Attempt or a PossiblyAcceptedError, got str"),  # type: ignore[arg-type]
        "Attempt id": (lambda: Attempt("", {}, NOW), "endpoint_id must be a non-empty endpoint id"),
        "Attempt failed_at": (lambda: Attempt(FLUX, {}, NOW, failed_at=datetime(2025, 1, 1)), "failed_at is a naive datetime"),
    }  # fmt: skip

    refused = call_each({label: call for label, (call, _) in bad.items()})

    wrong = {
        label: refused[label]
        for label, (_, message) in bad.items()
        if message not in refused[label]
    }
    assert wrong == {}
    assert local_fal.requests == []


def test_one_request_id_as_a_string_is_excluded_whole(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.configure(history_delay=0)
    body = flux_body("excluded")
    sent_at = datetime.now(timezone.utc)
    handle = flux_dev.endpoint.submit(body, client=client)
    handle.wait()
    attempt = Attempt(FLUX, body, sent_at)
    outcome: Any = settle(attempt, settle_delay=0, exclude=handle.request_id, client=client)
    assert type(outcome).__name__ == "NotFound"  # its only match was excluded


def refusal(call: Callable[[], object]) -> str:
    """The message of the InvalidArgumentError ``call`` raises (anything else fails)."""
    with pytest.raises(InvalidArgumentError) as caught:
        call()
    return caught.value.message


def test_a_period_bound_is_read_as_the_moment_it_names(local_fal: LocalFal, client: Client) -> None:
    """Text is stripped and parsed as ISO 8601 (``Z`` is UTC), a date is its midnight, and a
    bound without an offset is UTC; a bound with an offset keeps it."""
    plus_two = timezone(timedelta(hours=2))
    aware = datetime(2025, 2, 1, 10, 30, tzinfo=plus_two)
    read = {
        " 2025-02-01T10:00:00Z ": datetime(2025, 2, 1, 10, tzinfo=timezone.utc),
        "2025-02-01T10:00:00.5Z": datetime(2025, 2, 1, 10, 0, 0, 500000, tzinfo=timezone.utc),
        "2025-02-01T10:00:00+02:00": datetime(2025, 2, 1, 10, tzinfo=plus_two),
        "2025-02-01T10:00:00": datetime(2025, 2, 1, 10, tzinfo=timezone.utc),
        "2025-02-01": datetime(2025, 2, 1, tzinfo=timezone.utc),
        date(2025, 2, 3): datetime(2025, 2, 3, tzinfo=timezone.utc),
        date(2024, 12, 31): datetime(2024, 12, 31, tzinfo=timezone.utc),
        datetime(2025, 2, 1, 10, 30): datetime(2025, 2, 1, 10, 30, tzinfo=timezone.utc),
        aware: aware,
    }
    for given, expected in read.items():
        report = usage(start=given, end=NOW, client=client)
        assert (report.start, report.start.utcoffset()) == (expected, expected.utcoffset()), given
        report = usage(start=date(2020, 1, 1), end=given, client=client)
        assert (report.end, report.end.utcoffset()) == (expected, expected.utcoffset()), given


def test_text_that_is_no_iso_8601_moment_is_refused_naming_it(client: Client) -> None:
    for text in (" last tuesday ", "2025-02-01T10:00:00z", "2025-02-30", ""):
        message = refusal(lambda: usage(start=text, client=client))  # noqa: B023
        assert message == f"start must be an ISO 8601 date or date-time, got {text.strip()!r}"


def test_a_days_count_beyond_any_float_is_refused_naming_it(client: Client) -> None:
    huge = 10**400
    assert refusal(lambda: usage(days=huge, client=client)) == (
        "days must be a finite number of days, got an integer of 1329 bits"
    )


def test_thirty_days_is_the_longest_window_taken(local_fal: LocalFal, client: Client) -> None:
    attempt = Attempt(FLUX, flux_body("x"), NOW)
    longest = 30 * 86400
    settle(attempt, settle_delay=0, clock_skew=longest, client=client)  # accepted
    message = refusal(lambda: settle(attempt, clock_skew=longest + 0.001, client=client))
    assert message == "clock_skew must be at most 2592000 seconds, got 2592000.001"


def test_exclude_that_is_no_id_nor_ids_is_refused_naming_it(client: Client) -> None:
    attempt = Attempt(FLUX, flux_body("x"), NOW)
    assert refusal(lambda: settle(attempt, exclude=5, client=client)) == (  # type: ignore[arg-type]
        "exclude must be a request id (a string) or a list of them, got int"
    )


def test_when_an_attempt_was_sent_is_an_aware_moment() -> None:
    """``sent_at`` (and ``failed_at``) take an aware datetime or Unix seconds, read as UTC;
    a naive datetime, another type, or seconds that name no moment are refused naming them."""
    assert Attempt(FLUX, {}, 0).sent_at == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert Attempt(FLUX, {}, 86400.5).sent_at.utcoffset() == timedelta(0)
    assert Attempt(FLUX, {}, NOW, failed_at=1e9).failed_at == datetime.fromtimestamp(
        1e9, timezone.utc
    )
    refused = {
        datetime(2025, 1, 1): (
            "sent_at is a naive datetime (2025-01-01T00:00:00): give a timezone-aware one "
            "(datetime.now(timezone.utc)) or Unix seconds (time.time())"
        ),
        "2025-01-01T00:00:00Z": "sent_at must be a timezone-aware datetime or Unix seconds, got str",
        True: "sent_at must be a timezone-aware datetime or Unix seconds, got bool",
        None: "sent_at must be a timezone-aware datetime or Unix seconds, got NoneType",
        float("nan"): "sent_at must be a finite number of Unix seconds, got nan",
        float("-inf"): "sent_at must be a finite number of Unix seconds, got -inf",
        1e20: "sent_at must be a finite number of Unix seconds, got 1e+20",
    }
    for value, message in refused.items():
        assert refusal(lambda: Attempt(FLUX, {}, value)) == message, value  # type: ignore[arg-type]  # noqa: B023


def test_a_date_followed_by_an_offset_is_refused_not_read_as_a_time(client: Client) -> None:
    """Python reads any character after a date as the separator of a time: "2025-02-01+05:00"
    was read as 05:00 UTC, ten hours after that date's midnight at +05:00, and a report of
    another period was given for it. A moment with a time says it after a "T" or a space."""
    refused = ("2025-02-01+05:00", "2025-02-01-08:00", "2025-02-01Z", "2025-02-01X10:00")
    for text in refused:
        message = refusal(lambda: usage(start=text, client=client))  # noqa: B023
        assert message == f"start must be an ISO 8601 date or date-time, got {text!r}"
    spelled = {
        "2025-02-01T00:00+05:00": datetime(2025, 1, 31, 19, tzinfo=timezone.utc),
        "2025-02-01 10:00": datetime(2025, 2, 1, 10, tzinfo=timezone.utc),
        "2025-02-01t10:00Z": datetime(2025, 2, 1, 10, tzinfo=timezone.utc),
    }
    for text, expected in spelled.items():
        assert usage(start=text, end=NOW, client=client).start == expected, text
