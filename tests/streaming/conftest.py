"""Shared pieces of the streaming and realtime tests: hand-made endpoints over real ids of the
local server, and the server-side controllers of ``/stream`` and ``/realtime``."""

from __future__ import annotations

from typing import cast

import pytest

from fal_typed import Endpoint, InputModel, OutputModel
from fal_typed.testing import LocalFal
from fal_typed.testing._realtime import RealtimeService
from fal_typed.testing._stream import StreamService


class LcmInput(InputModel):
    prompt: str
    seed: int | None = None


class Image(OutputModel):
    url: str
    content_type: str | None = None
    width: int | None = None
    height: int | None = None


class LcmOutput(OutputModel):
    images: list[Image]
    seed: int
    prompt: str


#: ``fal-ai/fast-lcm-diffusion`` as a generated module would describe it (a realtime app on fal).
LCM = Endpoint("fal-ai/fast-lcm-diffusion", LcmInput, LcmOutput)
#: An id that already ends with ``/stream``: its stream is the id itself.
FLUX_LORA_STREAM = Endpoint("fal-ai/flux-lora/stream", LcmInput, LcmOutput)


@pytest.fixture
def stream_server(local_fal: LocalFal) -> StreamService:
    """The local server's ``/stream`` controller (settings and server-side records)."""
    return cast(StreamService, local_fal.state.extensions["stream"])


@pytest.fixture
def realtime_server(local_fal: LocalFal) -> RealtimeService:
    """The local server's realtime controller (tokens, sockets and their records)."""
    return cast(RealtimeService, local_fal.state.extensions["realtime"])
