"""Serving another revision of the schemas: a folder, or a git revision of one, so a suite can
run against tomorrow's (or yesterday's) documents before regenerating its bindings."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fal_typed.testing import LocalFal

from ..catalog.documents import commit, document, init_repo, write
from .conftest import AUTH

STRING = {"type": "string"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """schemas/ with two commits of fal-ai/example: style optional, then required; plus an
    uncommitted revision that adds fal-ai/newer."""
    root = init_repo(tmp_path / "repo")
    schemas = root / "schemas"
    write(schemas, document({"prompt": STRING, "style": STRING}, input_required=["prompt"]))
    commit(root, "example", 1_700_000_000)
    write(
        schemas,
        document({"prompt": STRING, "style": STRING}, input_required=["prompt", "style"]),
    )
    commit(root, "style is required", 1_700_086_400)
    write(schemas, document(endpoint_id="fal-ai/newer"))
    return schemas


def _run(fal: LocalFal, endpoint_id: str, body: dict[str, object]) -> int:
    return httpx.post(f"{fal.run_url}/{endpoint_id}", json=body, headers=AUTH).status_code


def test_a_git_revision_is_served_instead_of_the_working_tree(repo: Path) -> None:
    with LocalFal(repo) as today:
        assert _run(today, "fal-ai/example", {"prompt": "a cat"}) == 422  # style is required
        assert "fal-ai/newer" in today.endpoint_ids
    with LocalFal(repo, revision="HEAD~1") as before:
        assert before.schemas_source == f"{repo} at HEAD~1"
        assert _run(before, "fal-ai/example", {"prompt": "a cat"}) == 200
        assert before.endpoint_ids == ["fal-ai/example"]  # not committed then
        served = httpx.get(
            f"{before.base_url}/fal/api/openapi/queue/openapi.json",
            params={"endpoint_id": "fal-ai/example"},
        ).json()
        assert served["components"]["schemas"]["ExampleInput"]["required"] == ["prompt"]
    with LocalFal(repo, revision="HEAD") as committed:
        assert _run(committed, "fal-ai/example", {"prompt": "a cat"}) == 422


def test_the_revision_copy_is_removed_with_the_server(repo: Path) -> None:
    fal = LocalFal(repo, revision="HEAD")
    copy = fal.state.catalog.directory
    assert copy is not None and copy.is_dir() and copy != repo
    del fal
    gc.collect()
    assert not copy.exists()


def test_a_bad_revision_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown revision 'v9'"):
        LocalFal(repo, revision="v9")
    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(ValueError, match="cannot read"):
        LocalFal(outside, revision="HEAD")


def test_command_line_revision_errors_exit_2(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fal_typed.testing", "--schemas", str(repo), "--revision", "v9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "unknown revision 'v9'" in result.stderr
    command = [sys.executable, "-m", "fal_typed.cli", "serve", "--port", "0", "--revision", "v9"]
    served = subprocess.run(
        [*command, "--schemas", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 2 and "unknown revision 'v9'" in served.stderr
