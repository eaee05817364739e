"""The headless Chromium the site tests drive (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .browser import Browser, chromium_executable


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(chromium_executable(), tmp_path_factory.mktemp("chromium")) as opened:
        yield opened
