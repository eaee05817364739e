"""A project checkout with three generated endpoints, installed the three ways users install it.

The checkout is a copy of this project's files (pyproject, README, the runtime, the wheel
templates) whose ``generated/`` is generated here from three real documents, so the tests see
exactly what the generator makes now (the whole corpus is the staleness test's job). Each way
gets a fresh venv with no package index and no system site-packages: the dependencies come
from this environment, repacked into wheels (``tests/wheels/_venv.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "wheels")]

from _venv import create_venv, repack_closure  # noqa: E402
from _wheel_support import copy_project  # noqa: E402
from installs import ENDPOINT_IDS, SCHEMA_EPOCH, Install  # noqa: E402

from codegen.pipeline import generate  # noqa: E402
from wheels import Layout, build_wheels, load_runtime_project  # noqa: E402


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project whose generated/ holds the three sample endpoints."""
    root = copy_project(tmp_path_factory.mktemp("checkout"), ENDPOINT_IDS)
    report = generate(root / "schemas", root / "generated", jobs=1)
    assert report.modules == len(ENDPOINT_IDS) and not report.errors, report.summary()
    return root


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, checkout: Path) -> Path:
    """This environment's copies of the runtime's dependencies and of the build backend."""
    project = load_runtime_project(REPO)
    backend = ["hatchling", "editables"]  # what pip's isolated build of an editable install needs
    return repack_closure([*project.dependencies, *backend], tmp_path_factory.mktemp("deps"))


@pytest.fixture(scope="session")
def editable(tmp_path_factory: pytest.TempPathFactory, checkout: Path, wheelhouse: Path) -> Install:
    """``pip install -e <checkout>``: hatch's dev-mode dirs put src/ and generated/ on sys.path."""
    venv = create_venv(tmp_path_factory.mktemp("editable"), [wheelhouse])
    venv.pip("install", "--editable", str(checkout))
    return Install("editable", venv)


@pytest.fixture(scope="session")
def from_wheels(
    tmp_path_factory: pytest.TempPathFactory, checkout: Path, wheelhouse: Path
) -> Install:
    """The runtime wheel and one wheel per endpoint, as ``python -m wheels`` builds them."""
    out = tmp_path_factory.mktemp("wheels")
    with _source_date_epoch(SCHEMA_EPOCH):
        report = build_wheels(Layout(root=checkout, out_dir=out), list(ENDPOINT_IDS))
    venv = create_venv(tmp_path_factory.mktemp("wheels-venv"), [out, wheelhouse])
    venv.pip("install", report.runtime.name, *(wheel.name for wheel in report.endpoints))
    return Install("wheels", venv)


@pytest.fixture(scope="session")
def on_pythonpath(
    tmp_path_factory: pytest.TempPathFactory, checkout: Path, wheelhouse: Path
) -> Install:
    """The dependencies installed, the checkout's src/ and generated/ on PYTHONPATH (mypy reads
    MYPYPATH instead, as its documentation says to set it)."""
    venv = create_venv(tmp_path_factory.mktemp("pythonpath"), [wheelhouse])
    venv.pip("install", *load_runtime_project(REPO).dependencies)
    paths = (checkout / "src", checkout / "generated")
    return Install("pythonpath", venv, pythonpath=paths, mypy_path=paths)


@pytest.fixture(params=["editable", "from_wheels", "on_pythonpath"], scope="session")
def install(request: pytest.FixtureRequest) -> Install:
    found: Install = request.getfixturevalue(request.param)
    return found


@contextmanager
def _source_date_epoch(value: str) -> Iterator[None]:
    """``SOURCE_DATE_EPOCH`` set for a block (the wheel builder's version stamp outside git)."""
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
