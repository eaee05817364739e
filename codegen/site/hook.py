"""The mkdocs hook of the site (mkdocs.yml ``hooks:``): the generated pages join the guides.

At ``mkdocs build`` / ``serve`` time it makes every endpoint page, the category pages and their
index (from ``schemas/``, the same plan as the modules), and one API reference page per public
module of the runtime; they exist only in the build, never in ``docs/``. The navigation gets the
categories under "Endpoints" and the modules under "API reference" (the endpoint pages
themselves are reached from their category, so the sidebar of every page stays small).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # mkdocs loads hooks by path: codegen and wheels by name
    sys.path.insert(0, str(REPO_ROOT))

from codegen.site.build import SitePages, endpoint_pages, public_modules, reference_pages  # noqa: E402

log = logging.getLogger("mkdocs.hooks.fal_typed")

ENDPOINTS_ENTRY = "endpoints/index.md"
REFERENCE_ENTRY = "reference/index.md"

_site: SitePages | None = None
_reference: dict[str, str] = {}


def _jobs() -> int:
    """Worker processes for the endpoint pages: ``FAL_TYPED_DOCS_JOBS``, else 1 (one process
    plans the 1,048 documents in a few seconds; bench/bench_docs.py compares)."""
    value = os.environ.get("FAL_TYPED_DOCS_JOBS", "").strip()
    # ASCII digits, and few: '²' passes isdigit() and int() refuses it, as it does 5,000 digits.
    counted = value.isascii() and value.isdigit() and len(value) <= 4
    return int(value) if counted and int(value) > 0 else 1


def on_config(config: Any) -> Any:
    """Make the pages (once per build) and put the categories and modules into the nav."""
    global _site, _reference
    _site = endpoint_pages(REPO_ROOT / "schemas", jobs=_jobs())
    modules = public_modules()
    _reference = reference_pages(modules)
    log.info(
        "fal-typed: %d endpoint pages in %.1f s; %d reference pages",
        len(_site.endpoints),
        _site.seconds,
        len(modules),
    )
    for problem in _site.skipped:
        log.info("fal-typed: no page for %s", problem)
    categories = sorted(
        {(page.category_slug, page.category) for page in _site.endpoints},
        key=lambda item: item[0],
    )
    sections = {
        ENDPOINTS_ENTRY: [
            ENDPOINTS_ENTRY,
            *({slug: f"endpoints/category-{slug}.md"} for slug, _ in categories),
        ],
        REFERENCE_ENTRY: [REFERENCE_ENTRY, *({m: f"reference/{m}.md"} for m in modules)],
    }
    config["nav"] = _expand(config.get("nav") or [], sections)
    return config


def _expand(nav: list[Any], sections: dict[str, list[Any]]) -> list[Any]:
    """The nav with each ``Title: <entry>`` of ``sections`` turned into ``Title: [entry, ...]``."""
    out: list[Any] = []
    for item in nav:
        if isinstance(item, dict) and len(item) == 1:
            ((title, value),) = item.items()
            if isinstance(value, str) and value in sections:
                out.append({title: sections[value]})
            elif isinstance(value, list):
                out.append({title: _expand(value, sections)})
            else:
                out.append(item)
        else:
            out.append(item)
    return out


# The runtime's docstrings use Sphinx roles (:class:`~fal_typed.Client`), which mkdocstrings
# shows as text: on the reference pages the role goes and a ``~`` keeps the last name only.
_ROLE = re.compile(
    r":(?:class|meth|func|mod|attr|data|exc|obj|const):(<code>)(~?)([\w.]+)(</code>)"
)


def _without_role(match: re.Match[str]) -> str:
    name = match.group(3).rsplit(".", 1)[-1] if match.group(2) else match.group(3)
    return f"{match.group(1)}{name}{match.group(4)}"


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Drop the Sphinx roles from the API reference pages (see ``_ROLE``)."""
    if page.file.src_uri.startswith("reference/"):
        return _ROLE.sub(_without_role, html)
    return html


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the build."""
    from mkdocs.structure.files import File

    assert _site is not None, "on_config makes the pages first"
    for path, text in {**_site.pages, **_reference}.items():
        files.append(File.generated(config, path, content=text))
    return files
