"""Kill rate and mutation score per module of the last ``make mutation`` run (build/mutation/).

A mutant counts as killed when a test failed, timed out or crashed on it; "no tests" mutants
(code that none of the module's tests reach) count against the rate, like survivors, since a
promise no test reaches is not held. The *rate* is killed / mutants. The *score* is the usual
mutation score, killed / (mutants - equivalent), where the equivalent mutants are those
``tests/mutation_equivalents.toml`` lists, each with why no test can tell it from the original;
only a mutant that was not killed counts as equivalent there. The target applies to the score,
and every other survivor is "unexplained". ``--survivors`` lists the unexplained mutants and
the registry's stale entries (killed, or no longer produced: the code changed), as mutmut
names them (``mutmut show NAME`` in the module's folder prints its diff).

Run: ``.venv/bin/python bench/mutation_report.py [--survivors]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev environment is 3.11; tomli is tomllib's backport
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
TARGET = 95.0


def equivalents(module: str) -> dict[str, str]:
    """mutant name -> why it is equivalent, for ``module`` (a key of the mutation map)."""
    if not EQUIVALENTS.exists():
        return {}
    groups: dict[str, list[str]] = tomllib.loads(EQUIVALENTS.read_text("utf-8")).get(module, {})
    return {name: why for why, names in groups.items() for name in names}


def stats(folder: Path) -> dict[str, int] | None:
    path = folder / "mutants" / "mutmut-cicd-stats.json"
    if not path.exists():
        return None
    data: dict[str, int] = json.loads(path.read_text("utf-8"))
    return data


def statuses(folder: Path) -> dict[str, str]:
    """mutant name -> mutmut's status (killed, survived, no tests, timeout...), every mutant."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    pairs = (line.strip().rpartition(": ") for line in out.splitlines() if ": " in line)
    return {name: status for name, _, status in pairs}


_KILLED = {"killed", "timeout", "segfault"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    args = parser.parse_args(argv)
    folders = sorted(p for p in WORK.glob("*") if p.is_dir()) if WORK.exists() else []
    rows = [(f.name.replace("__", "/"), f, stats(f)) for f in folders]
    if not rows:
        print("no mutation run found: run `make mutation` first")
        return 1
    header = (
        f"{'module':<22}{'mutants':>8}{'killed':>8}{'survived':>9}{'no tests':>9}"
        f"{'equiv.':>7}{'rate':>8}{'score':>8}"
    )
    print(header)
    print("-" * len(header))
    below = unexplained_total = 0
    for name, folder, data in rows:
        if data is None:
            print(f"{name:<22}{'(no result: see ' + str(folder / 'mutmut.log') + ')'}")
            below += 1
            continue
        total = data["total"] - data.get("skipped", 0)
        killed = data["killed"] + data.get("timeout", 0) + data.get("segfault", 0)
        status = statuses(folder)
        listed = equivalents(name)
        equivalent = [m for m in listed if m in status and status[m] not in _KILLED]
        stale = sorted(m for m in listed if status.get(m, "killed") in _KILLED)
        unexplained = sorted(m for m, st in status.items() if st not in _KILLED and m not in listed)
        unexplained_total += len(unexplained)
        rate = 100.0 * killed / total if total else 100.0
        scored = total - len(equivalent)
        score = 100.0 * killed / scored if scored else 100.0
        below += score < TARGET
        print(
            f"{name:<22}{total:>8}{killed:>8}{data['survived']:>9}{data['no_tests']:>9}"
            f"{len(equivalent):>7}{rate:>7.1f}%{score:>7.1f}%"
        )
        if args.survivors:
            for mutant in unexplained:
                print(f"    {mutant}: {status[mutant]} (unexplained)")
            for mutant in stale:
                print(f"    {mutant}: listed as equivalent, but {status.get(mutant, 'gone')}")
    print(
        f"\ntarget {TARGET:g}% score per module; {below} module(s) below it; "
        f"{unexplained_total} survivor(s) neither killed nor listed as equivalent"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
