"""README.md is executed: every ```python block runs, in order, against the local fal server.

The blocks share one namespace and a temporary working directory (the quick start saves
``cat.jpg``; the files block uploads it). Module-level calls reach a local server because the
README's first block starts one and makes it the default (``use_local_server``), as a reader
would; the later tests get the fixture's server back as the default.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fal_typed
from fal_typed import Client
from fal_typed import webhooks as wh
from fal_typed.testing import LocalFal

from .webhooks.helpers import serve

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@pytest.fixture
def readme(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAL_KEY", raising=False)  # the README's offline section needs none
    fal_typed.set_default_client(None)
    namespace: dict[str, Any] = {"__name__": "readme"}
    try:
        for number, block in enumerate(BLOCK.findall(README.read_text()), 1):
            exec(compile(block, f"{README}:block{number}", "exec"), namespace)
        namespace["fal"].stop()  # the README's own server; later tests use the fixture's
        fal_typed.set_default_client(local_fal_client)
        yield namespace
    finally:
        if isinstance(namespace.get("fal"), LocalFal):
            namespace["fal"].stop()
        fal_typed.set_default_client(None)


def test_offline_use_comes_before_any_call_that_would_reach_fal() -> None:
    text = README.read_text()
    blocks = BLOCK.findall(text)
    assert "fal_typed.use_local_server(" in blocks[0]
    assert not any(call in blocks[0] for call in (".subscribe(", ".submit(", ".run(", "upload("))
    first_call = min(
        text.index(call) for call in (".subscribe(", ".submit(", ".run(") if call in text
    )
    assert text.index("fal_typed.use_local_server(") < first_call
    assert text.index("export FAL_TYPED_BASE_URL=") < first_call
    assert len(blocks[0].strip().splitlines()) <= 6  # a few lines


def test_every_block_runs_and_yields_typed_results(readme: dict[str, Any]) -> None:
    assert isinstance(readme["fal"], LocalFal)
    assert readme["info"].module and readme["result"]["images"]
    assert fal_typed.search("flux dev")[0].endpoint_id == "fal-ai/flux/dev"
    flux_dev = readme["flux_dev"]
    assert isinstance(readme["out"], flux_dev.Output)
    assert Path("cat.jpg").stat().st_size > 0
    assert isinstance(readme["final"], flux_dev.Output)
    assert readme["url"].startswith("http://127.0.0.1:")
    assert type(readme["answer"]).__name__ == "Moondream2Output"
    assert readme["ep"] is fal_typed.endpoint("fal-ai/flux/dev")
    assert "my-key-id" not in repr(readme["client"]) and "my-key-secret" not in repr(
        readme["client"]
    )


def test_batch_block_completes_every_row(readme: dict[str, Any]) -> None:
    summary = readme["summary"]
    assert summary.counts == {"completed": 3}
    assert Path("animals/results.jsonl").read_text().count("\n") == 3
    assert Path("animals/index.html").is_file() and len(list(Path("animals/files").iterdir())) == 4


def test_error_block_names_the_fields(
    capsys: pytest.CaptureFixture[str], readme: dict[str, Any]
) -> None:
    out = capsys.readouterr().out
    assert "['num_images', 'output_format']" in out
    assert "['image_size', 'loras.1.path']" in out  # paths, no pydantic union labels
    assert "\n1\n" in out  # flux_dev.Input(...) raised pydantic's ValidationError, one error
    assert "NotFoundError" in out


def test_pytest_example_passes(
    readme: dict[str, Any], local_fal: LocalFal, local_fal_client: Client
) -> None:
    readme["test_my_pipeline"](local_fal, local_fal_client)


def test_webhook_receiver_gets_the_typed_output(
    readme: dict[str, Any], local_fal: LocalFal, local_fal_client: Client
) -> None:
    flux_dev = readme["flux_dev"]
    app = readme["create_app"](wh.WebhookVerifier(client=local_fal_client))  # trusts the local keys
    with serve(app) as base_url:
        handle = flux_dev.submit(prompt="a lighthouse", webhook_url=f"{base_url}/fal/webhook")
        local_fal.webhooks.wait_for(handle.request_id)
        deadline = time.monotonic() + 10
        while handle.request_id not in readme["received"] and time.monotonic() < deadline:
            time.sleep(0.01)
    assert readme["received"][handle.request_id] == flux_dev.result(handle.request_id)
