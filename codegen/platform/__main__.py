"""``python -m codegen.platform``: generate fal_typed.platform._generated, or check it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..diagnostics import DocumentError
from .pipeline import DEFAULT_DOCUMENT, DEFAULT_PACKAGE, check, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.platform", description=__doc__)
    parser.add_argument(
        "--document", type=Path, default=DEFAULT_DOCUMENT, help="the Platform OpenAPI document"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_PACKAGE, help="the package directory to write"
    )
    parser.add_argument(
        "--check", action="store_true", help="regenerate into a temp dir; exit 1 if --out differs"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.document, args.out)
            for problem in problems:
                print(problem, file=sys.stderr)
            print(
                f"{args.out} is {'stale: run `python -m codegen.platform`' if problems else 'up to date'}"
            )
            return 1 if problems else 0
        report = generate(args.document, args.out)
    except DocumentError as exc:
        print(f"error: {args.document}: {exc}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"warning: {args.document.name}: {warning}", file=sys.stderr)
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
