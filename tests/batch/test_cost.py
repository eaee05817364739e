"""``max_cost`` / ``--max-cost``: the batch's cost is estimated from fal's pricing (the local
server's Platform API, prices set by the test) and shown before anything is sent; above the
maximum nothing is sent at all (the server's submit log stays empty)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt, cli, rows

FLUX = "fal-ai/flux/dev"
PRICE = 0.025  # per image; one image per call: 10 rows cost $0.25


def _jsonl(path: Path, count: int) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows(count, "cost")))


def test_a_batch_above_its_max_cost_sends_nothing_and_names_estimate_and_max(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.platform.set_price(FLUX, PRICE)
    plans: list[batch.Plan] = []
    job = batch.run(
        flux_dev, rows(10), journal=tmp_path / "j.db", client=client, max_cost=0.1,
        before_send=plans.append,
    )  # fmt: skip
    with pytest.raises(batch.CostLimitError) as caught:
        job.wait()
    message = str(caught.value)
    assert "estimated cost $0.25" in message and "above max_cost $0.10" in message
    assert "nothing was sent" in message
    assert caught.value.estimate is not None and caught.value.estimate.total_cost == 0.25
    assert caught.value.max_cost == 0.1
    (plan,) = plans  # shown before the refusal
    assert plan.estimate is not None and plan.estimate.calls == 10 and plan.calls == 10
    assert local_fal.requests_for("submit") == []
    assert local_fal.requests_for("platform.estimate")
    # The rows are in the journal, unsent: a run with a higher maximum sends them.
    summary = batch.run(
        flux_dev, rows(10), journal=tmp_path / "j.db", client=client, max_cost=0.25
    ).wait()
    assert summary.counts == {"completed": 10}
    assert summary.estimate is not None and summary.estimate.total_cost == 0.25
    assert "estimated cost: $0.25 for 10 calls of fal-ai/flux/dev" in str(summary)


def test_only_the_rows_left_to_send_are_estimated(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.platform.set_price(FLUX, PRICE)
    batch.run(flux_dev, rows(4), journal=tmp_path / "j.db", client=client).wait()
    summary = batch.run(
        flux_dev, rows(10), journal=tmp_path / "j.db", client=client, max_cost=0.15
    ).wait()
    assert summary.estimate is not None and summary.estimate.calls == 6  # 4 were done
    assert summary.counts == {"completed": 10}
    done = batch.run(flux_dev, rows(10), journal=tmp_path / "j.db", client=client, max_cost=0)
    assert done.wait().estimate is None  # nothing to send, nothing to estimate


def test_a_cost_that_cannot_be_estimated_is_not_taken_as_within_the_maximum(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    job = batch.run(flux_dev, rows(3), journal=tmp_path / "j.db", client=client, max_cost=100)
    with pytest.raises(batch.CostLimitError, match="could not be estimated") as caught:
        job.wait()  # no price for flux/dev on this server: fal answers 404
    assert caught.value.estimate is None
    assert local_fal.requests_for("submit") == []


def test_cli_max_cost_below_the_estimate_stops_before_any_submit(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    local_fal.platform.set_price(FLUX, PRICE)
    _jsonl(tmp_path / "p.jsonl", 10)
    args = ["run", FLUX, "p.jsonl", "--journal", "j.db", "--quiet", "--no-download"]
    refused = cli([*args, "--max-cost", "0.2"], base_url=local_fal.base_url, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "estimated cost: $0.25 for 10 calls of fal-ai/flux/dev" in refused.stderr
    assert "above --max-cost $0.20" in refused.stderr
    assert "above max_cost $0.20; nothing was sent" in refused.stderr
    assert local_fal.requests_for("submit") == []  # the server's submit log is empty
    # The Platform API was asked on the local server's /api prefix (the base URL's api_url).
    assert local_fal.requests_for("platform.estimate")

    ran = cli([*args, "--max-cost", "0.3"], base_url=local_fal.base_url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "estimated cost: $0.25 for 10 calls of fal-ai/flux/dev" in ran.stderr
    assert "within --max-cost $0.30" in ran.stderr
    assert accepted_by_prompt(local_fal) == {f"cost {i}": 1 for i in range(10)}


def test_cli_api_url_names_another_platform_api(local_fal: LocalFal, tmp_path: Path) -> None:
    local_fal.platform.set_price(FLUX, PRICE)
    _jsonl(tmp_path / "p.jsonl", 2)
    args = ["run", FLUX, "p.jsonl", "--journal", "j.db", "--quiet", "--max-cost", "1"]
    elsewhere = f"{local_fal.base_url}/elsewhere"  # no Platform API there: a 404
    nowhere = cli([*args, "--api-url", elsewhere], base_url=local_fal.base_url, cwd=tmp_path)
    assert nowhere.returncode == 2 and "could not be estimated" in nowhere.stderr
    assert local_fal.requests_for("submit") == [] and not local_fal.requests_for(
        "platform.estimate"
    )
