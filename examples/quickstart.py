"""The README's first command: a real, typed `flux_dev.subscribe` against the local fal server.

Nothing here reaches fal.ai. `LocalFal` is a real HTTP server on 127.0.0.1 speaking fal's queue
protocol for every installed endpoint; `fal_typed.use_local_server` points every module-level
call at it. The call below goes over real sockets, waits on the status stream, and parses the
result into `FluxDevOutput`.

An error ends the demo with one line on stderr and an exit status: 1 the call failed, 3 the
server could not be reached, 70 anything else (a bug); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
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
        fal_typed.use_local_server(fal)  # module-level calls now target the local server
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
        image = out.images[0]
        saved = image.save(Path(tempfile.mkdtemp()) / "cat.jpg")
        print(f"\nimages[0] saved to {saved} ({saved.stat().st_size} bytes, {image.content_type})")


def run(argv: list[str]) -> int:
    """``main()``, with every error told in one line (``--debug``: the traceback)."""
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if "--debug" in argv:
            raise
        status = 3 if isinstance(exc, fal_typed.FalConnectionError) else 1
        if not isinstance(exc, (fal_typed.FalError, OSError)):
            status = 70
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {text} ({type(exc).__name__}; --debug shows the traceback)", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
