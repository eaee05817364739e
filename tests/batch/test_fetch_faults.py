"""Following a submitted row: a failure to *fetch* its status or result is not the request's
failure. The request may have succeeded and been paid for, so the row stays awaited by request id:
never ``failed`` (which lost the paid result, and ``--retry-failed`` then paid for it again)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.batch import _runner
from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import accepted_by_prompt, rows

# Every way following a request can fail while fal said nothing of the request failing.
FETCH_FAULTS = [
    pytest.param("result", Fault.server_error(500, "internal_error"), id="result-fal-500"),
    pytest.param("result", Fault.server_error(503), id="result-fal-503"),
    pytest.param("result", Fault.rate_limited(None), id="result-429-storm"),
    pytest.param("result", Fault.response(401, {"detail": "key revoked"}), id="result-401"),
    pytest.param("result", Fault.response(408, {"detail": "timeout"}), id="result-408"),
    pytest.param("queue.status*", Fault.server_error(500, "internal_error"), id="status-fal-500"),
    pytest.param("queue.status*", Fault.response(403, {"detail": "no"}), id="status-403"),
    # An answer that cannot be read (a proxy's cut or garbled body): the result may be fine.
    pytest.param("result", Fault.response(200, text="not json{"), id="result-200-unreadable"),
    pytest.param("queue.status*", Fault.response(200, {"status": "?"}), id="status-unreadable"),
]


@pytest.fixture(autouse=True)
def _quick_refetch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runner, "_REFETCH_DELAYS", (0.0,), raising=False)


@pytest.mark.parametrize(("on", "fault"), FETCH_FAULTS)
def test_a_result_that_cannot_be_fetched_stays_submitted_and_is_never_sent_again(
    local_fal: LocalFal, client: Client, tmp_path: Path, on: str, fault: Fault
) -> None:
    journal = tmp_path / "j.db"
    local_fal.inject(fault, on=on, times=None)
    first = batch.run(flux_dev, rows(2), journal=journal, client=client).wait()
    assert first.counts == {"submitted": 2}, first
    assert not first.complete and not first.failed_kinds
    with sqlite3.connect(journal) as db:
        held = db.execute("SELECT request_id, error_kind FROM fal_batch_rows").fetchall()
    assert len(held) == 2 and all(request_id and kind for request_id, kind in held)
    local_fal.state.faults.clear()
    # Even asked to retry every failure, nothing is sent again: the rows are fetched by id.
    second = batch.run(flux_dev, rows(2), journal=journal, client=client, retry_failed="all")
    assert second.wait().counts == {"completed": 2}
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


@pytest.mark.parametrize(("on", "fault"), FETCH_FAULTS[:3])
def test_a_passing_fetch_fault_is_waited_out_in_the_same_run(
    local_fal: LocalFal, client: Client, tmp_path: Path, on: str, fault: Fault
) -> None:
    local_fal.inject(fault, on=on, times=1)
    summary = batch.run(flux_dev, rows(2), journal=tmp_path / "j.db", client=client).wait()
    assert summary.counts == {"completed": 2}
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


@pytest.mark.parametrize(
    "failure",
    [
        Failure(500, "boom", error_type="internal_server_error"),
        Failure(503, "no runner", error_type="runner_scheduling_failure"),
        Failure(422, [{"loc": ["body", "prompt"], "msg": "bad", "type": "no_media_generated"}]),
    ],
    ids=["500", "503", "422"],
)
def test_the_requests_own_failure_still_fails_the_row(
    local_fal: LocalFal, client: Client, tmp_path: Path, failure: Failure
) -> None:
    local_fal.configure(failure=failure)
    summary = batch.run(flux_dev, rows(1), journal=tmp_path / "j.db", client=client).wait()
    assert summary.counts == {"failed": 1}
    assert list(summary.failed_kinds) == [failure.error_type]
