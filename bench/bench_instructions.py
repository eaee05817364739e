"""Instructions per call of ``submit``, ``result`` and ``run``, typed against raw httpx, counted
by valgrind's callgrind: figures the machine's load cannot move.

CPU time per call on a shared machine swings by 10% between runs, and ``bench_queue.py``'s
bytecode counts leave out C (pydantic-core, ``json``, httpx's C helpers). Callgrind counts every
instruction the client process runs, exactly. Each flavour runs in its own process under
callgrind (``--trace-children=no``), against a local fal server in another process (not
counted): once with 5 calls and once with ``5 + --calls``, after 10 warm-up calls each; the
difference over ``--calls`` is the per-call count, start-up and warm-up cancelled out. Each call
includes collecting its own garbage, as in ``bench_queue.py``.

The same requests as ``bench_queue.py`` parts 5 and 6: raw httpx posts flux/dev's body and reads
``json()`` (submit: the request id; run: the output), or gets a completed request's result; the
typed rows are ``flux_dev.submit`` / ``flux_dev.result`` / ``flux_dev.run``.

``--cold`` adds callgrind's cache simulation with the caches flushed before every call (a
12 MiB write, its own cost measured by a call that does nothing and taken off): each call
starts cold, as it does after a wait on the network on a busy machine. It prints the simulated
cache misses (first level, and last level of 8 MiB: what goes to memory) and callgrind's cycle
estimate (instructions + 10 per first-level miss and mispredicted branch + 100 per last-level
miss). Where instructions are within a few percent of raw httpx but CPU time is not, the
difference is here: the code and data a call touches that raw httpx's does not.

Run: ``.venv/bin/python bench/bench_instructions.py`` (``--calls 50``, ``--cold``,
``--only submit``). Prints figures, never asserts; without valgrind it says so and stops.
Slow: each process runs some 50 times slower under callgrind (about 3 minutes; ``--cold``, 10).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CALLS = ("submit", "result", "run")
_EVENTS_COLD = ("--cache-sim=yes", "--branch-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64")
_LL = "--LL=8388608,16,64"
_FLUSH_BYTES = 12 << 20


def _child(base_url: str, flavour: str, calls: int, cold: bool) -> None:
    """Under callgrind: 10 warm-up calls of ``flavour``, then ``calls`` counted ones."""
    import httpx
    from bench_queue import BODY, ENDPOINT, KEY, client_for
    from fal_endpoints import flux_dev

    client = client_for(base_url)
    http = httpx.Client(timeout=120)
    headers = {"Authorization": f"Key {KEY}"}
    queue_url = f"{base_url}/queue"
    done = flux_dev.submit(prompt="a cat", seed=6252023, num_images=1, client=client)
    done.wait()
    result_url = f"{queue_url}/fal-ai/flux/requests/{done.request_id}"

    def raw_submit() -> str:
        answer = http.post(f"{queue_url}/{ENDPOINT}", json=BODY, headers=headers)
        answer.raise_for_status()
        return str(answer.json()["request_id"])

    def raw_run() -> Any:
        answer = http.post(f"{base_url}/run/{ENDPOINT}", json=BODY, headers=headers)
        answer.raise_for_status()
        return answer.json()

    def raw_result() -> Any:
        answer = http.get(result_url, headers=headers)
        answer.raise_for_status()
        return answer.json()

    flavours: dict[str, Callable[[], Any]] = {
        "nothing": lambda: None,
        "raw submit": raw_submit,
        "raw run": raw_run,
        "raw result": raw_result,
        "typed submit": lambda: flux_dev.submit(
            prompt="a cat", seed=6252023, num_images=1, client=client
        ),
        "typed run": lambda: flux_dev.run(
            prompt="a cat", seed=6252023, num_images=1, client=client
        ),
        "typed result": lambda: flux_dev.result(done.request_id, client=client),
    }
    call = flavours[flavour]
    flush_area = bytearray(_FLUSH_BYTES)

    def flush(fill: list[int] = [0]) -> None:  # noqa: B006  (a counter kept between calls)
        fill[0] = (fill[0] + 1) & 0xFF
        flush_area[:] = bytes([fill[0]]) * _FLUSH_BYTES

    for _ in range(10):
        call()
    gc.collect()
    gc.disable()
    for _ in range(calls):
        if cold:
            flush()
        call()
        gc.collect(0)
    client.close()
    http.close()


def _counted(base_url: str, flavour: str, calls: int, cold: bool, out: Path) -> dict[str, int]:
    """The event totals of one child process under callgrind."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=no",
        f"--callgrind-out-file={out}",
        *((*_EVENTS_COLD, _LL) if cold else ()),
        sys.executable,
        __file__,
        "--child",
        base_url,
        flavour,
        str(calls),
        *(("--cold",) if cold else ()),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, check=True, capture_output=True, env=env)
    events: list[str] = []
    totals: list[int] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            totals = [int(x) for x in line.split()[1:]]
    out.unlink()
    return dict(zip(events, totals, strict=False))


def _per_call(base_url: str, flavour: str, calls: int, cold: bool, tmp: Path) -> dict[str, float]:
    few = _counted(base_url, flavour, 5, cold, tmp / "few.out")
    many = _counted(base_url, flavour, 5 + calls, cold, tmp / "many.out")
    return {event: (many[event] - few.get(event, 0)) / calls for event in many}


def _cold_figures(events: dict[str, float]) -> tuple[float, float, float]:
    first = events["I1mr"] + events["D1mr"] + events["D1mw"]
    last = events["ILmr"] + events["DLmr"] + events["DLmw"]
    mispredicted = events["Bcm"] + events["Bim"]
    estimate = events["Ir"] + 10 * (first + mispredicted) + 100 * last
    return first, last, estimate


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="counted calls (default 100)")
    parser.add_argument("--cold", action="store_true", help="cache simulation, caches flushed")
    parser.add_argument("--only", choices=CALLS, help="one call only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        base_url, flavour, calls = args.child
        _child(base_url, flavour, int(calls), args.cold)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): no instruction counts")
        return
    from bench_queue import server_process

    names = [args.only] if args.only else list(CALLS)
    print(
        f"instructions per call (callgrind: {5 + args.calls} calls less 5, over {args.calls}, after 10 warm-up calls;"
        " server in its own process, not counted)"
        + (
            ", caches flushed before each call (simulated: L1 32 KiB, LL 8 MiB)"
            if args.cold
            else ""
        )
    )
    with server_process(0.0) as server, tempfile.TemporaryDirectory() as tmp:
        nothing = _per_call(server.base_url, "nothing", args.calls, args.cold, Path(tmp))
        for name in names:
            rows: dict[str, dict[str, float]] = {}
            for flavour in (f"raw {name}", f"typed {name}"):
                counted = _per_call(server.base_url, flavour, args.calls, args.cold, Path(tmp))
                rows[flavour] = {e: v - nothing.get(e, 0.0) for e, v in counted.items()}
            raw = rows[f"raw {name}"]
            for flavour, events in rows.items():
                line = (
                    f"   {flavour:<14} {events['Ir']:>11,.0f} instructions"
                    f" ({events['Ir'] / raw['Ir']:.3f}x raw httpx)"
                )
                if args.cold:
                    first, last, estimate = _cold_figures(events)
                    line += (
                        f"  L1 misses {first:>8,.0f}  LL misses {last:>7,.0f}"
                        f"  cycle estimate {estimate:>11,.0f}"
                        f" ({estimate / _cold_figures(raw)[2]:.3f}x)"
                    )
                print(line, flush=True)


if __name__ == "__main__":
    main()
