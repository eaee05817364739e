"""The API diff of two revisions of one document: every change kind, on small crafted pairs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fal_typed.catalog import ChangeKind, EndpointDiff, Impact, diff_documents

from .documents import FILE, document

K = ChangeKind
I = Impact  # noqa: E741


def found(old: dict[str, Any], new: dict[str, Any]) -> set[tuple[str, str, ChangeKind, Impact]]:
    """The (side, path, kind, impact) of every change, description changes of the API only."""
    diff = diff_documents(old, new)
    return {(c.side, c.path, c.kind, c.impact) for c in diff.changes}


def one(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, str, ChangeKind, Impact]:
    changes = found(old, new)
    assert len(changes) == 1, changes
    return next(iter(changes))


def inputs(properties: dict[str, Any], required: tuple[str, ...] = (), **kw: Any) -> dict[str, Any]:
    return document(properties, input_required=required, **kw)


def outputs(
    properties: dict[str, Any], required: tuple[str, ...] = (), **kw: Any
) -> dict[str, Any]:
    return document(None, properties, output_required=required, **kw)


STRING = {"type": "string"}
INTEGER = {"type": "integer"}


# -- identity and noise --------------------------------------------------------------------------


def test_identical_documents_are_unchanged_and_need_no_new_version() -> None:
    doc = inputs({"prompt": STRING, "steps": {"type": "integer", "default": 28}})
    diff = diff_documents(doc, copy.deepcopy(doc))
    assert diff.status == "unchanged" and diff.changes == () and diff.bump is None


def test_key_order_titles_examples_and_formats_are_not_changes() -> None:
    old = inputs({"prompt": STRING, "steps": {"type": "integer", "title": "Steps"}})
    new = inputs(
        {
            "steps": {"title": "Number of steps", "type": "integer", "examples": [4]},
            "prompt": {"type": "string", "format": "text"},
        }
    )
    diff = diff_documents(old, new)
    assert diff.status == "changed" and diff.changes == ()
    assert diff.impact is None and diff.bump == "patch"  # new bytes, same API


def test_a_ref_an_inline_object_and_a_one_item_allof_are_the_same_model() -> None:
    size = {"type": "object", "properties": {"width": INTEGER}}
    old = inputs({"size": {"$ref": "#/components/schemas/Size"}}, components={"Size": size})
    new = inputs(
        {"size": {"allOf": [{"$ref": "#/components/schemas/Size"}]}}, components={"Size": size}
    )
    assert found(old, new) == set()
    inline = inputs({"size": {"title": "Size", **size}})
    assert found(old, inline) == set()


def test_openapi_nullable_and_an_anyof_with_null_mean_the_same() -> None:
    old = inputs({"seed": {"type": "integer", "nullable": True}})
    new = inputs({"seed": {"anyOf": [INTEGER, {"type": "null"}]}})
    also = inputs({"seed": {"type": ["integer", "null"]}})
    assert found(old, new) == set() and found(new, also) == set()


# -- input fields --------------------------------------------------------------------------------


def test_input_optional_field_added_is_compatible() -> None:
    old = inputs({"prompt": STRING}, ("prompt",))
    new = inputs({"prompt": STRING, "seed": INTEGER}, ("prompt",))
    assert one(old, new) == ("input", "seed", K.FIELD_ADDED, I.COMPATIBLE)
    assert diff_documents(old, new).bump == "minor"


def test_input_required_field_added_breaks_callers() -> None:
    old = inputs({"prompt": STRING}, ("prompt",))
    new = inputs({"prompt": STRING, "image_url": STRING}, ("prompt", "image_url"))
    assert one(old, new) == ("input", "image_url", K.FIELD_ADDED, I.BREAKING_CALLERS)
    assert diff_documents(old, new).bump == "major"


def test_input_field_removed_breaks_callers() -> None:
    old = inputs({"prompt": STRING, "style": STRING})
    new = inputs({"prompt": STRING})
    assert one(old, new) == ("input", "style", K.FIELD_REMOVED, I.BREAKING_CALLERS)


def test_input_required_and_optional() -> None:
    optional = inputs({"prompt": STRING})
    required = inputs({"prompt": STRING}, ("prompt",))
    assert one(optional, required) == ("input", "prompt", K.BECAME_REQUIRED, I.BREAKING_CALLERS)
    assert one(required, optional) == ("input", "prompt", K.BECAME_OPTIONAL, I.COMPATIBLE)


def test_a_file_field_renamed_to_its_list_form_is_a_removal_and_an_addition() -> None:
    old = inputs({"image_url": STRING}, ("image_url",))
    new = inputs({"image_urls": {"type": "array", "items": STRING}}, ("image_urls",))
    assert found(old, new) == {
        ("input", "image_url", K.FIELD_REMOVED, I.BREAKING_CALLERS),
        ("input", "image_urls", K.FIELD_ADDED, I.BREAKING_CALLERS),
    }


# -- input types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "kind", "impact"),
    [
        (INTEGER, {"type": "number"}, K.TYPE_WIDENED, I.COMPATIBLE),
        ({"type": "number"}, INTEGER, K.TYPE_NARROWED, I.BREAKING_CALLERS),
        (STRING, INTEGER, K.TYPE_CHANGED, I.BREAKING_CALLERS),
        (STRING, {}, K.TYPE_WIDENED, I.COMPATIBLE),
        ({}, STRING, K.TYPE_NARROWED, I.BREAKING_CALLERS),
        (STRING, {"anyOf": [STRING, {"type": "null"}]}, K.TYPE_WIDENED, I.COMPATIBLE),
        ({"anyOf": [STRING, {"type": "null"}]}, STRING, K.TYPE_NARROWED, I.BREAKING_CALLERS),
        (STRING, {"anyOf": [STRING, INTEGER]}, K.TYPE_WIDENED, I.COMPATIBLE),
        ({"anyOf": [STRING, INTEGER]}, INTEGER, K.TYPE_NARROWED, I.BREAKING_CALLERS),
        (
            {"type": "array", "items": STRING},
            {"type": "array", "items": INTEGER},
            K.TYPE_CHANGED,
            I.BREAKING_CALLERS,
        ),
    ],
)
def test_input_types(before: Any, after: Any, kind: ChangeKind, impact: Impact) -> None:
    path = "tags[]" if "items" in before else "value"
    name = "tags" if "items" in before else "value"
    side, where, got_kind, got_impact = one(inputs({name: before}), inputs({name: after}))
    assert (side, where, got_kind, got_impact) == ("input", path, kind, impact)


def test_a_union_gaining_a_model_branch_is_widened_and_the_new_model_is_not_compared() -> None:
    size = {"type": "object", "properties": {"width": INTEGER, "height": INTEGER}}
    preset = {"type": "string", "enum": ["square", "landscape_4_3"]}
    old = inputs({"image_size": preset})
    new = inputs(
        {"image_size": {"anyOf": [{"$ref": "#/components/schemas/ImageSize"}, preset]}},
        components={"ImageSize": size},
    )
    diff = diff_documents(old, new)
    assert [(c.kind, c.impact, c.detail) for c in diff.changes] == [
        (K.TYPE_WIDENED, I.COMPATIBLE, "now also ImageSize")
    ]
    back = diff_documents(new, old)
    assert [(c.kind, c.impact) for c in back.changes] == [(K.TYPE_NARROWED, I.BREAKING_CALLERS)]


# -- enums ---------------------------------------------------------------------------------------


def test_input_enum_values_added_and_removed() -> None:
    old = inputs({"format": {"type": "string", "enum": ["jpeg", "png"]}})
    new = inputs({"format": {"type": "string", "enum": ["png", "webp"]}})
    diff = diff_documents(old, new)
    assert {(c.kind, c.impact, str(c.old or c.new)) for c in diff.changes} == {
        (K.ENUM_VALUES_ADDED, I.COMPATIBLE, "['webp']"),
        (K.ENUM_VALUES_REMOVED, I.BREAKING_CALLERS, "['jpeg']"),
    }


def test_an_enum_becoming_free_text_widens_and_the_reverse_narrows() -> None:
    enum = inputs({"format": {"type": "string", "enum": ["jpeg", "png"]}})
    free = inputs({"format": STRING})
    assert one(enum, free) == ("input", "format", K.TYPE_WIDENED, I.COMPATIBLE)
    assert one(free, enum) == ("input", "format", K.TYPE_NARROWED, I.BREAKING_CALLERS)


def test_enum_values_compare_as_json_values() -> None:
    old = inputs({"level": {"enum": [1, 2, True]}})
    new = inputs({"level": {"enum": [1.0, 2, True]}})
    assert found(old, new) == set()
    changes = diff_documents(old, inputs({"level": {"enum": [1, 2, "yes"]}})).changes
    assert {(c.kind, str(c.old or c.new)) for c in changes} == {  # True is not 1
        (K.ENUM_VALUES_REMOVED, "[True]"),
        (K.ENUM_VALUES_ADDED, "['yes']"),
    }


# -- defaults ------------------------------------------------------------------------------------


def test_input_default_changes_change_behaviour_without_code_changing() -> None:
    old = inputs({"steps": {"type": "integer", "default": 28}, "style": STRING})
    new = inputs({"steps": {"type": "integer", "default": 50}, "style": {**STRING, "default": "x"}})
    diff = diff_documents(old, new)
    assert {(c.path, c.kind, c.impact, c.old, c.new) for c in diff.changes} == {
        ("steps", K.DEFAULT_CHANGED, I.BEHAVIOUR, 28, 50),
        ("style", K.DEFAULT_ADDED, I.BEHAVIOUR, None, "x"),
    }
    assert diff.bump == "minor"
    removed = one(new, inputs({"steps": {"type": "integer", "default": 50}, "style": STRING}))
    assert removed == ("input", "style", K.DEFAULT_REMOVED, I.BEHAVIOUR)


def test_a_default_beside_a_ref_counts_and_numbers_compare_by_value() -> None:
    size = {"type": "string", "enum": ["a", "b"]}
    old = inputs(
        {"size": {"$ref": "#/components/schemas/Size", "default": "a"}, "scale": {"default": 1}},
        components={"Size": size},
    )
    new = inputs(
        {"size": {"$ref": "#/components/schemas/Size", "default": "b"}, "scale": {"default": 1.0}},
        components={"Size": size},
    )
    assert one(old, new) == ("input", "size", K.DEFAULT_CHANGED, I.BEHAVIOUR)


def test_a_null_default_says_what_no_default_says() -> None:
    nullable = {"anyOf": [INTEGER, {"type": "null"}]}
    old = inputs({"seed": nullable})
    assert found(old, inputs({"seed": {**nullable, "default": None}})) == set()
    five = inputs({"seed": {**nullable, "default": 5}})
    assert one(five, inputs({"seed": {**nullable, "default": None}}))[2] is K.DEFAULT_CHANGED
    assert one(old, five)[2] is K.DEFAULT_ADDED


def test_a_field_becoming_optional_with_a_default_is_not_a_behaviour_change() -> None:
    old = inputs({"steps": INTEGER}, ("steps",))
    new = inputs({"steps": {"type": "integer", "default": 4}})
    assert one(old, new) == ("input", "steps", K.BECAME_OPTIONAL, I.COMPATIBLE)


# -- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "kind", "detail"),
    [
        ({"maximum": 4}, {"maximum": 8}, K.RANGE_WIDENED, "maximum"),
        ({"maximum": 8}, {"maximum": 4}, K.RANGE_NARROWED, "maximum"),
        ({"minimum": 1}, {"minimum": 4}, K.RANGE_NARROWED, "minimum"),
        ({"minimum": 1}, {}, K.RANGE_WIDENED, "minimum"),
        ({}, {"maximum": 10}, K.RANGE_NARROWED, "maximum"),
        ({"exclusiveMinimum": 0}, {"exclusiveMinimum": 1}, K.RANGE_NARROWED, "minimum"),
        ({"multipleOf": 8}, {}, K.RANGE_WIDENED, "multipleOf"),
    ],
)
def test_input_number_ranges(
    before: dict[str, Any], after: dict[str, Any], kind: ChangeKind, detail: str
) -> None:
    old = inputs({"steps": {"type": "integer", **before}})
    new = inputs({"steps": {"type": "integer", **after}})
    diff = diff_documents(old, new)
    assert [(c.kind, c.detail) for c in diff.changes] == [(kind, detail)]
    impact = I.COMPATIBLE if kind is K.RANGE_WIDENED else I.BREAKING_CALLERS
    assert diff.changes[0].impact is impact


def test_equivalent_integer_bounds_are_not_a_change() -> None:
    old = inputs({"n": {"type": "integer", "exclusiveMinimum": 0}})
    new = inputs({"n": {"type": "integer", "minimum": 1}})
    assert found(old, new) == set()
    boolean = inputs({"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}})
    assert found(old, boolean) == set()  # OpenAPI 3.0's boolean form


def test_string_and_list_ranges_and_patterns() -> None:
    old = inputs(
        {
            "prompt": {"type": "string", "maxLength": 100},
            "urls": {"type": "array", "items": STRING, "maxItems": 4},
            "code": STRING,
        }
    )
    new = inputs(
        {
            "prompt": {"type": "string", "maxLength": 500},
            "urls": {"type": "array", "items": STRING, "maxItems": 2, "minItems": 1},
            "code": {"type": "string", "pattern": "^[a-z]+$"},
        }
    )
    assert {(c.path, c.kind, c.detail, c.old, c.new) for c in diff_documents(old, new).changes} == {
        ("prompt", K.RANGE_WIDENED, "maxLength", 100, 500),
        ("urls", K.RANGE_NARROWED, "maxItems", 4, 2),
        ("urls", K.RANGE_NARROWED, "minItems", None, 1),
        ("code", K.RANGE_NARROWED, "pattern", None, "^[a-z]+$"),
    }


# -- nested models -------------------------------------------------------------------------------


def test_changes_inside_nested_models_name_the_path_from_the_root() -> None:
    lora = {
        "type": "object",
        "properties": {"path": STRING, "scale": {"type": "number", "maximum": 4}},
        "required": ["path"],
    }
    old = inputs(
        {"loras": {"type": "array", "items": {"$ref": "#/components/schemas/Lora"}}},
        components={"LoraWeight": lora, "Lora": lora},
    )
    newer = copy.deepcopy(lora)
    newer["properties"]["scale"]["maximum"] = 2
    newer["properties"]["adapter"] = {"type": "string", "enum": ["a", "b"]}
    newer["required"] = ["path", "adapter"]
    new = inputs(
        {"loras": {"type": "array", "items": {"$ref": "#/components/schemas/Lora"}}},
        components={"Lora": newer},
    )
    assert found(old, new) == {
        ("input", "loras[].scale", K.RANGE_NARROWED, I.BREAKING_CALLERS),
        ("input", "loras[].adapter", K.FIELD_ADDED, I.BREAKING_CALLERS),
    }


def test_a_renamed_nested_model_breaks_callers_who_construct_it_but_not_readers() -> None:
    size = {"type": "object", "properties": {"width": INTEGER}}
    old_in = inputs({"size": {"$ref": "#/components/schemas/Size"}}, components={"Size": size})
    new_in = inputs(
        {"size": {"$ref": "#/components/schemas/ImageSize"}}, components={"ImageSize": size}
    )
    assert one(old_in, new_in) == ("input", "size", K.MODEL_RENAMED, I.BREAKING_CALLERS)
    old_out = outputs({"image": {"$ref": "#/components/schemas/Image"}}, components={"Image": FILE})
    new_out = outputs({"image": {"$ref": "#/components/schemas/File"}}, components={"File": FILE})
    assert one(old_out, new_out) == ("output", "image", K.MODEL_RENAMED, I.COMPATIBLE)


def test_a_model_used_twice_is_reported_once_and_recursion_ends() -> None:
    node = {
        "type": "object",
        "properties": {
            "name": STRING,
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
    }
    changed = copy.deepcopy(node)
    del changed["properties"]["name"]
    old = inputs(
        {"a": {"$ref": "#/components/schemas/Node"}, "b": {"$ref": "#/components/schemas/Node"}},
        components={"Node": node},
    )
    new = inputs(
        {"a": {"$ref": "#/components/schemas/Node"}, "b": {"$ref": "#/components/schemas/Node"}},
        components={"Node": changed},
    )
    assert found(old, new) == {("input", "a.name", K.FIELD_REMOVED, I.BREAKING_CALLERS)}


def test_map_values_are_compared() -> None:
    old = outputs({"timings": {"type": "object", "additionalProperties": {"type": "number"}}})
    new = outputs(
        {
            "timings": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "number"}, STRING]},
            }
        }
    )
    assert one(old, new) == ("output", "timings{}", K.TYPE_WIDENED, I.BREAKING_READERS)


def test_a_dangling_ref_is_any() -> None:
    old = inputs({"track": {"$ref": "#/components/schemas/Missing"}})
    new = inputs({"track": {"type": "object", "properties": {"x": INTEGER}}})
    assert one(old, new) == ("input", "track", K.TYPE_NARROWED, I.BREAKING_CALLERS)


# -- outputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            outputs({"seed": INTEGER}, ("seed",)),
            outputs({"seed": INTEGER, "nsfw": {"type": "boolean"}}, ("seed", "nsfw")),
            ("output", "nsfw", K.FIELD_ADDED, I.COMPATIBLE),
        ),
        (
            outputs({"seed": INTEGER, "prompt": STRING}, ("seed", "prompt")),
            outputs({"seed": INTEGER}, ("seed",)),
            ("output", "prompt", K.FIELD_REMOVED, I.BREAKING_READERS),
        ),
        (
            outputs({"seed": INTEGER}, ("seed",)),
            outputs({"seed": INTEGER}),
            ("output", "seed", K.BECAME_OPTIONAL, I.BREAKING_READERS),
        ),
        (
            outputs({"seed": INTEGER}),
            outputs({"seed": INTEGER}, ("seed",)),
            ("output", "seed", K.BECAME_REQUIRED, I.COMPATIBLE),
        ),
        (
            outputs({"seed": INTEGER}),
            outputs({"seed": {"anyOf": [INTEGER, {"type": "null"}]}}),
            ("output", "seed", K.TYPE_WIDENED, I.BREAKING_READERS),
        ),
        (
            outputs({"seed": {"type": "number"}}),
            outputs({"seed": INTEGER}),
            ("output", "seed", K.TYPE_NARROWED, I.COMPATIBLE),
        ),
        (
            outputs({"seed": STRING}),
            outputs({"seed": INTEGER}),
            ("output", "seed", K.TYPE_CHANGED, I.BREAKING_READERS),
        ),
        (
            outputs({"state": {"type": "string", "enum": ["ok"]}}),
            outputs({"state": {"type": "string", "enum": ["ok", "flagged"]}}),
            ("output", "state", K.ENUM_VALUES_ADDED, I.COMPATIBLE),
        ),
        (
            outputs({"state": {"type": "string", "enum": ["ok", "flagged"]}}),
            outputs({"state": {"type": "string", "enum": ["ok"]}}),
            ("output", "state", K.ENUM_VALUES_REMOVED, I.COMPATIBLE),
        ),
        (
            outputs({"score": {"type": "number", "maximum": 1}}),
            outputs({"score": {"type": "number", "maximum": 100}}),
            ("output", "score", K.RANGE_WIDENED, I.DOCS),
        ),
        (
            outputs({"content_type": {"type": "string", "default": "image/png"}}),
            outputs({"content_type": {"type": "string", "default": "image/jpeg"}}),
            ("output", "content_type", K.DEFAULT_CHANGED, I.BEHAVIOUR),
        ),
    ],
)
def test_output_changes(
    old: dict[str, Any], new: dict[str, Any], expected: tuple[str, str, ChangeKind, Impact]
) -> None:
    assert one(old, new) == expected


def test_output_file_objects_are_compared_field_by_field() -> None:
    old = outputs(
        {"images": {"type": "array", "items": {"$ref": "#/components/schemas/File"}}},
        components={"File": FILE},
    )
    slim = copy.deepcopy(FILE)
    del slim["properties"]["file_data"]
    slim["properties"]["content_type"] = {"anyOf": [STRING, {"type": "null"}]}
    new = outputs(
        {"images": {"type": "array", "items": {"$ref": "#/components/schemas/File"}}},
        components={"File": slim},
    )
    assert found(old, new) == {
        ("output", "images[].file_data", K.FIELD_REMOVED, I.BREAKING_READERS),
        ("output", "images[].content_type", K.TYPE_WIDENED, I.BREAKING_READERS),
    }


def test_a_model_on_both_sides_is_judged_by_each_side_rules() -> None:
    shared = {"type": "object", "properties": {"url": STRING, "width": INTEGER}}
    grown = copy.deepcopy(shared)
    del grown["properties"]["width"]
    old = document(
        {"image": {"$ref": "#/components/schemas/Image"}},
        {"image": {"$ref": "#/components/schemas/Image"}},
        components={"Image": shared},
    )
    new = document(
        {"image": {"$ref": "#/components/schemas/Image"}},
        {"image": {"$ref": "#/components/schemas/Image"}},
        components={"Image": grown},
    )
    assert found(old, new) == {
        ("input", "image.width", K.FIELD_REMOVED, I.BREAKING_CALLERS),
        ("output", "image.width", K.FIELD_REMOVED, I.BREAKING_READERS),
    }


# -- documentation -------------------------------------------------------------------------------


def test_descriptions_are_docs_only_and_a_patch() -> None:
    old = inputs({"prompt": {"type": "string", "description": "What to draw."}}, about="Old.")
    new = inputs(
        {"prompt": {"type": "string", "description": "What to  draw, in English."}}, about="New."
    )
    diff = diff_documents(old, new)
    assert {(c.side, c.path, c.kind, c.impact, c.detail) for c in diff.changes} == {
        ("input", "prompt", K.DESCRIPTION_CHANGED, I.DOCS, "field"),
        ("endpoint", "", K.DESCRIPTION_CHANGED, I.DOCS, "description"),
    }
    assert diff.bump == "patch" and diff.impact is I.DOCS
    # whitespace alone (fal's descriptions are re-indented docstrings) is not a change
    spaced = inputs({"prompt": {"type": "string", "description": "What  to\n draw."}}, about="Old.")
    assert found(old, spaced) == set()


# -- the summary of one endpoint -----------------------------------------------------------------


def test_the_most_severe_impact_decides_the_bump() -> None:
    old = inputs({"prompt": STRING, "steps": {"type": "integer", "default": 1}})
    new = inputs({"steps": {"type": "integer", "default": 2}, "seed": INTEGER})
    diff = diff_documents(old, new)
    assert diff.impact is I.BREAKING_CALLERS and diff.breaking and diff.bump == "major"
    assert [c.kind for c in diff.by_impact(I.BEHAVIOUR)] == [K.DEFAULT_CHANGED]


def test_messages_and_json_say_what_changed() -> None:
    old = inputs({"format": {"type": "string", "enum": ["jpeg"], "default": "jpeg"}})
    new = inputs({"format": {"type": "string", "enum": ["jpeg", "png"], "default": "png"}})
    diff = diff_documents(old, new)
    assert [c.message for c in diff.changes] == [
        'input `format`: default changed from "jpeg" to "png"',
        'input `format`: values added: "png"',
    ]
    data = diff.to_json()
    assert data["endpoint_id"] == "fal-ai/example" and data["bump"] == "minor"
    assert data["changes"][1] == {
        "side": "input",
        "path": "format",
        "kind": "enum-values-added",
        "impact": "compatible",
        "message": 'input `format`: values added: "png"',
        "new": ["png"],
    }
    assert isinstance(diff, EndpointDiff)


# -- real pairs ----------------------------------------------------------------------------------

HISTORY = Path(__file__).parent / "data" / "history-2026-01-28"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_the_real_sample_pairs_show_every_kind_the_full_history_shows() -> None:
    seen: set[tuple[str, ChangeKind, Impact]] = set()
    for path in sorted(HISTORY.glob("*.json")):
        old = json.loads(path.read_bytes())
        new = json.loads((SCHEMAS / path.name).read_bytes())
        seen |= {(c.side, c.kind, c.impact) for c in diff_documents(old, new).changes}
    assert seen == {
        ("endpoint", K.DESCRIPTION_CHANGED, I.DOCS),
        ("input", K.BECAME_OPTIONAL, I.COMPATIBLE),
        ("input", K.BECAME_REQUIRED, I.BREAKING_CALLERS),
        ("input", K.DEFAULT_CHANGED, I.BEHAVIOUR),
        ("input", K.DEFAULT_REMOVED, I.BEHAVIOUR),
        ("input", K.DESCRIPTION_CHANGED, I.DOCS),
        ("input", K.ENUM_VALUES_ADDED, I.COMPATIBLE),
        ("input", K.FIELD_ADDED, I.BREAKING_CALLERS),
        ("input", K.FIELD_ADDED, I.COMPATIBLE),
        ("input", K.FIELD_REMOVED, I.BREAKING_CALLERS),
        ("input", K.MODEL_RENAMED, I.BREAKING_CALLERS),
        ("input", K.RANGE_NARROWED, I.BREAKING_CALLERS),
        ("input", K.RANGE_WIDENED, I.COMPATIBLE),
        ("input", K.TYPE_NARROWED, I.BREAKING_CALLERS),
        ("input", K.TYPE_WIDENED, I.COMPATIBLE),
        ("output", K.BECAME_OPTIONAL, I.BREAKING_READERS),
        ("output", K.BECAME_REQUIRED, I.COMPATIBLE),
        ("output", K.DEFAULT_REMOVED, I.BEHAVIOUR),
        ("output", K.DESCRIPTION_CHANGED, I.DOCS),
        ("output", K.FIELD_ADDED, I.COMPATIBLE),
        ("output", K.FIELD_REMOVED, I.BREAKING_READERS),
        ("output", K.MODEL_RENAMED, I.COMPATIBLE),
        ("output", K.TYPE_CHANGED, I.BREAKING_READERS),
        ("output", K.TYPE_NARROWED, I.COMPATIBLE),
        ("output", K.TYPE_WIDENED, I.BREAKING_READERS),
    }
