"""Resuming settles ambiguous rows against fal's request history before anything is re-sent.

The local server runs in this process; its Platform API answers the request history (with a lag,
``history_delay``, as fal's index has). Each test leaves a row ambiguous the way it happens for
real (the connection reset after fal accepted the submit, or before it read it), then resumes:
the row is adopted (its result fetched, never sent again), or found absent once the history has
caught up and sent once, or, when the history cannot be read, left ambiguous and named.
Both journals: SQLite and the PostgreSQL server the tests start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, RetryPolicy, batch
from fal_typed.batch._settle import DEFAULT_SETTLE_DELAY, HistorySettler, Resolved
from fal_typed.platform import DEFAULT_CLOCK_SKEW as PLATFORM_CLOCK_SKEW
from fal_typed.platform import DEFAULT_SETTLE_DELAY as PLATFORM_SETTLE_DELAY
from fal_typed.testing import Fault, LocalFal

from .conftest import rows

FLUX = "fal-ai/flux/dev"
HISTORY_DELAY = 0.3
SETTLE_DELAY = 1.0  # longer than the history's lag, as it must be


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "j.db")
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


def _run(client: Client, data: Any, journal: str, **options: Any) -> batch.Summary:
    options.setdefault("settle_delay", SETTLE_DELAY)
    return batch.run(flux_dev, data, journal=journal, client=client, **options).wait()


def _row(journal: str, position: int) -> batch.JournalRow:
    with batch.open_journal(journal) as store:
        return next(r for r in store.rows() if r.position == position)


def accepted_by_prompt(local_fal: LocalFal) -> dict[str, int]:
    """Submits the queue accepted (it named their request), by prompt, even those whose answer
    was lost."""
    counts: dict[str, int] = {}
    for entry in local_fal.requests_for("submit"):
        if entry.request_id is not None:
            prompt = str(entry.json().get("prompt"))
            counts[prompt] = counts.get(prompt, 0) + 1
    return counts


def _accepted_ids(local_fal: LocalFal, prompt: str) -> list[str]:
    return [
        r.request_id
        for r in local_fal.requests_for("submit")
        if r.request_id is not None and r.json().get("prompt") == prompt
    ]


def _ambiguous_after(
    local_fal: LocalFal, client: Client, journal: str, fault: Fault, data: list[dict[str, Any]]
) -> None:
    """Run ``data`` with the first submit suffering ``fault``: that row ends ambiguous."""
    local_fal.inject(fault, on="submit", times=1)
    first = _run(client, data, journal, concurrency=1)
    assert first.counts == {"completed": len(data) - 1, "ambiguous": 1}


def test_the_batch_and_the_platform_defaults_agree() -> None:
    """The batch keeps copies (importing the platform package costs a batch with nothing to
    settle too much): they must not drift."""
    assert DEFAULT_SETTLE_DELAY == PLATFORM_SETTLE_DELAY
    assert HistorySettler.clock_skew == PLATFORM_CLOCK_SKEW


def test_a_lost_answer_is_adopted_on_resume_its_result_fetched_never_sent_twice(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    local_fal.platform.configure(history_delay=HISTORY_DELAY)
    data = rows(3)
    _ambiguous_after(local_fal, client, journal, Fault.reset(after_handler=True), data)
    (accepted,) = _accepted_ids(local_fal, "row 0")  # fal has it; the journal has no id
    summary = _run(client, data, journal)
    assert summary.counts == {"completed": 3}
    assert summary.ambiguous == []
    assert summary.settled is not None
    assert (summary.settled.adopted, summary.settled.absent) == (1, 0)
    assert "1 adopted" in str(summary)
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(3)}
    row = _row(journal, 0)
    assert row.request_id == accepted and row.state == "completed" and row.output is not None
    assert local_fal.requests_for("result", request_id=accepted)  # the result was fetched


def test_a_submit_that_never_reached_fal_is_sent_once_after_the_history_caught_up(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    local_fal.platform.configure(history_delay=HISTORY_DELAY)
    data = rows(3)
    _ambiguous_after(local_fal, client, journal, Fault.reset(after_handler=False), data)
    assert "row 0" not in accepted_by_prompt(local_fal)
    sent_at = _row(journal, 0).sent_at
    assert sent_at is not None
    summary = _run(client, data, journal)
    assert summary.counts == {"completed": 3}
    assert summary.settled is not None
    assert (summary.settled.adopted, summary.settled.absent) == (0, 1)
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(3)}
    # Sent again only once the history had had time to show it, had fal accepted it.
    (resent,) = [
        r
        for r in local_fal.requests_for("submit")
        if r.request_id is not None and r.json()["prompt"] == "row 0"
    ]
    assert resent.received_at >= sent_at + SETTLE_DELAY - 0.05


def test_a_request_id_known_to_the_journal_is_never_adopted_by_an_identical_row(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    # Two rows with the same input: the first is completed under its request; the second's
    # submit never reached fal. The history holds one matching request: the first row's.
    same = {"prompt": "twins", "image_size": "square"}
    local_fal.inject(Fault.reset(after_handler=False), on="submit", times=1)
    first = _run(client, [same, same], journal, concurrency=1)
    assert first.counts == {"completed": 1, "ambiguous": 1}
    summary = _run(client, [same, same], journal)
    assert summary.counts == {"completed": 2}
    assert summary.settled is not None and summary.settled.absent == 1
    assert accepted_by_prompt(local_fal) == {"twins": 2}
    ids = {_row(journal, 0).request_id, _row(journal, 1).request_id}
    assert len(ids) == 2 and None not in ids


def test_identical_rows_whose_answers_were_lost_each_adopt_their_own_request(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    same = {"prompt": "twins", "image_size": "square"}
    local_fal.inject(Fault.reset(after_handler=True), on="submit", times=2)
    first = _run(client, [same, same], journal, concurrency=1)
    assert first.counts == {"ambiguous": 2}
    summary = _run(client, [same, same], journal)
    assert summary.counts == {"completed": 2}
    assert summary.settled is not None and summary.settled.adopted == 2
    assert accepted_by_prompt(local_fal) == {"twins": 2}
    assert {_row(journal, 0).request_id, _row(journal, 1).request_id} == set(
        _accepted_ids(local_fal, "twins")
    )


def test_rows_that_cannot_be_settled_stay_ambiguous_named_and_are_never_resent(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    data = rows(3)
    _ambiguous_after(local_fal, client, journal, Fault.reset(after_handler=False), data)
    denied = {"error": {"type": "authorization_error", "message": "no access to the history"}}
    local_fal.inject(Fault.response(403, denied), on="platform.requests", times=None)
    submits = len(local_fal.requests_for("submit"))
    summary = _run(client, data, journal)
    assert summary.counts == {"completed": 2, "ambiguous": 1}
    key = _row(journal, 0).key
    assert summary.ambiguous == [key] and key in str(summary)
    assert summary.settled is not None and summary.settled.unsettled == [key]
    assert summary.settled.problem is not None and "unavailable" in summary.settled.problem
    assert "not settled: fal's request history is unavailable" in str(summary)
    assert len(local_fal.requests_for("submit")) == submits  # nothing sent
    assert local_fal.requests_for("platform.requests")  # it did ask


def test_without_settling_a_cut_off_row_stays_ambiguous(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    data = rows(2)
    _ambiguous_after(local_fal, client, journal, Fault.reset(after_handler=True), data)
    summary = _run(client, data, journal, settle=False)
    assert summary.counts == {"completed": 1, "ambiguous": 1} and summary.settled is None
    assert not local_fal.requests_for("platform.requests")
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


def test_a_custom_reconciler_replaces_the_history(
    local_fal: LocalFal, client: Client, journal: str
) -> None:
    data = rows(2)
    _ambiguous_after(local_fal, client, journal, Fault.reset(after_handler=True), data)
    (accepted,) = _accepted_ids(local_fal, "row 0")
    seen: list[str] = []

    def mine(endpoint_id: str, found: Any) -> dict[str, str | None]:
        seen.extend(r.key for r in found)
        return {r.slot: accepted for r in found}

    reconcile: Callable[..., Any] = mine
    summary = _run(client, data, journal, reconcile=reconcile)
    assert summary.counts == {"completed": 2} and seen == [_row(journal, 0).key]
    assert not local_fal.requests_for("platform.requests")
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


def test_rows_settled_elsewhere_meanwhile_are_no_longer_waited_for(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    # A row not in the history yet is waited for (up to settle_delay); if another worker
    # settles or sends it meanwhile, the settler lets it go instead of deciding it again.
    journal = str(tmp_path / "j.db")
    _ambiguous_after(local_fal, client, journal, Fault.reset(after_handler=False), rows(2))
    with batch.open_journal(journal) as store:
        (row,) = store.rows(["ambiguous"])
    decided: list[tuple[str, str | None]] = []
    looks: list[int] = []

    async def known() -> set[str]:
        looks.append(1)
        return set()

    async def resolve(row: batch.JournalRow, request_id: str | None) -> Resolved:
        decided.append((row.key, request_id))
        return "done"

    async def still_ambiguous() -> set[str]:
        return set()  # settled by another worker since the first look

    settler = HistorySettler(client, settle_delay=60, poll_interval=0.05)
    report = asyncio.run(
        settler.settle(FLUX, [row], known, resolve, still_ambiguous=still_ambiguous)
    )
    assert decided == [] and looks == [1]
    assert (report.adopted, report.absent, report.unsettled) == (0, 0, [])


def test_a_submit_accepted_late_in_its_retries_is_adopted_not_sent_twice(
    local_fal: LocalFal, journal: str
) -> None:
    """The submit's attempts ran on after the row's ``sent_at`` (ingress 503s retried for about
    a second), the last one was accepted and its answer lost. fal may have taken it until the
    row became ambiguous, so the history is waited for from then: from ``sent_at`` the row was
    found absent before fal's index showed it, and sent a second time."""
    local_fal.platform.configure(history_delay=1.0)
    slow = RetryPolicy(base_delay=0.3, max_delay=0.3, jitter=0.0)
    local_fal.inject(Fault.ingress(503), on="submit", times=4)
    local_fal.inject(Fault.reset(after_handler=True), on="submit", times=1)
    data = rows(1)
    with local_fal.client(retry=slow, poll_interval=0.02) as client:
        first = _run(client, data, journal)
        assert first.counts == {"ambiguous": 1}
        summary = _run(client, data, journal, settle_delay=1.5)
    assert summary.counts == {"completed": 1}
    assert summary.settled is not None and summary.settled.adopted == 1
    assert accepted_by_prompt(local_fal) == {"row 0": 1}


def test_a_journal_clock_behind_this_machine_s_does_not_end_the_wait_for_the_history(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """The rows' times are on the journal's clock (a PostgreSQL server's), the wait for fal's
    history on this machine's. A journal clock ten minutes behind made the wait look over at
    once: the row fal had accepted, not indexed yet, was found absent and sent again (paid
    twice). Here the journal's clock is its SQL function's, set ten minutes back."""
    import time

    def run(data: list[dict[str, Any]], **options: Any) -> batch.Summary:
        store = batch.open_journal(str(tmp_path / "j.db"))
        behind = lambda: time.time() - 600  # noqa: E731
        store._connection.create_function("fal_now", 0, behind)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
        try:
            return batch.run(flux_dev, data, journal=store, client=client, **options).wait()
        finally:
            store.close()

    local_fal.platform.configure(history_delay=2.0)
    data = rows(2)
    local_fal.inject(Fault.reset(after_handler=True), on="submit", times=1)
    assert run(data, concurrency=1).counts == {"completed": 1, "ambiguous": 1}
    summary = run(data, settle_delay=4.0)
    assert summary.counts == {"completed": 2}
    assert summary.settled is not None
    assert (summary.settled.adopted, summary.settled.absent) == (1, 0)
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


def test_a_custom_reconciler_gets_the_rows_times_on_this_machine_s_clock(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """Only the history settler's rows were shifted off the journal's clock: a custom
    Reconciler got times ten minutes in the past here (the journal's clock set back), and
    windows it built from them missed the request."""
    import time

    def run(data: list[dict[str, Any]], **options: Any) -> batch.Summary:
        store = batch.open_journal(str(tmp_path / "j.db"))
        behind = lambda: time.time() - 600  # noqa: E731
        store._connection.create_function("fal_now", 0, behind)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
        try:
            return batch.run(flux_dev, data, journal=store, client=client, **options).wait()
        finally:
            store.close()

    data = rows(2)
    local_fal.inject(Fault.reset(after_handler=True), on="submit", times=1)
    before = time.time()
    assert run(data, concurrency=1).counts == {"completed": 1, "ambiguous": 1}
    seen: list[float | None] = []

    def mine(endpoint_id: str, found: Any) -> dict[str, str | None]:
        seen.extend(r.sent_at for r in found)
        return {}

    reconcile: Callable[..., Any] = mine
    run(data, reconcile=reconcile)
    (sent_at,) = seen
    assert sent_at is not None and sent_at >= before - 60
