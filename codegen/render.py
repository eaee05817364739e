"""Stage 4b: turn a plan and its models (:mod:`.models`) into module source.

jinja2 templates (``templates/``) lay out the module from strings prepared here: imports,
signatures, docstrings. Every string from the document reaches the text through
:mod:`.source_text` (here, or in a template through its filters ``py``, a Python literal, and
``docstring_part``). The result is unformatted: the write stage runs ruff over the changed files.
"""

from __future__ import annotations

import ast
import re
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


# Names each file's template uses, by the module they come from (the models add their own).
_CALLS_IMPORTS: dict[str, set[str]] = {
    "collections.abc": {"Callable", "Mapping"},
    "typing": {"TYPE_CHECKING", "Any", "Final", "Literal"},
    "fal_typed": {"Endpoint"},
    "fal_typed.keywords": {"keyword_call", "lazy_attributes"},
}
_CALLS_ANNOTATION_IMPORTS: dict[str, set[str]] = {
    "fal_typed": {
        "AsyncRequestHandle",
        "AsyncStream",
        "Client",
        "RequestHandle",
        "Status",
        "Stream",
    },
    "fal_typed.webhooks": {"WebhookBody", "WebhookResult", "WebhookVerifier"},
}
_REALTIME_IMPORTS: dict[str, set[str]] = {
    "collections.abc": {"Mapping"},
    "typing": {"Any"},
    "fal_typed": {"AsyncRealtimeConnection", "RealtimeConnection"},
    "fal_typed.keywords": {"keyword_call"},
}
# Signature names the calls module imports at run time: those any program has loaded already,
# and NOT_GIVEN, a default value; the rest it imports for type checkers only.
_RUN_TIME_MODULES = ("collections.abc", "typing", "fal_typed.keywords")
_REALTIME_NAMES = {"AsyncRealtime": "._realtime", "Realtime": "._realtime"}
_IMPORT_GROUPS = ("stdlib", "third_party", "first_party", "local")
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


def render_module(plan: ModulePlan) -> tuple[dict[str, str], list[str]]:
    """Sources of one endpoint member package (file name -> text, see
    :data:`.write.MEMBER_FILES`), and the warnings datamodel-code-generator raised."""
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
    signature = _signature_imports(models, params)
    shared = {
        "endpoint_id": plan.metadata.endpoint_id,
        "input_class": plan.input_class,
        "output_class": plan.output_class,
        "field_params": params,
        "open_input": plan.open_input,
    }
    model_names = sorted([*models.names, "Input", "Output"], key=_isort_key)
    lazy = sorted(
        [*((name, "._models") for name in model_names), *_REALTIME_NAMES.items()],
        key=lambda pair: _isort_key(pair[0]),
    )
    at_run_time = {m: n for m, n in signature.items() if m in _RUN_TIME_MODULES}
    for_checkers = {m: n for m, n in signature.items() if m not in _RUN_TIME_MODULES}
    files = {
        "__init__.py": _render(
            "endpoint_module.py.jinja",
            shared,
            module_doc=docstring(_module_doc(plan)),
            imports=_import_groups(_merged(_CALLS_IMPORTS, at_run_time)),
            checking_imports=_checking_lines(
                _merged(
                    _CALLS_ANNOTATION_IMPORTS,
                    for_checkers,
                    {"._models": set(model_names), "._realtime": set(_REALTIME_NAMES)},
                )
            ),
            lazy=lazy,
            calls=[_call_context(call, plan, args) for call in INPUT_CALLS],
            public=_public_names(models),
        ),
        "_models.py": _render(
            "endpoint_models.py.jinja",
            shared,
            imports=_import_groups(models.imports),
            models=models.source,
            public=model_names,
        ),
        "_realtime.py": _render(
            "endpoint_realtime.py.jinja",
            shared,
            imports=_import_groups(
                _merged(
                    _REALTIME_IMPORTS,
                    signature,
                    {"._models": {plan.input_class, plan.output_class}},
                )
            ),
            send_doc=docstring(send_doc),
        ),
    }
    return files, models.warnings


def _render(template: str, shared: dict[str, Any], **context: Any) -> str:
    return _environment().get_template(template).render(**shared, **context)


def _signature_imports(models: Models, params: list[str]) -> dict[str, set[str]]:
    """The names the call signatures use (a model, a ``Literal``, a ``FileInput``, the
    ``NOT_GIVEN`` default), by the module they come from."""
    used = _names_in(params)
    found = {module: names & used for module, names in models.imports.items()}
    found["._models"] = {name for name in models.names if name in used}
    found["fal_typed.keywords"] = {"NOT_GIVEN"} & used
    return found


def _merged(*tables: dict[str, set[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for table in tables:
        for module, names in table.items():
            merged.setdefault(module, set()).update(names)
    return merged


def _names_in(params: list[str]) -> set[str]:
    """Every name the parameters' annotations and defaults use."""
    tree = ast.parse(f"def _(*, {', '.join(params)}): pass") if params else ast.Module([], [])
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def render_index(entries: Iterable[IndexEntry]) -> str:
    """Source of ``fal_endpoints._index``: every endpoint id -> (module, category, description)."""
    rows = sorted(entries, key=lambda e: e.endpoint_id)
    return _environment().get_template("index.py.jinja").render(entries=rows)


def one_line(text: str, limit: int = 120) -> str:
    """The first sentence-ish line of ``text``, shortened to ``limit`` characters."""
    line = " ".join(text.split("\n\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _import_groups(names: dict[str, set[str]]) -> list[str]:
    """Import lines for ``names`` (module -> names), grouped and sorted like isort: standard
    library, third party, first party, then this package's own modules."""
    groups: dict[str, list[str]] = {group: [] for group in _IMPORT_GROUPS}
    for module in sorted(names):
        if not names[module]:
            continue
        top = module.split(".")[0]
        if module.startswith("."):
            group = "local"
        elif top in _FIRST_PARTY:
            group = "first_party"
        else:
            group = "stdlib" if top in ("collections", "typing") else "third_party"
        listed = ", ".join(sorted(names[module], key=_import_order))
        groups[group].append(f"from {module} import {listed}")
    return ["\n".join(lines) for lines in groups.values() if lines]


def _checking_lines(names: dict[str, set[str]]) -> list[str]:
    """The lines of an ``if TYPE_CHECKING:`` block importing ``names``, groups apart."""
    return "\n\n".join(_import_groups(names)).splitlines()


def _import_order(name: str) -> tuple[int, list[str | int]]:
    # Within an import, ruff's isort compares the names of a kind case-insensitively, and the
    # digits in them as numbers ("SAM3DBody" before "Sam33dAlign").
    kind, _ = _isort_key(name)
    parts = re.split(r"(\d+)", name.lower())
    return kind, [int(part) if index % 2 else part for index, part in enumerate(parts)]


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
