"""The README's first command: a real, typed `flux_dev.subscribe` against the local fal server.

Nothing here reaches fal.ai. `LocalFal` is a real HTTP server on 127.0.0.1 speaking fal's queue
protocol for every endpoint in schemas/; the call below goes over real sockets, waits on the
status stream, and parses the result into `FluxDevOutput`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fal_endpoints import flux_dev

import fal_typed
from fal_typed.testing import LocalFal


def main() -> None:
    with LocalFal() as fal:
        # Make the queue visible: two requests ahead of ours, a second of work, some logs.
        fal.configure(
            "fal-ai/flux/dev",
            queue_position=2,
            queue_step=0.3,
            processing_time=1.0,
            logs=["loading weights", "sampling 28 steps", "decoding"],
        )
        fal_typed.set_default_client(fal.client())  # module-level calls now target the local server
        print(f"local fal server on {fal.base_url}\n")

        out = flux_dev.subscribe(
            prompt="a cat",
            seed=6252023,
            image_size="landscape_4_3",
            num_images=2,
            with_logs=True,
            on_enqueue=lambda request_id: print(f"enqueued {request_id}"),
            on_queue_update=lambda update: print(f"  {update!r}"),
        )

        print(f"\n{type(out).__name__}:")
        print(out.model_dump_json(indent=2))
        saved = out.images[0].save(Path(tempfile.mkdtemp()) / "cat.jpg")
        print(f"\nimages[0] saved to {saved} ({saved.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
