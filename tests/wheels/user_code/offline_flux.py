"""A user's script in a wheels-only venv: find the module, call it offline, save the image."""

from __future__ import annotations

from pathlib import Path

from fal_endpoints import flux_dev

import fal_typed
from fal_typed.testing import LocalFal


def main() -> None:
    best = fal_typed.search("flux dev")[0]
    with LocalFal() as fal:  # serves what is installed: the wheel carries its document
        fal_typed.use_local_server(fal)
        out: flux_dev.Output = flux_dev.subscribe(prompt="a cat", num_images=2)
        saved = out.images[0].save(Path("cat.jpg"))
        print(best.module, len(out.images), saved.read_bytes()[:3].hex(), fal.schemas_source)


if __name__ == "__main__":
    main()
