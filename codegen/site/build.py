"""All the generated pages of the site: every endpoint, every category, their index, and the
API reference of the runtime's public modules.

Endpoint pages are planned and rendered over a process pool (the unit of work is one document,
as for the modules); a document the generator cannot use gets no page and is reported.
"""

from __future__ import annotations

import multiprocessing
import pkgutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import DocumentError
from ..load import document_paths
from .pages import (
    ENDPOINTS_DIR,
    EndpointPage,
    endpoint_page,
    render_category,
    render_endpoint,
    render_index,
)

__all__ = ["REFERENCE_DIR", "SitePages", "endpoint_pages", "public_modules", "reference_pages"]

REFERENCE_DIR = "reference"


@dataclass
class SitePages:
    """Generated pages (path in the site's sources -> Markdown) and what could not be made."""

    pages: dict[str, str] = field(default_factory=dict[str, str])
    endpoints: list[EndpointPage] = field(default_factory=list[EndpointPage])
    skipped: list[str] = field(default_factory=list[str])
    seconds: float = 0.0


def _one(path: Path) -> tuple[str, EndpointPage | None, str | None, str | None]:
    """Plan and render one document: (file name, page, its Markdown, or the reason it has none)."""
    try:
        page = endpoint_page(path)
        return path.name, page, render_endpoint(page), None
    except DocumentError as exc:
        return path.name, None, None, str(exc)
    except Exception as exc:  # a bug on one document must not lose the other pages
        return path.name, None, None, f"internal error: {type(exc).__name__}: {exc}"


def endpoint_pages(schemas_dir: Path, *, jobs: int = 1) -> SitePages:
    """The endpoint, category and index pages for every document of ``schemas_dir``, made by
    ``jobs`` worker processes (1: in this one)."""
    started = time.perf_counter()
    paths = document_paths(schemas_dir)
    jobs = max(1, jobs)
    if jobs == 1 or len(paths) < 64:
        results = [_one(path) for path in paths]
    else:
        # "spawn": workers start clean even when the caller has threads (mkdocs serve, a test).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            results = list(pool.map(_one, paths, chunksize=max(1, len(paths) // (jobs * 8))))
    site = SitePages()
    owners: dict[str, str] = {}
    for source, page, text, problem in results:
        if page is None or text is None:
            site.skipped.append(f"{source}: {problem}")
        elif page.path in owners or page.module == "index":
            site.skipped.append(
                f"{source}: module {page.module} already has a page ({owners.get(page.path)})"
            )
        else:
            owners[page.path] = source
            site.pages[page.path] = text
            site.endpoints.append(page)
    by_category: dict[str, list[EndpointPage]] = {}
    for page in site.endpoints:
        by_category.setdefault(page.category_slug, []).append(page)
    for category, members in by_category.items():
        site.pages[f"{ENDPOINTS_DIR}/category-{category}.md"] = render_category(
            members[0].category, members
        )
    site.pages[f"{ENDPOINTS_DIR}/index.md"] = render_index(site.endpoints, site.skipped)
    site.seconds = time.perf_counter() - started
    return site


def public_modules(package: str = "fal_typed") -> list[str]:
    """The runtime's public modules: the package and every module or subpackage without a
    leading underscore, found on disk (so a new family is documented without a list to edit)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    found = [package]
    for info in pkgutil.walk_packages(list(spec.submodule_search_locations), prefix=f"{package}."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or parts[-1] == "__main__":
            continue
        found.append(info.name)
    return sorted(found)


def reference_pages(modules: Sequence[str]) -> dict[str, str]:
    """One API reference page per public module (mkdocstrings renders it from the docstrings),
    and their index."""
    pages: dict[str, str] = {}
    rows = []
    for module in modules:
        pages[f"{REFERENCE_DIR}/{module}.md"] = (
            f"---\ntitle: {module}\n---\n\n# {module}\n\n::: {module}\n"
        )
        rows.append(f"| [{module}]({module}.md) |")
    pages[f"{REFERENCE_DIR}/index.md"] = (
        "# API reference\n\nThe runtime's public modules, from their docstrings. Every endpoint "
        "module (<code>fal_endpoints.*</code>) has a page of its own under "
        "[Endpoints](../endpoints/index.md).\n\n| Module |\n|---|\n" + "\n".join(rows) + "\n"
    )
    return pages
