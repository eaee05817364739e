"""A request id that arrives after the row was taken over (the worker stalled past its lease):
recorded, or adopted, or said, never dropped. Another worker's moves are made here in the
journal while the submit is at fal (its answer not sent yet), as they happen for real."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt, rows

# What another worker did to row 0 meanwhile.
MOVES = {
    # found absent in the history before fal's index showed this submit, not sent yet
    "settled-absent": "state='pending', token=NULL, lease_owner=NULL, lease_until=NULL",
    # ... and sent again: its own request
    "sent-again": "state='submitted', token='other', request_id='other-request'",
}


class _Messages:
    def __init__(self) -> None:
        self.said: list[str] = []

    def start(self, snapshot: Any) -> None: ...
    def update(self, snapshot: Any) -> None: ...
    def stop(self, snapshot: Any) -> None: ...

    def message(self, text: str) -> None:
        self.said.append(text)


@pytest.mark.parametrize("move", list(MOVES))
def test_a_late_request_id_is_adopted_or_said_never_dropped(
    local_fal: LocalFal,
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    move: str,
) -> None:
    journal = tmp_path / "j.db"
    original = local_fal.state.queue.submit
    given: list[str] = []

    def taken_over(endpoint_id: str, arguments: Any, **kwargs: Any) -> Any:
        if arguments["prompt"] == "row 0":
            with sqlite3.connect(journal, timeout=30) as db:
                db.execute(f"UPDATE fal_batch_rows SET {MOVES[move]} WHERE pos = 0")
        request = original(endpoint_id, arguments, **kwargs)
        given.append(request.request_id)
        return request

    monkeypatch.setattr(local_fal.state.queue, "submit", taken_over)
    progress = _Messages()

    async def main() -> batch.Summary:
        job = batch.run_async(
            flux_dev, rows(2), journal=journal, client=client, concurrency=1, progress=progress
        )
        # A row whose id could not be recorded kept its concurrency slot: the next row waited
        # for ever.
        return await asyncio.wait_for(job.wait(), 60)

    summary = asyncio.run(main())
    monkeypatch.setattr(local_fal.state.queue, "submit", original)
    if move == "settled-absent":  # adopted: awaited, completed, never sent a second time
        assert summary.counts == {"completed": 2}
        again = batch.run(flux_dev, rows(2), journal=journal, client=client).wait()
        assert again.counts == {"completed": 2}
        assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}
        with sqlite3.connect(journal) as db:
            (rid,) = db.execute("SELECT request_id FROM fal_batch_rows WHERE pos = 0").fetchone()
        assert rid == given[0]
    else:  # the other worker's request stands; this one's id is said
        assert summary.counts.get("completed") == 1
        assert any(given[0] in text for text in progress.said), progress.said
