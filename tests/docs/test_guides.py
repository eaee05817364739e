"""The guides' Python examples run: every ```python block of each guide below, in order, in one
namespace, against the local fal server made the default client (as a reader with a key would run
them against fal). Blocks titled ``fal-client`` show the other client's code and are not run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fal_typed
from fal_typed import Client
from fal_typed.testing import LocalFal

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
GUIDES = [
    "index.md",
    "quickstart.md",
    "migrating-from-fal-client.md",
    "streaming.md",
    "notebooks.md",
    "any-endpoint.md",
]


def blocks(guide: str) -> list[str]:
    return [
        code for info, code in BLOCK.findall((DOCS / guide).read_text()) if "fal-client" not in info
    ]


@pytest.fixture
def run_guide(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    fal_typed.set_default_client(local_fal_client)

    def run(guide: str) -> dict[str, Any]:
        namespace: dict[str, Any] = {"__name__": guide}
        for number, code in enumerate(blocks(guide), 1):
            exec(
                compile(code, f"{DOCS / guide}:block{number}", "exec", dont_inherit=True), namespace
            )
        return namespace

    try:
        yield run
    finally:
        fal_typed.set_default_client(None)


@pytest.mark.parametrize("guide", GUIDES)
def test_every_block_of_the_guide_runs(guide: str, run_guide: Any) -> None:
    assert blocks(guide), f"{guide} has no Python example"
    run_guide(guide)


def test_the_quickstart_results_are_typed(
    run_guide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("quickstart.md")
    flux_dev = namespace["flux_dev"]
    assert isinstance(namespace["out"], flux_dev.Output)
    assert Path("cat.jpg").stat().st_size > 0
    assert "['num_images', 'output_format']" in capsys.readouterr().out


def test_the_migration_example_refuses_bad_input_before_sending(
    run_guide: Any, local_fal: LocalFal, capsys: pytest.CaptureFixture[str]
) -> None:
    run_guide("migrating-from-fal-client.md")
    out = capsys.readouterr().out
    assert "before sending: ['num_inference_steps']" in out
    assert "sampling" not in out  # the local server's default behaviour has no logs


def test_a_hand_described_endpoint_keeps_what_it_does_not_describe(
    run_guide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("any-endpoint.md")
    out = namespace["out"]
    assert type(out).__name__ == "NewModelOutput" and out.images
    assert "seed" in (out.model_extra or {})
    assert "['fal-ai/flux/dev'" in capsys.readouterr().out  # the typo's suggestions
