"""The runner against the local fal server: each rule of the journal, one test each.

The server runs in this process (``local_fal``); counts of accepted submits come from its request
log. Batches here are small: the load and kill tests are in test_load.py and test_kill.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import accepted_by_prompt, rows


def _run(client: Client, data: Any, journal: Path, **options: Any) -> batch.Summary:
    return batch.run(flux_dev, data, journal=journal, client=client, **options).wait()


def _db(journal: Path) -> sqlite3.Connection:
    return sqlite3.connect(journal)


def test_every_row_completes_once_and_a_rerun_sends_nothing(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    data = rows(12)
    job = batch.run(flux_dev, data, journal=tmp_path / "j.db", client=client, out=tmp_path / "out")
    seen = list(job)
    summary = job.summary()
    assert summary.counts == {"completed": 12}
    assert sorted(r.position for r in seen) == list(range(12))
    assert all(isinstance(r.output, flux_dev.Output) and r.request_id for r in seen)
    assert all(r.files and r.files[0].is_file() for r in seen)
    again = _run(client, data, tmp_path / "j.db", out=tmp_path / "out")
    assert again.counts == {"completed": 12} and again.finished == 0
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(12)}
    lines = [json.loads(line) for line in (tmp_path / "out/results.jsonl").read_text().splitlines()]
    assert [line["position"] for line in lines] == list(range(12))
    assert all(line["state"] == "completed" and line["files"] for line in lines)


def test_submitting_is_committed_before_the_post_and_the_id_before_waiting(
    local_fal: LocalFal, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.db"
    observed: list[tuple[str, str | None]] = []

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        # Runs at the server when the request is processed: the submit was answered already.
        with _db(journal) as db:
            state, request_id = db.execute(
                "SELECT state, request_id FROM fal_batch_rows WHERE input LIKE ?",
                (f'%"{body["prompt"]}"%',),
            ).fetchone()
        observed.append((state, request_id))
        return {
            "images": [],
            "timings": {},
            "seed": 1,
            "has_nsfw_concepts": [],
            "prompt": body["prompt"],
        }

    local_fal.handler("fal-ai/flux/dev", handler)
    local_fal.configure(processing_time=0.3)
    submitted_states: list[str] = []
    original = local_fal.state.queue.submit

    def spy(endpoint_id: str, arguments: Any, **kwargs: Any) -> Any:
        with _db(journal) as db:
            (state,) = db.execute(
                "SELECT state FROM fal_batch_rows WHERE input LIKE ?",
                (f'%"{arguments["prompt"]}"%',),
            ).fetchone()
        submitted_states.append(state)
        return original(endpoint_id, arguments, **kwargs)

    monkeypatch.setattr(local_fal.state.queue, "submit", spy)
    summary = _run(client, rows(4), journal)
    assert summary.counts == {"completed": 4}
    assert submitted_states == ["submitting"] * 4  # durable before the POST reached fal
    assert observed and all(state == "submitted" and rid for state, rid in observed)


def test_rows_left_submitting_by_a_crash_are_ambiguous_named_and_not_resent(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    _run(client, rows(5), journal)
    with _db(journal) as db:  # as if the process died between POST and answer for row 2
        db.execute(
            "UPDATE fal_batch_rows SET state='submitting', token='t', request_id=NULL WHERE pos=2"
        )
    local_fal.reset()
    data = rows(5)
    with _db(journal) as db:
        db.execute("UPDATE fal_batch_rows SET state='pending' WHERE pos<>2")
    summary = _run(client, data, journal, settle=False)  # test_settle.py: with the history
    assert summary.counts == {"completed": 4, "ambiguous": 1}
    assert summary.ambiguous == [summary_key(journal, 2)]
    assert "row 2" not in accepted_by_prompt(local_fal)
    assert "ambiguous" in str(summary) and summary.ambiguous[0] in str(summary)
    # Sent again only when asked.
    resent = _run(client, data, journal, resend_ambiguous=True, settle=False)
    assert resent.counts == {"completed": 5}
    assert accepted_by_prompt(local_fal)["row 2"] == 1


def summary_key(journal: Path, position: int) -> str:
    with _db(journal) as db:
        (key,) = db.execute(
            "SELECT row_key FROM fal_batch_rows WHERE pos=?", (position,)
        ).fetchone()
    return str(key)


def test_submitted_rows_are_awaited_by_request_id_never_sent_again(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    local_fal.configure(processing_time=0.2)
    handle = flux_dev.endpoint.submit(flux_dev.endpoint.arguments(rows(1)[0]), client=client)
    _run(client, rows(3), journal)
    with _db(journal) as db:  # row 0 was submitted by an earlier run that died waiting
        db.execute(
            "UPDATE fal_batch_rows SET state='submitted', request_id=?, output=NULL WHERE pos=0",
            (handle.request_id,),
        )
    before = accepted_by_prompt(local_fal)
    summary = _run(client, rows(3), journal)
    assert summary.counts == {"completed": 3}
    assert accepted_by_prompt(local_fal) == before
    assert local_fal.requests_for("result", request_id=handle.request_id)


def test_possibly_accepted_submits_become_ambiguous(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.inject(Fault.reset(after_handler=True), on="submit", times=1)
    summary = _run(client, rows(3), tmp_path / "j.db", concurrency=1)
    assert summary.counts == {"completed": 2, "ambiguous": 1}
    submits = local_fal.requests_for("submit")
    assert len(submits) == 3  # the ambiguous row was not sent again
    assert [s.json()["prompt"] for s in submits if s.fault] == ["row 0"]  # fal accepted it
    status = batch.status(tmp_path / "j.db")
    assert [row.key for row in status.ambiguous] == summary.ambiguous
    assert status.ambiguous[0].error is not None
    assert status.ambiguous[0].error.kind == "possibly_accepted"


def test_failed_rows_are_retried_only_when_asked_by_kind(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    local_fal.configure(failure=Failure(503, "no runner", error_type="runner_scheduling_failure"))
    first = _run(client, rows(3), journal)
    assert first.counts == {"failed": 3}
    assert first.failed_kinds == {"runner_scheduling_failure": 3}
    local_fal.configure(failure=None)
    assert _run(client, rows(3), journal).counts == {"failed": 3}  # not asked
    assert _run(client, rows(3), journal, retry_failed="request_timeout").counts == {"failed": 3}
    retried = _run(client, rows(3), journal, retry_failed="5xx")
    assert retried.counts == {"completed": 3}
    assert accepted_by_prompt(local_fal) == {f"row {i}": 2 for i in range(3)}


def test_validation_first_names_every_bad_row_and_sends_nothing(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    data: list[dict[str, Any]] = [
        *rows(3),
        {"prompt": 4},
        {"prompt": "x", "num_images": 99},
        {"nope": 1},
    ]
    report = batch.validate(flux_dev, data)
    assert (report.rows, report.valid) == (6, 3)
    assert [p.fields for p in report.problems] == [("prompt",), ("num_images",), ("prompt", "nope")]
    assert all(p.key.startswith(f"{3 + i}-") for i, p in enumerate(report.problems))
    with pytest.raises(batch.BatchValidationError) as caught:
        _run(client, data, tmp_path / "j.db")
    assert len(caught.value.report.problems) == 3
    assert not local_fal.requests_for("submit")
    skipped = _run(client, data, tmp_path / "j.db", skip_invalid=True)
    assert skipped.counts == {"completed": 3, "invalid": 3}
    assert len(skipped.invalid) == 3


def test_a_changed_input_is_detected_row_by_row(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    _run(client, rows(4), journal)
    changed = rows(4)
    changed[1]["prompt"] = "something else"
    with pytest.raises(batch.InputChangedError) as caught:
        _run(client, changed, journal)
    assert [c.position for c in caught.value.conflicts] == [1]
    kept = _run(client, changed, journal, on_change="keep")
    assert kept.counts == {"completed": 4} and [c.position for c in kept.changed] == [1]
    assert "something else" not in accepted_by_prompt(local_fal)
    # With an id field, rows may move around; a changed one is still caught by its key.
    keyed = tmp_path / "keyed.db"
    data = [{"id": f"k{i}", **row} for i, row in enumerate(rows(3))]
    _run(client, data, keyed, key_field="id")
    moved = list(reversed(data))
    assert _run(client, moved, keyed, key_field="id").finished == 0
    moved[0] = {**moved[0], "prompt": "edited"}
    with pytest.raises(batch.InputChangedError):
        _run(client, moved, keyed, key_field="id")


def test_a_duplicate_key_is_an_invalid_row(client: Client, tmp_path: Path) -> None:
    data = [{"id": "a", "prompt": "1"}, {"id": "b", "prompt": "2"}, {"id": "a", "prompt": "3"}]
    with pytest.raises(batch.BatchValidationError, match="more than once"):
        _run(client, data, tmp_path / "j.db", key_field="id")


def test_a_journal_refuses_another_endpoint_and_a_second_solo_run(
    client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    _run(client, rows(1), journal)
    from fal_endpoints import moondream2

    with pytest.raises(batch.JournalMismatchError, match="fal-ai/flux/dev"):
        batch.run(
            moondream2, [{"image_url": "https://x.test/a.png"}], journal=journal, client=client
        ).wait()
    from fal_typed.batch._journal import BatchInfo

    held = batch.SQLiteJournal(journal)
    held.open(BatchInfo("default", "fal-ai/flux/dev", None), "solo")
    try:
        with pytest.raises(batch.JournalBusyError, match="--worker"):
            _run(client, rows(1), journal)
    finally:
        held.close()


def test_output_files_results_and_report(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    local_fal.configure("fal-ai/flux/dev", failure=None)
    data = [*rows(2), {"prompt": "four", "num_images": 4, "output_format": "png"}]
    summary = _run(client, data, tmp_path / "j.db", out=out)
    assert summary.counts == {"completed": 3}
    names = sorted(p.name for p in (out / "files").iterdir())
    assert len(names) == 2 + 4 and all(n.endswith((".jpg", ".jpeg", ".png")) for n in names)
    # Names are deterministic: the row's key and the file's place in the output.
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert results[2]["files"] == [f"files/{results[2]['key']}-images-{i}.png" for i in range(4)]
    page = (out / "index.html").read_text()
    assert page.count('<section class="row completed"') == 3
    assert all(f'src="{f}"' in page for r in results for f in r["files"])


def test_async_api_yields_rows_as_they_finish(client: Client, tmp_path: Path) -> None:
    import asyncio

    async def main() -> tuple[list[str], batch.Summary]:
        job = batch.run_async(flux_dev.endpoint, rows(5), journal=tmp_path / "j.db", client=client)
        keys = [row.key async for row in job]
        return keys, await job.summary()

    keys, summary = asyncio.run(main())
    assert len(keys) == 5 and summary.counts == {"completed": 5}


def test_breaking_out_of_the_loop_stops_and_the_same_call_resumes(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.configure(processing_time=0.05)
    journal = tmp_path / "j.db"
    job = batch.run(flux_dev, rows(40), journal=journal, client=client, concurrency=4)
    for _ in job:
        break
    counts = batch.status(journal).counts
    assert counts.get("completed", 0) < 40
    assert "ambiguous" not in counts  # a graceful stop lets submits on the wire finish
    assert _run(client, rows(40), journal).counts == {"completed": 40}
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(40)}
