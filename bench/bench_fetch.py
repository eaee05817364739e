"""``fal-typed fetch`` speed against the local server: the paged catalog and per-id documents.

Prints figures (no assertions). The local server serves schemas/ (read only) in a separate
process, so client and server do not share a GIL; documents are written into a temp directory
(tmpfs when there is one, so disk writeback does not blur the figures; every write is still
fsynced). Measured, in process (``fetch_catalog`` / ``fetch_endpoints``):

* the whole catalog into an empty directory (pages of 100 documents, writing overlapped with
  the next page's request), then again when nothing changed (read and compare only);
* every id one document at a time, at concurrency 1, 8 and 32;
* the ``fal-typed fetch --all`` command end to end (a subprocess, with its start-up).

The client's CPU time per document is printed beside the wall-clock rate: on a small machine the
server (a separate process) is the bottleneck, so concurrency cannot raise the rate there.

Run: ``.venv/bin/python bench/bench_fetch.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fal_typed._hosts import Hosts
from fal_typed.catalog._fetch import FetchReport, FetchSettings, fetch_catalog, fetch_endpoints

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"


@contextmanager
def local_server() -> Iterator[str]:
    """``python -m fal_typed.testing`` on a free port; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fal_typed.testing", "--port", "0", "--schemas", str(SCHEMAS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if match is None:
            raise RuntimeError(f"the local server did not start: {line!r}")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def scratch() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


def timed(label: str, job: object, count: int) -> FetchReport:
    start, cpu = time.perf_counter(), time.process_time()
    report = asyncio.run(job)  # type: ignore[arg-type]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert report.ok, report.failed
    print(
        f"  {label:<44} {elapsed:6.2f} s  {count / elapsed:5.0f} documents/s"
        f"  client CPU {1000 * cpu / count:5.2f} ms/document"
    )
    return report


def main() -> None:
    ids = [p.stem.replace("__", "/") for p in sorted(SCHEMAS.glob("*.json"))]
    print(
        f"fetch: {len(ids)} documents, {sum(p.stat().st_size for p in SCHEMAS.glob('*.json')) / 1e6:.1f} MB"
    )
    with local_server() as base:
        hosts = Hosts.local(base)
        with tempfile.TemporaryDirectory(dir=scratch()) as tmp:
            target = Path(tmp) / "catalog"
            report = timed(
                "catalog, empty directory", fetch_catalog(target, api_url=hosts.api_url), len(ids)
            )
            assert len(report.added) == len(ids)
            timed(
                "catalog, nothing changed", fetch_catalog(target, api_url=hosts.api_url), len(ids)
            )
            for concurrency in (1, 8, 32):
                directory = Path(tmp) / f"ids-{concurrency}"
                job = fetch_endpoints(
                    ids,
                    directory,
                    openapi_url=hosts.openapi_url,
                    settings=FetchSettings(concurrency=concurrency),
                )
                timed(f"per id, concurrency {concurrency}, empty directory", job, len(ids))
            command = Path(tmp) / "command"
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "fal_typed.cli",
                    "fetch",
                    "--all",
                    "--schemas",
                    str(command),
                    "--base-url",
                    base,
                ],
                check=True,
                capture_output=True,
            )
            elapsed = time.perf_counter() - start
            print(f"  {'fal-typed fetch --all (subprocess)':<44} {elapsed:6.2f} s")


if __name__ == "__main__":
    main()
