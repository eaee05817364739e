"""Generator figures: full-corpus generation (cold and no-op) and the import time of one module.

    python bench/bench_generate.py [--jobs N] [--imports N]

Cold: every document of schemas/ generated into an empty temporary directory. No-op: the same
run again (nothing changed). Import: a fresh interpreter imports the runtime (``fal_typed``),
then one endpoint module is timed; bytecode is cached first (as after a normal install), in a
temporary pycache prefix so the checkout stays clean. Targets (issue 2): cold < 60 s on two
cores, no-op < 3 s, one module < 30 ms on top of the runtime.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen.pipeline import generate  # noqa: E402

_IMPORT_PROBE = """
import time
import fal_typed
started = time.perf_counter()
import fal_endpoints.{module}
print((time.perf_counter() - started) * 1000)
"""


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (workers, ruff): load-independent."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_generation(jobs: int | None) -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        out = Path(tmp)
        started, cpu = time.perf_counter(), cpu_seconds()
        cold = generate(REPO / "schemas", out, jobs=jobs)
        cold_seconds, cold_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        started = time.perf_counter()
        noop = generate(REPO / "schemas", out, jobs=jobs)
        noop_seconds = time.perf_counter() - started
        assert noop.rebuilt == 0 and not noop.written, "the second run was not a no-op"
        return cold_seconds, cold_cpu, noop_seconds, cold.modules


def time_import(module: str, runs: int, env: dict[str, str]) -> float:
    """Median milliseconds to import ``fal_endpoints.<module>`` after ``fal_typed``."""
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        samples.append(float(done.stdout))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")
    parser.add_argument("--imports", type=int, default=40, help="modules in the import-time sample")
    args = parser.parse_args()

    cold, cold_cpu, noop, modules = time_generation(args.jobs)
    print(
        f"cpus: {os.cpu_count()}, jobs: {args.jobs or os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"cold generation: {modules} modules in {cold:.1f} s, {cold_cpu:.1f} CPU-seconds (target < 60 s)"
    )
    print(f"no-op generation: {noop:.2f} s (target < 3 s)")

    package = REPO / "generated" / "fal_endpoints"
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as prefix:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = prefix
        sys.pycache_prefix = prefix
        compileall.compile_dir(package, quiet=1, workers=0)
        compileall.compile_dir(REPO / "src" / "fal_typed", quiet=1, workers=0)
        flux = time_import("flux_dev", 15, env)
        print(
            f"import fal_endpoints.flux_dev after fal_typed: {flux:.1f} ms median of 15 (target < 30 ms)"
        )
        members = (path.parent.name for path in package.glob("*/__init__.py"))
        names = sorted(name for name in members if name != "_index")
        sample = names[:: max(1, len(names) // args.imports)][: args.imports]
        timings = sorted((time_import(name, 3, env), name) for name in sample)
        median = statistics.median(t for t, _ in timings)
        slowest, slowest_name = timings[-1]
        print(
            f"import of {len(sample)} sampled modules: median {median:.1f} ms, "
            f"slowest {slowest:.1f} ms ({slowest_name})"
        )
        big = time_import("heygen_v3_video_agent", 5, env)
        print(
            f"import fal_endpoints.heygen_v3_video_agent (two enums of ~1,300 values): {big:.1f} ms"
        )


if __name__ == "__main__":
    main()
