"""The ``local_fal`` / ``local_fal_client`` fixtures, as a user's test suite sees them."""

from __future__ import annotations

import pytest

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


def test_fixtures_share_one_server_and_reset_it_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)
