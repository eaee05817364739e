"""Shared pieces of the realtime tests: the server-side controller of ``/realtime``, and a
hostile peer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._realtime import RealtimeService

from ..peers.sse import ScriptedPeer, serving


@pytest.fixture
def realtime_server(local_fal: LocalFal) -> RealtimeService:
    """The local server's realtime controller (tokens, sockets and their records)."""
    return cast(RealtimeService, local_fal.state.extensions["realtime"])


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    """A hostile tokens endpoint + WebSocket server on 127.0.0.1 (tests/peers/ws.py)."""
    with serving() as scripted:
        yield scripted
