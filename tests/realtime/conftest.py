"""Shared pieces of the realtime tests: the server-side controller of ``/realtime``."""

from __future__ import annotations

from typing import cast

import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._realtime import RealtimeService


@pytest.fixture
def realtime_server(local_fal: LocalFal) -> RealtimeService:
    """The local server's realtime controller (tokens, sockets and their records)."""
    return cast(RealtimeService, local_fal.state.extensions["realtime"])
