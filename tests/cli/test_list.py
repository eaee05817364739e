"""``fal-typed list`` in a subprocess over a copy of a few schemas."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import SAMPLE_IDS, run_cli


def test_lists_every_endpoint_with_category_and_description(served: Path) -> None:
    run = run_cli("list", "--schemas", str(served))

    assert run.returncode == 0, run.stderr
    for endpoint_id in SAMPLE_IDS:
        assert endpoint_id in run.stdout
    assert "FLUX.1 [dev], next generation text-to-image model." in run.stdout  # markup kept literal
    assert f"{len(SAMPLE_IDS)} endpoints" in run.stdout


def test_filters_by_category_and_search_words(served: Path) -> None:
    run = run_cli("list", "--category", "text-to-image", "--json", "--schemas", str(served))
    rows = json.loads(run.stdout)
    assert {r["endpoint_id"] for r in rows} == {
        "fal-ai/flux/dev",
        "fal-ai/kling-image/o3/text-to-image",
    }
    assert all(r["category"] == "text-to-image" for r in rows)

    run = run_cli("list", "separate", "STEMS", "--json", "--schemas", str(served))
    assert [r["endpoint_id"] for r in json.loads(run.stdout)] == ["fal-ai/demucs"]
    assert json.loads(run.stdout)[0]["description"].startswith(
        "Separate audio into different stems"
    )

    run = run_cli("list", "no-such-model-anywhere", "--schemas", str(served))
    assert run.returncode == 0 and "0 endpoints" in run.stdout


def test_a_missing_schemas_directory_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("list", "--schemas", str(tmp_path / "nope"))

    assert run.returncode == 2
    assert "is not a directory" in run.stderr and "Traceback" not in run.stderr
