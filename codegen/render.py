"""Stage 4b: turn a plan and its models (:mod:`.models`) into module source.

jinja2 templates (``templates/``) lay out the module from strings prepared here: imports,
signatures, docstrings. Every string from the document reaches the text through
:mod:`.source_text` (here, or in a template through its filters ``py``, a Python literal, and
``docstring_part``). The result is unformatted: the write stage runs ruff over the changed files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .calls import EXTRA_BODY, INPUT_CALLS, InputCall
from .diagnostics import DocumentError
from .docs import INLINED, OPEN_INPUT, UPLOADED, args_section, options_section
from .models import Models, render_models
from .plan import FieldPlan, ModulePlan
from .source_text import docstring, docstring_part, literal
from .write import TEMPLATES

__all__ = [
    "IndexEntry",
    "index_entry",
    "one_line",
    "render_index",
    "render_module",
    "template_environment",
]


# Names the templates use, by the module they come from (datamodel-code-generator adds its own).
_TEMPLATE_IMPORTS: dict[str, set[str]] = {
    "collections.abc": {"Callable", "Mapping"},
    "typing": {"TYPE_CHECKING", "Any", "Final", "Literal"},
    "fal_typed": {
        "AsyncRealtimeConnection", "AsyncRequestHandle", "AsyncStream", "Client", "Endpoint",
        "RealtimeConnection", "RequestHandle", "Status", "Stream",
    },
    "fal_typed.keywords": {"keyword_call"},
}  # fmt: skip
_IMPORT_GROUPS = ("stdlib", "third_party", "first_party")
_FIRST_PARTY = ("fal_typed",)


@dataclass(frozen=True)
class IndexEntry:
    """One row of ``fal_endpoints._index``."""

    endpoint_id: str
    module: str
    category: str
    description: str


def template_environment(templates: Path) -> jinja2.Environment:
    """A Jinja environment for Python source: strict, no autoescape, literals through ``py``.

    Document text reaches templates only through the ``py`` and ``docstring_part`` filters
    (codegen/source_text.py), for the endpoint modules and the Platform client alike.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = literal
    env.filters["docstring_part"] = docstring_part
    return env


@cache
def _environment() -> jinja2.Environment:
    return template_environment(TEMPLATES)


def render_module(plan: ModulePlan) -> tuple[str, list[str]]:
    """Source of one endpoint module, and the warnings datamodel-code-generator raised."""
    models = render_models(plan)
    params = [_param(f, models.field_types[f.name]) for f in plan.fields]
    _check_parameters(params)
    args = args_section(plan.fields, models.field_types, plan.components, UPLOADED)
    # Realtime frames carry no uploads: a local file travels inline, as a data: URI.
    inlined = args_section(plan.fields, models.field_types, plan.components, INLINED)
    if plan.open_input:
        args = inlined = OPEN_INPUT
    send_doc = _join(
        "Validate one input and send it over the connection.",
        inlined,
        options_section([EXTRA_BODY], "Options:"),
    )
    template = _environment().get_template("endpoint_module.py.jinja")
    text = template.render(
        module_doc=docstring(_module_doc(plan)),
        imports=_imports(models, plan),
        models=models.source,
        endpoint_id=plan.metadata.endpoint_id,
        input_class=plan.input_class,
        output_class=plan.output_class,
        field_params=params,
        open_input=plan.open_input,
        calls=[_call_context(call, plan, args) for call in INPUT_CALLS],
        send_doc=docstring(send_doc),
        public=_public_names(models),
    )
    return text, models.warnings


def render_index(entries: Iterable[IndexEntry]) -> str:
    """Source of ``fal_endpoints._index``: every endpoint id -> (module, category, description)."""
    rows = sorted(entries, key=lambda e: e.endpoint_id)
    return _environment().get_template("index.py.jinja").render(entries=rows)


def one_line(text: str, limit: int = 120) -> str:
    """The first sentence-ish line of ``text``, shortened to ``limit`` characters."""
    line = " ".join(text.split("\n\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _imports(models: Models, plan: ModulePlan) -> list[str]:
    """Import lines for the names the models and templates use, grouped and sorted like isort."""
    names: dict[str, set[str]] = {module: set(items) for module, items in _TEMPLATE_IMPORTS.items()}
    if any(field.default == "NOT_GIVEN" for field in plan.fields):
        names["fal_typed.keywords"].add("NOT_GIVEN")
    for module, items in models.imports.items():
        names.setdefault(module, set()).update(items)
    groups: dict[str, list[str]] = {group: [] for group in _IMPORT_GROUPS}
    for module in sorted(names):
        top = module.split(".")[0]
        if top in _FIRST_PARTY:
            group = "first_party"
        else:
            group = "stdlib" if top in ("collections", "typing") else "third_party"
        listed = ", ".join(sorted(names[module], key=_isort_key))
        groups[group].append(f"from {module} import {listed}")
    return ["\n".join(lines) for lines in groups.values() if lines]


def _isort_key(name: str) -> tuple[int, str]:
    # isort's force-sort-within-sections default: CONSTANTS, then Classes, then functions.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def _param(field: FieldPlan, annotation: str) -> str:
    tree = ast.parse(annotation, mode="eval")
    if not field.nullable:
        tree.body = _without_none(tree.body)
    default = "" if field.default is None else f" = {field.default}"
    return f"{field.keyword}: {ast.unparse(tree)}{default}"


def _check_parameters(params: list[str]) -> None:
    """The keyword parameters every call signature lists must compile (distinct names, literal
    defaults); the rest of the module is fixed template text and escaped strings."""
    if not params:
        return
    try:
        compile(f"def _(*, {', '.join(params)}): pass", "<signature>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise DocumentError(f"the call signature would not compile: {exc}") from None


def _without_none(node: ast.expr) -> ast.expr:
    """``T | None`` -> ``T``: the model lets every optional field be None, the call shows the schema."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        if isinstance(node.right, ast.Constant) and node.right.value is None:
            return node.left
        node.left = _without_none(node.left)
    return node


def _public_names(models: Models) -> list[str]:
    functions = [name for call in INPUT_CALLS for name in (call.name, f"{call.name}_async")]
    functions += [
        f"{name}{suffix}"
        for name in ("status", "result", "cancel", "handle", "realtime", "parse_webhook")
        for suffix in ("", "_async")
    ]
    fixed = ["AsyncRealtime", "Input", "Output", "Realtime", "endpoint", "endpoint_id"]
    return sorted([*models.names, *fixed, *functions], key=_isort_key)


def _call_context(call: InputCall, plan: ModulePlan, args: str) -> dict[str, Any]:
    summary = call.summary.format(endpoint_id=plan.metadata.endpoint_id)
    doc = _join(summary, plan.metadata.about, args, options_section([EXTRA_BODY, *call.options]))
    return {
        "name": call.name,
        "options": call.options,
        "returns": call.returns.format(output=plan.output_class),
        "async_returns": call.async_returns.format(output=plan.output_class),
        "async_def": call.async_def,
        "doc": docstring(doc),
    }


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


def index_entry(plan: ModulePlan) -> IndexEntry:
    """The ``_index`` row of a planned module."""
    return IndexEntry(
        endpoint_id=plan.metadata.endpoint_id,
        module=plan.module,
        category=plan.metadata.category,
        description=one_line(plan.metadata.about),
    )
