"""A SQLite journal copied without its write-ahead log, or an older backup put back: the copy
lacks the commits of its last run, so rows that run sent read ``pending`` and were sent, and
paid for, again. Such a copy is refused, saying why and what to do; whole copies resume."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt, cli_command, cli_env, rows

ROWS = 30


def _source(folder: Path) -> Path:
    source = folder / "in.jsonl"
    source.write_text("".join(json.dumps({"prompt": f"row {i}"}) + "\n" for i in range(ROWS)))
    return source


def _command(source: Path, journal: Path) -> list[str]:
    return cli_command(
        "run", "fal-ai/flux/dev", str(source), "--journal", str(journal), "--concurrency", "4"
    )


def _run(local_fal: LocalFal, source: Path, journal: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(source, journal),
        env=cli_env(local_fal.base_url),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _killed_mid_run(local_fal: LocalFal, source: Path, journal: Path) -> int:
    """Run the batch and SIGKILL it once 8 rows were sent; how many submits fal got."""
    running = subprocess.Popen(_command(source, journal), env=cli_env(local_fal.base_url))
    try:
        deadline = time.monotonic() + 60
        while len(local_fal.requests_for("submit")) < 8:
            assert time.monotonic() < deadline and running.poll() is None
            time.sleep(0.02)
        running.send_signal(signal.SIGKILL)
    finally:
        running.kill()
        running.wait(30)
    assert Path(f"{journal}-wal").stat().st_size > 0  # the kill left commits in the log
    return len(local_fal.requests_for("submit"))


def test_a_journal_copied_without_its_log_is_refused_and_one_with_it_resumes(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    local_fal.configure(processing_time=0.05)
    source = _source(tmp_path)
    journal = tmp_path / "j.db"
    sent = _killed_mid_run(local_fal, source, journal)
    alone, whole = tmp_path / "alone", tmp_path / "whole"
    alone.mkdir()
    whole.mkdir()
    shutil.copy(journal, alone / "j.db")  # the main file only
    shutil.copy(journal, whole / "j.db")
    shutil.copy(f"{journal}-wal", whole / "j.db-wal")

    refused = _run(local_fal, source, alone / "j.db")
    assert refused.returncode == 2, refused.stderr
    assert "j.db-wal is not beside it" in refused.stderr, refused.stderr
    assert "paid for, again" in refused.stderr
    assert len(local_fal.requests_for("submit")) == sent  # nothing sent

    resumed = _run(local_fal, source, whole / "j.db")
    assert resumed.returncode == 0, resumed.stderr
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(ROWS)}


def test_a_killed_journal_whose_log_a_reader_merged_resumes_in_place(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    """``batch status`` after the kill merges the log into the main file and removes it (SQLite
    does as its last connection closes): the journal is whole, and resumes."""
    local_fal.configure(processing_time=0.05)
    source = _source(tmp_path)
    journal = tmp_path / "j.db"
    _killed_mid_run(local_fal, source, journal)
    batch.status(journal)
    assert not Path(f"{journal}-wal").exists()
    resumed = _run(local_fal, source, journal)
    assert resumed.returncode == 0, resumed.stderr
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(ROWS)}


def test_an_older_backup_put_back_is_refused(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    assert batch.run(flux_dev, rows(3), journal=journal, client=client).wait().complete
    backup = tmp_path / "backup.db"
    shutil.copy(journal, backup)  # whole: the run ended cleanly
    assert batch.run(flux_dev, rows(6), journal=journal, client=client).wait().complete
    shutil.copy(backup, journal)  # rows 3-5 were sent after the backup
    sent = len(local_fal.requests_for("submit"))
    try:
        batch.run(flux_dev, rows(6), journal=journal, client=client).wait()
    except batch.JournalError as exc:
        assert "lacks the commits of its last runs" in exc.message
        assert "j.db.lock" in exc.message
    else:
        raise AssertionError("an older backup was resumed")
    assert len(local_fal.requests_for("submit")) == sent
    # A whole copy of a journal that ended cleanly runs anywhere.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(backup, elsewhere / "j.db")
    summary = batch.run(flux_dev, rows(3), journal=elsewhere / "j.db", client=client).wait()
    assert summary.complete and len(local_fal.requests_for("submit")) == sent
