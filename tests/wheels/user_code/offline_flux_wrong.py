"""The same, with mistakes a type checker must report on their lines."""

from __future__ import annotations

from fal_endpoints import flux_dev

flux_dev.subscribe(prompt="a cat", num_images="2")
flux_dev.subscribe(prompt="a cat", output_format="gif")
