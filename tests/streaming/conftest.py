"""Shared pieces of the streaming tests: the server-side controller of ``/stream``, and a
hostile peer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._stream import StreamService

from ..peers.sse import ScriptedPeer, serving


@pytest.fixture
def stream_server(local_fal: LocalFal) -> StreamService:
    """The local server's ``/stream`` controller (settings and server-side records)."""
    return cast(StreamService, local_fal.state.extensions["stream"])


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    """A hostile HTTP/SSE server on 127.0.0.1 (tests/peers/sse.py), stopped after the test."""
    with serving() as scripted:
        yield scripted
