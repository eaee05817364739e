"""A journal that fails during a run (its disk full, here a real file size limit on the batch's
process: SQLite's writes past it fail; or its claim of the next rows failing): the run stops
instead of hanging, sends nothing the journal cannot record, names every request id fal gave that
the journal could not keep, says how to resume, and the same command resumes it with every row
sent exactly once."""

from __future__ import annotations

import json
import re
import resource
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import batch
from fal_typed.batch._journal import BatchInfo
from fal_typed.testing import LocalFal

from .conftest import FAST_RETRY, accepted_by_prompt, cli_command, cli_env, rows

ROWS = 400
# Past the loaded journal (400 rows of ~300 bytes), short of the whole batch's.
FILE_LIMITS = [700_000, 450_000]


def _accepted(local_fal: LocalFal) -> Counter[str]:
    return Counter(
        str(entry.json()["prompt"])
        for entry in local_fal.requests_for("submit")
        if entry.fault is None and entry.status_code == 200
    )


@pytest.mark.parametrize("limit", FILE_LIMITS)
def test_a_journal_whose_disk_fills_stops_the_run_and_loses_no_request_id(
    local_fal: LocalFal, tmp_path: Path, limit: int
) -> None:
    local_fal.configure(processing_time=0.05)
    rows = tmp_path / "in.jsonl"
    rows.write_text(
        "".join(json.dumps({"prompt": f"row {i} " + "x" * 300}) + "\n" for i in range(ROWS))
    )
    journal = tmp_path / "j.db"
    command = cli_command(
        "run", "fal-ai/flux/dev", str(rows), "--journal", str(journal), "--concurrency", "16"
    )

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run(
        command,
        env=cli_env(local_fal.base_url),
        capture_output=True,
        text=True,
        timeout=120,  # it hung for ever: a row's failed commit kept its concurrency slot
        preexec_fn=limited,
        check=False,
    )
    assert full.returncode == 2, full.stderr
    assert f"the journal {journal} failed" in full.stderr and "a bug" not in full.stderr
    accepted = _accepted(local_fal)
    assert accepted, "the disk filled before anything was sent: raise the limit"
    with sqlite3.connect(journal) as db:
        recorded = {rid for (rid,) in db.execute("SELECT request_id FROM fal_batch_rows")}
    given = {e.request_id for e in local_fal.requests_for("submit") if e.status_code == 200}
    unrecorded = given - recorded
    said = set(re.findall(r"as request (\S+), but the journal could not record", full.stderr))
    assert unrecorded <= said  # every id fal gave is in the journal or in the run's output
    resumed = subprocess.run(
        command, env=cli_env(local_fal.base_url), capture_output=True, text=True, timeout=180
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _accepted(local_fal) == {f"row {i} " + "x" * 300: 1 for i in range(ROWS)}


# Claims set a lease owner; nothing else does (transitions and releases clear it). The trigger
# fails them once a row has completed, as a disk that fills after the first claim would.
_FAILING_CLAIMS = """
CREATE TRIGGER fail_claims BEFORE UPDATE OF lease_owner ON fal_batch_rows
WHEN NEW.lease_owner IS NOT NULL
     AND (SELECT COUNT(*) FROM fal_batch_rows WHERE state = 'completed') > 0
BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END
"""


def test_a_journal_that_fails_to_claim_rows_stops_the_run_saying_how_to_resume(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    with batch.SQLiteJournal(journal) as made:
        made.open(BatchInfo("default", "fal-ai/flux/dev", None), "solo")
    with sqlite3.connect(journal) as db:
        db.execute(_FAILING_CLAIMS)
    local_fal.configure(processing_time=0.05)
    with local_fal.client(retry=FAST_RETRY, poll_interval=0.02) as client:
        with pytest.raises(batch.JournalError) as stopped:
            batch.run(flux_dev, rows(12), journal=journal, client=client, concurrency=2).wait()
        # It ended with the journal's own words only: nothing of what to do next.
        said = str(stopped.value)
        assert f"the journal {journal} failed" in said and "disk I/O error" in said
        assert "the same command resumes" in said
        assert batch.status(journal).counts.get("completed", 0) < 12
        with sqlite3.connect(journal) as db:
            db.execute("DROP TRIGGER fail_claims")
        resumed = batch.run(flux_dev, rows(12), journal=journal, client=client).wait()
    assert resumed.counts == {"completed": 12}
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(12)}
