"""``fal-typed list`` in a subprocess over a copy of a few schemas."""

from __future__ import annotations

import io
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


def test_lists_installed_endpoints_by_module_from_any_directory(tmp_path: Path) -> None:
    """No schemas/ here: the installed endpoints (this checkout's, through the editable install)."""
    run = run_cli("list", "flux", "dev", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["flux_dev", "fal-ai/flux/dev", "text-to-image"]
    assert lines[1].strip() == "FLUX.1 [dev], next generation text-to-image model."

    rows = json.loads(run_cli("list", "seedream", "v4", "--json", cwd=tmp_path).stdout)
    first = rows[0]
    assert set(first) == {"endpoint_id", "module", "title", "category", "description"}
    assert all("seedream" in row["endpoint_id"] for row in rows)
    assert first["module"] == "bytedance_seedream_v4_text_to_image"  # no guessing the owner rule


def test_eighty_columns_never_break_an_id_or_a_module_name(tmp_path: Path) -> None:
    run = run_cli("list", cwd=tmp_path, COLUMNS="80")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    rows = json.loads(run_cli("list", "--json", cwd=tmp_path).stdout)
    words = {word for line in lines for word in line.split()}
    for row in rows:  # each id and module appears whole on some line
        assert row["endpoint_id"] in words and row["module"] in words, row
    assert lines[-1] == f"{len(rows)} endpoints"


def test_narrow_terminals_put_long_names_on_lines_of_their_own() -> None:
    from fal_typed._installed import EndpointInfo
    from fal_typed.cli._list import print_listing

    info = EndpointInfo(
        "fal-ai/ltx-2.3-22b/distilled/reference-video-to-video/lora",
        "ltx_2_3_22b_distilled_reference_video_to_video_lora",
        "Ltx",
        "video-to-video",
        "Generate a video from a reference video and text prompt using distilled LoRA.",
    )
    out = io.StringIO()
    print_listing([info], as_json=False, out=out, width=70)
    assert out.getvalue().splitlines() == [
        "ltx_2_3_22b_distilled_reference_video_to_video_lora",
        "    fal-ai/ltx-2.3-22b/distilled/reference-video-to-video/lora",
        "    video-to-video",
        "    Generate a video from a reference video and text prompt using dis\u2026",
        "1 endpoint",
    ]


def test_a_category_no_endpoint_has_lists_nothing_and_says_why() -> None:
    """It printed '0 endpoints' and nothing else: a typo looked like an empty category. A real
    category no installed endpoint has stays an empty listing (scripts loop over categories)."""
    run = run_cli("list", "--category", "text-to-imag", "--json")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    said = " ".join(run.stderr.split())
    assert "note: no endpoint listed has the category 'text-to-imag': did you mean" in said
    assert "'text-to-image'" in said and "Traceback" not in said
    listed = run_cli("list", "--category", "Text-To-Image")
    assert listed.returncode == 0 and "note:" not in listed.stderr
    count = int(listed.stdout.strip().splitlines()[-1].split()[0])
    assert count > 0
