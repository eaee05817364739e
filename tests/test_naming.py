"""The endpoint id -> module name rule, over every id fal has published (tests/codegen/data)."""

from __future__ import annotations

import hashlib
import keyword
from pathlib import Path

import pytest

from fal_typed import InvalidArgumentError
from fal_typed.naming import check_endpoint_id, module_name, split_endpoint_id

IDS_FILE = Path(__file__).parent / "codegen" / "data" / "fal-endpoint-ids.txt"
IDS = IDS_FILE.read_text(encoding="utf-8").split()

# sha256 of "<id>\t<module>\n" over the sorted ids: any change to the rule renames modules users
# import, so it must be deliberate (update this pin and say so in the changelog).
MAPPING_SHA256 = "aa0801a3edc5269351cebae36ff4f67183761e77e3bfbe2af7d0f314fefa294c"


def test_the_id_list_is_complete() -> None:
    assert len(IDS) == len(set(IDS)) == 1621
    pair = {
        "bytedance/seedream/v5/lite/text-to-image",
        "fal-ai/bytedance/seedream/v5/lite/text-to-image",
    }
    assert pair <= set(IDS)  # the same path under two owners
    assert len({endpoint_id.lower() for endpoint_id in IDS}) < len(
        IDS
    )  # ids differing in case only


def test_every_id_gets_a_valid_identifier_that_is_not_a_keyword() -> None:
    bad = [
        (endpoint_id, name)
        for endpoint_id in IDS
        if not (name := module_name(endpoint_id)).isidentifier()
        or keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or name.startswith("_")
    ]
    assert bad == []


def test_module_names_are_unique_even_on_case_insensitive_file_systems() -> None:
    owners: dict[str, str] = {}
    for endpoint_id in IDS:
        name = module_name(endpoint_id).casefold()
        assert name not in owners, f"{endpoint_id} and {owners[name]} both map to {name}"
        owners[name] = endpoint_id


@pytest.mark.parametrize(
    ("endpoint_id", "expected"),
    [
        ("fal-ai/flux/dev", "flux_dev"),
        ("fal-ai/flux-pro/v1.1-ultra", "flux_pro_v1_1_ultra"),
        ("bytedance/seedream/v5/lite/text-to-image", "bytedance__seedream_v5_lite_text_to_image"),
        (
            "fal-ai/bytedance/seedream/v5/lite/text-to-image",
            "bytedance_seedream_v5_lite_text_to_image",
        ),
        ("CassetteAI/music-generator", "cassetteai__music_generator_c78a56"),
        ("fal-ai/3d/model", "m_3d_model"),
        ("fal-ai/import", "import_"),
        ("fal-ai/match", "match_"),
    ],
)
def test_pinned_examples(endpoint_id: str, expected: str) -> None:
    assert module_name(endpoint_id) == expected


def test_the_whole_mapping_is_pinned() -> None:
    lines = "".join(f"{endpoint_id}\t{module_name(endpoint_id)}\n" for endpoint_id in sorted(IDS))
    assert hashlib.sha256(lines.encode()).hexdigest() == MAPPING_SHA256


def test_names_depend_on_the_id_alone() -> None:
    """Adding ids never renames a module: the name is a function of its own id only."""
    before = {endpoint_id: module_name(endpoint_id) for endpoint_id in IDS}
    newcomers = ["fal-ai/flux/dev-2", "bytedance/seedream/v5", "NewOwner/some-model"]
    after = {endpoint_id: module_name(endpoint_id) for endpoint_id in [*newcomers, *reversed(IDS)]}
    assert all(after[endpoint_id] == name for endpoint_id, name in before.items())


@pytest.mark.parametrize("bad", ["", "flux", "fal-ai/", "/fal-ai", "fal-ai//dev"])
def test_malformed_ids_are_rejected_naming_the_id(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid endpoint id"):
        module_name(bad)


# -- the id grammar and its edges (each assertion pins a rule a mutation of naming.py broke) -------


@pytest.mark.parametrize(
    "endpoint_id",
    [
        "fal-ai/flux",
        "fal-ai/flux/dev",
        "a/b",
        "workflows/owner/app",
        "comfy/o/a/p",
        "x" * 198 + "/y",
    ],
)
def test_ids_that_fit_the_grammar_are_returned_as_given(endpoint_id: str) -> None:
    assert check_endpoint_id(endpoint_id) == endpoint_id


GRAMMAR = (
    "expected 'owner/app[/path...]' made of ASCII letters, digits, '.', '_' and '-', "
    "each segment starting with a letter or digit"
)


@pytest.mark.parametrize(
    ("endpoint_id", "message"),
    [
        (5, "invalid endpoint id 5: expected a string"),
        ("x" * 199 + "/y", f"invalid endpoint id {'x' * 40!r}...: longer than 200 characters"),
        ("flux", f"invalid endpoint id 'flux': {GRAMMAR}"),
        (
            "fal-ai/flux\n",
            "invalid endpoint id 'fal-ai/flux\\n': it has spaces or a line break around it "
            "(strip it)",
        ),
        ("fal-ai/-flux", f"invalid endpoint id 'fal-ai/-flux': {GRAMMAR}"),
        (
            "workflows/app",
            "invalid endpoint id 'workflows/app': expected 'workflows/owner/app[/path...]'",
        ),
        ("comfy/app", "invalid endpoint id 'comfy/app': expected 'comfy/owner/app[/path...]'"),
    ],
)
def test_ids_outside_the_grammar_are_refused_naming_them(endpoint_id: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:  # a ValueError, as it always was
        check_endpoint_id(endpoint_id)
    assert caught.value.message == message
    assert isinstance(caught.value, ValueError)


def test_split_strips_outer_slashes_only() -> None:
    assert split_endpoint_id("/fal-ai/flux/dev/") == ["fal-ai", "flux", "dev"]
    assert split_endpoint_id("Xowner/appX") == ["Xowner", "appX"]
    for bad in ("fal-ai", "fal-ai//flux", "/"):
        with pytest.raises(ValueError, match="expected 'owner/app"):
            split_endpoint_id(bad)


def test_separators_at_the_ends_of_names_are_dropped() -> None:
    assert module_name("-acme-/app") == "acme__app"  # the owner, normalised on its own
    assert module_name("fal-ai/flux/-") == "flux"  # a segment of separators only
    assert module_name("fal-ai/-flux-/dev") == "flux_dev"
