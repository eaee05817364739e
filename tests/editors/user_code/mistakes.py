"""A user's script with one mistake per marked line, across three endpoints.

tests/editors type-checks it with basedpyright and mypy, in every way of installing, and
requires each marked line to be reported, on that line, with the word after ``mistake:`` in
the message (the field, value or type at fault); no other line may be reported.
"""

from __future__ import annotations

from fal_endpoints import flux_dev, flux_general
from fal_endpoints import kling_video_o1_image_to_video as kling


async def mistakes() -> None:
    flux_dev.subscribe(prompt="a cat", image_size="huge")  # mistake: image_size
    flux_dev.subscribe(prompt="a cat", num_images="four")  # mistake: num_images
    flux_dev.subscribe(num_images=2)  # mistake: prompt
    flux_dev.subscribe(prompt="a cat", num_imagse=2)  # mistake: num_imagse
    await flux_dev.subscribe_async(num_images=2)  # mistake: prompt
    await flux_dev.submit_async(prompt="a cat", seeed=1)  # mistake: seeed
    net = flux_general.ControlNet(path="w", control_image_url="u", scale=1.0)  # mistake: scale
    flux_general.subscribe(prompt="a cat", controlnets=[net], loras=["w"])  # mistake: LoraWeight
    kling.subscribe(prompt=None, start_image_url="https://x/y.png")  # mistake: prompt
    kling.subscribe(prompt="a cat", start_image_url=3)  # mistake: start_image_url
    kling.subscribe(prompt="a cat", start_image_url="u.png", duration=5)  # mistake: duration
    out = flux_dev.run(prompt="a cat")
    print(out.imagez)  # mistake: imagez
    flux_dev.subscribe_async(prompt="a cat")  # mistake: await
    flux_dev.subscribe(prompt="a cat", with_logs="yes")  # mistake: with_logs
    flux_dev.subscribe(prompt="a cat", client_timeout="soon")  # mistake: client_timeout
