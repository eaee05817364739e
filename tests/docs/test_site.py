"""The documentation site builds (`make docs`: mkdocs, strict) with a page for every endpoint, its
search finds endpoints by id, module name and title, and a real browser (headless Chromium,
driven over the DevTools protocol) searches "flux dev", opens the flux_dev page and sees its
parameter table and example. The build runs once for the module; its time and size are printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .browser import Browser, serve_directory

ROOT = Path(__file__).resolve().parents[2]
SEPARATOR = re.compile(r'[\s\-,:!=\[\]()"/]+|\.(?!\d)')  # mkdocs.yml's search separator


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(out),
        ],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-5000:]
    problems = [line for line in done.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not problems, problems
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    pages = sum(1 for _ in out.rglob("index.html"))
    print(f"\nsite built in {seconds:.1f} s: {pages} pages, {size / 1e6:.1f} MB ({out})")
    return out


def documents() -> list[Path]:
    return sorted((ROOT / "schemas").glob("*.json"))


def search_index(site: Path) -> list[dict[str, Any]]:
    return json.loads((site / "search" / "search_index.json").read_text())["docs"]


def test_every_endpoint_has_a_page_in_its_category(site: Path) -> None:
    pages = [p for p in (site / "endpoints").iterdir() if (p / "index.html").is_file()]
    endpoint_pages = [p for p in pages if not p.name.startswith("category-")]
    assert len(endpoint_pages) == len(documents())
    category = (site / "endpoints" / "category-text-to-image" / "index.html").read_text()
    assert 'href="../flux_dev/"' in category
    assert (site / "reference" / "fal_typed" / "index.html").is_file()
    assert (site / "reference" / "fal_typed.notebook" / "index.html").is_file()


def test_the_api_reference_reads_without_sphinx_roles(site: Path) -> None:
    client = (site / "reference" / "fal_typed" / "index.html").read_text()
    assert "Configuration and connections for talking to fal" in client  # Client's docstring
    for page in (site / "reference").glob("*/index.html"):
        assert ":class:<code>" not in page.read_text(), page


def test_the_search_index_finds_endpoints_by_id_module_and_title(site: Path) -> None:
    docs = search_index(site)
    page = next(d for d in docs if d["location"] == "endpoints/flux_dev/")
    words = set(SEPARATOR.split(page["title"].lower()))
    assert {"fal", "ai", "flux", "dev", "flux_dev"} <= words  # the id's words and the module
    assert "FLUX.1 [dev], next generation text-to-image model." in page["text"]
    indexed = {d["location"] for d in docs if d["location"].startswith("endpoints/")}
    titled = {d["location"]: d["title"] for d in docs if d["location"].count("/") == 2}
    for path in documents()[::50]:
        endpoint_id = json.loads(path.read_text())["info"]["x-fal-metadata"]["endpointId"]
        from fal_typed import module_name

        location = f"endpoints/{module_name(endpoint_id)}/"
        assert location in indexed
        assert endpoint_id in titled[location] and module_name(endpoint_id) in titled[location]


def test_the_flux_dev_page_shows_the_call_parameters_and_output(site: Path) -> None:
    html = (site / "endpoints" / "flux_dev" / "index.html").read_text()
    assert "<code>pip install fal-endpoints-flux-dev</code>" in html
    assert 'href="https://fal.ai/models/fal-ai/flux/dev"' in html
    assert "flux_dev" in html and "subscribe" in html and "Extreme close-up" in html
    assert re.search(r"<code>num&#95;images</code></td>\s*<td><code>int</code></td>", html)
    assert "1 to 4" in html


RESULT_PAGES = (
    "(() => { const pages = Array.from(document.querySelectorAll('.md-search-result__link'))"
    ".map(a => new URL(a.href)).filter(url => !url.hash).map(url => url.pathname);"
    " return pages.length ? pages : null; })()"
)


def search(browser: Browser, base: str, query: str) -> list[str]:
    """The pages the site's search lists for ``query`` (paths, in order), typed into the search
    box of a freshly opened home page."""
    browser.open(f"{base}/")
    browser.wait_for("document.querySelector('.md-search__input') !== null")
    browser.evaluate(
        "(() => { const input = document.querySelector('.md-search__input');"
        f" input.focus(); input.value = {json.dumps(query)};"
        " input.dispatchEvent(new Event('input', {bubbles: true})); })()"
    )
    return list(browser.wait_for(RESULT_PAGES, timeout=120))


def test_a_browser_searches_flux_dev_and_opens_its_page(
    site: Path, browser: Browser, tmp_path: Path
) -> None:
    with serve_directory(site) as base:
        # By module name the endpoint's page comes first; by id or words, among the first
        # (fal-ai/flux-1/dev has the same words).
        assert search(browser, base, "flux_dev")[0] == "/endpoints/flux_dev/"
        assert "/endpoints/flux_dev/" in search(browser, base, "fal-ai/flux/dev")[:3]
        assert "/endpoints/flux_dev/" in search(browser, base, "flux dev")[:3]
        # The page's own result (not one of its sections): /endpoints/flux_dev/?h=flux+dev
        result = (
            "Array.from(document.querySelectorAll('.md-search-result__link')).find(a => {"
            " const url = new URL(a.href);"
            " return url.pathname.endsWith('/endpoints/flux_dev/') && !url.hash; })"
        )
        found = browser.wait_for(f"({result} || {{}}).href || null", timeout=120)
        assert found.startswith(f"{base}/endpoints/flux_dev/?h=flux")
        browser.click(result)
        browser.wait_for("location.pathname.endsWith('/endpoints/flux_dev/')")
        browser.wait_for("document.readyState === 'complete'")
        rows = browser.evaluate(  # the first table after the "Parameters" heading
            "(() => { let node = document.getElementById('parameters');"
            " while (node && !(node.querySelector && node.querySelector('table')))"
            "   node = node.nextElementSibling;"
            " return Array.from(node.querySelector('table').tBodies[0].rows)"
            "   .map(tr => Array.from(tr.cells).map(td => td.innerText.trim())); })()"
        )
        example = browser.evaluate(
            "Array.from(document.querySelectorAll('pre code')).map(c => c.innerText)"
            ".find(t => t.includes('flux_dev.subscribe(')) || ''"
        )
        screenshot = browser.screenshot(tmp_path / "flux_dev.png")
        print(f"\nscreenshot of the flux_dev page: {screenshot}")
    by_name = {row[0]: row for row in rows}
    assert by_name["prompt"][1:3] == ["str", "required"]
    assert by_name["num_images"][1:4] == ["int", "1", "1 to 4"]
    assert '"jpeg"' in by_name["output_format"][3] and '"png"' in by_name["output_format"][3]
    assert example.startswith("from fal_endpoints import flux_dev")
    assert "prompt=(" in example and "print(out.images[0].url)" in example
    assert screenshot.stat().st_size > 10_000
