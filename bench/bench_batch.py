"""Batch runner figures against the local fal server running in its own process.

Prints figures (no assertions), measured in one run:

1. 10,000 rows of ``fal-ai/flux/dev`` at concurrency 256: rows/s of ``fal_typed.batch`` (journal
   in SQLite, synchronous=FULL; no downloads) against a hand-written ``asyncio.gather`` over a
   ``Semaphore(256)`` making the same endpoint calls (``subscribe_async``: submit, status stream,
   result) on the same server in the same run, with no journal. Target: batch >= 0.9x.
   Client CPU per row (user + system time of this process) for both, and the journal's cost per
   row (time its thread spent, and how many rows each committed transaction carried).
2. Peak RSS of a fresh process running a batch of 10,000 and of 100,000 rows read from a JSONL
   file. Target: under 200 MB, and within 10% of each other (memory does not grow with rows).

The server answers with a small constant output and no processing time, so the figures are the
clients' own cost plus loopback. Run: ``.venv/bin/python bench/bench_batch.py`` (``--rows`` and
``--big`` change the sizes, ``--rounds`` the interleaved rounds of part 1; ``--skip-rss`` leaves
part 2 out, ``--skip-throughput`` part 1, ``--skip-big`` the big batch of part 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fal_endpoints import flux_dev  # noqa: E402

from fal_typed import Client  # noqa: E402
from fal_typed import batch as fal_batch  # noqa: E402
from tests.batch.server_process import ServerProcess  # noqa: E402

KEY = "bench-key-id:bench-key-secret"
CONCURRENCY = 256


def _client(base_url: str) -> Client:
    return Client(
        KEY,
        queue_url=f"{base_url}/queue",
        run_url=f"{base_url}/run",
        rest_url=f"{base_url}/rest",
        cdn_url=f"{base_url}/cdn",
        realtime_url="ws" + base_url[4:] + "/run",
        api_url=f"{base_url}/api",
    )


def _rows(count: int, tag: str) -> list[dict[str, Any]]:
    return [{"prompt": f"{tag} {i}", "num_images": 1} for i in range(count)]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _gather(base_url: str, rows: list[dict[str, Any]]) -> None:
    import httpx

    # The pool the batch uses (see fal_typed.batch._job.batch_client), idle connections dropped
    # before the server's 5 s keep-alive ends them under a request.
    limits = httpx.Limits(
        max_connections=CONCURRENCY * 2 + 16,
        max_keepalive_connections=CONCURRENCY + 16,
        keepalive_expiry=2.0,
    )
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        client = _client(base_url)
        client._user_async_http = http  # pyright: ignore[reportPrivateUsage] # same pool as the batch
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(row: dict[str, Any]) -> None:
            async with semaphore:
                await flux_dev.endpoint.subscribe_async(
                    flux_dev.endpoint.arguments(row), client=client
                )

        await asyncio.gather(*(one(row) for row in rows))


def measure_throughput(rows: int, rounds: int) -> None:
    print(f"== {rows} rows, concurrency {CONCURRENCY}, server in its own process")
    with (
        ServerProcess(fixed_output=True, max_requests=20_000) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        results: dict[str, list[tuple[float, float]]] = {"gather": [], "batch": []}
        journal_cost: list[tuple[float, int, int]] = []
        for round_number in range(rounds):  # interleaved, to cancel drift on a shared machine
            data = _rows(rows, f"gather-{round_number}")
            cpu, start = _cpu(), time.perf_counter()
            asyncio.run(_gather(server.base_url, data))
            results["gather"].append((time.perf_counter() - start, _cpu() - cpu))

            data = _rows(rows, f"batch-{round_number}")
            journal = Path(tmp) / f"journal-{round_number}.db"
            cpu, start = _cpu(), time.perf_counter()
            summary = fal_batch.run(
                flux_dev,
                data,
                journal=journal,
                concurrency=CONCURRENCY,
                client=_client(server.base_url),
            ).wait()
            results["batch"].append((time.perf_counter() - start, _cpu() - cpu))
            if summary.counts.get("completed") != rows:
                print(f"  (batch: {summary})")
            journal_cost.append((summary.journal_seconds, summary.commits, rows * 3))
        best = {name: min(runs) for name, runs in results.items()}
        for name, (wall, cpu) in best.items():
            print(
                f"  {name:>7}: {rows / wall:8.0f} rows/s   client CPU {cpu / rows * 1e3:.2f} ms/row"
            )
        ratio = (rows / best["batch"][0]) / (rows / best["gather"][0])
        print(f"  batch / gather throughput: {ratio:.2f}x (target >= 0.9x)")
        seconds, commits, transitions = min(journal_cost)
        print(
            f"  journal: {seconds / rows * 1e3:.3f} ms/row on its thread, "
            f"{commits} commits for {transitions} row changes "
            f"({transitions / max(commits, 1):.1f} per commit, synchronous=FULL)"
        )


_RSS_SCRIPT = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
from fal_endpoints import flux_dev
from fal_typed import batch
from bench.bench_batch import _client
start = time.perf_counter()
summary = batch.run(flux_dev, batch.read(sys.argv[2]), journal=sys.argv[3], concurrency=256,
                    client=_client(sys.argv[1])).wait()
print(json.dumps({"completed": summary.counts.get("completed", 0),
                  "seconds": time.perf_counter() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_rss(sizes: list[int]) -> None:
    print("== peak RSS of a batch process (rows streamed from a JSONL file)")
    peaks: list[float] = []
    with (
        ServerProcess(fixed_output=True, max_requests=20_000) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for size in sizes:
            rows_file = Path(tmp) / f"rows-{size}.jsonl"
            with rows_file.open("w") as out:
                for i in range(size):
                    out.write(json.dumps({"prompt": f"rss {size} {i}", "num_images": 1}) + "\n")
            journal = Path(tmp) / f"rss-{size}.db"
            completed = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _RSS_SCRIPT,
                    server.base_url,
                    str(rows_file),
                    str(journal),
                    str(ROOT),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            figures = json.loads(completed.stdout.strip().splitlines()[-1])
            peaks.append(figures["rss_mb"])
            print(
                f"  {size:>7} rows: peak RSS {figures['rss_mb']:.0f} MB, "
                f"{figures['completed']} completed in {figures['seconds']:.0f}s "
                f"({figures['completed'] / figures['seconds']:.0f} rows/s)"
            )
    if len(peaks) == 2:
        growth = (peaks[1] - peaks[0]) / peaks[0] * 100
        print(
            f"  growth from {sizes[0]} to {sizes[1]} rows: {growth:+.1f}% (target within 10%, both < 200 MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-big", action="store_true", help="part 2 with --rows only")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if not args.skip_throughput:
        measure_throughput(args.rows, args.rounds)
    if not args.skip_rss:
        measure_rss([args.rows] if args.skip_big else [args.rows, args.big])


if __name__ == "__main__":
    main()
