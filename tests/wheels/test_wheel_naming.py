"""Distribution names and versions of the endpoint wheels."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from _wheel_support import ROOT
from packaging.utils import canonicalize_name
from packaging.version import Version

from fal_typed.naming import module_name
from wheels import (
    distribution_name,
    normalize,
    runtime_requirement,
    schema_path_for,
    umbrella_version,
    wheel_filename,
)
from wheels._naming import dist_info_dir


@cache
def _corpus() -> list[tuple[Path, str]]:
    return [
        (path, json.loads(path.read_text(encoding="utf-8"))["info"]["x-fal-metadata"]["endpointId"])
        for path in sorted((ROOT / "schemas").glob("*.json"))
    ]


@pytest.mark.parametrize(
    ("endpoint_id", "expected"),
    [
        ("fal-ai/flux/dev", "fal-endpoints-flux-dev"),
        ("fal-ai/flux-pro/v1.1-ultra", "fal-endpoints-flux-pro-v1-1-ultra"),
        ("bytedance/seedream/v4", "fal-endpoints-bytedance-x-seedream-v4"),
        ("fal-ai/bytedance/seedream/v4", "fal-endpoints-bytedance-seedream-v4"),
        ("CassetteAI/music-generator", "fal-endpoints-cassetteai-x-music-generator-c78a56"),
        ("fal-ai/3d/model", "fal-endpoints-m-3d-model"),
    ],
)
def test_distribution_name_follows_the_module_name(endpoint_id: str, expected: str) -> None:
    name = distribution_name(module_name(endpoint_id))
    assert name == expected
    assert canonicalize_name(name) == name  # already in the form installers compare


def test_keyword_modules_lose_the_trailing_underscore() -> None:
    assert distribution_name("import_") == "fal-endpoints-import"


@pytest.mark.parametrize("bad", ["Flux", "flux-dev", "", "9lives", "a.b"])
def test_distribution_name_rejects_non_module_names(bad: str) -> None:
    with pytest.raises(ValueError, match="module name"):
        distribution_name(bad)


def test_distribution_names_are_collision_free_over_the_corpus() -> None:
    ids = [endpoint_id for _, endpoint_id in _corpus()]
    assert len(ids) > 1000
    names: dict[str, str] = {}
    for endpoint_id in ids:
        name = normalize(distribution_name(module_name(endpoint_id)))
        assert name not in names, f"{endpoint_id} and {names[name]} both map to {name}"
        names[name] = endpoint_id


def test_owner_separator_keeps_the_bytedance_pair_apart() -> None:
    first = distribution_name(module_name("bytedance/seedream/v5/lite/text-to-image"))
    second = distribution_name(module_name("fal-ai/bytedance/seedream/v5/lite/text-to-image"))
    assert normalize(first) != normalize(second)


def test_wheel_file_names_escape_the_distribution_name() -> None:
    assert (
        wheel_filename("fal-endpoints-flux-dev", "0.1.0.post1")
        == "fal_endpoints_flux_dev-0.1.0.post1-py3-none-any.whl"
    )
    assert dist_info_dir("fal-typed", "0.1.0") == "fal_typed-0.1.0.dist-info"
    with pytest.raises(ValueError, match="valid distribution name"):
        wheel_filename("-bad", "1.0")


def test_umbrella_version_is_runtime_plus_newest_schema_commit_time() -> None:
    version = umbrella_version("0.1.0", 1_767_225_600)
    assert version == "0.1.0.post20260101000000"
    parsed = Version(version)
    assert parsed.base_version == "0.1.0"
    assert parsed.post == 20260101000000
    assert parsed.local is None


def test_umbrella_versions_order_by_runtime_then_schema_time() -> None:
    older = Version(umbrella_version("0.1.0", 1_767_225_600))
    newer_schema = Version(umbrella_version("0.1.0", 1_767_225_601))
    newer_runtime = Version(umbrella_version("0.1.1", 1_700_000_000))
    assert older < newer_schema < newer_runtime


def test_pre_release_runtimes_get_valid_versions() -> None:
    assert Version(umbrella_version("1.2.0rc1", 0)) == Version("1.2.0rc1.post19700101000000")


@pytest.mark.parametrize("runtime", ["0.1.0.post1", "0.1.0.dev3", "0.1.0+local", "latest"])
def test_runtime_versions_that_cannot_take_a_post_segment_are_refused(runtime: str) -> None:
    with pytest.raises(ValueError, match="cannot carry a schema timestamp"):
        umbrella_version(runtime, 0)


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        ("0.1.0", "fal-typed<0.2,>=0.1.0"),
        ("0.9.3", "fal-typed<0.10,>=0.9.3"),
        ("1.4.2", "fal-typed<2,>=1.4.2"),
        ("2", "fal-typed<3,>=2"),
    ],
)
def test_runtime_requirement_spans_up_to_the_next_breaking_release(
    runtime: str, expected: str
) -> None:
    assert runtime_requirement("fal-typed", runtime) == expected


def test_every_document_is_found_from_its_id() -> None:
    # The builder locates a requested id's document by this rule (schemas/README.md's naming).
    for path, endpoint_id in _corpus():
        assert schema_path_for(path.parent, endpoint_id) == path
