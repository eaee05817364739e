"""Each schema construct and upstream defect of the corpus, on small synthetic documents.

Every document goes through the real generator into a temporary directory and the generated
module is imported and exercised: the assertions are on behaviour (what validates, what is
rejected, what a signature accepts), not on the text.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from codegen_helpers import fal_document, generate_into, import_generated
from kitchen_sink import KITCHEN_SINK, LONG_ENUM, REF
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from fal_typed import FileOutput, InputModel, InputValidationError, OutputModel


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    tmp = tmp_path_factory.mktemp("sink")
    report = generate_into(tmp, KITCHEN_SINK)
    assert report.errors == []
    return import_generated(tmp, "kitchen_sink")


@pytest.fixture(scope="module")
def sink_warnings(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    report = generate_into(tmp_path_factory.mktemp("sink-warnings"), KITCHEN_SINK)
    return [d.message for d in report.diagnostics]


def keyword_overload(module: ModuleType, function: str = "subscribe") -> ast.FunctionDef:
    """The keyword-argument signature of a generated function, from the module source (one
    declaration, no overloads)."""
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    (node,) = [
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function
    ]
    return node


def keyword_overload_of_method(module: ModuleType, cls: str, method: str) -> ast.FunctionDef:
    """A method's signature, from whichever source of the member package defines the class."""
    sources = Path(module.__file__ or "").parent.glob("*.py")
    body = next(
        node
        for source in sorted(sources)
        for node in ast.parse(source.read_text(encoding="utf-8")).body
        if isinstance(node, ast.ClassDef) and node.name == cls
    ).body
    (node,) = [node for node in body if isinstance(node, ast.FunctionDef) and node.name == method]
    return node


def keyword_types(module: ModuleType) -> dict[str, str]:
    node = keyword_overload(module)
    return {arg.arg: ast.unparse(arg.annotation) for arg in node.args.kwonlyargs if arg.annotation}


def valid(**overrides: Any) -> dict[str, Any]:
    return {"prompt": "a cat", "size": {"width": 8, "height": 8}, **overrides}


def rejected_fields(module: ModuleType, fields: dict[str, Any]) -> list[str]:
    with pytest.raises(InputValidationError) as caught:
        module.endpoint.arguments(None, fields)
    return caught.value.fields


# -- names and classes ---------------------------------------------------------------------------


def test_input_and_output_classes_are_named_after_the_module(sink: ModuleType) -> None:
    assert sink.Input is sink.KitchenSinkInput and sink.Output is sink.KitchenSinkOutput
    assert issubclass(sink.Input, InputModel) and issubclass(sink.Output, OutputModel)
    assert sink.endpoint_id == "fal-ai/kitchen-sink" == sink.endpoint.endpoint_id


def test_the_input_is_the_post_body_not_a_component_named_like_one(sink: ModuleType) -> None:
    assert "nothing" not in sink.Input.model_fields
    assert not hasattr(sink, "DecoyInput")  # unreachable components are not generated


def test_component_names_that_are_not_identifiers_become_identifiers(sink: ModuleType) -> None:
    assert issubclass(sink.AudioOutput, FileOutput)
    assert issubclass(sink.RegistryModelsLink, OutputModel)  # snake case: Pascal-cased, base kept


def test_a_component_used_on_both_sides_becomes_a_strict_and_a_lenient_class(
    sink: ModuleType,
) -> None:
    assert issubclass(sink.ImageSize, InputModel)
    assert issubclass(sink.ImageSizeOutput, OutputModel)
    with pytest.raises(ValueError, match="depth"):
        sink.ImageSize(width=1, height=1, depth=3)
    out = sink.ImageSizeOutput.model_validate({"width": 0, "height": 1, "depth": 3})
    assert out.model_extra == {"depth": 3}


def test_file_like_outputs_derive_from_file_output(sink: ModuleType) -> None:
    assert issubclass(sink.Image, FileOutput)  # url + width
    assert issubclass(sink.AudioOutput, FileOutput)  # url + content_type
    assert not issubclass(sink.RegistryModelsLink, FileOutput)  # a url alone is not a file


# -- input side: strict --------------------------------------------------------------------------


def test_input_validates_and_sends_only_what_was_given(sink: ModuleType) -> None:
    body = sink.endpoint.arguments(None, valid(seed=None, aspect_ratio="4K"))
    assert body == {
        "prompt": "a cat",
        "size": {"width": 8, "height": 8},
        "seed": None,
        "aspect_ratio": "4K",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aspect_ratio", "3:2"),  # enum values that are not identifiers
        ("seed", "seven"),  # nullable integer (OpenAPI 3.0 `nullable`)
        ("guidance", 0),  # numeric exclusiveMinimum
        ("strength", 0),  # boolean exclusiveMinimum (OpenAPI 3.0)
        ("rgb", [1, 2]),  # prefixItems: a fixed-length tuple
        ("settings", ["not", "an", "object"]),  # a free-form object
        ("steps", 0),  # a constrained member of anyOf [integer, null]
        ("mode", "slow"),  # const
        ("shape", "round"),  # union of a $ref and a string enum
        ("weights", {"a": "heavy"}),  # additionalProperties map
        ("matrix", [[1.0], ["x"]]),  # arrays of arrays
        ("loras", [{"scale": 2}]),  # nested required field
    ],
)
def test_bad_values_are_rejected_naming_the_field(sink: ModuleType, field: str, value: Any) -> None:
    assert any(
        path == field or path.startswith(f"{field}.")
        for path in rejected_fields(sink, valid(**{field: value}))
    )


def test_unknown_fields_are_rejected_but_extra_body_passes_them_through(sink: ModuleType) -> None:
    assert rejected_fields(sink, valid(promt="typo")) == ["promt"]
    body = sink.endpoint.arguments(None, valid(), {"new_field": 1})
    assert body["new_field"] == 1


def test_accepted_shapes(sink: ModuleType) -> None:
    sink.endpoint.arguments(
        None,
        valid(
            shape="wide",
            steps=None,
            anything=[1, "two", None],
            matrix=[[1, 2.5]],
            weights={"a": 0.5},
            mode="fast",
            audio="aGVsbG8=",
            framing={"zoom": 2},
            strength=0.5,
            rgb=[1, 2, 3],
            settings={"anything": {"goes": [1]}},
            size=sink.ImageSize(width=3, height=4),
        ),
    )


def test_a_field_named_like_a_call_option_gets_a_trailing_underscore(sink: ModuleType) -> None:
    assert "timeout_" in keyword_types(sink)
    run_keywords = [arg.arg for arg in keyword_overload(sink, "run").args.kwonlyargs]
    assert {"timeout_", "timeout"} <= set(run_keywords)  # the field and run's own option
    assert sink.endpoint.arguments(None, valid(timeout_=2.5))["timeout"] == 2.5


def test_fields_named_like_positional_parameters_are_keywords(
    sink: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(sink.endpoint, "run", lambda body, **_: sent.append(body))
    sink.run(**valid(input="in", self_="me", json="{}"))
    assert sent[0]["input"] == "in" and sent[0]["self"] == "me"  # `self` is `self_` in Python
    assert sent[0]["json"] == "{}"  # the model attribute is json_, the keyword and wire name json
    assert {"input", "self_", "json"} <= set(keyword_types(sink))


def test_a_component_named_like_a_module_function_gets_another_name(tmp_path: Path) -> None:
    document = fal_document(
        "fal-ai/clash",
        {
            "type": "object",
            "properties": {"s": {"$ref": REF + "status"}, "e": {"$ref": REF + "Endpoint"}},
        },
        {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        {
            "status": {"type": "object", "properties": {"code": {"type": "integer"}}},
            "Endpoint": {"type": "object", "properties": {"url": {"type": "string"}}},
        },
    )
    generate_into(tmp_path, document)
    module = import_generated(tmp_path, "clash")
    assert callable(module.status) and module.Endpoint is not module.Endpoint2
    assert issubclass(module.Status2, InputModel) and issubclass(module.Endpoint2, InputModel)


def test_model_prefixed_fields_are_ordinary_fields(sink: ModuleType) -> None:
    assert sink.Input(**valid(model_name="x")).model_name == "x"


# -- signatures ----------------------------------------------------------------------------------


def test_every_field_is_a_keyword_in_schema_order(sink: ModuleType) -> None:
    names = [arg.arg for arg in keyword_overload(sink).args.kwonlyargs]
    fields = names[: names.index("extra_body")]
    assert fields[:6] == ["prompt", "size", "image_url", "aspect_ratio", "seed", "loras"]
    assert len(fields) == len(KITCHEN_SINK["components"]["schemas"]["ThingInput"]["properties"])


def test_required_fields_have_no_default_and_schema_defaults_are_shown(sink: ModuleType) -> None:
    node = keyword_overload(sink)
    defaults = dict(
        zip(
            [arg.arg for arg in node.args.kwonlyargs],
            [ast.unparse(d) if d else None for d in node.args.kw_defaults],
            strict=True,
        )
    )
    assert defaults["prompt"] is None and defaults["size"] is None
    assert defaults["aspect_ratio"] == "'16:9'" and defaults["guidance"] == "3.5"
    # No default the signature can show: None where null is allowed, else NOT_GIVEN. Either
    # way the field is not sent unless given, and the server decides.
    assert defaults["seed"] == "None"
    assert defaults["bad_default"] == "NOT_GIVEN" and defaults["big_default"] == "NOT_GIVEN"


def test_defaults_are_documentation_only_what_is_given_is_sent(
    sink: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[dict[str, Any], dict[str, Any]]] = []
    monkeypatch.setattr(sink.endpoint, "run", lambda body, **options: sent.append((body, options)))
    sink.run(**valid(), timeout=3.0, bad_default=sink_not_given(), extra_body={"new": 1})
    body, options = sent[0]
    assert body == {"prompt": "a cat", "size": {"width": 8, "height": 8}, "new": 1}
    assert options == {"timeout": 3.0}


def sink_not_given() -> Any:
    from fal_typed.keywords import NOT_GIVEN

    return NOT_GIVEN


def test_the_declared_signature_is_what_help_shows_and_the_call_checks_at_run_time(
    sink: ModuleType,
) -> None:
    signature = inspect.signature(sink.subscribe)
    assert list(signature.parameters)[:2] == ["prompt", "size"]
    assert all(p.kind is p.KEYWORD_ONLY for p in signature.parameters.values())
    assert signature.parameters["aspect_ratio"].default == "16:9"
    assert inspect.iscoroutinefunction(sink.subscribe_async)
    assert not inspect.iscoroutinefunction(sink.stream_async)  # returns an async stream
    # What a type checker reports, the call reports too, naming the field, before any I/O.
    with pytest.raises(InputValidationError) as missing:
        sink.subscribe(size={"width": 8, "height": 8})
    assert missing.value.fields == ["prompt"]
    with pytest.raises(InputValidationError) as unknown:
        sink.subscribe(**valid(num_imagez=2))
    assert unknown.value.fields == ["num_imagez"]


def test_file_fields_take_file_inputs_in_the_models_and_every_signature(
    sink: ModuleType,
) -> None:
    types = keyword_types(sink)
    assert types["image_url"] == "FileInput" and types["mask_urls"] == "list[FileInput]"
    assert (
        types["prompt"] == "str" and types["seed"] == "int | None"
    )  # only a nullable field takes None
    send = keyword_overload_of_method(sink, "Realtime", "send")
    send_types = {
        arg.arg: ast.unparse(arg.annotation) for arg in send.args.kwonlyargs if arg.annotation
    }
    assert send_types["image_url"] == "FileInput"  # realtime inlines local files as data: URIs

    # The models take local files too, nested ones included, and keep them as given.
    image, mask, reference = Path("cat.png"), b"\x89PNG", io.BytesIO(b"ref")
    model = sink.Input(
        **valid(
            image_url=image,
            loras=[sink.LoraWeight(path="lora", mask_url=mask)],
            reference=sink.Reference(url=reference),
        )
    )
    assert model.image_url is image and model.loras[0].mask_url is mask
    assert model.reference is not None and model.reference.url is reference
    # A URL's length limits are the server's to check: a local file has no length.
    assert sink.Input(**valid(image_url="")).image_url == ""
    with pytest.raises(ValidationError, match="expected a URL string or a local file"):
        sink.LoraWeight(path="lora", mask_url=3)
    # The output copy of a component used on both sides keeps plain strings.
    assert sink.ReferenceOutput.model_fields["url"].annotation is str
    assert sink.Image.model_fields["url"].annotation is str


def test_a_model_holding_a_local_file_has_no_json_until_a_call_uploads_it(
    sink: ModuleType,
) -> None:
    model = sink.Input(**valid(image_url=Path("cat.png")))
    with pytest.raises(PydanticSerializationError, match="has no URL until it is uploaded"):
        model.model_dump_json()
    assert model.model_dump()["image_url"] == Path("cat.png")  # Python mode keeps it
    url = "https://example.com/cat.png"
    assert json.loads(sink.Input(**valid(image_url=url)).model_dump_json())["image_url"] == url


def test_signatures_show_plain_types_and_long_ones_by_alias(sink: ModuleType) -> None:
    types = keyword_types(sink)
    assert types["steps"] == "int | None"  # the model holds the constraint
    assert types["voice"] == "Voice"
    assert typing.get_args(sink.Voice) == tuple(LONG_ENUM)


def test_the_call_documents_every_field(sink: ModuleType) -> None:
    doc = inspect.getdoc(sink.subscribe) or ""
    assert doc.startswith("Submit a request to `fal-ai/kitchen-sink` through the queue")
    assert "seed: Random seed.\n        int or None; optional." in doc  # dedented, then the facts
    assert "aspect_ratio:" in doc and 'default "16:9".' in doc
    assert "\nCall options:\n    extra_body: " in doc and "\n    client_timeout: Seconds" in doc
    assert 'tricky: Quotes """ and a backslash \\d inside.' in doc
    assert "old: Deprecated." in doc
    assert 'Default: `{"width": 1, "height": 2}`.' in doc
    assert sink.Input.model_fields["seed"].description == "Random seed."


def test_an_input_instance_is_accepted_positionally(
    sink: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = sink.Input(**valid())
    assert sink.endpoint.arguments(instance) == {
        "prompt": "a cat",
        "size": {"width": 8, "height": 8},
    }
    # At run time the module's calls take one too (the typed way is sink.endpoint.run(...)).
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(sink.endpoint, "run", lambda body, **_: sent.append(body))
    sink.run(instance, timeout=1.0)
    assert sent == [{"prompt": "a cat", "size": {"width": 8, "height": 8}}]
    with pytest.raises(InputValidationError, match="given both"):
        sink.run(instance, seed=3)


# -- output side: lenient ------------------------------------------------------------------------


def test_outputs_accept_new_fields_and_enum_values_and_ignore_constraints(sink: ModuleType) -> None:
    out = sink.Output.model_validate(
        {
            "images": [{"url": "https://x/y.png", "width": 3, "height": 4}],
            "status": "a-value-added-later",
            "score": 7.5,
            "added_later": {"x": 1},
        }
    )
    assert out.status == "a-value-added-later" and out.score == 7.5
    assert out.model_extra == {"added_later": {"x": 1}}
    assert out.images[0].url == "https://x/y.png" and out.images[0].model_extra == {"height": 4}


# -- defects are reported, not fatal -------------------------------------------------------------


def test_dropped_defaults_are_reported(sink_warnings: list[str]) -> None:
    assert any("default 1 of KitchenSinkInput.bad_default" in w for w in sink_warnings)


def test_dangling_refs_become_any_with_a_warning(tmp_path: Path) -> None:
    document = fal_document(
        "fal-ai/dangling",
        {
            "type": "object",
            "properties": {"points": {"type": "array", "items": {"$ref": REF + "TrackPoint"}}},
        },
        {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    )
    report = generate_into(tmp_path, document)
    assert [d.message for d in report.diagnostics] == [
        "dangling $ref '#/components/schemas/TrackPoint' in PointsItem typed as Any"
    ]
    module = import_generated(tmp_path, "dangling")
    assert module.endpoint.arguments(None, {"points": [{"x": 1}, "anything"]})


def test_a_missing_input_schema_gives_an_open_input(tmp_path: Path) -> None:
    document = fal_document("openrouter/router/chat", {}, {"type": "object"}, input_name="Missing")
    del document["components"]["schemas"]["Missing"]
    report = generate_into(tmp_path, document)
    assert report.errors == [] and "dangling $ref" in report.diagnostics[0].message
    module = import_generated(tmp_path, "openrouter__router_chat")
    assert module.endpoint.arguments(None, {"model": "x", "messages": []}) == {
        "model": "x",
        "messages": [],
    }
    assert keyword_overload(module).args.kwarg is not None  # **fields: Any


def test_an_empty_output_schema_gives_an_open_output(tmp_path: Path) -> None:
    report = generate_into(tmp_path, fal_document("fal-ai/empty-out", {"type": "object"}, {}))
    assert "output schema 'ThingOutput' is empty" in report.diagnostics[0].message
    module = import_generated(tmp_path, "empty_out")
    assert module.Output.model_validate({"anything": [1]}).model_extra == {"anything": [1]}


def test_a_discriminated_union_output(tmp_path: Path) -> None:
    variants = {
        name: {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": tag}, tag: {"type": "string"}},
        }
        for name, tag in (("AnswerOutput", "answer"), ("ErrorOutput", "error"))
    }
    output = {
        "oneOf": [{"$ref": REF + name} for name in variants],
        "discriminator": {
            "propertyName": "type",
            "mapping": {"answer": REF + "AnswerOutput", "error": REF + "ErrorOutput"},
        },
    }
    generate_into(tmp_path, fal_document("fal-ai/union-out", {"type": "object"}, output, variants))
    module = import_generated(tmp_path, "union_out")
    parsed = module.Output.model_validate({"type": "error", "error": "boom"})
    assert isinstance(parsed, BaseModel) and type(parsed.root).__name__ == "ErrorOutput"
