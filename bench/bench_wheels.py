"""Time building every per-endpoint wheel, and check that a rebuild is byte-identical.

Run: ``.venv/bin/python bench/bench_wheels.py [--jobs N]``. Builds the runtime wheel, one wheel
per generated endpoint and the umbrella into two scratch directories, prints the figures, and
exits non-zero if the two builds differ in any byte.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wheels import BuildReport, Layout, build_wheels  # noqa: E402


def _build(out_dir: Path, jobs: int) -> tuple[BuildReport, float]:
    started = time.perf_counter()
    report = build_wheels(Layout(root=ROOT, out_dir=out_dir), jobs=jobs)
    return report, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        first_dir, second_dir = Path(scratch, "first"), Path(scratch, "second")
        first, first_seconds = _build(first_dir, args.jobs)
        second, second_seconds = _build(second_dir, args.jobs)
        count = len(first.endpoints)
        sizes = [w.path.stat().st_size for w in first.endpoints]
        names = sorted(p.name for p in first_dir.iterdir())
        differing = [
            n for n in names if (first_dir / n).read_bytes() != (second_dir / n).read_bytes()
        ]
        same_set = (
            names == sorted(p.name for p in second_dir.iterdir()) and len(second.endpoints) == count
        )
    print(f"endpoint wheels built:      {count} ({len(first.skipped)} documents skipped)")
    print(f"workers:                    {args.jobs} on {os.cpu_count()} CPU(s)")
    print(f"full build, first run:      {first_seconds:.2f} s (runtime + endpoints + umbrella)")
    print(f"full build, second run:     {second_seconds:.2f} s")
    if count:
        print(f"per endpoint wheel:         {first_seconds / count * 1000:.1f} ms")
        print(
            f"endpoint wheel sizes:       {sum(sizes) / 1e6:.1f} MB total, {max(sizes) / 1e3:.1f} kB largest"
        )
    print(
        f"byte-identical rebuild:     {'yes' if same_set and not differing else 'NO'} ({len(names)} wheels compared)"
    )
    for document, reason in first.skipped[:10]:
        print(f"  skipped {document}: {reason}")
    if not same_set or differing:
        print(f"differing wheels: {differing[:10]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
