"""The ``local_fal`` / ``local_fal_client`` fixtures, as a user's test suite sees them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_TESTS = """
import httpx
from pydantic import BaseModel

from fal_typed import Endpoint
from fal_typed.testing import LocalFal


class In(BaseModel):
    prompt: str


class Out(BaseModel):
    prompt: str
    seed: int


flux = Endpoint("fal-ai/flux/dev", In, Out)
SERVERS = []


def test_first(local_fal, local_fal_client):
    SERVERS.append(local_fal)
    local_fal.handler("fal-ai/flux/dev", lambda body: {"prompt": body["prompt"], "seed": 1})
    local_fal.configure(logs=["working"])
    out = flux.subscribe({"prompt": "a cat"}, client=local_fal_client)
    assert out == Out(prompt="a cat", seed=1)
    assert len(local_fal.requests_for("submit")) == 1


def test_second_sees_a_fresh_server(local_fal, local_fal_client):
    SERVERS.append(local_fal)
    assert SERVERS[0] is SERVERS[1]  # one server per session
    assert local_fal.requests == []  # reset between tests
    assert local_fal.behaviour("fal-ai/flux/dev").logs == ()
    out = flux.run({"prompt": "a dog"}, client=local_fal_client)
    assert out.prompt == "a dog"  # synthesised again: the handler is gone
    assert local_fal.key == "conftest-key"
"""

CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def local_fal_options():
    return {"key": "conftest-key"}
"""


def test_fixtures_share_one_server_and_reset_it_between_tests(tmp_path: Path) -> None:
    """A user's suite in a fresh process: the plugin is found through its entry point."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
