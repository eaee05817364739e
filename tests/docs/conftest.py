"""The headless Chromium the site tests drive (one per test module)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browser import Browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: run `make system-deps`"
    with Browser(CHROMIUM, tmp_path_factory.mktemp("chromium")) as opened:
        yield opened
