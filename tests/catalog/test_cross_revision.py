"""Results stay readable across schema revisions wherever the diff says readers are unaffected,
and where they are not, the paid result is kept on the error (see cross_revision.py)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import httpx
import pytest
from fal_endpoints import fast_sdxl_controlnet_canny  # the June bindings

from fal_typed import Client, OutputValidationError
from fal_typed._handle import parse_output
from fal_typed.testing import DEFAULT_KEY, LocalFal

from .cross_revision import (
    CACHE,
    ROOT,
    SAMPLE_HISTORY,
    SHARED_HISTORY,
    PairReport,
    generate_models,
    load_module,
    run_pairs,
    synthesize,
)

SCHEMAS = ROOT / "schemas"


@pytest.fixture(scope="module")
def january_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models generated from the sample's January documents, in a temporary folder."""
    return generate_models(SAMPLE_HISTORY, tmp_path_factory.mktemp("january"))


@pytest.fixture(scope="module")
def sample(january_models: Path) -> list[PairReport]:
    return list(run_pairs(SAMPLE_HISTORY, SCHEMAS, january_models, None))


def _failures(reports: list[PairReport]) -> set[tuple[str, str]]:
    return {(r.endpoint_id, d) for r in reports for d, o in r.outcomes.items() if not o.ok}


def test_every_sample_output_parses_with_its_own_revision(sample: list[PairReport]) -> None:
    assert len(sample) == 13 and all(r.problem is None for r in sample)
    for report in sample:
        assert report.outcomes["old->old"].ok, (report.file, report.outcomes["old->old"].errors)
        assert report.outcomes["new->new"].ok, (report.file, report.outcomes["new->new"].errors)


def test_reader_compatible_pairs_parse_both_ways_and_the_others_fail_as_the_diff_says(
    sample: list[PairReport],
) -> None:
    assert [(r.file, r.broken_promises) for r in sample if r.broken_promises] == []
    assert _failures(sample) == {
        # a required output field was removed (new results miss it) or added (old ones do)
        ("fal-ai/fast-sdxl-controlnet-canny", "old->new"),
        ("fal-ai/chatterbox/text-to-speech", "old->new"),  # January's output schema was empty
        ("bria/fibo-lite/generate", "old->new"),  # a nested model became a plain dict
        ("bria/video/erase/mask", "new->old"),  # June's output schema is empty
        ("fal-ai/deepfilternet3", "new->old"),  # audio_file.bitrate: string -> string | int
    }
    by_id = {r.endpoint_id: r for r in sample}
    assert by_id["fal-ai/fast-sdxl-controlnet-canny"].outcomes["old->new"].errors == (
        "prompt: Field required",
    )
    assert any("bitrate" in m for m in by_id["fal-ai/deepfilternet3"].breaking_forward)


def test_a_result_that_does_not_parse_keeps_its_json_and_request_id(january_models: Path) -> None:
    document = (SAMPLE_HISTORY / "fal-ai__fast-sdxl-controlnet-canny.json").read_bytes()
    january_output = synthesize("fal-ai/fast-sdxl-controlnet-canny", json.loads(document))

    with pytest.raises(OutputValidationError) as caught:
        parse_output(fast_sdxl_controlnet_canny.Output, january_output, "req-1")
    assert caught.value.data == january_output and caught.value.request_id == "req-1"
    assert "prompt: Field required" in str(caught.value)


def test_old_bindings_against_a_server_on_the_new_schema_lose_nothing(
    january_models: Path, local_fal: LocalFal, local_fal_client: Client
) -> None:
    """The user has not regenerated; fal (here the local server on June's documents) now sends
    an integer bitrate that the January model types as a string."""
    old = load_module(january_models, "fal-ai/deepfilternet3")
    assert isinstance(old, types.ModuleType)
    with pytest.raises(OutputValidationError) as caught:
        old.subscribe(audio_url="https://example.com/noisy.mp3", client=local_fal_client)
    error = caught.value
    assert error.request_id is not None
    assert isinstance(error.data["audio_file"]["bitrate"], int)
    assert "audio_file.bitrate" in str(error)
    stored = httpx.get(
        f"{local_fal.queue_url}/fal-ai/deepfilternet3/requests/{error.request_id}",
        headers={"Authorization": f"Key {DEFAULT_KEY}"},
    )
    assert stored.json() == error.data  # exactly what fal returned, kept on the error


@pytest.mark.slow
def test_all_real_pairs_keep_the_diff_promises() -> None:
    """The full history (630 pairs; models cached in .codegen-cache/), when it is present."""
    if not SHARED_HISTORY.is_dir():
        pytest.skip(f"no {SHARED_HISTORY}")
    package = generate_models(SHARED_HISTORY, CACHE / SHARED_HISTORY.name)
    reports = list(run_pairs(SHARED_HISTORY, SCHEMAS, package, None))
    assert len(reports) == 630
    assert [r.file for r in reports if r.problem] == []
    assert [(r.file, r.broken_promises) for r in reports if r.broken_promises] == []
    for report in reports:
        assert report.outcomes["old->old"].ok and report.outcomes["new->new"].ok, report.file
