"""docs/costs.md is executed: each ```python block runs against the local server, whose client
is made the default one (as a user's FAL_KEY client would be)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fal_typed
from fal_typed import Client
from fal_typed.testing import Fault, LocalFal

from ..docs.guides import python_blocks
from .conftest import FLUX, accepted_submits, run_flux

DOC = Path(__file__).resolve().parents[2] / "docs" / "costs.md"


@pytest.fixture
def blocks(local_fal: LocalFal, client: Client) -> Iterator[list[str]]:
    found = [block.code for block in python_blocks("costs.md")]
    assert len(found) == 5, "the page's executable examples changed: update this test"
    local_fal.platform.set_price(FLUX, 0.025)
    fal_typed.set_default_client(client)
    try:
        yield found
    finally:
        fal_typed.set_default_client(None)


def _run(block: str, number: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs_costs"}
    exec(compile(block, f"{DOC}:block{number}", "exec"), namespace)
    return namespace


def test_the_price_and_estimate_example(blocks: list[str]) -> None:
    namespace = _run(blocks[0], 1)
    assert namespace["estimate"].calls == 200


def test_the_usage_and_history_examples(blocks: list[str], client: Client) -> None:
    run_flux(client, "a", "b")
    report = _run(blocks[1], 2)["report"]
    assert report.totals == {"USD": 0.05}
    assert _run(blocks[2], 3)["item"].status_code == 200  # the loop saw the requests


@pytest.mark.parametrize("reached", [True, False], ids=["answer-lost", "never-reached"])
def test_the_reconcile_example_adopts_or_resends(
    blocks: list[str], local_fal: LocalFal, reached: bool
) -> None:
    local_fal.inject(Fault.reset(after_handler=reached), on="submit")
    if not reached:
        # The example waits out the default settle delay before saying "absent": shorten it.
        blocks[3] = blocks[3].replace(
            "reconcile(error, body=body)",
            "reconcile(error, body=body, settle_delay=0.3, poll_interval=0.05)",
        )
        assert "settle_delay=0.3" in blocks[3]
    namespace = _run(blocks[3], 4)
    assert namespace["result"].images
    assert len(accepted_submits(local_fal)) == 1  # fal ran it once, either way


def test_the_webhook_senders_example(blocks: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _run(blocks[4], 5)
    assert "not from fal" in capsys.readouterr().out
    assert namespace["senders"].allows("127.0.0.1")  # the local server's deliveries
