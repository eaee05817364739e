"""Concurrency against fal's per-key limit: the batch converges to it instead of failing rows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, RateLimitError, RetryPolicy, batch
from fal_typed.testing import LocalFal

from .conftest import KEY, accepted_by_prompt, rows
from .server_process import ServerProcess


def test_a_batch_at_concurrency_200_against_a_limit_of_20_fails_no_row(tmp_path: Path) -> None:
    count = 2000
    # Each job runs 0.1 s, so the limit bites however fast or slow this machine is (with 0 s
    # jobs a loaded client could stay under 20 unfinished requests and never meet a 429).
    with ServerProcess(max_concurrent_per_key=20, fixed_output=True, processing_time=0.1) as server:
        base = server.base_url
        client = Client(
            KEY,
            queue_url=f"{base}/queue",
            run_url=f"{base}/run",
            rest_url=f"{base}/rest",
            cdn_url=f"{base}/cdn",
            retry=RetryPolicy(base_delay=0.05, max_delay=1.0),
        )
        started = time.monotonic()
        summary = batch.run(
            flux_dev, rows(count), journal=tmp_path / "j.db", client=client, concurrency=200
        ).wait()
        elapsed = time.monotonic() - started
        rate_limited = server.rate_limited()
        accepted = server.accepted()
    print(f"{count} rows in {elapsed:.0f}s, {summary.rate_limited} 429s, {summary}")
    assert summary.counts == {"completed": count}
    assert summary.failed_kinds == {}
    assert rate_limited > 0 and summary.rate_limited == rate_limited  # the limit did bite
    assert sum(accepted.values()) == count and set(accepted.values()) == {1}


def test_the_local_server_limits_unfinished_requests_per_key(local_fal: LocalFal) -> None:
    local_fal.configure(max_concurrent_per_key=1, hold="progress")
    mine = local_fal.client(retry=RetryPolicy.disabled())
    other = local_fal.client(key="someone-else:secret", retry=RetryPolicy.disabled())
    first = flux_dev.endpoint.submit(flux_dev.endpoint.arguments({"prompt": "a"}), client=mine)
    with pytest.raises(RateLimitError) as refused:
        flux_dev.endpoint.submit(flux_dev.endpoint.arguments({"prompt": "b"}), client=mine)
    assert refused.value.error_type == "concurrent_requests_limit"
    assert refused.value.headers["retry-after"] == "1"
    flux_dev.endpoint.submit(flux_dev.endpoint.arguments({"prompt": "c"}), client=other)  # per key
    local_fal.release(first.request_id)
    first.result()
    flux_dev.endpoint.submit(flux_dev.endpoint.arguments({"prompt": "d"}), client=mine)
    local_fal.release()


def test_rows_never_sent_that_the_input_no_longer_holds_are_not_sent_unasked(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """A run refused for an invalid row leaves every row loaded, pending. The user fixes the
    input by cutting it down to the rows they want: the rows cut were still sent (and paid
    for), being in the journal. They are refused now, named, nothing sent; --changed keep
    sends them as the journal holds them."""
    journal = tmp_path / "j.db"
    with pytest.raises(batch.BatchValidationError):
        batch.run(
            flux_dev, [*rows(4), {"image_size": "square"}], journal=journal, client=client
        ).wait()
    with pytest.raises(batch.InputRemovedError) as info:
        batch.run(flux_dev, rows(2), journal=journal, client=client).wait()
    assert info.value.count == 2 and len(info.value.keys) == 2
    assert "never sent, are not in the input given" in str(info.value)
    assert not local_fal.requests_for("submit")
    kept = batch.run(flux_dev, rows(2), journal=journal, client=client, on_change="keep")
    assert kept.wait().counts.get("completed") == 4
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(4)}


def test_the_removed_rows_message_counts_right_and_says_what_each_way_out_costs() -> None:
    """It said "1 rows"; it offered a new journal without saying that re-pays every row this
    one completed; without --key-field it did not say the keys are positions."""
    one = str(batch.InputRemovedError(1, ["3-abc"], keyed=False))
    assert "1 row of this journal, never sent, is not in the input given" in one
    assert "1 rows" not in one
    assert "paying again for rows this journal already completed" in one
    assert "a row's key is its position" in one
    keyed = str(batch.InputRemovedError(2, ["a", "b"]))
    assert "2 rows of this journal, never sent, are not" in keyed
    assert "position" not in keyed
