"""The batch's concurrency slots: every submit attempt gives its slot back exactly once, however
it ends, and a request gives it back as soon as fal has answered it.

A slot kept by a row that ended (leaked) holds every other row back, and with all of them kept
the batch waits for ever; a slot given back twice lets more requests run than ``concurrency``
allows. Each run here counts the slots as the runner takes and gives them (a limiter that
records a give-back nobody held), on the local server with real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fal_endpoints import flux_dev, moondream2

from fal_typed import Client, batch
from fal_typed.batch import _runner
from fal_typed.batch._limiter import AdaptiveLimiter
from fal_typed.files import upload
from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import accepted_by_prompt, rows
from .test_invalid_output_files import PNG


class _CountedLimiter(AdaptiveLimiter):
    """The runner's limiter, recording a slot given back that nobody held, and the most held."""

    made: ClassVar[list[_CountedLimiter]] = []

    def __init__(self, ceiling: int, **kwargs: Any) -> None:
        super().__init__(ceiling, **kwargs)
        self.unheld_releases = 0
        self.peak = 0
        _CountedLimiter.made.append(self)

    async def acquire(self) -> None:
        await super().acquire()
        self.peak = max(self.peak, self.in_flight)

    def hold(self) -> None:
        super().hold()
        self.peak = max(self.peak, self.in_flight)

    def release(self, *, succeeded: bool = False) -> None:
        if self.in_flight <= 0:
            self.unheld_releases += 1
        super().release(succeeded=succeeded)


@pytest.fixture
def limiter(monkeypatch: pytest.MonkeyPatch) -> Any:
    _CountedLimiter.made = []
    monkeypatch.setattr(_runner, "AdaptiveLimiter", _CountedLimiter)
    monkeypatch.setattr(_runner, "_REFETCH_DELAYS", (0.0,))

    def the_one() -> _CountedLimiter:
        (made,) = _CountedLimiter.made
        return made

    return the_one


def _run(job: batch.AsyncJob) -> batch.Summary:
    async def main() -> batch.Summary:
        # A leaked slot (concurrency 1) leaves every later row waiting for ever.
        return await asyncio.wait_for(job.wait(), 60)

    return asyncio.run(main())


def _flux(client: Client, journal: Path, count: int = 4, **options: Any) -> batch.AsyncJob:
    return batch.run_async(
        flux_dev,
        rows(count),
        journal=journal,
        client=client,
        concurrency=1,
        adaptive=False,
        settle=False,
        **options,
    )


def _assert_counted(limiter: _CountedLimiter) -> None:
    assert limiter.unheld_releases == 0, "a slot was given back twice"
    assert limiter.in_flight == 0, "a slot was never given back"
    assert limiter.peak <= 1


def _misfit_for(local_fal: LocalFal, prompts: set[str], url: str | None = None) -> None:
    """Row outputs that do not fit FluxDevOutput for ``prompts`` (with a file at ``url``)."""

    def handle(body: dict[str, Any]) -> Any:
        if body["prompt"] in prompts:
            return {"images": [{"url": url}] if url else "no", "p": body["prompt"]}
        return local_fal.state.producer.synthesize("fal-ai/flux/dev", body)

    local_fal.handler("fal-ai/flux/dev", handle)


SUBMIT_ENDS = {
    # 429 twice: sent again after the pause, each attempt with a slot of its own
    "rate-limited": (Fault.rate_limited(0.01), 2, {"completed": 4}),
    # the answer lost after fal took it: ambiguous, never sent again
    "possibly-accepted": (
        Fault.ingress(502, after_accept=True),
        1,
        {"ambiguous": 1, "completed": 3},
    ),
    # refused: failed
    "refused": (Fault.response(400, {"detail": "no"}), 1, {"failed": 1, "completed": 3}),
}


@pytest.mark.parametrize("end", list(SUBMIT_ENDS))
def test_every_way_a_submit_ends_gives_its_slot_back_once(
    local_fal: LocalFal, client: Client, tmp_path: Path, limiter: Any, end: str
) -> None:
    fault, times, expected = SUBMIT_ENDS[end]
    local_fal.inject(fault, on="submit", times=times)
    summary = _run(_flux(client, tmp_path / "j.db"))
    assert summary.counts == expected
    _assert_counted(limiter())


def test_every_way_a_request_ends_gives_its_slot_back_once(
    local_fal: LocalFal, client: Client, tmp_path: Path, limiter: Any
) -> None:
    """One request whose result could not be fetched (kept submitted), one that failed, one
    whose output does not fit ``Output``, one that completed."""

    def handle(body: dict[str, Any]) -> Any:
        if body["prompt"] == "row 1":
            raise Failure(500, "boom", error_type="internal_server_error")
        if body["prompt"] == "row 2":
            return {"images": "no", "p": body["prompt"]}
        return local_fal.state.producer.synthesize("fal-ai/flux/dev", body)

    local_fal.handler("fal-ai/flux/dev", handle)
    # Row 0's result, fetched and fetched again, does not come (rows go one at a time).
    local_fal.inject(Fault.server_error(503), on="result", times=2)
    summary = _run(_flux(client, tmp_path / "j.db"))
    assert summary.counts == {"submitted": 1, "failed": 2, "completed": 1}
    assert summary.failed_kinds == {"internal_server_error": 1, "output_validation": 1}
    _assert_counted(limiter())


def test_a_run_stopped_while_a_row_uploads_gives_its_slot_back(
    local_fal: LocalFal, client: Client, tmp_path: Path, limiter: Any
) -> None:
    """The upload of a row's local file is cancelled by the stop (nothing was sent yet): its
    slot is given back. It was kept: only a FalError from the upload gave it back."""
    image = tmp_path / "a.png"
    image.write_bytes(PNG)
    local_fal.inject(Fault.delay(30), path="*/storage/*", times=None)
    local_fal.inject(Fault.delay(30), path="*/files/upload*", times=None)

    async def main() -> batch.Summary:
        job = batch.run_async(
            moondream2,
            [{"image_url": image}],
            journal=tmp_path / "j.db",
            client=client,
            concurrency=1,
            settle=False,
        )
        waiting = asyncio.ensure_future(job.wait())
        for _ in range(3000):
            if _CountedLimiter.made and limiter().in_flight:  # held: the row uploads
                break
            await asyncio.sleep(0.01)
        else:  # stopped before the upload, every check below would hold without the fix
            pytest.fail("the row never held its slot: the stop would not test the upload")
        await asyncio.sleep(0.2)
        job.stop()
        return await asyncio.wait_for(waiting, 30)

    summary = asyncio.run(main())
    assert summary.counts == {"pending": 1} and summary.stopped
    assert not local_fal.requests_for("submit")
    _assert_counted(limiter())


def test_the_files_of_an_output_that_does_not_fit_are_saved_without_its_slot(
    local_fal: LocalFal, client: Client, tmp_path: Path, limiter: Any
) -> None:
    """While a misfit result's files download (slowly here), the next row is sent: the
    request was answered, and a download is no request to fal. The slot was kept through the
    downloads, so with concurrency 1 every other row waited for them."""
    url = upload(PNG, "image/png", "a.png", client=client)
    _misfit_for(local_fal, {"row 0"}, url)
    delay = 2.0
    local_fal.inject(Fault.delay(delay), path="*/a.png", times=1)
    summary = _run(_flux(client, tmp_path / "j.db", count=2, out=tmp_path / "out"))
    assert summary.counts == {"failed": 1, "completed": 1}
    (download,) = [e for e in local_fal.requests_for() if e.path.endswith("/a.png")]
    second = next(e for e in local_fal.requests_for("submit") if e.json()["prompt"] == "row 1")
    assert second.received_at < download.received_at + delay - 0.5
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}
    _assert_counted(limiter())
