"""One Markdown page per endpoint, one per category and the index of them all.

An endpoint page is made from the same plan as the endpoint's module (load -> normalise ->
plan): its id, description and category; the module and wheel names; the example call; the
parameters (argument name, type, default, allowed values, range, file or not, description); the
output fields; the nested models; and the link to fal's playground. Every piece of document text
goes through :mod:`codegen.site.text`.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..load import read_document
from ..normalise import normalise
from ..plan import FILE_OUTPUT_BASE, INPUT_BASE, ModulePlan, plan
from .example import Example, example_call, input_examples
from .fields import NO_DEFAULT, FieldRow, is_model, literal, model_rows
from .text import code_literal, fence, inline, slug

__all__ = [
    "ENDPOINTS_DIR",
    "EndpointPage",
    "Model",
    "endpoint_page",
    "render_category",
    "render_endpoint",
    "render_index",
]

ENDPOINTS_DIR = "endpoints"
PLAYGROUND = "https://fal.ai/models/"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE_NOTE = {
    "one": "a URL, or a local file (pathlib.Path, bytes, file object, PIL image) uploaded first",
    "many": "a list of URLs or local files, each uploaded first",
}


@dataclass(frozen=True)
class Model:
    """A model class of the module: its name, side (input or output), whether it is a file."""

    name: str
    side: str
    file: bool
    description: str
    rows: tuple[FieldRow, ...]


@dataclass(frozen=True)
class EndpointPage:
    """Everything an endpoint page shows."""

    endpoint_id: str
    module: str
    wheel: str
    category: str
    description: str
    input_class: str
    output_class: str
    open_input: bool
    parameters: tuple[FieldRow, ...]
    output: Model
    models: tuple[Model, ...]
    example: Example

    @property
    def path(self) -> str:
        """The page's path in the site's sources (``endpoints/flux_dev.md``)."""
        return f"{ENDPOINTS_DIR}/{self.module}.md"

    @property
    def category_slug(self) -> str:
        return slug(self.category)

    @property
    def summary(self) -> str:
        """The description's first sentence (for the category tables)."""
        first = self.description.strip().split("\n\n")[0].replace("\n", " ")
        match = re.match(r"(.{20,200}?[.!?])(\s|$)", first)
        text = match.group(1) if match else first
        return text if len(text) <= 240 else text[:237] + "..."


def endpoint_page(path: Path) -> EndpointPage:
    """The page of one document; a document the generator cannot use raises DocumentError."""
    document = read_document(path)
    planned = plan(normalise(document.data), document.source)
    endpoint_id = planned.metadata.endpoint_id  # fits the id grammar: normalise checks it
    return EndpointPage(
        endpoint_id=endpoint_id,
        module=planned.module,
        wheel=_wheel_name(planned.module),
        category=planned.metadata.category,
        description=planned.metadata.about,
        input_class=planned.input_class,
        output_class=planned.output_class,
        open_input=planned.open_input,
        parameters=tuple(_parameters(planned)),
        output=_model(planned, planned.output_class),
        models=tuple(
            _model(planned, name)
            for name in planned.components
            if name not in (planned.input_class, planned.output_class)
            and is_model(planned.components[name])
        ),
        example=example_call(planned, input_examples(document.data)),
    )


def _wheel_name(module: str) -> str:
    from wheels._naming import distribution_name

    return distribution_name(module)


def _parameters(planned: ModulePlan) -> list[FieldRow]:
    keywords = {f.name: f.keyword for f in planned.fields}
    return model_rows(planned.components[planned.input_class], planned.components, keywords)


def _model(planned: ModulePlan, name: str) -> Model:
    schema = planned.components[name]
    base = planned.base_classes.get(name, "")
    description = schema.get("description")
    return Model(
        name=name,
        side="input" if base == INPUT_BASE else "output",
        file=base == FILE_OUTPUT_BASE,
        description=description if isinstance(description, str) else "",
        rows=tuple(model_rows(schema, planned.components)),
    )


# -- rendering ------------------------------------------------------------------------------------


def _front_matter(title: str) -> str:
    # The title is made of ids (checked by normalise) and identifiers; JSON is valid YAML.
    return f"---\ntitle: {json.dumps(title)}\n---\n\n"


def _type_html(text: str, linked: set[str]) -> str:
    """A type as ``<code>``, its model names linked to their section of the page."""

    def name(match: re.Match[str]) -> str:
        word = match.group(0)
        return f'<a href="#{_anchor(word)}">{word}</a>' if word in linked else word

    # Type texts are made of identifiers, brackets, commas and '|' (fields.type_text), so only
    # the pipe needs escaping (it would split a table cell).
    return "<code>" + _WORD.sub(name, text).replace("|", "&#124;") + "</code>"


def _anchor(model: str) -> str:
    return f"model-{model.lower()}"


def _values(row: FieldRow) -> str:
    parts: list[str] = []
    if row.file:
        parts.append(inline(_FILE_NOTE[row.file]))
    if row.allowed:
        shown = row.allowed[:24]
        values = ", ".join(code_literal(literal(value)) for value in shown)
        more = f" and {len(row.allowed) - len(shown)} more" if len(row.allowed) > len(shown) else ""
        parts.append(("only " if len(row.allowed) == 1 else "one of ") + values + more)
    if row.range:
        parts.append(inline(row.range))
    return "; ".join(parts)


def _default(row: FieldRow) -> str:
    if row.required:
        return "**required**"
    if row.default is NO_DEFAULT:
        return ""
    text = literal(row.default)
    return code_literal(text if len(text) <= 120 else text[:117] + "...")


def _parameter_table(rows: Sequence[FieldRow], linked: set[str], *, arguments: bool) -> str:
    head = (
        "| Argument | Type | Default | Values | Description |"
        if arguments
        else ("| Field | Type | Default | Values | Description |")
    )
    lines = [head, "|---|---|---|---|---|"]
    for row in rows:
        label = code_literal(row.keyword if arguments else row.name)
        if arguments and row.keyword != row.name:
            label += f" (sent as {code_literal(row.name)})"
        lines.append(
            f"| {label} | {_type_html(row.type, linked)} | {_default(row)} | {_values(row)} "
            f"| {inline(row.description)} |"
        )
    return "\n".join(lines)


def _output_table(rows: Sequence[FieldRow], linked: set[str]) -> str:
    lines = ["| Field | Type | Description |", "|---|---|---|"]
    for row in rows:
        label = code_literal(row.name) + (" (always)" if row.required else "")
        lines.append(f"| {label} | {_type_html(row.type, linked)} | {inline(row.description)} |")
    return "\n".join(lines)


def render_endpoint(page: EndpointPage) -> str:
    """The Markdown of an endpoint page."""
    linked = {model.name for model in page.models}
    playground = PLAYGROUND + urllib.parse.quote(page.endpoint_id, safe="/")
    out = [
        _front_matter(f"{page.endpoint_id} · {page.module}"),
        f"# {page.endpoint_id} <small>{page.module}</small>\n\n",
        '<div class="fal-endpoint" markdown>\n\n',
        f"{inline(page.description)}\n\n" if page.description.strip() else "",
        "| | |\n|---|---|\n",
        f"| Module | <code>from fal_endpoints import {page.module}</code> |\n",
        f"| Wheel | <code>pip install {page.wheel}</code> |\n",
        f"| Category | [{inline(page.category)}](category-{page.category_slug}.md) |\n",
        f"| Models | <code>{page.module}.Input</code> ({page.input_class}), "
        f"<code>{page.module}.Output</code> ({page.output_class}) |\n",
        f'| Playground | <a href="{playground}">{playground}</a> |\n\n',
        "## Example\n\n",
        fence(page.example.source),
        "\n\n",
        "The same arguments work for every call: <code>submit</code>, <code>run</code>, "
        "<code>stream</code>, and the <code>_async</code> twins "
        "([Calling endpoints](../quickstart.md)).\n\n",
        "## Parameters\n\n",
    ]
    if page.open_input:
        out.append("The document describes no input fields: every keyword is sent as given.\n\n")
    elif page.parameters:
        out.append(_parameter_table(page.parameters, linked, arguments=True) + "\n\n")
    else:
        out.append("This endpoint takes no arguments.\n\n")
    # The plan leads a root model's description with "Result of `<id>`."; the rest is fal's.
    own = page.output.description.partition("\n\n")[2]
    out.append(f"## Output\n\n<code>{page.module}.Output</code> ({page.output_class}). ")
    out.append(f"{inline(own)}\n\n")
    if page.output.rows:
        out.append(_output_table(page.output.rows, linked) + "\n\n")
    else:
        out.append(
            "The document describes no output fields: the result keeps whatever fal returns.\n\n"
        )
    if page.models:
        out.append("## Models\n\n")
        for model in page.models:
            out.append(_render_model(page.module, model, linked))
    out.append("</div>\n")
    return "".join(out)


def _render_model(module: str, model: Model, linked: set[str]) -> str:
    kind = (
        "a file of the result: read() and save() download it"
        if model.file
        else f"{model.side} side"
    )
    lines = [
        f"### {model.name} {{#{_anchor(model.name)}}}\n\n",
        f"<code>{module}.{model.name}</code>, {kind}. ",
        inline(model.description) + "\n\n" if model.description.strip() else "\n\n",
    ]
    if model.rows:
        table = (
            _output_table(model.rows, linked)
            if model.side == "output"
            else _parameter_table(model.rows, linked, arguments=False)
        )
        lines.append(table + "\n\n")
    return "".join(lines)


def render_category(category: str, pages: Iterable[EndpointPage]) -> str:
    """The Markdown of a category page: every endpoint of the category, by id."""
    ordered = sorted(pages, key=lambda page: page.endpoint_id)
    lines = [
        _front_matter(f"{slug(category)} endpoints"),
        f"# {inline(category)}\n\n",
        f"{len(ordered)} endpoints. Each page has an example call, the parameters and the output. "
        "[All categories](index.md).\n\n",
        "| Endpoint | Module | Description |\n|---|---|---|\n",
    ]
    for page in ordered:
        lines.append(
            f"| [{page.endpoint_id}]({page.module}.md) | <code>{page.module}</code> "
            f"| {inline(page.summary)} |\n"
        )
    return "".join(lines)


def render_index(pages: Sequence[EndpointPage], skipped: Sequence[str] = ()) -> str:
    """The Markdown of the endpoints index: the categories, with their counts."""
    by_category: dict[str, list[EndpointPage]] = {}
    for page in pages:
        by_category.setdefault(page.category_slug, []).append(page)
    lines = [
        _front_matter("Endpoints"),
        "# Endpoints\n\n",
        f"{len(pages)} endpoints, one page each, generated from the same documents as the "
        "modules. Search by id (<code>fal-ai/flux/dev</code>), module name "
        "(<code>flux_dev</code>) or any word of a description.\n\n",
        "| Category | Endpoints |\n|---|---|\n",
    ]
    for category, members in sorted(by_category.items(), key=lambda item: (-len(item[1]), item[0])):
        lines.append(
            f"| [{inline(members[0].category)}](category-{category}.md) | {len(members)} |\n"
        )
    if skipped:
        lines.append(
            f"\n{len(skipped)} documents have no page: the generator cannot use them "
            "(see <code>python -m codegen</code>'s errors).\n"
        )
    return "".join(lines)
