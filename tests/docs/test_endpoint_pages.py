"""The endpoint pages (codegen/site), made from the same plan as the modules: what a page says
about an endpoint, that its example call is one the bindings accept, and that no document text
becomes markup, a link or an attribute on the site (rendered with the site's own Markdown
extensions)."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import markdown
import pytest
import yaml

from codegen.site.build import endpoint_pages, public_modules, reference_pages
from codegen.site.example import Placeholder
from codegen.site.pages import EndpointPage, endpoint_page, render_category, render_endpoint
from codegen.site.text import fence, inline, slug
from fal_typed import module_name

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
FLUX = SCHEMAS / "fal-ai__flux__dev.json"


def site_markdown(text: str) -> str:
    """Markdown -> HTML with the extensions mkdocs.yml enables."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))
    extensions: list[str] = []
    configs: dict[str, Any] = {}
    for item in config["markdown_extensions"]:
        name, options = next(iter(item.items())) if isinstance(item, dict) else (item, None)
        extensions.append(name)
        if options:
            configs[name] = options
    return markdown.markdown(text, extensions=extensions, extension_configs=configs)


def test_the_flux_dev_page_says_what_the_module_does() -> None:
    page = endpoint_page(FLUX)
    assert (page.endpoint_id, page.module, page.wheel) == (
        "fal-ai/flux/dev",
        "flux_dev",
        "fal-endpoints-flux-dev",
    )
    assert page.category == "text-to-image" and page.path == "endpoints/flux_dev.md"
    rows = {row.keyword: row for row in page.parameters}
    assert next(iter(rows)) == "prompt" and rows["prompt"].required
    assert (rows["num_images"].type, rows["num_images"].default, rows["num_images"].range) == (
        "int",
        1,
        "1 to 4",
    )
    assert rows["output_format"].allowed == ("jpeg", "png")
    assert (
        rows["image_size"].type == "ImageSize | str" and "square_hd" in rows["image_size"].allowed
    )
    assert rows["seed"].type == "int | None"
    assert [m.name for m in page.models] == ["ImageSize", "Image"]  # input side first
    assert next(m for m in page.models if m.name == "Image").file
    text = render_endpoint(page)
    assert text.startswith('---\ntitle: "fal-ai/flux/dev \\u00b7 flux_dev"\n---')
    assert "## Parameters" in text and "## Output" in text and "## Models" in text
    assert '<a href="https://fal.ai/models/fal-ai/flux/dev">' in text
    assert "[text-to-image](category-text-to-image.md)" in text


def test_the_example_call_comes_from_the_schema_examples() -> None:
    page = endpoint_page(FLUX)
    assert list(page.example.arguments) == ["prompt"]  # the other examples equal the defaults
    assert page.example.arguments["prompt"].startswith("Extreme close-up of a single tiger eye")
    source = page.example.source
    assert source.startswith("from fal_endpoints import flux_dev\n\nout = flux_dev.subscribe(\n")
    assert source.endswith("print(out.images[0].url)\n")
    compile(source, "example", "exec")


def test_a_file_field_without_an_example_gets_a_path_placeholder(tmp_path: Path) -> None:
    document = json.loads(
        (SCHEMAS / "fal-ai__kling-video__v2__master__image-to-video.json").read_text()
    )
    root = document["components"]["schemas"]["KlingVideoV2MasterImageToVideoInput"]
    del root["properties"]["image_url"]["examples"]
    (tmp_path / "doc.json").write_text(json.dumps(document))
    page = endpoint_page(tmp_path / "doc.json")
    assert page.example.arguments["image_url"] == Placeholder('Path("image.png")')
    assert page.example.source.startswith("from pathlib import Path\n\n")
    assert 'image_url=Path("image.png"),' in page.example.source
    assert "print(out.video.url)" in page.example.source


def concrete(value: Any) -> Any:
    """An example argument with its placeholders filled as a reader would (a file, some text)."""
    if isinstance(value, Placeholder):
        return Path("input.png") if value.source.startswith("Path(") else "text"
    if isinstance(value, list):
        return [concrete(item) for item in value]
    if isinstance(value, dict):
        return {key: concrete(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json"))[::12], ids=lambda p: p.stem)
def test_example_calls_are_accepted_by_the_generated_models(path: Path) -> None:
    page = endpoint_page(path)
    module = importlib.import_module(f"fal_endpoints.{page.module}")
    compile(page.example.source, page.path, "exec")
    names = {row.keyword: row.name for row in page.parameters}
    body = {names[key]: concrete(value) for key, value in page.example.arguments.items()}
    module.Input.model_validate(body)


def test_every_document_gets_a_page_and_every_category_an_index() -> None:
    site = endpoint_pages(SCHEMAS, jobs=1)
    documents = sorted(SCHEMAS.glob("*.json"))
    assert not site.skipped and len(site.endpoints) == len(documents)
    assert {p.path for p in site.endpoints} == {
        f"endpoints/{module_name(json.loads(d.read_text())['info']['x-fal-metadata']['endpointId'])}.md"
        for d in documents
    }
    categories = {p.category_slug for p in site.endpoints}
    assert {f"endpoints/category-{c}.md" for c in categories} <= set(site.pages)
    index = site.pages["endpoints/index.md"]
    assert (
        f"{len(documents)} endpoints" in index
        and "[text-to-image](category-text-to-image.md) | 204" in index
    )


def test_reference_pages_cover_every_public_module() -> None:
    modules = public_modules()
    assert {"fal_typed", "fal_typed.files", "fal_typed.notebook", "fal_typed.testing"} <= set(
        modules
    )
    assert not any("._" in m for m in modules)
    pages = reference_pages(modules)
    assert pages["reference/fal_typed.files.md"].endswith("::: fal_typed.files\n")
    assert "[fal_typed.notebook](fal_typed.notebook.md)" in pages["reference/index.md"]


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "{: onclick=alert(1) }",
    "# a heading\n\n```\nfenced\n```\n\n| a | b |",
    "!!! danger\n    admonition",
    "--8<-- '/etc/passwd'",
    "&lt;script&gt; and &#60;b&#62;",
    "*emph* __bold__ `co|de` \\escaped\\",
    "\x1b[31mred\x1b[0m \u202eevil\u202c",
    "a lone surrogate: \ud800",
]


def hostile_document() -> dict[str, Any]:
    document = json.loads(FLUX.read_text())
    evil = "\n".join(HOSTILE)
    document["info"]["x-fal-metadata"]["about"] = evil
    document["info"]["x-fal-metadata"]["category"] = "../../<b>cat</b>"
    schemas = document["components"]["schemas"]
    root = schemas["FluxDevInput"]
    root["properties"]["prompt"]["description"] = evil
    root["properties"]["prompt"]["examples"] = ['```\n"""<script>alert(1)</script>']
    root["properties"]["output_format"]["enum"] = ["jpeg", "<b>png</b>"]
    root["properties"]["output_format"]["default"] = "<i>x</i>"
    root["properties"]['<img src=x onerror="alert(1)">'] = {"type": "string", "description": evil}
    schemas["FluxDevOutput"]["properties"]["seed"]["description"] = evil
    return document


def test_document_text_never_becomes_markup(tmp_path: Path) -> None:
    (tmp_path / "evil.json").write_text(json.dumps(hostile_document()))
    page = endpoint_page(tmp_path / "evil.json")
    text = render_endpoint(page)
    text.encode("utf-8")  # the page can be written
    html = site_markdown(text.split("---\n", 2)[2])
    for needle in (
        "<script",
        "<img",
        "<b>",
        "<i>",
        "onerror=",
        "onclick=",
        'href="javascript',
        'src="javascript',
        "<h1>a heading",
        '<div class="admonition',
        "\x1b",
        "\u202e",
    ):
        assert needle not in html, needle
    assert 'href="javascript' not in html and "<em>emph</em>" not in html
    # shown as the text it is, not dropped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "&#60;script&#62;" in html
    category = render_category(page.category, [page])
    assert slug(page.category) == "b-cat-b" and "../" not in page.category_slug
    assert "<b>" not in site_markdown(category.split("---\n", 2)[2])


def test_the_example_keeps_hostile_strings_inside_one_code_block(tmp_path: Path) -> None:
    (tmp_path / "evil.json").write_text(json.dumps(hostile_document()))
    page = endpoint_page(tmp_path / "evil.json")
    html = site_markdown(fence(page.example.source))
    assert html.count("<pre") == 1 and "<script" not in html
    compile(page.example.source, "example", "exec")


def test_inline_keeps_code_and_web_links_and_one_line() -> None:
    text = inline("Use `image_url`.\nSee https://fal.ai/docs.\n\n- one\n- two")
    assert "<code>image&#95;url</code>" in text
    assert '<a href="https://fal.ai/docs" rel="nofollow noopener">https://fal.ai/docs</a>.' in text
    assert "\n" not in text and text.count("<br>") == 3  # a paragraph break, then the list


def test_a_page_is_one_document_however_the_pool_runs() -> None:
    one = endpoint_pages(SCHEMAS, jobs=1)
    assert isinstance(one.endpoints[0], EndpointPage)
    assert copy.copy(one.pages["endpoints/flux_dev.md"]) == render_endpoint(endpoint_page(FLUX))


@pytest.mark.parametrize(
    ("value", "jobs"), [("3", 3), ("", 1), ("0", 1), ("two", 1), ("\u00b2", 1), ("9" * 5000, 1)]
)
def test_the_docs_build_reads_its_jobs_from_the_environment(
    value: str, jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAL_TYPED_DOCS_JOBS: a count, else one process ('²' raised a ValueError from int())."""
    from codegen.site.hook import _jobs  # pyright: ignore[reportPrivateUsage]

    monkeypatch.setenv("FAL_TYPED_DOCS_JOBS", value)
    assert _jobs() == jobs
