"""``fal-typed add``: a typed module for an endpoint that is not installed, in the user's project.

The endpoint (``acme/new-model``) exists only on the local server (fal's document URL, served
from a folder), as a model released this morning would; the project is a plain folder.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fal_typed.catalog import _add
from fal_typed.catalog._add import GeneratorUnavailableError, find_generator
from fal_typed.testing import LocalFal

from .helpers import SCHEMAS, Run, run_cli

NEW_ID = "acme/new-model"
MODULE = "acme__new_model"


@dataclass
class Project:
    folder: Path
    fal: LocalFal


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    docs = tmp_path / "docs"
    docs.mkdir()
    text = (SCHEMAS / "fal-ai__flux__dev.json").read_text(encoding="utf-8")
    (docs / "acme__new-model.json").write_text(text.replace("fal-ai/flux/dev", NEW_ID))
    folder = tmp_path / "project"
    folder.mkdir()
    with LocalFal(docs) as fal:
        yield Project(folder, fal)


def _add_cli(project: Project, *args: str) -> Run:
    return run_cli(
        "add", *args, "--to", str(project.folder), FAL_TYPED_BASE_URL=project.fal.base_url
    )


def test_adds_a_typed_module_the_project_imports_and_the_local_server_serves(
    project: Project,
) -> None:
    done = _add_cli(project, NEW_ID)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"from fal_endpoints import {MODULE}\n"
    assert f"added {NEW_ID} as fal_endpoints.{MODULE}" in done.stderr
    package = project.folder / "fal_endpoints" / MODULE
    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "_models.py",
        "_realtime.py",
        "endpoint.json",
        "openapi.json",
        "py.typed",
    ]
    assert not (project.folder / "fal_endpoints" / "__init__.py").exists()  # a namespace portion
    document = json.loads((package / "openapi.json").read_bytes())
    assert document["info"]["x-fal-metadata"]["endpointId"] == NEW_ID
    assert json.loads((package / "endpoint.json").read_text())["module"] == MODULE

    # From the project: the added module beside the installed ones, typed, served offline.
    user = textwrap.dedent(
        f"""
        import fal_typed
        from fal_endpoints import {MODULE}, flux_dev
        from fal_typed.testing import LocalFal

        assert {MODULE}.endpoint_id == "{NEW_ID}" and flux_dev.endpoint_id == "fal-ai/flux/dev"
        assert fal_typed.search("acme new model")[0].module == "{MODULE}"
        with LocalFal() as fal:
            out = {MODULE}.subscribe(prompt="a cat", client=fal.client())
            assert isinstance(out, {MODULE}.Output) and out.images
            try:
                {MODULE}.subscribe(prompt="a cat", num_images=9, client=fal.client())
            except fal_typed.InputValidationError as exc:
                print("rejected", exc.fields)
        print("ok")
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", user],
        cwd=project.folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[-2] == "ok" and "rejected ['num_images']" in run.stdout
    listed = run_cli("list", "acme", cwd=project.folder)
    assert listed.stdout.splitlines()[0].split() == [MODULE, NEW_ID, "text-to-image"]

    again = _add_cli(project, NEW_ID)
    assert again.returncode == 0 and f"updated {NEW_ID}" in again.stderr


def test_an_id_fal_does_not_know_fails_and_writes_nothing(project: Project) -> None:
    done = _add_cli(project, "acme/no-such-model")
    assert done.returncode == 1
    assert "failed acme/no-such-model" in done.stderr and "404" in done.stderr
    assert not (project.folder / "fal_endpoints").exists()


def test_bad_usage_exits_2_before_anything_is_sent(project: Project) -> None:
    assert _add_cli(project, "not an id").returncode == 2
    (project.folder / "fal_endpoints").mkdir()
    (project.folder / "fal_endpoints" / "__init__.py").write_text("")
    done = _add_cli(project, NEW_ID)
    assert done.returncode == 2 and "hides every installed endpoint" in done.stderr
    assert project.fal.requests == []


def test_without_the_generator_the_message_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert find_generator().command[-1] in ("codegen", "fal_typed._codegen")
    real = importlib.util.find_spec

    def without_generator_dependencies(name: str, *args: object) -> object:
        return None if name == "datamodel_code_generator" else real(name)

    monkeypatch.setattr(_add.importlib.util, "find_spec", without_generator_dependencies)
    with pytest.raises(GeneratorUnavailableError, match=r'pip install "fal-typed\[codegen\]"'):
        find_generator()
