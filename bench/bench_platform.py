"""Platform API figures: import cost of the generated client and per-call overhead.

Prints figures (no assertions), measured in one run:

1. Import time of ``fal_typed.platform`` (222 generated models, built on first use) in a fresh
   interpreter, after ``fal_typed`` itself; median of several runs.
2. Per-call cost of ``Platform.get_pricing`` (argument validation, URL building, the client's
   retrying request, parsing into the typed answer) and of one history page with payloads
   (``list_requests_by_endpoint``, 20 items) against the same requests made with raw httpx
   (``json()`` only), on a local server running in its own process: wall time (dominated by
   loopback and the server) and this process's CPU time, which is the client's own cost.
   Calls are interleaved in blocks to cancel drift. Target: within 1.2x of raw httpx (on a
   loaded two-core machine the wall time is mostly the loopback's and the server's).

Run: ``.venv/bin/python bench/bench_platform.py`` (``--quick`` for fewer calls).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from fal_typed import Client
from fal_typed.platform import Platform

KEY = "bench-key-id:bench-key-secret"
FLUX = "fal-ai/flux/dev"

_SERVER_SCRIPT = """
import sys
from fal_endpoints import flux_dev
from fal_typed.testing import LocalFal

fal = LocalFal().start()
fal.platform.set_price("fal-ai/flux/dev", 0.025)
client = fal.client()
for n in range(20):
    flux_dev.endpoint.submit({"prompt": f"cat {n}"}, client=client).wait()
print(fal.base_url, flush=True)
sys.stdin.read()
fal.stop()
"""

_IMPORT = (
    "import time, fal_typed; t = time.perf_counter(); import fal_typed.platform; "
    "print(time.perf_counter() - t)"
)


def import_time(runs: int) -> float:
    samples = [
        float(
            subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)


def per_call(
    calls: dict[str, Callable[[], object]], rounds: int, block: int = 10
) -> dict[str, tuple[float, float]]:
    """Median wall seconds and mean CPU seconds per call of each function, in blocks of
    ``block`` calls interleaved round by round (each client keeps its connection busy for a
    block: alternating single calls between two connections made the loopback timing depend
    on the order of the calls, not on the client)."""
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, float] = dict.fromkeys(calls, 0.0)
    for _ in range(max(1, rounds // block)):
        for name, call in calls.items():
            for _ in range(block):
                started, used = time.perf_counter(), time.process_time()
                call()
                wall[name].append(time.perf_counter() - started)
                cpu[name] += time.process_time() - used
    return {name: (statistics.median(wall[name]), cpu[name] / len(wall[name])) for name in calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    args = parser.parse_args()
    rounds = 50 if args.quick else 300

    print(
        f"import fal_typed.platform: {import_time(3 if args.quick else 7) * 1000:.0f} ms (median)"
    )

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        api = f"{base}/api"
        headers = {"Authorization": f"Key {KEY}"}
        with Client(KEY, api_url=api) as client, httpx.Client(headers=headers) as raw:
            platform = Platform(client)
            history = {"endpoint_id": FLUX, "expand": "payloads", "limit": "20"}
            calls: dict[str, Callable[[], object]] = {
                "pricing, fal_typed": lambda: platform.get_pricing(endpoint_id=FLUX),
                "pricing, raw httpx": lambda: raw.get(
                    f"{api}/v1/models/pricing", params={"endpoint_id": FLUX}
                ).json(),
                "history page, fal_typed": lambda: platform.list_requests_by_endpoint(
                    endpoint_id=FLUX, expand=["payloads"], limit=20
                ),
                "history page, raw httpx": lambda: raw.get(
                    f"{api}/v1/models/requests/by-endpoint", params=history
                ).json(),
            }
            for call in calls.values():  # warm up: connections, first model builds
                call()
            medians = per_call(calls, rounds)
        print(f"{rounds} calls each, server in its own process")
        for name, (wall, cpu) in medians.items():
            print(
                f"  {name:26s} wall {wall * 1000:7.2f} ms (median)   client CPU {cpu * 1000:6.2f} ms"
            )
        for what in ("pricing", "history page"):
            ratio = medians[f"{what}, fal_typed"][1] / medians[f"{what}, raw httpx"][1]
            print(f"  {what}: client CPU, fal_typed / raw httpx = {ratio:.2f}x")
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
