"""Webhook mode: results arrive as verified deliveries; no status stream is held per request, and
rows whose delivery is lost are checked by request id after the timeout."""

from __future__ import annotations

from pathlib import Path

from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import LocalFal
from fal_typed.webhooks import WebhookVerifier

from .conftest import accepted_by_prompt, rows


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
