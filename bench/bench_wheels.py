"""Time building every per-endpoint wheel, and check that a rebuild is byte-identical.

Run: ``.venv/bin/python bench/bench_wheels.py [--jobs N] [--generated DIR]``. Builds the runtime wheel, one wheel
per generated endpoint and the umbrella into two scratch directories, prints the figures, and
exits non-zero if the two builds differ in any byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wheels import BuildReport, Layout, build_wheels  # noqa: E402


def _runtime_fingerprint() -> str:
    """A hash of the runtime sources, to tell a live edit from a non-reproducible build."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "fal_typed").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _build(out_dir: Path, jobs: int, generated: Path | None) -> tuple[BuildReport, float]:
    started = time.perf_counter()
    report = build_wheels(Layout(root=ROOT, out_dir=out_dir, generated=generated), jobs=jobs)
    return report, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--generated",
        type=Path,
        default=None,
        help="generated fal_endpoints/ (default: the checkout's)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        first_dir, second_dir = Path(scratch, "first"), Path(scratch, "second")
        before = _runtime_fingerprint()
        first, first_seconds = _build(first_dir, args.jobs, args.generated)
        second, second_seconds = _build(second_dir, args.jobs, args.generated)
        runtime_edited = _runtime_fingerprint() != before
        count = len(first.endpoints)
        sizes = [w.path.stat().st_size for w in first.endpoints]
        names = sorted(p.name for p in first_dir.iterdir())
        same_set = names == sorted(p.name for p in second_dir.iterdir())
        same_set = same_set and len(second.endpoints) == count
        if runtime_edited:  # src/fal_typed was edited between the builds: not a builder defect
            names.remove(first.runtime.path.name)
        differing = [
            n for n in names if (first_dir / n).read_bytes() != (second_dir / n).read_bytes()
        ]
    print(f"endpoint wheels built:      {count} ({len(first.skipped)} documents skipped)")
    print(f"workers:                    {args.jobs} on {os.cpu_count()} CPU(s)")
    print(f"full build, first run:      {first_seconds:.2f} s (runtime + endpoints + umbrella)")
    print(f"full build, second run:     {second_seconds:.2f} s")
    if count:
        print(f"per endpoint wheel:         {first_seconds / count * 1000:.1f} ms")
        print(
            f"endpoint wheel sizes:       {sum(sizes) / 1e6:.1f} MB total, {max(sizes) / 1e3:.1f} kB largest"
        )
    verdict = "yes" if same_set and not differing else "NO"
    print(f"byte-identical rebuild:     {verdict} ({len(names)} wheels compared)")
    if runtime_edited:
        print("  src/fal_typed changed between the two builds, so its wheel was not compared")
    for document, reason in first.skipped[:10]:
        print(f"  skipped {document}: {reason}")
    if verdict != "yes":
        print(f"differing wheels: {differing[:10]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
