"""A result that does not fit the endpoint's ``Output`` (fal changed the model's output, a field
went missing) was paid for, files included: its files are saved like any result's before the row
ends ``failed`` (``output_validation``), and a download cut short is retried by the next run,
never by sending the row again. They used to be left as fal's URLs, which expire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.files import upload
from fal_typed.testing import Fault, LocalFal

from .conftest import accepted_by_prompt, rows

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)


def _results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_the_files_of_an_output_that_does_not_validate_are_saved_and_the_row_fails(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    url = upload(PNG, "image/png", "a.png", client=client)
    # No "seed", "timings"...: not a FluxDevOutput, yet an image fal made (and billed).
    local_fal.handler(
        "fal-ai/flux/dev", lambda body: {"images": [{"url": url}], "p": body["prompt"]}
    )
    out = tmp_path / "out"
    journal = tmp_path / "j.db"
    local_fal.inject(Fault.response(404, {"detail": "gone"}), path="*/a.png", times=2)
    first = batch.run(flux_dev, rows(2), journal=journal, client=client, out=out).wait()
    assert first.counts == {"downloading": 2} and first.downloads_pending == 2
    second = batch.run(flux_dev, rows(2), journal=journal, client=client, out=out).wait()
    assert second.counts == {"failed": 2}
    assert second.failed_kinds == {"output_validation": 2}
    for row in _results(out):
        assert row["state"] == "failed" and row["error"]["kind"] == "output_validation"
        assert row["output"]["p"] == row["input"]["prompt"]
        (saved,) = row["files"]
        assert (out / saved).read_bytes() == PNG
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


def test_without_an_out_folder_such_a_row_fails_at_once_its_output_kept(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    local_fal.handler("fal-ai/flux/dev", lambda body: {"images": "no", "p": body["prompt"]})
    summary = batch.run(flux_dev, rows(1), journal=tmp_path / "j.db", client=client).wait()
    assert summary.failed_kinds == {"output_validation": 1}
    with batch.open_journal(str(tmp_path / "j.db")) as store:
        (row,) = store.rows()
    assert row.output == {"images": "no", "p": "row 0"}
