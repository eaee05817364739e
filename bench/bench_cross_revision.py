"""Results across schema revisions: every real pair's outputs parsed by the other revision's models.

Run: ``.venv/bin/python bench/bench_cross_revision.py [--history DIR] [--jobs N]``. Generates the
models of the January 2026 documents (``../shared/fal-openapi-history/2026-01-28``, 630) into
``.codegen-cache/`` (incremental: a second run only loads them), synthesises an output from each
revision's output schema with the local server's synthesiser, parses it with the other
revision's ``Output`` model (the June ones are the checkout's ``generated/``), and prints: the
parses per direction, every one that failed with the reason and the diff's matching changes, and
whether any failed where the diff promised readers nothing breaks (exit status 1 if so).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _history import history_parser, missing_history  # noqa: E402

from tests.catalog.cross_revision import CACHE, PairReport, generate_models, run_pairs  # noqa: E402

_DIRECTIONS = {
    "old->old": "January outputs, January models (baseline)",
    "new->new": "June outputs, June models (baseline)",
    "new->old": "June outputs, January models (not regenerated yet)",
    "old->new": "January outputs, June models (stored results, regenerated)",
}


def _print_failure(report: PairReport, direction: str) -> None:
    outcome = report.outcomes[direction]
    promised = report.expected_ok(direction)
    print(f"  {report.endpoint_id}  [{direction}]{'  BROKEN PROMISE' if promised else ''}")
    for error in outcome.errors[:4]:
        print(f"      parse: {error}")
    if len(outcome.errors) > 4:
        print(f"      parse: ... and {len(outcome.errors) - 4} more")
    forward = direction == "new->old"
    reasons = report.breaking_forward if forward else report.breaking_backward
    label = "diff old->new" if forward else "diff new->old"
    # the changes at the fields that failed first
    failed = {error.split(":", 1)[0] for error in outcome.errors}
    reasons = sorted(reasons, key=lambda m: not any(f"`{loc}`" in m for loc in failed))
    for message in reasons[:3]:
        print(f"      {label}: {message}")
    if len(reasons) > 3:
        print(f"      {label}: ... and {len(reasons) - 3} more breaking for readers")


def main() -> int:
    parser = history_parser(__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if missing_history(args.history):
        return 0
    started = time.perf_counter()
    package = generate_models(args.history, CACHE / args.history.name, jobs=args.jobs)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    reports = list(run_pairs(args.history, args.schemas, package, None))
    checked = time.perf_counter() - started

    usable = [r for r in reports if r.problem is None]
    print(f"cross-revision parsing over {len(reports)} real pairs ({args.history.name} <-> June)")
    print(f"  models generated/loaded in {generated:.1f} s; 4 parses per pair in {checked:.1f} s")
    for report in reports:
        if report.problem:
            print(f"  not checked: {report.file}: {report.problem}")
    print()
    print(
        f"  {'direction':<10}{'parsed':>8}{'failed':>8}  {'reader-compatible pairs':>24}  meaning"
    )
    for direction, meaning in _DIRECTIONS.items():
        parsed = sum(1 for r in usable if r.outcomes[direction].ok)
        compatible = [r for r in usable if r.expected_ok(direction)]
        held = sum(1 for r in compatible if r.outcomes[direction].ok)
        print(
            f"  {direction:<10}{parsed:>8}{len(usable) - parsed:>8}  "
            f"{f'{held}/{len(compatible)} parse':>24}  {meaning}"
        )
    kinds = Counter(d for r in usable for d in ("new->old", "old->new") if not r.expected_ok(d))
    print(
        f"  pairs the diff calls breaking for readers: {kinds['new->old']} (new->old), "
        f"{kinds['old->new']} (old->new)"
    )
    print()
    failures = [(r, d) for r in usable for d, o in r.outcomes.items() if not o.ok]
    print(f"  parses that failed: {len(failures)}")
    for report, direction in failures:
        _print_failure(report, direction)
    broken = [r for r in usable if r.broken_promises]
    print()
    print(f"  failed where the diff promised readers nothing breaks: {len(broken)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
