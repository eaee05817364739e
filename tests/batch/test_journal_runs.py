"""The SQLite journal's count of runs (opened, closed cleanly) and its lock file's count: a
journal made anew under an old name, a platform without fcntl, workers closing together."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fal_typed.batch import SQLiteJournal
from fal_typed.batch._journal import BatchInfo

INFO = BatchInfo("default", "fal-ai/flux/dev", None)


def _runs(path: Path) -> tuple[int, int]:
    journal = SQLiteJournal(path)
    try:
        journal.open(INFO, "read")
        (row,) = journal._execute("SELECT opened, closed FROM fal_journal_runs")  # pyright: ignore[reportPrivateUsage]
        return int(row[0]), int(row[1])
    finally:
        journal.close()


def _solo(path: Path) -> None:
    journal = SQLiteJournal(path)
    try:
        journal.open(INFO, "solo")
    finally:
        journal.close()


def test_a_journal_deleted_and_made_anew_under_its_name_is_not_an_older_copy(
    tmp_path: Path,
) -> None:
    """rm cats.db (its lock file left, counting 3 runs): the new journal counts 0, and was
    refused as "an older copy put back". A file made by this open resets the lock's count."""
    path = tmp_path / "cats.db"
    for _ in range(3):
        _solo(path)
    assert Path(f"{path}.lock").read_text().strip() == "3"
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    _solo(path)
    assert Path(f"{path}.lock").read_text().strip() == "1"
    _solo(path)  # and it counts on from there
    assert _runs(path) == (2, 2)


def test_workers_each_count_their_clean_end_without_an_exclusive_lock(tmp_path: Path) -> None:
    """A closing worker upgraded its shared flock to exclusive to find whether it was the last
    (not atomic on Linux: a worker starting then was refused as meeting a run without
    --worker; two closing together both failed it): only the last recorded a clean end, and
    workers closing while another held the journal recorded none."""
    path = tmp_path / "j.db"
    workers = [SQLiteJournal(path) for _ in range(3)]
    for journal in workers:
        journal.open(INFO, "worker")
    workers[0].close()
    workers[1].close()
    assert _runs(path) == (3, 2)  # the third still works
    workers[2].close()
    assert _runs(path) == (3, 3)


def test_without_fcntl_a_journal_closed_cleanly_resumes(tmp_path: Path) -> None:
    """Without fcntl (Windows) there is no lock file, and the clean end was recorded only
    through the lock: every resume after a clean run was refused as a copy left open."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["fcntl"] = None  # as on Windows
        from pathlib import Path
        from fal_typed.batch import SQLiteJournal
        from fal_typed.batch._journal import BatchInfo
        path = Path({str(tmp_path / "j.db")!r})
        for _ in range(3):
            journal = SQLiteJournal(path)
            try:
                journal.open(BatchInfo("default", "fal-ai/flux/dev", None), "solo")
            finally:
                journal.close()
        assert not Path(str(path) + ".lock").exists()
        print("resumed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "resumed"
