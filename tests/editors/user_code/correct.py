"""The same calls as mistakes.py, written right: type checkers (strict) report nothing."""

from __future__ import annotations

from pathlib import Path

from fal_endpoints import flux_dev, flux_general
from fal_endpoints import kling_video_o1_image_to_video as kling


async def correct() -> list[str]:
    flux_dev.subscribe(prompt="a cat", image_size="square_hd")
    flux_dev.subscribe(prompt="a cat", image_size=flux_dev.ImageSize(width=640, height=480))
    flux_dev.subscribe(prompt="a cat", num_images=4, seed=None, with_logs=True)
    await flux_dev.subscribe_async(prompt="a cat", client_timeout=60.0)
    handle = await flux_dev.submit_async(prompt="a cat", seed=1, priority="low")
    net = flux_general.ControlNet(path="w", control_image_url=Path("edges.png"))
    lora = flux_general.LoraWeight(path="w", scale=0.5)
    flux_general.subscribe(prompt="a cat", controlnets=[net], loras=[lora])
    kling.subscribe(prompt="a cat", start_image_url=Path("first.png"), duration="5")
    kling.subscribe(prompt="a cat", start_image_url=b"\x89PNG", end_image_url=None)
    out = flux_dev.run(prompt="a cat")
    typed = flux_dev.endpoint.subscribe(flux_dev.Input(prompt="a cat", num_images=2))
    return [handle.request_id, *(image.url for image in [*out.images, *typed.images])]
