"""pytest fixtures for testing code that calls fal, offline (registered automatically).

* ``local_fal``: a :class:`~fal_typed.testing.LocalFal` started once per test session (once per
  worker under pytest-xdist) and reset before and after every test, so behaviours, handlers,
  faults, requests and files never leak between tests.
* ``local_fal_client``: a :class:`fal_typed.Client` pointed at it, closed after the test.
* ``local_fal_options``: session-scoped keyword arguments for ``LocalFal``; override it in your
  ``conftest.py`` to choose the schemas directory or require a key::

      @pytest.fixture(scope="session")
      def local_fal_options():
          return {"schemas_dir": "tests/schemas", "key": "test-key"}

Example::

    def test_generates(local_fal, local_fal_client):
        local_fal.configure("fal-ai/flux/dev", processing_time=0.05, logs=["sampling"])
        flux_dev.subscribe(prompt="a cat", client=local_fal_client)
        assert len(local_fal.requests_for("submit")) == 1

The server needs the ``server`` extra (``pip install fal-typed[server]``); it is imported only
when a fixture is used, so installing fal-typed never breaks a test run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .._client import Client
    from ._server import LocalFal

__all__ = ["local_fal", "local_fal_client", "local_fal_options"]


@pytest.fixture(scope="session")
def local_fal_options() -> dict[str, Any]:
    """Keyword arguments for the session's ``LocalFal`` (override to customise)."""
    return {}


@pytest.fixture(scope="session")
def _local_fal_server(local_fal_options: dict[str, Any]) -> Iterator[LocalFal]:
    from ._server import LocalFal

    with LocalFal(**local_fal_options) as server:
        yield server


@pytest.fixture
def local_fal(_local_fal_server: LocalFal) -> Iterator[LocalFal]:
    """The session's local fal server, freshly reset for this test."""
    _local_fal_server.reset()
    yield _local_fal_server
    _local_fal_server.reset()


@pytest.fixture
def local_fal_client(local_fal: LocalFal) -> Iterator[Client]:
    """A ``fal_typed.Client`` pointed at ``local_fal``."""
    client = local_fal.client()
    try:
        yield client
    finally:
        client.close()
