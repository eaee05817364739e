"""Webhook mode: results arrive as verified deliveries; no status stream is held per request, and
rows whose delivery is lost are checked by request id after the timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.batch import _runner
from fal_typed.testing import Fault, LocalFal, _webhooks
from fal_typed.webhooks import WebhookVerifier

from .conftest import accepted_by_prompt, rows
from .test_fetch_faults import FETCH_FAULTS


def test_results_come_by_verified_webhook(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.configure(processing_time=0.1)
    job = batch.run(
        flux_dev,
        rows(8),
        journal=tmp_path / "j.db",
        client=client,
        webhook=True,
        webhook_verifier=WebhookVerifier(client=client),  # trusts the local server's keys
        webhook_timeout=60,
    )
    summary = job.wait()
    assert summary.counts == {"completed": 8}
    assert not local_fal.requests_for("status_stream") and not local_fal.requests_for("status")
    assert not local_fal.requests_for("result")  # the output came with the delivery
    submits = local_fal.requests_for("submit")
    assert len(submits) == 8 and all("fal_webhook" in s.query for s in submits)
    attempts = local_fal.webhooks.attempts
    assert len(attempts) == 8 and all(a.status_code == 200 for a in attempts)


def test_lost_deliveries_are_checked_by_request_id(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.webhooks.configure(retries=0)
    # fal posts to a URL where nobody listens: every delivery is lost.
    summary = batch.run(
        flux_dev,
        rows(4),
        journal=tmp_path / "j.db",
        client=client,
        webhook="http://127.0.0.1:9/fal/webhook",
        webhook_timeout=1.0,
    ).wait()
    assert summary.counts == {"completed": 4}
    assert len(local_fal.requests_for("status")) >= 4  # checked by id after the timeout
    assert len(local_fal.requests_for("result")) == 4
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(4)}


@pytest.fixture
def _quick_refetch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runner, "_REFETCH_DELAYS", (0.0,))


def _by_webhook(client: Client, journal: Path, count: int, **options: Any) -> batch.Summary:
    return batch.run(
        flux_dev,
        rows(count),
        journal=journal,
        client=client,
        webhook=True,
        webhook_verifier=WebhookVerifier(client=client),  # trusts the local server's keys
        **options,
    ).wait()


@pytest.mark.usefixtures("_quick_refetch")
@pytest.mark.parametrize(("on", "fault"), FETCH_FAULTS)
def test_a_result_checked_by_id_that_cannot_be_fetched_stays_submitted(
    local_fal: LocalFal, client: Client, tmp_path: Path, on: str, fault: Fault
) -> None:
    """As on the polling path (test_fetch_faults): the deliveries lost, the check by id after
    the timeout fails to fetch: the rows stay submitted, never failed, never sent again."""
    local_fal.webhooks.configure(retries=0)
    local_fal.inject(fault, on=on, times=None)
    journal = tmp_path / "j.db"
    first = batch.run(
        flux_dev,
        rows(2),
        journal=journal,
        client=client,
        webhook="http://127.0.0.1:9/fal/webhook",  # nobody listens: every delivery is lost
        webhook_timeout=1,
    ).wait()
    assert first.counts == {"submitted": 2}, first
    assert not first.failed_kinds
    local_fal.state.faults.clear()
    second = batch.run(flux_dev, rows(2), journal=journal, client=client, retry_failed="all")
    assert second.wait().counts == {"completed": 2}
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


@pytest.mark.usefixtures("_quick_refetch")
@pytest.mark.parametrize("faults", [0, 1], ids=["fetched", "fetched-again"])
def test_a_delivery_without_its_output_is_fetched_by_id(
    local_fal: LocalFal,
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    faults: int,
) -> None:
    """fal could not put the output in the delivery (payload null, payload_error): the request
    succeeded and was paid for, so its result is fetched. The row failed (payload_error), and
    --retry-failed paid for it again. A fetch that fails is made again by id at once, not after
    another whole webhook timeout (no second delivery comes)."""
    made = _webhooks.delivery_body

    def without_payload(**fields: Any) -> dict[str, Any]:
        body = made(**fields)
        if body["status"] == "OK":
            body["payload"], body["payload_error"] = None, "payload is too large"
        return body

    monkeypatch.setattr(_webhooks, "delivery_body", without_payload)
    if faults:
        local_fal.inject(Fault.server_error(503), on="result", times=faults)
    started = time.monotonic()
    summary = _by_webhook(client, tmp_path / "j.db", 3, webhook_timeout=60)
    assert time.monotonic() - started < 30
    assert summary.counts == {"completed": 3}
    assert len(local_fal.requests_for("result")) == 3 + faults
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(3)}


def test_a_delivered_output_that_does_not_fit_is_kept_at_once(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """A delivery whose output does not fit FluxDevOutput is the row's output (kept, the row
    failed output_validation), as a fetched one is. It was refused (400) by the receiver, so
    the row waited the whole webhook timeout, then fetched it by id."""
    local_fal.handler("fal-ai/flux/dev", lambda body: {"images": "no", "p": body["prompt"]})
    summary = _by_webhook(client, tmp_path / "j.db", 2, webhook_timeout=60)
    assert summary.failed_kinds == {"output_validation": 2}
    # Taken from the deliveries: no row waited out the timeout to ask fal by id.
    assert not local_fal.requests_for("result") and not local_fal.requests_for("status")
    with batch.open_journal(str(tmp_path / "j.db")) as store:
        assert sorted(row.output["p"] for row in store.rows()) == ["row 0", "row 1"]
    assert not [a for a in local_fal.webhooks.attempts if a.status_code == 400]


def _submitted(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        return batch.status(journal).counts.get("submitted", 0)
    except batch.JournalError:  # not made yet
        return 0


def test_rows_sent_by_an_earlier_run_are_asked_for_by_id_at_once(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """A row an earlier run sent was delivered to that run's receiver (gone now): the resumed
    run waited the whole webhook timeout (600 s by default) for a delivery that could not
    come before asking fal. It asks first, then waits for the delivery if the request runs."""
    journal = tmp_path / "j.db"
    first = batch.run(
        flux_dev,
        rows(3),
        journal=journal,
        client=client,
        webhook="http://127.0.0.1:9/fal/webhook",  # nobody listens: every delivery is lost
        webhook_timeout=60,
    )
    ended: list[batch.Summary] = []
    running = threading.Thread(target=lambda: ended.append(first.wait()))
    running.start()
    deadline = time.monotonic() + 30
    while _submitted(journal) < 3:  # no delivery comes: stop once every row is sent
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.stop()
    running.join(30)
    assert ended and ended[0].counts == {"submitted": 3}
    started = time.monotonic()
    resumed = _by_webhook(client, journal, 3, webhook_timeout=60)
    assert resumed.counts == {"completed": 3}
    assert time.monotonic() - started < 20
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(3)}


def test_a_delivery_that_comes_before_its_row_waits_is_the_row_s() -> None:
    """A delivery can come before the submit's answer is committed (fal is quick, the journal's
    fsync is not): it was kept as a finished future, which the row then replaced with a new one,
    so the row waited the whole webhook timeout and asked fal by id. No client here: asking fal
    would fail the test."""
    from fal_typed.batch._runner import Runner

    runner = Runner.__new__(Runner)  # only the webhook hand-over is exercised
    runner._webhooks = {}  # pyright: ignore[reportPrivateUsage]
    runner._followed = set()  # pyright: ignore[reportPrivateUsage]
    runner.endpoint = flux_dev.endpoint
    output = {"images": [], "seed": 1}

    async def main() -> object:
        runner.deliver("req-early", output)
        got = await asyncio.wait_for(
            runner._by_webhook("req-early", 30.0, ask_first=False),  # pyright: ignore[reportPrivateUsage]
            timeout=5,
        )
        # fal retries deliveries: a second one of a settled request was kept for ever.
        runner.deliver("req-early", output)
        return got

    assert asyncio.run(main()) == output
    assert runner._webhooks == {}  # pyright: ignore[reportPrivateUsage]


def _sent_then_stopped(client: Client, journal: Path, count: int) -> None:
    """A first run whose deliveries go nowhere, stopped once every row is submitted."""
    first = batch.run(
        flux_dev,
        rows(count),
        journal=journal,
        client=client,
        webhook="http://127.0.0.1:9/fal/webhook",  # nobody listens: every delivery is lost
        webhook_timeout=60,
    )
    ended: list[batch.Summary] = []
    running = threading.Thread(target=lambda: ended.append(first.wait()))
    running.start()
    deadline = time.monotonic() + 30
    while _submitted(journal) < count:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.stop()
    running.join(30)
    assert ended and ended[0].counts == {"submitted": count}


def test_rows_still_running_when_resumed_are_followed_by_status(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """A row an earlier run sent whose request is still running when the run resumes: its
    delivery goes to the earlier run's receiver (gone), so none comes here. The resumed run asked
    fal once, saw it running, then waited the whole webhook timeout (60 s here, 600 s by
    default) before asking again. It follows such rows by status to their end."""
    local_fal.configure(processing_time=3.0)
    journal = tmp_path / "j.db"
    _sent_then_stopped(client, journal, 3)
    started = time.monotonic()
    resumed = _by_webhook(client, journal, 3, webhook_timeout=60)
    assert resumed.counts == {"completed": 3}
    assert time.monotonic() - started < 30
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(3)}
    assert len(local_fal.requests_for("result")) == 3  # each result fetched once


def test_a_delivery_while_a_resumed_row_is_followed_settles_it_once() -> None:
    """A resumed row is followed by status; a delivery reaching this run's receiver meanwhile
    (fal retries one) is its outcome, the follow is ended, and a second delivery of the same
    request is not kept for a row that will never take it."""
    from fal_typed.batch._runner import Runner

    runner = Runner.__new__(Runner)
    runner._webhooks = {}  # pyright: ignore[reportPrivateUsage]
    runner._followed = set()  # pyright: ignore[reportPrivateUsage]
    runner.endpoint = flux_dev.endpoint
    output = {"images": [], "seed": 2}
    followed: list[str] = []
    cancelled: list[str] = []

    async def by_status(request_id: str) -> object:
        followed.append(request_id)
        try:
            await asyncio.sleep(60)  # still running
        except asyncio.CancelledError:
            cancelled.append(request_id)
            raise
        return {"never": True}

    runner._by_status = by_status  # type: ignore[method-assign]

    async def main() -> object:
        waiting = asyncio.ensure_future(
            runner._by_webhook("req-resumed", 600.0, ask_first=True)  # pyright: ignore[reportPrivateUsage]
        )
        await asyncio.sleep(0.05)
        runner.deliver("req-resumed", output)
        got = await asyncio.wait_for(waiting, timeout=5)
        # Settled by the delivery: a second one was kept for ever (only a follow was noted).
        runner.deliver("req-resumed", output)
        return got

    assert asyncio.run(main()) == output
    assert followed == ["req-resumed"] and cancelled == ["req-resumed"]
    assert runner._webhooks == {}  # pyright: ignore[reportPrivateUsage]


def test_a_delivery_after_a_resumed_row_was_settled_by_status_is_not_kept() -> None:
    from fal_typed.batch._runner import Runner

    runner = Runner.__new__(Runner)
    runner._webhooks = {}  # pyright: ignore[reportPrivateUsage]
    runner._followed = set()  # pyright: ignore[reportPrivateUsage]
    runner.endpoint = flux_dev.endpoint
    output = {"images": [], "seed": 3}

    async def by_status(request_id: str) -> object:
        return output

    runner._by_status = by_status  # type: ignore[method-assign]

    async def main() -> object:
        got = await runner._by_webhook("req-done", 600.0, ask_first=True)  # pyright: ignore[reportPrivateUsage]
        runner.deliver("req-done", {"images": [], "seed": 4})  # late: its row has settled
        return got

    assert asyncio.run(main()) == output
    assert runner._webhooks == {}  # pyright: ignore[reportPrivateUsage]
