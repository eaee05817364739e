"""Shared pieces of the streaming tests: the server-side controller of ``/stream``."""

from __future__ import annotations

from typing import cast

import pytest

from fal_typed.testing import LocalFal
from fal_typed.testing._stream import StreamService


@pytest.fixture
def stream_server(local_fal: LocalFal) -> StreamService:
    """The local server's ``/stream`` controller (settings and server-side records)."""
    return cast(StreamService, local_fal.state.extensions["stream"])
