"""The committed package, endpoint by endpoint, over the whole corpus (1,048 documents)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
from codegen_helpers import (
    EXAMPLES_AGAINST_THEIR_SCHEMA,
    GENERATED,
    PACKAGE,
    SCHEMAS,
    Endpoint,
    corpus,
    example_input,
    module_file,
    planned,
    raw_input_properties,
    valid_input,
)
from pydantic import BaseModel, RootModel

import fal_typed
from fal_typed import InputModel, InputValidationError, OutputModel, UnknownEndpointError

ENDPOINTS = corpus()


def by_module(endpoint: Endpoint) -> str:
    return endpoint.module


class _Wrong:
    """A value no JSON type validates to: every typed field must reject it."""


def test_every_document_has_a_module() -> None:
    documents = {path.name for path in SCHEMAS.glob("*.json")}
    assert len(documents) == 1048
    assert {endpoint.source for endpoint in ENDPOINTS} == documents
    # Each module is a package with its own py.typed, as its wheel installs it ...
    members = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert members == {e.module for e in ENDPOINTS} | {"_index"}
    assert {path.parent.name for path in PACKAGE.glob("*/py.typed")} == members
    assert not list(PACKAGE.glob("*.py"))  # ... and nothing is left of the flat layout
    # A namespace package: wheels and a user's own folders install side by side.
    assert not (PACKAGE / "__init__.py").exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=by_module)
def test_module_imports_and_is_what_the_registry_returns(endpoint: Endpoint) -> None:
    module = endpoint.load()
    assert module.endpoint_id == endpoint.endpoint_id
    assert fal_typed.endpoint(endpoint.endpoint_id) is module.endpoint
    assert module.endpoint.Input is module.Input and module.endpoint.Output is module.Output
    assert issubclass(module.Input, InputModel) and issubclass(module.Output, BaseModel)
    assert module.Input.__name__ == planned(endpoint).input_class
    models = [
        v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__
    ]
    loose = [
        m
        for m in models
        if issubclass(m, BaseModel) and not issubclass(m, (InputModel, OutputModel, RootModel))
    ]
    assert loose == []  # every model is strict (input) or lenient (output)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=by_module)
def test_an_input_from_the_schema_examples_and_defaults_validates(endpoint: Endpoint) -> None:
    module = endpoint.load()
    values = example_input(endpoint)
    defective = EXAMPLES_AGAINST_THEIR_SCHEMA.get(endpoint.endpoint_id)
    if defective is not None:
        with pytest.raises(InputValidationError) as caught:
            module.endpoint.arguments(None, values)
        assert {path.split(".")[0] for path in caught.value.fields} == {defective}
        values = valid_input(endpoint)
    body = module.endpoint.arguments(None, values)
    assert set(body) == set(values)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=by_module)
def test_wrong_types_and_enum_values_are_rejected_naming_the_field(endpoint: Endpoint) -> None:
    module = endpoint.load()
    cleaned = planned(endpoint)
    valid = valid_input(endpoint)
    checked = untyped = 0
    for field in cleaned.fields:
        schema = cleaned.components[cleaned.input_class]["properties"][field.name]
        bad_values = _bad_values(schema, cleaned.components)
        untyped += not bad_values
        for bad in bad_values:
            with pytest.raises(InputValidationError) as caught:
                module.endpoint.arguments(None, {**valid, field.keyword: bad})
            assert {path.split(".")[0] for path in caught.value.fields} == {field.name}, (
                field.name,
                bad,
            )
            assert field.name in str(caught.value)
            checked += 1
    assert checked or cleaned.open_input or untyped == len(cleaned.fields)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=by_module)
def test_every_input_property_is_a_keyword_of_subscribe(endpoint: Endpoint) -> None:
    source = module_file(GENERATED, endpoint.module).read_text(encoding="utf-8")
    (subscribe,) = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name == "subscribe"
    ]
    assert not subscribe.args.posonlyargs and not subscribe.args.args  # one keyword signature
    keywords = [arg.arg for arg in subscribe.args.kwonlyargs]
    properties = list(raw_input_properties(endpoint))
    assert set(properties) <= set(keywords)
    assert keywords[: len(properties)] == [field.name for field in planned(endpoint).fields]


def test_an_unknown_id_is_an_error_naming_it_with_close_matches() -> None:
    with pytest.raises(UnknownEndpointError) as caught:
        fal_typed.endpoint("fal-ai/flux/deev")
    assert "'fal-ai/flux/deev'" in str(caught.value)
    assert "fal-ai/flux/dev" in caught.value.suggestions
    assert isinstance(caught.value, LookupError)


def test_an_id_resolving_to_a_module_of_another_id_is_unknown() -> None:
    with pytest.raises(UnknownEndpointError):
        fal_typed.endpoint("fal-ai/flux/dev/")  # same module name, not the module's id


def test_what_an_uninstalled_endpoint_leaves_behind_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint's package directory without its module (what pip leaves when a wheel is
    uninstalled but ``__pycache__`` or ``py.typed`` stays) imports as an empty namespace: the
    registry says the endpoint is not installed, it does not hand back a module without one."""
    ghost = tmp_path / "fal_endpoints" / "ghost_endpoint"
    ghost.mkdir(parents=True)
    (ghost / "py.typed").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert importlib.import_module("fal_endpoints.ghost_endpoint").__file__ is None  # a namespace
    with pytest.raises(UnknownEndpointError, match=r"fal_endpoints\.ghost_endpoint"):
        fal_typed.endpoint("fal-ai/ghost-endpoint")


def test_a_malformed_id_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid endpoint id 'flux'"):
        fal_typed.endpoint("flux")


def _bad_values(schema: dict[str, Any], components: dict[str, Any]) -> list[Any]:
    """Values the field must reject: one of no JSON type, and one outside each enum it has."""
    if not schema.keys() - {"description", "default"}:
        return []  # typed Any: anything goes
    bad: list[Any] = [_Wrong()]
    enum = _enum(schema, components)
    if (
        enum
        and all(isinstance(v, str) for v in enum)
        and not _takes_free_strings(schema, components)
    ):
        bad.append("surely-not-a-member")
    return bad


def _enum(schema: dict[str, Any], components: dict[str, Any]) -> list[Any]:
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    return [value for branch in schema.get("anyOf", []) for value in _enum(branch, components)]


def _takes_free_strings(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether some branch accepts any string (``Literal[...] | str``), or an object/Any does."""
    branches = schema.get("anyOf") or [schema]
    return any((b.get("type") == "string" and "enum" not in b) or not b for b in branches)
