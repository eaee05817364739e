"""The API diff over the real schema history: counts per change kind and impact, and its speed.

Run: ``.venv/bin/python bench/bench_diff.py [--history DIR] [--schemas DIR] [--repeat N]``.
Pairs every January 2026 document of ``../shared/fal-openapi-history/2026-01-28`` (630) with its
June 2026 revision in ``schemas/``, diffs each pair, and prints: how many changes of each kind
and impact (and on how many endpoints), how many endpoints each impact and version bump covers,
and the time to diff the whole history (best of ``--repeat`` runs; reading and parsing the
files is timed apart).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from _history import history_parser, missing_history

from fal_typed.catalog import EndpointDiff, Impact, diff_documents


def _pairs(history: Path, schemas: Path) -> list[tuple[str, Any, Any]]:
    pairs: list[tuple[str, Any, Any]] = []
    for path in sorted(history.glob("*.json")):
        current = schemas / path.name
        if current.is_file():
            pairs.append(
                (path.name, json.loads(path.read_bytes()), json.loads(current.read_bytes()))
            )
    return pairs


def _diff_all(pairs: list[tuple[str, Any, Any]]) -> list[EndpointDiff]:
    return [diff_documents(old, new) for _, old, new in pairs]


def main() -> int:
    parser = history_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if missing_history(args.history):
        return 0
    started = time.perf_counter()
    pairs = _pairs(args.history, args.schemas)
    read_seconds = time.perf_counter() - started
    timings: list[float] = []
    diffs: list[EndpointDiff] = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        diffs = _diff_all(pairs)
        timings.append(time.perf_counter() - started)

    changes: Counter[tuple[str, str, str]] = Counter()
    endpoints: defaultdict[tuple[str, str, str], set[str]] = defaultdict(set)
    for diff in diffs:
        for change in diff.changes:
            key = (change.side, change.kind.value, change.impact.value)
            changes[key] += 1
            endpoints[key].add(diff.endpoint_id)

    print(f"API diff over {len(pairs)} real pairs ({args.history.name} -> {args.schemas.name}/)")
    print(
        f"  read + parse {read_seconds:.2f} s; diff all pairs: best {min(timings):.2f} s "
        f"of {len(timings)} ({1000 * min(timings) / max(1, len(pairs)):.2f} ms per pair)"
    )
    print()
    print(f"  {'side':<9}{'change kind':<22}{'impact':<18}{'changes':>8}{'endpoints':>11}")
    for key in sorted(changes, key=lambda k: (k[0], k[1], k[2])):
        side, kind, impact = key
        print(f"  {side:<9}{kind:<22}{impact:<18}{changes[key]:>8}{len(endpoints[key]):>11}")
    print(f"  {'total':<49}{sum(changes.values()):>8}")
    print()
    by_impact = Counter(d.impact.value if d.impact else "none" for d in diffs)
    print("  endpoints by their most severe change:")
    for impact in [*(i.value for i in Impact), "none"]:
        label = "text only (no API change)" if impact == "none" else impact
        print(f"    {label:<28}{by_impact.get(impact, 0):>5}")
    bumps = Counter(d.bump or "none" for d in diffs)
    print("  version bumps (major: breaking; minor: additions, defaults; patch: docs only):")
    for bump in ("major", "minor", "patch", "none"):
        print(f"    {bump:<28}{bumps.get(bump, 0):>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
