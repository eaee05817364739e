"""The npm packages some proxy tests run for real (fal-js, and esbuild to bundle it for a
browser): installed by ``make system-deps`` (scripts/system-deps.sh) into a cache folder outside
the repository, at the versions pinned there. Missing or at another version, a test fails (it is
never skipped) saying to run ``make system-deps``."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_DEPS = ROOT / "scripts" / "system-deps.sh"


def pinned_version(variable: str) -> str:
    """The version system-deps.sh pins on its ``VARIABLE=version`` line."""
    found = re.search(rf"^{variable}=(\S+)$", SYSTEM_DEPS.read_text(), re.MULTILINE)
    assert found, f"{SYSTEM_DEPS} no longer pins {variable}"
    return found.group(1)


def node_prefix() -> Path:
    """The folder system-deps.sh installs the npm packages into."""
    prefix = os.environ.get("FAL_TYPED_NODE_PREFIX") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fal-typed" / "node"
    )
    return Path(prefix)


def installed_package(name: str, variable: str) -> Path:
    """The folder of npm package ``name``, at the version system-deps.sh pins as ``variable``."""
    prefix = node_prefix()
    module = prefix / "node_modules" / name
    version = pinned_version(variable)
    if shutil.which("node") is None:
        pytest.fail("Node.js is not installed: run `make system-deps` (scripts/system-deps.sh)")
    manifest = module / "package.json"
    if not manifest.is_file():
        pytest.fail(f"{name} is not installed in {prefix}: run `make system-deps`")
    installed = json.loads(manifest.read_text())["version"]
    if installed != version:
        pytest.fail(
            f"{name} {installed} is installed in {prefix}, the tests pin {version}: "
            "run `make system-deps`"
        )
    return module
