"""Properties named like what the models' annotations use (``Field``, ``Literal``, ``str``).

In a class body such a name shadows the import or builtin, and datamodel-code-generator's ways
out failed two ways:

- it renamed the import (``from pydantic import Field as Field_1``, ``from builtins import list
  as list_aliased``), which the declarative check refuses: the whole endpoint was lost;
- it renamed the property to a name its class already had (``str`` beside ``str_``): two fields
  ``str_``, the second silently replacing the first, so the first was never typed.

Each such property now gets a free Python name (``Field_``, or ``Field_2`` beside a ``Field_``),
its JSON name kept as its alias and as its call keyword; and a class with two fields of one
name is refused by the declarative check rather than written.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from codegen_helpers import (
    basedpyright_problems,
    fal_document,
    generate_into,
    import_generated,
    module_file,
)
from kitchen_sink import REF

from codegen.declarative import check_declarative
from codegen.diagnostics import DocumentError
from fal_typed.testing import LocalFal

INPUT = {
    "type": "object",
    "properties": {
        "Field": {"type": "string", "maxLength": 5},
        "Field_": {"type": "integer", "minimum": 0},
        "Literal": {"type": "string", "enum": ["a", "b"]},
        "list": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "inner": {"$ref": REF + "Inner"},
    },
    "required": ["Field"],
}
OUTPUT = {
    "type": "object",
    "properties": {
        "str_": {"type": "integer"},
        "str": {"type": "string"},
        "Annotated": {"type": "boolean"},
        "ConfigDict": {"type": "string"},
    },
    "required": ["str_", "str"],
}
INNER = {"type": "object", "properties": {"Any": {"type": "integer", "minimum": 1}}}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModuleType]:
    tmp_path = tmp_path_factory.mktemp("shadowing")
    report = generate_into(tmp_path, fal_document("acme/shadow", INPUT, OUTPUT, {"Inner": INNER}))
    assert not report.errors, report.errors
    return tmp_path, import_generated(tmp_path, "acme__shadow")


def _fields(tmp_path: Path) -> dict[str, list[str]]:
    source = module_file(tmp_path / "generated", "acme__shadow").with_name("_models.py")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    return {
        node.name: [
            s.target.id
            for s in node.body
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
        ]
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


def test_every_property_keeps_a_field_of_its_own(generated: tuple[Path, ModuleType]) -> None:
    tmp_path, module = generated
    fields = _fields(tmp_path)
    assert fields["AcmeShadowInput"] == ["Field_2", "Field_", "Literal_", "list_", "tags", "inner"]
    assert fields["AcmeShadowOutput"] == ["str_", "str_2", "Annotated_", "ConfigDict_"]
    assert fields["Inner"] == ["Any_"]
    out = module.Output.model_validate({"str_": 3, "str": "s", "Annotated": True})
    assert (out.str_, out.str_2, out.Annotated_) == (3, "s", True)  # each typed as declared
    with pytest.raises(ValueError, match="str_"):
        module.Output.model_validate({"str_": "not a number", "str": "s"})


def test_the_json_names_are_the_keywords_and_what_is_sent(
    generated: tuple[Path, ModuleType],
) -> None:
    tmp_path, module = generated
    arguments: dict[str, Any] = {
        "Field": "hi",
        "Field_": 2,
        "Literal": "b",
        "list": "l",
        "tags": ["t"],
        "inner": {"Any": 4},
    }
    sent = module.Input(**arguments).model_dump(by_alias=True, exclude_unset=True)
    assert sent == arguments
    with pytest.raises(ValueError, match="Field"):
        module.Input(Field="too long")  # its constraint is kept
    with LocalFal(tmp_path / "schemas") as fal, fal.client() as client:
        out = module.subscribe(**arguments, client=client)
        (request,) = [r for r in fal.requests if r.operation == "queue.submit"]
    assert json.loads(request.body) == arguments
    assert isinstance(out.str_, int) and isinstance(out.str_2, str)


def test_the_module_type_checks(generated: tuple[Path, ModuleType], tmp_path: Path) -> None:
    root, _ = generated
    package = module_file(root / "generated", "acme__shadow").parent
    assert basedpyright_problems(tmp_path, [str(package)]) == []


def test_two_fields_of_one_name_in_a_class_are_refused() -> None:
    tree = ast.parse(
        "from fal_typed import InputModel\n\n\nclass A(InputModel):\n    str_: int\n    str_: str\n"
    )
    with pytest.raises(DocumentError, match="two fields named 'str_' in class A"):
        check_declarative(tree)
