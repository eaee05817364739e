"""Fixtures of the command-line tests: a served copy of a few schemas and the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._catalog import Catalog

from .helpers import SAMPLE_IDS, LocalServer, copy_corpus


@pytest.fixture
def served(tmp_path: Path) -> Path:
    """A served corpus: copies of the sample documents."""
    return copy_corpus(tmp_path / "served", SAMPLE_IDS)


@pytest.fixture
def server(served: Path) -> Iterator[LocalServer]:
    """The local fal server over ``served``; its catalog pages hold 5 records."""
    with LocalFal(served) as fal:
        catalog = fal.state.extensions["catalog"]
        assert isinstance(catalog, Catalog)
        catalog.settings.page_size = 5
        yield LocalServer(fal, served, catalog)
