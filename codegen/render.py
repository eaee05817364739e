"""Stage 4: turn a plan into module source.

datamodel-code-generator (in-process) writes the pydantic models; jinja2 templates (``templates/``)
lay out everything else from strings prepared here. The call signatures take each field's type
from the generated model itself, so a signature and its model never disagree. The result is
unformatted: the write stage runs ruff once over every changed file.
"""

from __future__ import annotations

import ast
import copy
import json
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .calls import INPUT_CALLS, InputCall
from .diagnostics import DocumentError
from .normalise import identifier, pascal
from .plan import RESERVED_NAMES, FieldPlan, ModulePlan

__all__ = ["IndexEntry", "index_entry", "one_line", "render_index", "render_module"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Names the templates use, by the module they come from (datamodel-code-generator adds its own).
_TEMPLATE_IMPORTS: dict[str, set[str]] = {
    "collections.abc": {"Callable", "Mapping"},
    "typing": {"TYPE_CHECKING", "Any", "Final", "Literal", "overload"},
    "fal_typed": {
        "AsyncRealtimeConnection", "AsyncRequestHandle", "AsyncStream", "Client", "Endpoint",
        "RealtimeConnection", "RequestHandle", "Status", "Stream",
    },
}  # fmt: skip
_IMPORT_GROUPS = ("stdlib", "third_party", "first_party")
_CONSTRAINTS = frozenset(
    {"gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern"}
)
_ALIAS_OVER = 500  # characters: a longer field type gets a named alias instead of repeating
_FIRST_PARTY = ("fal_typed",)


@dataclass(frozen=True)
class IndexEntry:
    """One row of ``fal_endpoints._index``."""

    endpoint_id: str
    module: str
    category: str
    description: str


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = repr
    return env


def render_module(plan: ModulePlan) -> tuple[str, list[str]]:
    """Source of one endpoint module, and the warnings datamodel-code-generator raised."""
    models, model_warnings = _models(plan)
    tree = ast.parse(models)
    _inline_root_models(tree, keep={plan.input_class, plan.output_class})
    aliases = _alias_long_types(tree, plan)
    annotations = _field_annotations(tree, plan)
    params = [_param(field, annotations[field.name], uploads=True) for field in plan.fields]
    # Realtime frames carry no uploads: a file field of `send` takes a URL (or data URI) string.
    send_params = [_param(field, annotations[field.name], uploads=False) for field in plan.fields]
    args = _args_section(plan.fields, uploads=True)
    text = (
        _environment()
        .get_template("endpoint_module.py.jinja")
        .render(
            module_doc=_docstring(_module_doc(plan)),
            imports=_collect_imports(tree, plan, aliased=bool(aliases)),
            models=_body(tree),
            endpoint_id=plan.metadata.endpoint_id,
            input_class=plan.input_class,
            output_class=plan.output_class,
            field_params=params,
            send_params=send_params,
            open_input=plan.open_input,
            calls=[_call_context(call, plan, args) for call in INPUT_CALLS],
            send_doc=_docstring(
                _join(
                    "Validate one input and send it over the connection.",
                    _args_section(plan.fields, uploads=False),
                )
            ),
            public=_public_names(tree),
        )
    )
    return text, model_warnings


def render_index(entries: Iterable[IndexEntry]) -> str:
    """Source of ``fal_endpoints._index``: every endpoint id -> (module, category, description)."""
    rows = sorted(entries, key=lambda e: e.endpoint_id)
    return _environment().get_template("index.py.jinja").render(entries=rows)


def one_line(text: str, limit: int = 120) -> str:
    """The first sentence-ish line of ``text``, shortened to ``limit`` characters."""
    line = " ".join(text.split("\n\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _models(plan: ModulePlan) -> tuple[str, list[str]]:
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
        "info": {"title": plan.module, "version": "1"},
        "paths": {},
        "components": {"schemas": plan.components},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = generate(
                json.dumps(document),
                input_file_type=InputFileType.OpenAPI,
                output_model_type=DataModelType.PydanticV2BaseModel,
                target_python_version=PythonVersion.PY_310,
                base_class_map=dict(plan.base_classes),
                aliases=dict(plan.aliases),
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
    return text, sorted({f"datamodel-code-generator: {w.message}" for w in caught})


def _collect_imports(tree: ast.Module, plan: ModulePlan, *, aliased: bool) -> list[str]:
    """Import lines for the names the models and templates use, grouped and sorted like isort."""
    names: dict[str, set[str]] = {module: set(items) for module, items in _TEMPLATE_IMPORTS.items()}
    if plan.has_file_fields:
        names["fal_typed"].add("FileInput")
    if aliased:
        names["typing"].add("TypeAlias")
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            names.setdefault(node.module, set()).update(
                a.name for a in node.names if a.name in used
            )
    groups: dict[str, list[str]] = {group: [] for group in _IMPORT_GROUPS}
    for module in sorted(name for name in names if names[name]):
        top = module.split(".")[0]
        group = (
            "first_party"
            if top in _FIRST_PARTY
            else "stdlib"
            if top in ("collections", "typing")
            else "third_party"
        )
        groups[group].append(
            f"from {module} import {', '.join(sorted(names[module], key=_isort_key))}"
        )
    return ["\n".join(lines) for lines in groups.values() if lines]


def _isort_key(name: str) -> tuple[int, str]:
    # isort's force-sort-within-sections default: CONSTANTS, then Classes, then functions.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def _body(tree: ast.Module) -> str:
    """The models as source (ruff lays them out afterwards)."""
    return "\n\n\n".join(
        ast.unparse(node) for node in tree.body if not isinstance(node, ast.ImportFrom)
    )


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


def _alias_long_types(tree: ast.Module, plan: ModulePlan) -> list[str]:
    """Give each long Input field type (a huge enum) a named alias, defined once before the Input
    class and used by the model and every signature; return the alias names."""
    node = _class_node(tree, plan.input_class)
    taken = set(RESERVED_NAMES) | {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    definitions: list[ast.stmt] = []
    for statement, name, annotation in list(_fields_of(node)):
        if len(ast.unparse(annotation)) <= _ALIAS_OVER:
            continue
        alias = identifier(pascal(name), taken)
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
    return [
        d.target.id
        for d in definitions
        if isinstance(d, ast.AnnAssign) and isinstance(d.target, ast.Name)
    ]


def _field_annotations(tree: ast.Module, plan: ModulePlan) -> dict[str, str]:
    """Each input field's type as the model declares it, by field name."""
    fields = _fields_of(_class_node(tree, plan.input_class))
    by_attribute = {
        name: ast.unparse(_PlainTypes().visit(copy.deepcopy(annotation)))
        for _, name, annotation in fields
    }
    missing = [field.name for field in plan.fields if field.keyword not in by_attribute]
    if missing:
        raise DocumentError(f"the generated {plan.input_class} lacks fields {missing}")
    return {field.name: by_attribute[field.keyword] for field in plan.fields}


def _param(field: FieldPlan, annotation: str, *, uploads: bool) -> str:
    tree = ast.parse(annotation, mode="eval")
    if not field.nullable:
        tree.body = _without_none(tree.body)
    if field.file and uploads:
        tree = _FileTypes().visit(tree)
    default = "" if field.default is None else f" = {field.default}"
    return f"{field.keyword}: {ast.unparse(tree)}{default}"


def _without_none(node: ast.expr) -> ast.expr:
    """``T | None`` -> ``T``: the model lets every optional field be None, the call shows the schema."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        if isinstance(node.right, ast.Constant) and node.right.value is None:
            return node.left
        node.left = _without_none(node.left)
    return node


class _FileTypes(ast.NodeTransformer):
    """``str`` -> ``FileInput`` inside a file field's annotation (``str``, ``list[str] | None``...)."""

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name("FileInput", node.ctx) if node.id == "str" else node


def _public_names(tree: ast.Module) -> list[str]:
    models = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    models += [
        node.target.id
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    ]
    functions = [name for call in INPUT_CALLS for name in (call.name, f"{call.name}_async")]
    functions += [
        f"{name}{suffix}"
        for name in ("status", "result", "cancel", "handle", "realtime", "parse_webhook")
        for suffix in ("", "_async")
    ]
    return sorted(
        [
            *models,
            "AsyncRealtime",
            "Input",
            "Output",
            "Realtime",
            "endpoint",
            "endpoint_id",
            *functions,
        ],
        key=_isort_key,
    )


def _call_context(call: InputCall, plan: ModulePlan, args: str) -> dict[str, Any]:
    summary = call.summary.format(endpoint_id=plan.metadata.endpoint_id)
    doc = _join(summary, plan.metadata.about, args)
    return {
        "name": call.name,
        "options": call.options,
        "returns": call.returns.format(output=plan.output_class),
        "async_returns": call.async_returns.format(output=plan.output_class),
        "async_def": call.async_def,
        "doc": _docstring(doc),
    }


def _args_section(fields: Iterable[FieldPlan], *, uploads: bool) -> str:
    lines: list[str] = []
    for field in fields:
        text = field.description or "(Undocumented.)"
        if field.file and uploads:
            text += "\n\nA URL, or a local file (path, bytes, file object, PIL image) to upload."
        first, *rest = text.splitlines()
        lines.append(f"    {field.keyword}: {first}")
        lines.extend(f"        {line}" if line else "" for line in rest)
    return "\n".join(["Args:", *lines]) if lines else ""


def _module_doc(plan: ModulePlan) -> str:
    meta = plan.metadata
    links = [
        f"Category: {meta.category}.",
        *([f"Playground: {meta.playground_url}"] if meta.playground_url else []),
        *([f"API reference: {meta.documentation_url}"] if meta.documentation_url else []),
    ]
    return _join(
        f"Typed client for the fal endpoint `{meta.endpoint_id}`.",
        meta.about,
        "\n".join(links),
        f"Generated by `python -m codegen` from schemas/{plan.source}; do not edit.",
    )


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def _docstring(text: str) -> str:
    """Docstring body, escaped: a one-liner stays on one line, longer ones close on their own."""
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return escaped if "\n" not in escaped and not escaped.endswith('"') else escaped + "\n"


def index_entry(plan: ModulePlan) -> IndexEntry:
    """The ``_index`` row of a planned module."""
    return IndexEntry(
        endpoint_id=plan.metadata.endpoint_id,
        module=plan.module,
        category=plan.metadata.category,
        description=one_line(plan.metadata.about),
    )
