"""Mutation testing of the modules that hold fal-typed's promises (``make mutation``).

Each module is mutated by mutmut on its own, against only the tests that cover it (the map is
``[tool.fal-typed.mutation]`` in pyproject.toml), so a run stays small on a shared machine. A
module runs in ``build/mutation/<name>/``: links to ``src`` and ``tests``, a ``pyproject.toml``
whose ``[tool.mutmut]`` names that module and its tests, and mutmut's ``mutants/`` copy (with
links to the rest of the checkout, which some tests read). ``bench/mutation_report.py`` prints
the kill rate per module from there.

mutmut bounds a mutant by CPU time only, so a mutant that makes a test wait for ever (asleep,
not spinning) would hold its child for good: while mutmut runs, its children (one per mutant,
titled ``mutmut: <mutant>``) past ``--max-wall`` seconds of wall time or ``--max-cpu`` seconds
of CPU are sent SIGXCPU, mutmut's own limit signal, so it counts them as timeouts (killed).

Run: ``python scripts/mutation.py [MODULE ...]`` (default: every module in the map; names are
the map's keys, e.g. ``naming`` or ``webhooks/_signature``), ``--max-children N`` (default 2),
``--max-wall S`` (default 600), ``--max-cpu S`` (default 300).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev environment is 3.11; tomli is tomllib's backport
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
# Read by tests through paths relative to the checkout: linked beside mutmut's copy.
LINKED = ("generated", "schemas", "docs", "README.md", "mkdocs.yml", "examples", "templates")


def mutation_map() -> dict[str, dict[str, Any]]:
    """module name -> {"module": source path, "tests": [test paths]} from pyproject.toml."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    modules: dict[str, dict[str, Any]] = data["tool"]["fal-typed"]["mutation"]["modules"]
    return modules


def slug(name: str) -> str:
    return name.replace("/", "__")


def prepare(name: str, spec: dict[str, Any]) -> Path:
    """A fresh work folder for one module (a previous run's mutants are thrown away)."""
    tests = [t for t in spec["tests"] if (ROOT / t).exists()]
    if not tests:
        raise SystemExit(f"{name}: none of its tests exist: {spec['tests']}")
    work = WORK / slug(name)
    shutil.rmtree(work, ignore_errors=True)
    (work / "mutants").mkdir(parents=True)
    for entry in ("src", "tests"):
        (work / entry).symlink_to(ROOT / entry)
    for entry in LINKED:
        if (ROOT / entry).exists():
            (work / "mutants" / entry).symlink_to(ROOT / entry)
    selection = ", ".join(f'"{t}"' for t in tests)
    config = (
        (ROOT / "pyproject.toml").read_text("utf-8")
        + "\n[tool.mutmut]\n"
        + 'source_paths = ["src/fal_typed"]\n'
        + f'only_mutate = ["src/fal_typed/{spec["module"]}"]\n'
        + f"pytest_add_cli_args_test_selection = [{selection}]\n"
        + 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n'
        + "use_git_change_detection = false\n"
    )
    (work / "pyproject.toml").write_text(config, "utf-8")
    return work


def overdue(parent: int, *, max_wall: float, max_cpu: float) -> dict[int, str]:
    """mutmut's children of ``parent`` past either limit: pid -> mutant (Linux ``/proc``)."""
    proc = Path("/proc")
    if not (proc / "uptime").exists():
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    uptime = float((proc / "uptime").read_text().split()[0])
    found: dict[int, str] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:  # gone since the listing
            continue
        # After the ")" closing the command name: state, ppid, ... utime (14), stime (15),
        # starttime (22), counted from the state as field 3.
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) != parent or not title.startswith("mutmut: "):
            continue
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        wall = uptime - int(fields[19]) / ticks
        if wall > max_wall or cpu > max_cpu:
            found[int(entry.name)] = title.removeprefix("mutmut: ")
    return found


def run(name: str, spec: dict[str, Any], args: argparse.Namespace) -> int:
    work = prepare(name, spec)
    print(
        f"== {name}: src/fal_typed/{spec['module']} against {' '.join(spec['tests'])}", flush=True
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    mutmut = Path(sys.executable).with_name("mutmut")
    with (work / "mutmut.log").open("w") as log:
        process = subprocess.Popen(
            [str(mutmut), "run", "--max-children", str(args.max_children)],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        limits = {"max_wall": args.max_wall, "max_cpu": args.max_cpu}
        while process.poll() is None:
            for pid, mutant in overdue(process.pid, **limits).items():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGXCPU)
                    print(f"   {mutant}: ended past the limits (a timeout)", flush=True)
            time.sleep(3)
        code = process.returncode
        if code == 0:
            code = subprocess.call(
                [str(mutmut), "export-cicd-stats"], cwd=work, stdout=log, stderr=subprocess.STDOUT
            )
    if code != 0:
        print(f"   mutmut failed ({code}); see {work / 'mutmut.log'}", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("modules", nargs="*", help="names from [tool.fal-typed.mutation.modules]")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--max-wall", type=float, default=600.0, help="seconds per mutant")
    parser.add_argument("--max-cpu", type=float, default=300.0, help="CPU seconds per mutant")
    args = parser.parse_args(argv)
    modules = mutation_map()
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {sorted(modules)}")
    failed = 0
    for name in args.modules or list(modules):
        failed += run(name, modules[name], args) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
