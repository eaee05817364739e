"""The journal backends (SQLite, and PostgreSQL on a real server): loading, claiming with leases,
conditional transitions (the fencing that keeps a worker who lost its lease from sending), the
seam that settles ambiguous rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fal_typed.batch import (
    Journal,
    JournalBusyError,
    JournalMismatchError,
    PostgresJournal,
    SQLiteJournal,
)
from fal_typed.batch._journal import BatchInfo, ClaimRequest, LoadRecord, Transition
from fal_typed.batch._states import ErrorInfo

INFO = BatchInfo("default", "fal-ai/flux/dev", None)


@pytest.fixture(params=["sqlite", "postgres"])
def make_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[type[object]]:
    opened: list[Journal] = []

    def make() -> Journal:
        if request.param == "sqlite":
            journal: Journal = SQLiteJournal(tmp_path / "j.db")
        else:
            journal = PostgresJournal(request.getfixturevalue("pg_dsn"))
        opened.append(journal)
        return journal

    yield make  # type: ignore[misc]
    for journal in opened:
        journal.close()


def _records(count: int) -> list[LoadRecord]:
    return [
        LoadRecord(f"#{i}", f"{i}-h{i}", i, f"h{i}", {"prompt": f"p{i}"}, "pending")
        for i in range(count)
    ]


def _claim(
    journal: Journal, owner: str, limit: int, *, lease: float = 30, take_over: bool = False
) -> list[str]:
    rows = journal.claim(
        ClaimRequest(owner=owner, run_id=owner, limit=limit, lease=lease, take_over=take_over)
    )
    return [r.slot for r in rows]


def test_load_refreshes_unsent_rows_and_refuses_changed_sent_ones(make_journal) -> None:  # type: ignore[no-untyped-def]
    journal = make_journal()
    journal.open(INFO, "worker")
    assert journal.load(_records(3), "run1") == []
    assert journal.counts() == {"pending": 3}
    changed = [LoadRecord("#0", "0-x", 0, "x", {"prompt": "new"}, "pending"), *_records(3)[1:]]
    assert journal.load(changed, "run2") == []  # row 0 was never sent: refreshed
    assert next(journal.rows()).input == {"prompt": "new"}
    _claim(journal, "w", 1)
    journal.apply(
        [Transition("#0", "submitting", ("pending",), owner="w", values={"token": "t"})], "run2"
    )
    conflicts = journal.load(_records(3), "run3")
    assert [(c.slot, c.reason, c.state) for c in conflicts] == [("#0", "changed", "submitting")]
    duplicate = journal.load([_records(3)[1], _records(3)[1]], "run4")
    assert [(c.slot, c.reason) for c in duplicate] == [("#1", "duplicate")]


def test_claims_never_overlap_and_lapsed_leases_are_taken_over(make_journal) -> None:  # type: ignore[no-untyped-def]
    first, second = make_journal(), make_journal()
    first.open(INFO, "worker")
    second.open(INFO, "worker")
    first.load(_records(10), "load")
    a = _claim(first, "a", 4, lease=3)
    b = _claim(second, "b", 10, lease=30)
    assert len(a) == 4 and len(b) == 6 and not set(a) & set(b)
    assert _claim(second, "b", 10) == []  # a's rows are leased
    assert first.renew("a", 3) == 4
    time.sleep(3.5)  # a stops renewing: as if killed
    taken = _claim(second, "b", 10)
    assert sorted(taken) == sorted(a)
    # a, back from a stall, cannot renew its way back to the rows it lost, nor claim them,
    # nor move one: every write checks the lease owner in its own statement.
    assert first.renew("a", 30) == 0
    assert _claim(first, "a", 10) == []
    lost = Transition(a[0], "submitting", ("pending",), owner="a", values={"token": "late"})
    assert first.apply([lost], "run-a") == [False]
    ok = Transition(a[0], "submitting", ("pending",), owner="b", values={"token": "t"})
    assert second.apply([ok], "run-b") == [True]


def test_a_request_id_is_recorded_even_after_the_lease_is_lost(make_journal) -> None:  # type: ignore[no-untyped-def]
    journal = make_journal()
    journal.open(INFO, "solo")
    journal.load(_records(1), "load")
    _claim(journal, "a", 1)
    journal.apply(
        [Transition("#0", "submitting", ("pending",), owner="a", values={"token": "t1"})], "r"
    )
    journal.apply([Transition("#0", "ambiguous", ("submitting",), token="t1")], "r")  # taken over
    # The late answer still lands: a request fal accepted (and bills) is never forgotten.
    late = Transition(
        "#0", "submitted", ("submitting", "ambiguous"), token="t1", values={"request_id": "rid"}
    )
    assert journal.apply([late], "r") == [True]
    row = next(journal.rows())
    assert (row.state, row.request_id) == ("submitted", "rid")
    stale = Transition(
        "#0", "submitted", ("submitting", "ambiguous"), token="t0", values={"request_id": "x"}
    )
    assert journal.apply([stale], "r") == [False]


def test_ambiguous_rows_can_be_settled_by_reconciliation(make_journal) -> None:  # type: ignore[no-untyped-def]
    journal = make_journal()
    journal.open(INFO, "solo")
    journal.load(_records(2), "load")
    _claim(journal, "a", 2)
    error = ErrorInfo("possibly_accepted", "cut off")
    for slot in ("#0", "#1"):
        journal.apply(
            [Transition(slot, "submitting", ("pending",), owner="a", values={"token": "t"})], "r"
        )
        journal.apply(
            [Transition(slot, "ambiguous", ("submitting",), token="t", values={"error": error})],
            "r",
        )
    assert journal.resolve_ambiguous("#0", "found-rid")
    assert journal.resolve_ambiguous("#1", None)
    states = {r.slot: (r.state, r.request_id) for r in journal.rows()}
    assert states == {"#0": ("submitted", "found-rid"), "#1": ("pending", None)}
    assert not journal.resolve_ambiguous("#0", "again")


def _submitting(journal: Journal, slot: str, owner: str) -> None:
    moved = journal.apply(
        [
            Transition(
                slot, "submitting", ("pending",), owner=owner, values={"token": "t", "sent": True}
            )
        ],
        "r",
    )
    assert moved == [True]


def test_rows_cut_off_mid_submit_become_ambiguous_lapsed_leases_only_unless_taking_over(
    make_journal,  # type: ignore[no-untyped-def]
) -> None:
    journal = make_journal()
    journal.open(INFO, "solo")
    journal.load(_records(3), "load")
    _claim(journal, "live", 1, lease=60)  # #0: a live worker's
    _claim(journal, "dead", 1, lease=0.05)  # #1: a dead worker's, its lease about to lapse
    _submitting(journal, "#0", "live")
    _submitting(journal, "#1", "dead")
    time.sleep(0.1)
    assert journal.cut_off(take_over=False) == 1  # only the lapsed one
    states = {r.slot: r.state for r in journal.rows()}
    assert states == {"#0": "submitting", "#1": "ambiguous", "#2": "pending"}
    (row,) = journal.rows(["ambiguous"])
    assert row.error is not None and row.error.kind == "possibly_accepted" and row.sent_at
    assert journal.cut_off(take_over=True) == 1  # a solo run: nobody else is alive
    assert journal.state_of("#0") == "ambiguous" and journal.state_of("#9") is None


def test_a_request_id_is_adopted_by_one_row_only_and_not_while_a_twin_is_being_sent(
    make_journal,  # type: ignore[no-untyped-def]
) -> None:
    journal = make_journal()
    journal.open(INFO, "solo")
    same = {"prompt": "twins"}
    journal.load(
        [LoadRecord(f"#{i}", f"k{i}", i, "same-hash", same, "pending") for i in range(3)], "load"
    )
    _claim(journal, "a", 3, lease=60)
    error = ErrorInfo("possibly_accepted", "cut off")
    for slot in ("#0", "#1", "#2"):
        _submitting(journal, slot, "a")
    for slot in ("#0", "#1"):
        journal.apply(
            [Transition(slot, "ambiguous", ("submitting",), token="t", values={"error": error})],
            "r",
        )
    # #2 (same input) is being sent by a live worker: the request found may be its own.
    assert not journal.resolve_ambiguous("#0", "rid-1")
    journal.apply(
        [Transition("#2", "submitted", ("submitting",), token="t", values={"request_id": "rid-2"})],
        "r",
    )
    assert not journal.resolve_ambiguous("#0", "rid-2")  # #2's: never adopted by another row
    assert journal.resolve_ambiguous("#0", "rid-1")
    assert not journal.resolve_ambiguous("#1", "rid-1")  # adopted once only
    assert journal.request_ids() == {"rid-1", "rid-2"}
    assert journal.state_of("#1") == "ambiguous"


def test_rows_are_read_page_by_page_in_input_order(make_journal) -> None:  # type: ignore[no-untyped-def]
    journal = make_journal()
    journal.open(INFO, "solo")
    journal.load(list(reversed(_records(25))), "load")
    assert [r.position for r in journal.rows(page=4)] == list(range(25))
    assert [r.position for r in journal.rows(["pending"], page=7)] == list(range(25))


@pytest.mark.usefixtures("postgres_server")
def test_workers_creating_the_batch_together_all_join_it(pg_dsn: str) -> None:
    """Workers started together each find no batch and create it. One has inserted it and not
    committed yet when another looks: the other must wait and join that batch, not fail on the
    primary key (this made the four-worker kill test fail under load)."""
    import psycopg

    from fal_typed.batch._journal import DDL

    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        for statement in DDL:
            admin.execute(statement)  # pyright: ignore[reportArgumentType]
        with psycopg.connect(pg_dsn) as first:  # a worker inside its opening transaction
            first.execute(
                "INSERT INTO fal_batch (name, endpoint_id, key_field, version, created_at) "
                "VALUES ('default', 'fal-ai/flux/dev', NULL, 1, 0)"
            )
            second = PostgresJournal(pg_dsn)
            failures: list[BaseException] = []

            def open_second() -> None:
                try:
                    second.open(INFO, "worker")
                except BaseException as exc:  # reported by the assertion below
                    failures.append(exc)

            opener = threading.Thread(target=open_second)
            opener.start()
            # Bounded wait until the second worker waits on the first's uncommitted insert.
            deadline = time.monotonic() + 60
            while not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'fal-typed batch' AND wait_event_type = 'Lock'"
            ).fetchall():
                assert opener.is_alive() and time.monotonic() < deadline, failures
                time.sleep(0.02)
            first.commit()
        opener.join(60)
    try:
        assert not opener.is_alive() and failures == []
        assert second.info == INFO
        second.load(_records(2), "run")
        assert second.counts() == {"pending": 2}
    finally:
        second.close()


@pytest.mark.parametrize("version", [0, 2, 99])
@pytest.mark.parametrize("mode", ["solo", "worker"])
def test_a_journal_of_another_version_is_refused_before_any_row_is_claimed(
    make_journal: Any, version: int, mode: str
) -> None:
    first: Journal = make_journal()
    first.open(INFO, "solo")
    first.load(_records(2), "run-1")
    assert isinstance(first, (SQLiteJournal, PostgresJournal))
    with first._transaction(write=True):  # pyright: ignore[reportPrivateUsage]
        first._execute(  # pyright: ignore[reportPrivateUsage]
            first._sql("UPDATE fal_batch SET version = ?"),  # pyright: ignore[reportPrivateUsage]
            (version,),
        )
    first.close()
    again: Journal = make_journal()
    for _ in range(100):  # PostgreSQL drops a closed session's lock a moment later
        try:
            again.open(INFO, mode)  # type: ignore[arg-type]
        except JournalBusyError:
            time.sleep(0.05)
        except JournalMismatchError as refused:
            assert f"version {version}" in str(refused)
            break
    else:
        pytest.fail("the journal was never refused")
    reader: Journal = make_journal()
    reader.open(INFO, "read")  # batch status still reads it
    assert reader.counts() == {"pending": 2}


def test_rows_a_run_loaded_are_not_removed_because_a_worker_loaded_them_after(make_journal) -> None:  # type: ignore[no-untyped-def]
    """Workers load one input together: loaded_by is the last loader's, so the first worker's
    check found every row the second re-stamped "not in the input given" (InputRemovedError,
    nothing sent). Each run's check reads the slots its own load gave."""
    journal = make_journal()
    journal.open(INFO, "worker")
    journal.load(_records(3), "run1")
    journal.load(_records(3), "run2")
    assert journal.not_loaded({"#0", "#1", "#2"}) == (0, [])
    assert journal.not_loaded({"#0"}) == (2, ["1-h1", "2-h2"])
