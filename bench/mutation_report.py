"""Kill rate per module of the last ``make mutation`` run (build/mutation/<module>/).

A mutant counts as killed when a test failed, timed out or crashed on it; "no tests" mutants
(code that none of the module's tests reach) count against the rate, like survivors, since a
promise no test reaches is not held. ``--survivors`` also lists every mutant not killed, as
mutmut names them (``mutmut show NAME`` in the module's folder prints its diff).

Run: ``.venv/bin/python bench/mutation_report.py [--survivors]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
TARGET = 95.0


def stats(folder: Path) -> dict[str, int] | None:
    path = folder / "mutants" / "mutmut-cicd-stats.json"
    if not path.exists():
        return None
    data: dict[str, int] = json.loads(path.read_text("utf-8"))
    return data


def not_killed(folder: Path) -> list[str]:
    """Every mutant of the module that no test killed (survived, no tests, suspicious)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run(
        [str(mutmut), "results"], cwd=folder, capture_output=True, text=True, check=False
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    args = parser.parse_args(argv)
    folders = sorted(p for p in WORK.glob("*") if p.is_dir()) if WORK.exists() else []
    rows = [(f.name.replace("__", "/"), f, stats(f)) for f in folders]
    if not rows:
        print("no mutation run found: run `make mutation` first")
        return 1
    header = f"{'module':<22}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}{'rate':>8}"
    print(header)
    print("-" * len(header))
    below = 0
    for name, folder, data in rows:
        if data is None:
            print(f"{name:<22}{'(no result: see ' + str(folder / 'mutmut.log') + ')'}")
            below += 1
            continue
        total = data["total"] - data.get("skipped", 0)
        killed = data["killed"] + data.get("timeout", 0) + data.get("segfault", 0)
        rate = 100.0 * killed / total if total else 100.0
        below += rate < TARGET
        print(
            f"{name:<22}{total:>8}{killed:>8}{data['survived']:>9}{data['no_tests']:>9}"
            f"{rate:>7.1f}%"
        )
        if args.survivors:
            for line in not_killed(folder):
                print(f"    {line}")
    print(f"\ntarget {TARGET:g}% per module; {below} module(s) below it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
