"""Fixtures of the command-line tests: a served copy of a few schemas and the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from fal_typed.testing._catalog import Catalog, CatalogSettings

from .helpers import SAMPLE_IDS, CatalogServer, copy_corpus, serve


@pytest.fixture
def served(tmp_path: Path) -> Path:
    """A served corpus: copies of the sample documents."""
    return copy_corpus(tmp_path / "served", SAMPLE_IDS)


@pytest.fixture
def server(served: Path) -> Iterator[CatalogServer]:
    catalog = Catalog(served, CatalogSettings(page_size=5))
    for base_url in serve(Starlette(routes=catalog.routes())):
        yield CatalogServer(base_url, served, catalog)
