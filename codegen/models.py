"""Stage 4a: the pydantic models of one module, by datamodel-code-generator (in-process).

Its output is parsed and checked to declare models and nothing else (:mod:`.declarative`: it
embeds document text), then tidied on the syntax tree, so the models read as handwritten:

- the root-model classes it makes for a constrained union member or array item
  (``class N(RootModel[int])``) are replaced by the inline type they wrap
  (``Annotated[int, Field(ge=0)]``), so a field typed ``int | None`` takes a plain ``int``;
- an Input field type longer than 500 characters (a huge enum) gets a named ``TypeAlias``,
  written once and used by the model and every call signature.

The tidied models are checked again and then built once, as importing the module will build
them: a schema pydantic refuses (say, a discriminator naming a field that is no literal) is an
error of its document, never an import error of the user's. Building them runs no document code:
they are declarations only.

The call signatures read each field's type back from the Input class (without its ``Annotated``
metadata), so a signature and its model never disagree.
"""

from __future__ import annotations

import ast
import copy
import json
import sys
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .declarative import check_declarative
from .diagnostics import DocumentError
from .normalise import class_name, pascal
from .plan import RESERVED_NAMES, ModulePlan

__all__ = ["Models", "field_types", "module_parts", "render_models", "tidied_models"]

# Names the models' annotations use. A property named like one (``Field``, ``str``) would shadow
# it in its class body, and datamodel-code-generator's own ways out fail: it renames the import
# (``Field as Field_1``, or ``from builtins import list``), which the declarative check refuses,
# losing the endpoint; or it renames the property to one its class already has (``str`` beside
# ``str_``), and the second silently replaces the first. Such a property is given a free Python
# name here (``str_``, else ``str_2``), its JSON name kept as its alias.
_ANNOTATION_NAMES: frozenset[str] = frozenset(
    {"Annotated", "Any", "ConfigDict", "Field", "Literal", "TypeAlias"}
    | {"bool", "bytes", "dict", "float", "frozenset", "int", "list", "set", "str", "tuple"}
)

_CONSTRAINTS = frozenset(
    {"gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern"}
)
_BASES = frozenset({"InputModel", "OutputModel", "FileOutput"})
_WARNING_SOURCES = ("datamodel_code_generator", "pydantic")  # whose warnings are about a document
_ENVIRONMENT_WARNINGS = (
    ResourceWarning,
    DeprecationWarning,
    PendingDeprecationWarning,
    FutureWarning,
)
_ALIAS_OVER = 500  # characters: a longer field type gets a named alias instead of repeating


@dataclass(frozen=True)
class Models:
    """The models of one module: source, the names they import and define, each Input field's
    type (by field name, as signatures show it) and what datamodel-code-generator warned."""

    source: str
    imports: dict[str, set[str]]
    names: list[str]
    field_types: dict[str, str]
    warnings: list[str]


def render_models(plan: ModulePlan) -> Models:
    """Generate and tidy the models of ``plan``; a failure is a DocumentError of the document."""
    tree, model_warnings = tidied_models(
        plan.module,
        plan.components,
        plan.base_classes,
        plan.aliases,
        keep={plan.input_class, plan.output_class},
    )
    aliased = _alias_long_types(tree, plan)
    if aliased:
        _import(tree, "typing", "TypeAlias")
    check_declarative(tree)
    _build(tree, plan)
    source, imports, names = module_parts(tree, {})
    return Models(
        source=source,
        imports=imports,
        names=names,
        field_types=_field_annotations(tree, plan),
        warnings=model_warnings,
    )


def module_parts(
    tree: ast.Module, imports: dict[str, set[str]]
) -> tuple[str, dict[str, set[str]], list[str]]:
    """The models' source without its imports, the names imported by module (those the models
    use, plus ``imports``) and the names the models define (classes and aliases)."""
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    found: dict[str, set[str]] = {module: set(names) for module, names in imports.items()}
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            found.setdefault(node.module, set()).update(
                a.name for a in node.names if a.name in used
            )
        elif isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return _body(tree), {module: f for module, f in found.items() if f}, names


def tidied_models(
    title: str,
    components: dict[str, Any],
    base_classes: dict[str, str],
    aliases: dict[str, str],
    *,
    keep: set[str],
) -> tuple[ast.Module, list[str]]:
    """The models of ``components`` (name -> JSON Schema; each class's base in ``base_classes``)
    as a syntax tree, tidied (bases checked, root models inlined except those in ``keep``), and
    what datamodel-code-generator warned. A failure is a DocumentError."""
    text, model_warnings = _generate(title, components, base_classes, aliases)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        raise DocumentError(f"datamodel-code-generator wrote invalid Python: {exc}") from None
    _drop_rebuilds(tree)
    check_declarative(tree)
    _check_bases(tree)
    _drop_arbitrary_types_allowed(tree)
    _inline_root_models(tree, keep=keep)
    return tree, model_warnings


def _drop_rebuilds(tree: ast.Module) -> None:
    """Drop the bare ``Model.model_rebuild()`` lines datamodel-code-generator writes after a
    recursive model (a tree): pydantic completes such a model itself on first use, from the
    module's names, so they are dead code. Any other statement is left for the checker."""
    tree.body = [node for node in tree.body if not _is_rebuild(node)]


def _is_rebuild(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and not node.value.args
        and not node.value.keywords
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "model_rebuild"
        and isinstance(node.value.func.value, ast.Name)
    )


def _generate(
    title: str, components: dict[str, Any], base_classes: dict[str, str], aliases: dict[str, str]
) -> tuple[str, list[str]]:
    # Imported here: it is slow to import, and a no-op run never renders a model.
    from datamodel_code_generator import (
        InputFileType,
        LiteralType,
        PythonVersion,
        generate,
    )
    from datamodel_code_generator.enums import DataModelType

    document = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": {},
        "components": {"schemas": components},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = generate(
                json.dumps(document),
                input_file_type=InputFileType.OpenAPI,
                output_model_type=DataModelType.PydanticV2BaseModel,
                target_python_version=PythonVersion.PY_310,
                base_class_map=dict(base_classes),
                aliases=_with_python_names(components, aliases),
                enum_field_as_literal=LiteralType.All,
                strict_nullable=True,
                field_constraints=True,
                use_annotated=True,
                use_union_operator=True,
                use_standard_collections=True,
                use_schema_description=True,
                use_single_line_docstring=True,
                use_tuple_for_fixed_length_arrays=True,
                collapse_root_models=True,
                use_double_quotes=True,
                disable_timestamp=True,
                formatters=[],
            )
        except Exception as exc:
            # datamodel-code-generator raises many types; all mean "this document cannot be built".
            raise DocumentError(
                f"datamodel-code-generator failed: {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(text, str):
        raise DocumentError("datamodel-code-generator returned no single module")
    return text, sorted({f"datamodel-code-generator: {w.message}" for w in caught if _is_ours(w)})


def _with_python_names(components: dict[str, Any], aliases: dict[str, str]) -> dict[str, str]:
    """``aliases`` plus a free Python name, scoped to its class, for each property named like a
    name the annotations use (:data:`_ANNOTATION_NAMES`)."""
    chosen: dict[str, str] = {}
    for model, schema in cast("dict[str, object]", components).items():
        if not isinstance(schema, dict):
            continue
        found: object = cast("dict[str, object]", schema).get("properties")
        if not isinstance(found, dict):
            continue
        properties = cast("dict[str, object]", found)
        taken = {aliases.get(f"{model}.{p}", p) for p in properties}
        for name in sorted(_ANNOTATION_NAMES & properties.keys()):
            scoped = f"{model}.{name}"
            if scoped in aliases:
                continue
            unique, n = f"{name}_", 1
            while unique in taken:
                n += 1
                unique = f"{name}_{n}"
            taken.add(unique)
            chosen[scoped] = unique
    return {**chosen, **aliases}


def _import(tree: ast.Module, module: str, name: str) -> None:
    """Add ``from module import name`` after the ``__future__`` import."""
    position = next(
        (
            i + 1
            for i, n in enumerate(tree.body)
            if isinstance(n, ast.ImportFrom) and n.module == "__future__"
        ),
        0,
    )
    tree.body.insert(position, ast.ImportFrom(module, [ast.alias(name)], 0))


def _build(tree: ast.Module, plan: ModulePlan) -> None:
    """Create the (checked, declarative) model classes once; a failure is a DocumentError."""
    from pydantic import BaseModel

    name = f"_fal_typed_codegen_check_{plan.module}"
    module = types.ModuleType(name)
    sys.modules[name] = module  # where pydantic resolves the annotations
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile(ast.fix_missing_locations(tree), f"<models of {plan.source}>", "exec")
            exec(code, module.__dict__)
            for value in list(vars(module).values()):
                if isinstance(value, type) and issubclass(value, BaseModel):
                    value.model_rebuild()
    except Exception as exc:  # pydantic raises many types; all mean "these models do not build"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DocumentError(
            f"pydantic refuses the models: {type(exc).__name__}: {reason}"
        ) from None
    finally:
        del sys.modules[name]


def _is_ours(caught: warnings.WarningMessage) -> bool:
    """A warning about the document, not about the environment.

    ``catch_warnings`` records process-wide: an unclosed socket from unrelated code that is
    collected during generation (a ResourceWarning) must not land in the manifest, nor a
    deprecation of the Python or library version the generator runs on (the manifest must not
    depend on it).
    """
    if issubclass(caught.category, _ENVIRONMENT_WARNINGS):
        return False
    filename = Path(caught.filename).as_posix()
    return any(f"/{package}/" in filename for package in _WARNING_SOURCES)


def _body(tree: ast.Module) -> str:
    """The models as source (ruff lays them out afterwards)."""
    return "\n\n\n".join(
        ast.unparse(node) for node in tree.body if not isinstance(node, ast.ImportFrom)
    )


def _check_bases(tree: ast.Module) -> None:
    """Every class must derive from the base the plan chose for it (a class datamodel-code-generator
    renamed would silently fall back to plain ``BaseModel``: neither strict nor lenient)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            base = ast.unparse(node.bases[0]) if len(node.bases) == 1 else ""
            if base not in _BASES and not base.startswith("RootModel["):
                raise DocumentError(
                    f"class {node.name} derives from {base or 'several bases'}, not a fal_typed model"
                )


def _drop_arbitrary_types_allowed(tree: ast.Module) -> None:
    """Remove the ``arbitrary_types_allowed=True`` datamodel-code-generator adds to every class
    with a custom type: ``FileInput`` brings its own pydantic schema, so it is not needed."""
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        kept: list[ast.stmt] = []
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and isinstance(statement.value, ast.Call)
                and ast.unparse(statement.value.func) == "ConfigDict"
            ):
                call = statement.value
                call.keywords = [k for k in call.keywords if k.arg != "arbitrary_types_allowed"]
                if not call.keywords and not call.args:
                    continue
            kept.append(statement)
        node.body = kept


def _class_node(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise DocumentError(f"datamodel-code-generator produced no class {name}")


def _fields_of(node: ast.ClassDef) -> Iterator[tuple[ast.AnnAssign, str, ast.expr]]:
    """(statement, field name, type) of each field; the type is the inside of ``Annotated[...]``."""
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            annotation = statement.annotation
            if (
                isinstance(annotation, ast.Subscript)
                and isinstance(annotation.value, ast.Name)
                and annotation.value.id == "Annotated"
                and isinstance(annotation.slice, ast.Tuple)
            ):
                annotation = annotation.slice.elts[0]
            yield statement, statement.target.id, annotation


def _inline_root_models(tree: ast.Module, keep: set[str]) -> None:
    """Replace the root-model classes datamodel-code-generator makes for a constrained union
    member or array item (``class N(RootModel[int])``) by the inline type they wrap
    (``Annotated[int, Field(ge=0)]``), so a field typed ``int | None`` takes a plain ``int``."""
    inline: dict[str, ast.expr] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name in keep:
            continue
        wrapped = _root_model_type(node)
        if wrapped is not None and node.name not in {
            n.id for n in ast.walk(wrapped) if isinstance(n, ast.Name)
        }:
            inline[node.name] = wrapped
    if not inline:
        return
    substitute = _Substitute(inline)
    for name in inline:  # root models may wrap one another: resolve among themselves first
        inline[name] = substitute.visit(inline[name])
    tree.body = [
        substitute.visit(node)
        for node in tree.body
        if not (isinstance(node, ast.ClassDef) and node.name in inline)
    ]


def _root_model_type(node: ast.ClassDef) -> ast.expr | None:
    """The type a ``RootModel`` subclass wraps, with only its value constraints kept."""
    bases = node.bases
    if not (
        len(bases) == 1
        and isinstance(bases[0], ast.Subscript)
        and isinstance(bases[0].value, ast.Name)
    ):
        return None
    if bases[0].value.id != "RootModel":
        return None
    for statement, name, annotation in _fields_of(node):
        if name != "root":
            continue
        field_call = _field_call(statement.annotation)
        constraints = (
            [k for k in field_call.keywords if k.arg in _CONSTRAINTS] if field_call else []
        )
        if not constraints:
            return annotation
        call = ast.Call(ast.Name("Field", ast.Load()), [], constraints)
        return ast.Subscript(
            ast.Name("Annotated", ast.Load()), ast.Tuple([annotation, call], ast.Load()), ast.Load()
        )
    return None


def _field_call(annotation: ast.expr) -> ast.Call | None:
    """The ``Field(...)`` of ``Annotated[T, Field(...)]``, if any."""
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple):
        for element in annotation.slice.elts[1:]:
            if (
                isinstance(element, ast.Call)
                and isinstance(element.func, ast.Name)
                and element.func.id == "Field"
            ):
                return element
    return None


class _Substitute(ast.NodeTransformer):
    """Replace names by (copies of) expressions."""

    def __init__(self, replacements: dict[str, ast.expr]) -> None:
        self.replacements = replacements

    def visit_Name(self, node: ast.Name) -> ast.expr:
        replacement = self.replacements.get(node.id)
        return copy.deepcopy(replacement) if replacement is not None else node


class _PlainTypes(ast.NodeTransformer):
    """``Annotated[T, ...]`` -> ``T``, recursively: a signature shows types, the model checks them."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == "Annotated"
            and isinstance(node.slice, ast.Tuple)
        ):
            inner: ast.expr = self.visit(node.slice.elts[0])
            return inner
        self.generic_visit(node)
        return node


def _alias_long_types(tree: ast.Module, plan: ModulePlan) -> bool:
    """Give each long Input field type (a huge enum) a named alias, defined once before the Input
    class and used by the model and every signature; True if any was."""
    node = _class_node(tree, plan.input_class)
    taken = set(RESERVED_NAMES) | {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    definitions: list[ast.stmt] = []
    for statement, name, annotation in list(_fields_of(node)):
        if len(ast.unparse(annotation)) <= _ALIAS_OVER:
            continue
        alias = class_name(pascal(name), taken)
        definitions.append(
            ast.AnnAssign(
                ast.Name(alias, ast.Store()),
                ast.Name("TypeAlias", ast.Load()),
                annotation,
                simple=1,
            )
        )
        replacement = ast.Name(alias, ast.Load())
        if statement.annotation is annotation:
            statement.annotation = replacement
        else:
            assert isinstance(statement.annotation, ast.Subscript) and isinstance(
                statement.annotation.slice, ast.Tuple
            )
            statement.annotation.slice.elts[0] = replacement
    position = tree.body.index(node)
    tree.body[position:position] = definitions
    return bool(definitions)


def _field_annotations(tree: ast.Module, plan: ModulePlan) -> dict[str, str]:
    """Each input field's type as the model declares it, by field name."""
    by_wire = field_types(tree, plan.input_class)
    missing = [field.name for field in plan.fields if field.name not in by_wire]
    if missing:
        raise DocumentError(f"the generated {plan.input_class} lacks fields {missing}")
    return {field.name: by_wire[field.name] for field in plan.fields}


def field_types(tree: ast.Module, class_name: str) -> dict[str, str]:
    """Each field's type as class ``class_name`` declares it, without ``Annotated`` metadata, by
    wire name (the field's alias when the attribute is renamed, e.g. ``json_`` for ``json``,
    which would shadow a BaseModel method)."""
    by_wire: dict[str, str] = {}
    for statement, attribute, annotation in _fields_of(_class_node(tree, class_name)):
        field_call = _field_call(statement.annotation)
        alias = (
            next((k.value for k in field_call.keywords if k.arg == "alias"), None)
            if field_call
            else None
        )
        wire = (
            alias.value
            if isinstance(alias, ast.Constant) and isinstance(alias.value, str)
            else attribute
        )
        by_wire[wire] = ast.unparse(_PlainTypes().visit(copy.deepcopy(annotation)))
    return by_wire
