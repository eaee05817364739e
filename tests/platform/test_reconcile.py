"""Settling doubts against the request history, over sockets: a submit whose answer was lost is
found and adopted (never sent twice); one that never reached fal is found absent once the
history has caught up, and sent again once; the history's lag is waited out, not mistaken for
an absence."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, InvalidArgumentError, PossiblyAcceptedError
from fal_typed.platform import (
    Adopted,
    Attempt,
    NotFound,
    NotYetKnown,
    Platform,
    reconcile,
    reconcile_async,
    same_json,
    settle,
)
from fal_typed.testing import Fault, LocalFal

from .conftest import FLUX, accepted_submits, flux_body, platform_requests

HISTORY_DELAY = 0.4
SETTLE_DELAY = 1.0  # longer than the history's lag, as it must be


def lost_submit(local_fal: LocalFal, client: Client, prompt: str, *, reached: bool) -> Attempt:
    """Submit ``prompt``; the connection is reset after fal accepted it (``reached``) or before
    it read it. Returns what reconciliation needs: endpoint, body, and when it was sent."""
    local_fal.inject(Fault.reset(after_handler=reached), on="submit")
    body = flux_body(prompt)
    sent_at = datetime.now(timezone.utc)
    with pytest.raises(PossiblyAcceptedError):
        flux_dev.endpoint.submit(body, client=client)
    return Attempt(FLUX, body, sent_at)


def test_a_submit_whose_answer_was_lost_is_adopted_from_the_history_never_sent_twice(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.configure(history_delay=HISTORY_DELAY)
    attempt = lost_submit(local_fal, client, "a lighthouse", reached=True)
    (accepted,) = accepted_submits(local_fal)  # fal has it; we do not know its id

    # Right away the history has not caught up: not known yet, and certainly not "absent".
    early = settle(attempt, settle_delay=SETTLE_DELAY, client=client)
    assert isinstance(early, NotYetKnown) and 0 < (early.retry_after or 0) <= SETTLE_DELAY

    outcome = reconcile(attempt, settle_delay=SETTLE_DELAY, poll_interval=0.05, client=client)
    assert isinstance(outcome, Adopted)
    assert outcome.request_id == accepted.request_id
    assert outcome.record.json_input == attempt.body
    # The result is fetched by id: the work fal did (and billed) is not lost...
    output = flux_dev.endpoint.handle(outcome.request_id, client=client).wait()
    assert output.images
    # ... and nothing was sent again.
    assert len(local_fal.requests_for("submit")) == 1
    assert len(accepted_submits(local_fal)) == 1


def test_a_submit_that_never_reached_fal_is_found_absent_and_sent_again_once(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.configure(history_delay=HISTORY_DELAY)
    attempt = lost_submit(local_fal, client, "a lighthouse", reached=False)
    assert accepted_submits(local_fal) == []

    outcome = reconcile(attempt, settle_delay=SETTLE_DELAY, poll_interval=0.05, client=client)
    assert isinstance(outcome, NotFound)
    # Absent is only said once the history had time to catch up with the submit.
    assert outcome.checked_at >= attempt.sent_at + timedelta(seconds=SETTLE_DELAY)
    handle = flux_dev.endpoint.submit(attempt.body, client=client)  # safe now: sent once more
    assert handle.wait().images
    assert len(accepted_submits(local_fal)) == 1
    assert len(local_fal.requests_for("submit")) == 2  # the lost one and the resend


def test_the_history_lag_is_waited_out_not_mistaken_for_an_absence(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.configure(history_delay=2 * HISTORY_DELAY)
    attempt = lost_submit(local_fal, client, "slow index", reached=True)
    started = time.monotonic()
    outcome = reconcile(attempt, settle_delay=3 * HISTORY_DELAY, poll_interval=0.05, client=client)
    assert isinstance(outcome, Adopted)
    assert time.monotonic() - started >= HISTORY_DELAY  # it waited for the history
    # It kept asking while the history was behind (every look was a page request).
    assert len(platform_requests(local_fal, "requests")) >= 3


def test_reconcile_answers_not_yet_known_when_its_timeout_runs_out_first(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.platform.configure(history_delay=5.0)
    attempt = lost_submit(local_fal, client, "patience", reached=True)
    outcome = reconcile(attempt, settle_delay=30, poll_interval=0.05, timeout=0.3, client=client)
    assert isinstance(outcome, NotYetKnown) and outcome.retry_after is not None


def test_identical_inputs_each_adopt_their_own_request(local_fal: LocalFal, client: Client) -> None:
    first = lost_submit(local_fal, client, "twins", reached=True)
    second = lost_submit(local_fal, client, "twins", reached=True)
    adopted = reconcile(first, settle_delay=0.5, poll_interval=0.05, client=client)
    assert isinstance(adopted, Adopted)
    other = reconcile(
        second,
        settle_delay=0.5,
        poll_interval=0.05,
        exclude={adopted.request_id},
        client=client,
    )
    assert isinstance(other, Adopted) and other.request_id != adopted.request_id
    assert {adopted.request_id, other.request_id} == {
        r.request_id for r in accepted_submits(local_fal)
    }


def test_a_different_input_is_not_taken_for_ours(local_fal: LocalFal, client: Client) -> None:
    flux_dev.endpoint.submit(flux_body("someone else's"), client=client).wait()
    attempt = lost_submit(local_fal, client, "ours", reached=False)
    assert isinstance(
        reconcile(attempt, settle_delay=0.3, poll_interval=0.05, client=client), NotFound
    )


def test_requests_without_a_stored_input_make_the_answer_unknowable(
    local_fal: LocalFal, client: Client
) -> None:
    attempt = lost_submit(local_fal, client, "forgotten", reached=True)
    (accepted,) = accepted_submits(local_fal)
    assert accepted.request_id is not None
    Platform(client).delete_request_payloads(request_id=accepted.request_id)
    outcome = reconcile(attempt, settle_delay=0.3, poll_interval=0.05, client=client)
    assert isinstance(outcome, NotYetKnown)
    assert outcome.retry_after is None and outcome.unreadable == (accepted.request_id,)


def test_reconcile_takes_the_error_itself(local_fal: LocalFal, client: Client) -> None:
    local_fal.inject(Fault.reset(after_handler=True), on="submit")
    body = flux_body("from the error")
    sent_at = datetime.now(timezone.utc)
    with pytest.raises(PossiblyAcceptedError) as caught:
        flux_dev.endpoint.submit(body, client=client)
    # What the error does not carry is given beside it.
    outcome = reconcile(
        caught.value,
        endpoint_id=FLUX,
        body=body,
        sent_at=sent_at,
        settle_delay=0.5,
        poll_interval=0.05,
        client=client,
    )
    assert isinstance(outcome, Adopted)


def test_an_error_without_what_reconciliation_needs_is_refused(client: Client) -> None:
    bare = PossiblyAcceptedError("lost")
    with pytest.raises(InvalidArgumentError, match="endpoint_id, body, sent_at"):
        reconcile(bare, client=client)
    with pytest.raises(InvalidArgumentError, match="JSON"):
        Attempt(FLUX, {"when": datetime.now()}, datetime.now(timezone.utc))


async def test_reconcile_async(local_fal: LocalFal, client: Client) -> None:
    attempt = lost_submit(local_fal, client, "async", reached=True)
    outcome = await reconcile_async(attempt, settle_delay=0.5, poll_interval=0.05, client=client)
    assert isinstance(outcome, Adopted)
    assert outcome.request_id == accepted_submits(local_fal)[0].request_id


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"x": 1, "y": [1, 2]}, {"y": [1, 2], "x": 1}, True),
        ({"x": 1}, {"x": 1.0}, True),
        ({"x": True}, {"x": 1}, False),
        ({"x": [1, 2]}, {"x": [2, 1]}, False),
        ({"x": None}, {}, False),
        ({"x": "1"}, {"x": 1}, False),
        ([{"a": {"b": [None]}}], [{"a": {"b": [None]}}], True),
    ],
)
def test_same_json(a: object, b: object, same: bool) -> None:
    assert same_json(a, b) is same
    assert same_json(b, a) is same


def test_a_naive_time_is_refused_and_unix_seconds_are_taken() -> None:
    # Read in the wrong zone, a naive time would search the wrong hours: a request missed there
    # is found "absent" and sent (and billed) again.
    with pytest.raises(InvalidArgumentError, match="sent_at is a naive datetime"):
        Attempt(FLUX, {"prompt": "x"}, datetime(2025, 1, 1, 12, 0))
    seconds = Attempt(FLUX, {"prompt": "x"}, 1735732800.5)  # type: ignore[arg-type]
    assert seconds.sent_at == datetime(2025, 1, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)


def lost_with_error(local_fal: LocalFal, client: Client, prompt: str) -> PossiblyAcceptedError:
    """Submit ``prompt``; fal accepts it and the answer is lost: the error raised."""
    local_fal.inject(Fault.reset(after_handler=True), on="submit")
    with pytest.raises(PossiblyAcceptedError) as caught:
        flux_dev.endpoint.submit(flux_body(prompt), client=client)
    return caught.value


def test_the_errors_own_sent_at_and_failed_at_are_used(local_fal: LocalFal, client: Client) -> None:
    local_fal.platform.configure(history_delay=HISTORY_DELAY)
    error = lost_with_error(local_fal, client, "from the error alone")
    assert isinstance(error.sent_at, float) and isinstance(error.failed_at, float)
    (accepted,) = accepted_submits(local_fal)
    body = flux_body("from the error alone")

    attempt = Attempt.from_error(error, body=body)
    assert attempt.endpoint_id == FLUX
    assert attempt.sent_at == datetime.fromtimestamp(error.sent_at, timezone.utc)
    assert attempt.failed_at == datetime.fromtimestamp(error.failed_at, timezone.utc)
    quick = {"settle_delay": SETTLE_DELAY, "poll_interval": 0.05, "client": client}
    # Only the body is needed beside the error (it keeps only the body's hash)...
    outcome = reconcile(error, body=body, **quick)
    assert isinstance(outcome, Adopted) and outcome.request_id == accepted.request_id
    # ... and the error's own sent_at given back, as Unix seconds or an aware datetime, is taken.
    for sent_at in (error.sent_at, datetime.fromtimestamp(error.sent_at, timezone.utc)):
        again = reconcile(error, body=body, sent_at=sent_at, **quick)
        assert isinstance(again, Adopted) and again.request_id == accepted.request_id
    assert len(accepted_submits(local_fal)) == 1  # nothing was sent again


async def test_reconcile_async_takes_the_error_and_its_body(
    local_fal: LocalFal, client: Client
) -> None:
    error = lost_with_error(local_fal, client, "async, from the error")
    outcome = await reconcile_async(
        error, body=flux_body("async, from the error"), settle_delay=0.5, poll_interval=0.05,
        client=client,
    )  # fmt: skip
    assert isinstance(outcome, Adopted)
    assert outcome.request_id == accepted_submits(local_fal)[0].request_id


@pytest.mark.parametrize(
    ("sent_at", "message"),
    [
        (datetime(2025, 1, 1, 12, 0), "sent_at is a naive datetime"),
        (float("nan"), "sent_at must be a finite number of Unix seconds"),
        (1e20, "sent_at must be a finite number of Unix seconds"),
        (True, "sent_at must be a timezone-aware datetime or Unix seconds, got bool"),
        ("2025-01-01", "sent_at must be a timezone-aware datetime or Unix seconds, got str"),
    ],
)
def test_a_bad_sent_at_is_refused_naming_it_before_anything_is_sent(
    local_fal: LocalFal, client: Client, sent_at: object, message: str
) -> None:
    error = lost_with_error(local_fal, client, "bad time")
    sent = len(local_fal.requests)
    with pytest.raises(InvalidArgumentError, match=message):
        reconcile(error, body=flux_body("bad time"), sent_at=sent_at, client=client)  # type: ignore[arg-type]
    assert len(local_fal.requests) == sent


def test_a_request_taken_late_is_waited_for_from_when_the_answer_was_lost(
    local_fal: LocalFal, client: Client
) -> None:
    # A submit whose answer took long to be lost: fal may have taken it just before then, so
    # its history is waited for from then, not from when it was sent (that would say "absent"
    # of a request not indexed yet, and send it again).
    now = datetime.now(timezone.utc)
    attempt = Attempt(FLUX, flux_body("slow answer"), now - timedelta(seconds=10), failed_at=now)
    outcome = settle(attempt, settle_delay=5, client=client)
    assert isinstance(outcome, NotYetKnown)
    assert outcome.retry_after is not None and 4 < outcome.retry_after <= 5
    without = settle(Attempt(FLUX, attempt.body, attempt.sent_at), settle_delay=5, client=client)
    assert isinstance(without, NotFound)
