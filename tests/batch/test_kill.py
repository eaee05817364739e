"""Batches killed with SIGKILL at random points, then resumed: every row completed exactly once.

The local server runs in its own process and counts the submits its queue accepted, by prompt.
The batch is ``fal-typed batch run`` in a subprocess, killed repeatedly (a bounded number of
times), then run to the end. After that every row is either completed, having reached fal exactly
once, or ambiguous (named by the summary and ``batch status``), having reached fal at most once.
Rows a kill cut off between submit and answer are settled from the request history when the next
run starts, so none is left ambiguous; ``--resend-ambiguous`` would send those that were.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fal_typed import batch

from .conftest import cli_command, cli_env
from .server_process import ServerProcess

ROWS = 150
KILLS = 10


def _write_rows(path: Path, count: int) -> None:
    with path.open("w") as out:
        for i in range(count):
            out.write(json.dumps({"prompt": f"row {i}", "image_size": "square"}) + "\n")


def _status(journal: str, cwd: Path, base_url: str) -> dict[str, object]:
    done = subprocess.run(
        cli_command("status", journal, "--json"),
        cwd=cwd,
        env=cli_env(base_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    status: dict[str, object] = json.loads(done.stdout)
    return status


def _holders(journal: str) -> list[tuple[str, int, float]]:
    """The workers holding leases now (none while the batch is not created yet)."""
    try:
        return batch.status(journal).workers
    except batch.JournalError:
        return []


def _check_exactly_once(server: ServerProcess, status: dict[str, object], count: int) -> set[str]:
    """Every non-ambiguous row reached fal once; ambiguous ones at most once. Returns their
    prompts."""
    accepted = server.accepted()
    ambiguous = status["ambiguous"]
    assert isinstance(ambiguous, list)
    ambiguous_prompts = {f"row {entry['position']}" for entry in ambiguous}
    for i in range(count):
        prompt = f"row {i}"
        if prompt in ambiguous_prompts:
            assert accepted.get(prompt, 0) <= 1, prompt
        else:
            assert accepted.get(prompt, 0) == 1, (prompt, accepted.get(prompt))
    assert set(accepted) <= {f"row {i}" for i in range(count)}
    return ambiguous_prompts


def _completed(journal: Path) -> int:
    """Rows completed so far (0 before the batch has created its journal)."""
    if not journal.exists():
        return 0
    try:
        return batch.status(str(journal)).counts.get("completed", 0)
    except batch.JournalError:
        return 0


def _made_progress(journal: Path, process: subprocess.Popen[bytes], *, since: int) -> bool:
    """Wait (bounded) until one more row is completed than ``since``; False if the process
    ended first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _completed(journal) > since:
            return True
        time.sleep(0.05)
    raise AssertionError("the batch made no progress in 120 s")


def _run_until_done(args: list[str], cwd: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=cli_env(base_url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sqlite_batch_killed_at_random_points_completes_each_row_exactly_once(
    tmp_path: Path,
) -> None:
    rng = random.Random(20260521)
    _write_rows(tmp_path / "rows.jsonl", ROWS)
    args = [
        "run",
        "fal-ai/flux/dev",
        "rows.jsonl",
        "--journal",
        "j.db",
        "--out",
        "out",
        "--concurrency",
        "16",
        "--settle-delay",
        "2",
        "--quiet",
    ]
    with ServerProcess(processing_time=0.15, fixed_output=True, history_delay=0.3) as server:
        kills = 0
        for _ in range(KILLS):
            process = subprocess.Popen(
                cli_command(*args),
                cwd=tmp_path,
                env=cli_env(server.base_url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Killed at a random instant after its next progress, however fast the machine.
            if not _made_progress(tmp_path / "j.db", process, since=_completed(tmp_path / "j.db")):
                break
            time.sleep(rng.uniform(0.0, 0.4))
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        finished = _run_until_done(args, tmp_path, server.base_url)
        assert finished.returncode in (0, 1), finished.stderr
        status = _status("j.db", tmp_path, server.base_url)
        counts = status["counts"]
        assert isinstance(counts, dict)
        assert counts.get("completed", 0) + counts.get("ambiguous", 0) == ROWS, counts
        ambiguous = _check_exactly_once(server, status, ROWS)
        for prompt in ambiguous:  # the summary names them
            key = next(a["key"] for a in status["ambiguous"] if f"row {a['position']}" == prompt)  # type: ignore[union-attr,index]
            assert key in finished.stderr
        print(f"{kills} kills, {len(ambiguous)} ambiguous rows: {sorted(ambiguous)}")
        assert kills >= 3, "the batch finished before it could be killed often enough"
        # Rows cut off by a kill were settled from fal's history when the next run started.
        assert ambiguous == set()
        # Asked to, the ambiguous rows are sent again; nothing else is.
        resent = _run_until_done([*args, "--resend-ambiguous"], tmp_path, server.base_url)
        assert resent.returncode == 0, resent.stderr
        accepted = server.accepted()
        for i in range(ROWS):
            prompt = f"row {i}"
            expected = (1, 2) if prompt in ambiguous else (1,)
            assert accepted.get(prompt, 0) in expected, prompt
        results = (tmp_path / "out/results.jsonl").read_text().splitlines()
        assert len(results) == ROWS and all(json.loads(r)["state"] == "completed" for r in results)


@pytest.mark.usefixtures("postgres_server")
def test_four_postgres_workers_one_killed_its_rows_taken_over(tmp_path: Path, pg_dsn: str) -> None:
    rows = 160
    _write_rows(tmp_path / "rows.jsonl", rows)
    base = [
        "run",
        "fal-ai/flux/dev",
        "rows.jsonl",
        "--journal",
        pg_dsn,
        "--worker",
        "--lease",
        "4",
        "--concurrency",
        "8",
        "--quiet",
        "--no-download",
    ]
    with ServerProcess(processing_time=0.2, fixed_output=True) as server:
        env = cli_env(server.base_url)
        workers = [
            subprocess.Popen(
                cli_command(*base, "--out", f"out{n}"),
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(4)
        ]
        victim = workers[0]
        deadline = time.monotonic() + 120
        # All four hold rows (the victim too): then the victim is killed at once.
        while len(_holders(pg_dsn)) < 4:
            exited = [w.communicate()[1] for w in workers if w.poll() is not None]
            assert not exited and time.monotonic() < deadline, (
                f"not all four workers hold rows: {exited}"
            )
            time.sleep(0.3)
        assert victim.poll() is None, "the batch finished before a worker could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        outputs = [w.communicate(timeout=300) for w in workers[1:]]
        for worker, (_, err) in zip(workers[1:], outputs, strict=True):
            assert worker.returncode in (0, 1), err
        status = _status(pg_dsn, tmp_path, server.base_url)
        counts = status["counts"]
        assert isinstance(counts, dict)
        assert counts.get("completed", 0) + counts.get("ambiguous", 0) == rows, counts
        ambiguous = _check_exactly_once(server, status, rows)
        print(f"{len(ambiguous)} ambiguous rows after the kill: {sorted(ambiguous)}")
        assert status["workers"] == []  # every lease given back or lapsed and taken over
        for worker in workers:
            for stream in (worker.stdout, worker.stderr):
                if stream is not None:
                    stream.close()


def _accepted_total(server: ServerProcess) -> int:
    return sum(server.accepted().values())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killed_between_submit_and_commit_resume_settles_every_row_from_the_history(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    """fal accepts submits whose answers never reach the batch (held by the server), and the
    batch is SIGKILLed then: the journal holds those rows as ``submitting`` with no request id.
    Resuming settles them against the request history before anything is sent: each is adopted
    (its result fetched, never sent again). 0 duplicate submits, 0 lost results, 0 ambiguous."""
    rows, answered, concurrency = 40, 8, 4
    journal = str(tmp_path / "j.db") if backend == "sqlite" else request.getfixturevalue("pg_dsn")
    _write_rows(tmp_path / "rows.jsonl", rows)
    args = [
        "run",
        "fal-ai/flux/dev",
        "rows.jsonl",
        "--journal",
        journal,
        "--out",
        "out",
        "--concurrency",
        str(concurrency),
        "--settle-delay",
        "2",
        "--quiet",
    ]
    config = {"processing_time": 0.05, "fixed_output": True, "history_delay": 0.5}
    with ServerProcess(**config, hold_answers_after=answered) as server:
        process = subprocess.Popen(
            cli_command(*args),
            cwd=tmp_path,
            env=cli_env(server.base_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        # Every slot holds a submit fal accepted but has not answered: kill the batch then.
        while _accepted_total(server) < answered + concurrency:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the held submits never arrived"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        cut_off = batch.status(journal).counts.get("submitting", 0)
        assert cut_off == concurrency, batch.status(journal).counts
        server.release()
        before = dict(server.accepted())

        resumed = _run_until_done(args[:-1], tmp_path, server.base_url)  # with its summary
        assert resumed.returncode == 0, resumed.stderr
        assert f"{cut_off} adopted (not re-sent)" in resumed.stderr
        status = _status(journal, tmp_path, server.base_url)
        assert status["counts"] == {"completed": rows} and status["ambiguous"] == []
        accepted = server.accepted()
        duplicates = {p: n for p, n in accepted.items() if n > 1}
        assert duplicates == {}  # 0 duplicate submits
        assert set(accepted) == {f"row {i}" for i in range(rows)}
        assert all(accepted[p] == 1 for p in before)  # the cut-off rows were not sent again
        results = [json.loads(r) for r in (tmp_path / "out/results.jsonl").read_text().splitlines()]
        assert len(results) == rows and all(r["state"] == "completed" for r in results)  # 0 lost
        print(f"{cut_off} rows cut off between submit and commit, all adopted; 0 ambiguous")
