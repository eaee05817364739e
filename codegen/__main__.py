"""``python -m codegen``: generate the fal_endpoints package, or check that it is up to date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .pipeline import check, generate
from .write import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument(
        "--schemas", type=Path, default=REPO_ROOT / "schemas", help="the OpenAPI documents"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "generated", help="holds fal_endpoints/"
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=None, help="worker processes (default: CPUs)"
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild every document, ignoring the manifest"
    )
    parser.add_argument(
        "--check", action="store_true", help="regenerate into a temp dir; exit 1 if --out differs"
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print errors and the summary only"
    )
    args = parser.parse_args(argv)

    if args.check:
        problems = check(args.schemas, args.out, jobs=args.jobs)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{args.out} is {'stale: run `make generate`' if problems else 'up to date'}")
        return 1 if problems else 0

    report = generate(args.schemas, args.out, jobs=args.jobs, force=args.force)
    for diagnostic in report.diagnostics:
        if diagnostic.level == "error" or not args.quiet:
            print(diagnostic, file=sys.stderr)
    print(report.summary())
    # One broken document never fails the run; every document failing means the generator is broken.
    return 1 if report.documents and not report.modules else 0


if __name__ == "__main__":
    sys.exit(main())
