"""A row holding text UTF-8 cannot encode (JSON's ``"\\ud800"``, a lone surrogate, which
``json.loads`` accepts) is that row's problem: it is invalid, named, never sent, and the other
rows run. It used to stop the whole batch with a UnicodeEncodeError ("a bug in fal-typed")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt

LONE = "\\ud800"  # as written in the JSONL file

# Where a lone surrogate can sit in a row (at @): (the row's JSON text, the key field if any).
PLACES = [
    pytest.param('{"prompt": "a @ b"}', None, id="a-value"),
    pytest.param('{"prompt": "p", "x@": 1}', None, id="a-field-name"),
    pytest.param('{"prompt": "p", "loras": [{"path": "@"}]}', None, id="a-nested-value"),
    pytest.param('{"id": "k@", "prompt": "p"}', "id", id="the-key"),
    pytest.param('{"id": ["k@"], "prompt": "p"}', "id", id="a-key-of-json"),
]


@pytest.mark.parametrize(("bad", "key_field"), PLACES)
def test_a_row_with_a_lone_surrogate_is_invalid_and_the_others_run(
    local_fal: LocalFal, client: Client, tmp_path: Path, bad: str, key_field: str | None
) -> None:
    good = [
        json.dumps(
            {"prompt": f"row {i}"} if key_field is None else {"id": f"g{i}", "prompt": f"row {i}"}
        )
        for i in range(3)
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join([good[0], bad.replace("@", LONE), *good[1:]]) + "\n")
    report = batch.validate(flux_dev, batch.read(source), key_field=key_field)
    assert (report.rows, report.valid) == (4, 3)
    assert report.problems[0].where == "rows.jsonl:2"
    journal = tmp_path / "j.db"
    with pytest.raises(batch.BatchValidationError):  # nothing sent while a row is invalid
        batch.run(flux_dev, source, journal=journal, client=client, key_field=key_field).wait()
    assert not local_fal.requests_for("submit")
    summary = batch.run(
        flux_dev, source, journal=journal, client=client, key_field=key_field, skip_invalid=True
    ).wait()
    assert summary.counts == {"completed": 3, "invalid": 1}
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(3)}
    status = batch.status(journal)
    assert status.counts == {"completed": 3, "invalid": 1}
