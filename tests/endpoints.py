"""Hand-made endpoints over real ids of the local server, shared by the streaming and realtime
tests (what a generated module would hold, without depending on generated/)."""

from __future__ import annotations

from fal_typed import Endpoint, InputModel, OutputModel


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
