"""Each row's files have names of their own: keys that a file name cannot hold as they are
(other scripts, slashes, capitals a case-insensitive disk folds, very long ones) no longer share
one name, where the last row downloaded overwrote the files of the others (paid results lost)."""

from __future__ import annotations

import json
from pathlib import Path

from fal_endpoints import flux_dev

from fal_typed import Client, batch

# Pairs of keys that were one file name (and two that always had their own).
KEYS = [
    "猫",
    "犬",
    "a/b",
    "a_b",
    "Cat",
    "cat",
    "x" * 200 + "1",
    "x" * 200 + "2",
    ".a",
    "a.",
    "ok-1",
]


def test_rows_whose_keys_fold_to_one_name_keep_their_own_files(
    client: Client, tmp_path: Path
) -> None:
    data = [{"id": key, "prompt": f"row {i}"} for i, key in enumerate(KEYS)]
    out = tmp_path / "out"
    summary = batch.run(
        flux_dev, data, journal=tmp_path / "j.db", client=client, out=out, key_field="id"
    ).wait()
    assert summary.counts == {"completed": len(KEYS)}
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    files = [name for row in results for name in row["files"]]
    assert len(files) == len(KEYS)
    assert len({name.lower() for name in files}) == len(KEYS)  # also on a case-folding disk
    assert all((out / name).is_file() for name in files)
    assert len(list((out / "files").iterdir())) == len(KEYS)
    assert results[-1]["files"] == ["files/ok-1-images-0.jpg"]  # safe keys keep their name
