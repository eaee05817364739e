"""A submit answered with an error that names a request id: the request may be queued (and
paid for), so the row follows that id and is never sent again blindly."""

from __future__ import annotations

import time
from pathlib import Path

from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import Fault, LocalFal

from .conftest import accepted_by_prompt, rows


def _queued(local_fal: LocalFal) -> dict[str, str]:
    """The requests the server queued (those answered with a fault after it queued them too):
    request id -> prompt."""
    queue = local_fal.state.queue
    return {
        rid: str(request.arguments["prompt"])
        for rid, request in queue._requests.items()  # pyright: ignore[reportPrivateUsage]
    }


def test_a_5xx_naming_the_request_fal_queued_is_followed_by_that_id(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """fal queued the submit, then answered 500 naming it (x-fal-request-id). The row failed
    (internal_error) with the id dropped: the paid result was lost, and --retry-failed 5xx
    (what the failure invites) queued and paid for it a second time."""
    local_fal.inject(Fault.server_error(500, "internal_error").after_accept(), on="submit", times=1)
    journal = tmp_path / "j.db"
    first = batch.run(flux_dev, rows(3), journal=journal, client=client).wait()
    assert first.counts == {"completed": 3}, first
    second = batch.run(flux_dev, rows(3), journal=journal, client=client, retry_failed="all")
    assert second.wait().counts == {"completed": 3}
    queued = _queued(local_fal)
    assert sorted(queued.values()) == ["row 0", "row 1", "row 2"]  # each queued once
    assert len(local_fal.requests_for("submit")) == 3  # none sent twice
    with batch.open_journal(str(journal)) as store:
        held = {row.request_id for row in store.rows()}
    assert held == set(queued)


def test_a_5xx_naming_a_request_fal_does_not_have_fails_the_row_once_found_absent(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """The id named is not a queued request (fal refused it after all): following it finds it
    absent (404), the row fails with the submit's own error (its 5xx, noting fal has no such
    request), and --retry-failed 5xx sends it, once. Recorded http_404, it was never resent."""
    local_fal.inject(Fault.server_error(500, "internal_error"), on="submit", times=1)
    journal = tmp_path / "j.db"
    first = batch.run(flux_dev, rows(2), journal=journal, client=client).wait()
    assert first.counts == {"completed": 1, "failed": 1}, first
    with batch.open_journal(str(journal)) as store:
        (failed,) = [row for row in store.rows() if row.state == "failed"]
    assert failed.error is not None
    assert (failed.error.kind, failed.error.status) == ("internal_error", 500)
    assert "fal has no request" in failed.error.message
    second = batch.run(flux_dev, rows(2), journal=journal, client=client, retry_failed="5xx")
    assert second.wait().counts == {"completed": 2}
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


def test_a_refused_submit_keeps_the_request_id_it_names(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """A 4xx refuses the submit (not queued, not sent again unasked); the id fal named for it
    was dropped from the journal, and with it the way to look the refusal up. Followed by that
    id and found absent, the row keeps the refusal's own 400 (not the follow's 404)."""
    local_fal.inject(Fault.response(400, {"detail": "bad request"}), on="submit", times=1)
    journal = tmp_path / "j.db"
    summary = batch.run(flux_dev, rows(1), journal=journal, client=client).wait()
    assert summary.counts == {"failed": 1}
    (refused,) = local_fal.requests_for("submit")
    with batch.open_journal(str(journal)) as store:
        (row,) = store.rows()
    assert row.request_id is not None
    assert row.error is not None and row.error.status == 400
    assert not _queued(local_fal)
    assert refused.status_code == 400


def test_in_webhook_mode_a_named_request_fal_does_not_have_is_found_absent_at_once(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """A request named by a submit's 5xx may never have been queued, and then no delivery
    comes: it is followed by status from the start (404: the row fails, never sent again
    unasked), not after the whole webhook timeout."""
    from fal_typed.webhooks import WebhookVerifier

    local_fal.inject(Fault.server_error(500, "internal_error"), on="submit", times=1)
    started = time.monotonic()
    summary = batch.run(
        flux_dev,
        rows(2),
        journal=tmp_path / "j.db",
        client=client,
        webhook=True,
        webhook_verifier=WebhookVerifier(client=client),
        webhook_timeout=60,
    ).wait()
    assert time.monotonic() - started < 30
    assert summary.counts == {"completed": 1, "failed": 1}, summary
    assert sorted(_queued(local_fal).values()) == ["row 1"]
