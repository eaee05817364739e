"""``python -m wheels [--out DIR] [--jobs N] [--umbrella] [ENDPOINT_ID ...]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._build import Layout, WheelBuildError, build_wheels
from ._revisions import UncommittedSchemaError

_ROOT = Path(__file__).resolve().parent.parent


def _workers(text: str) -> int:
    """``--jobs``: a count of worker processes, at least one (0 or -3 were taken as one)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {count}")
    return count


def _os_problem(exc: OSError, out_dir: Path) -> str:
    """What failed, for a message without a traceback: writing the wheels when the file is in
    ``out_dir`` (or names none), reading the checkout's own files otherwise."""
    reason = exc.strerror or str(exc)
    if not exc.filename:
        return f"cannot write the wheels ({reason})"
    path = Path(str(exc.filename))
    if path == out_dir or out_dir in path.parents:
        return f"cannot write the wheels ({reason}: {path})"
    return f"cannot read {path} ({reason}); is --root a fal-typed checkout?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wheels",
        description="Build the fal-typed runtime wheel, per-endpoint wheels and the fal-endpoints umbrella.",
    )
    parser.add_argument(
        "endpoints",
        nargs="*",
        metavar="ENDPOINT_ID",
        help="build only these endpoints (default: all)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=_ROOT / "dist" / "wheels",
        help="output directory (default: dist/wheels)",
    )
    parser.add_argument(
        "--root", type=Path, default=_ROOT, help="repository root (default: this checkout)"
    )
    parser.add_argument(
        "--generated",
        type=Path,
        default=None,
        help="the generated fal_endpoints/ directory (default: ROOT/generated/fal_endpoints)",
    )
    parser.add_argument(
        "--jobs", type=_workers, default=None, help="worker processes (default: one per CPU)"
    )
    parser.add_argument(
        "--umbrella", action="store_true", help="also build the umbrella for a selection"
    )
    args = parser.parse_args(argv)
    generated = args.generated.resolve() if args.generated is not None else None
    layout = Layout(root=args.root.resolve(), out_dir=args.out.resolve(), generated=generated)
    started = time.perf_counter()
    try:
        report = build_wheels(
            layout, args.endpoints or None, jobs=args.jobs, umbrella=args.umbrella or None
        )
    except (WheelBuildError, UncommittedSchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file that cannot be read, or an --out that cannot be written
        print(f"error: {_os_problem(exc, layout.out_dir)}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    for document, reason in report.skipped:
        print(f"skipped {document}: {reason}", file=sys.stderr)
    umbrella = f" and {report.umbrella.path.name}" if report.umbrella else ""
    print(
        f"built {report.runtime.path.name}, {len(report.endpoints)} endpoint wheel(s){umbrella} "
        f"in {layout.out_dir} ({elapsed:.1f}s; {len(report.skipped)} skipped)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
