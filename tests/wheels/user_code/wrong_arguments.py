"""User code with mistakes a type checker must catch against the installed wheels."""

from __future__ import annotations

from fal_endpoints import flux_dev

flux_dev.subscribe(prompt="a cat", num_images="four")  # line 7: wrong type
flux_dev.subscribe(prompt="a cat", num_imagez=2)  # line 8: no such field
flux_dev.subscribe(num_images=2)  # line 9: the required prompt is missing
flux_dev.subscribe(prompt="a cat", image_size="huge")  # line 10: not one of the sizes
