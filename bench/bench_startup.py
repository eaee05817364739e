"""Start-up cost: wall time and peak RSS of whole fresh processes, against fal-client.

Run: ``.venv/bin/python bench/bench_startup.py [--runs 9]`` (needs ``fal-client`` installed in
the same environment: ``.venv/bin/pip install fal-client``). Prints one table, measured in one
run, each figure the median of ``--runs`` fresh processes with bytecode already cached (one
warm-up round first); scenarios are interleaved round by round so machine drift hits them all:

* ``import httpx, pydantic``: the floor (fal_typed's two dependencies, nothing built);
* ``import fal_client``: the untyped client fal-typed is compared with;
* ``from fal_endpoints import flux_dev``: one typed endpoint module (its models load at their
  first use, so this is what a program that imports it pays before it calls anything);
* the same, then ``flux_dev.Input(prompt=...)``: the models built (pydantic included), which
  the first call pays; fal-client has no models, so this row has no counterpart there;
* ``import fal_typed``: the runtime alone;
* ten different endpoint modules imported in one process;
* ``fal-typed --help`` and ``fal-typed list`` (what the console script runs: ``main()`` of
  ``fal_typed.cli``, with those arguments);
* listing every installed endpoint through the public API (``fal_typed.installed_endpoints()``).

Targets (issue 15): one module within 40 ms of ``import httpx, pydantic`` and no slower than
``import fal_client``; its RSS within 4 MiB of fal-client's; the listing and ``--help`` under
0.3 s. Figures depend on the machine's load; compare the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

TEN_MODULES = (
    "flux_dev",
    "flux_pro_kontext_text_to_image",
    "fast_sdxl",
    "recraft_v3",
    "kling_video_v2_1_master_text_to_video",
    "minimax_speech_02_hd",
    "whisper",
    "bria_text_to_image_hd",
    "veo3",
    "bria__video_background_removal",
)


# Peak RSS is read by each process itself at exit (``VmHWM`` of its own memory): the rusage of a
# child counts the memory of the process that spawned it too (the pages it started from).
_REPORT = (
    "import atexit, sys\n"
    "def _report():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('\\nVMHWM=' + line.split()[1] + '\\n')\n"
    "atexit.register(_report)\n"
)


def _python(code: str) -> list[str]:
    return [PYTHON, "-c", _REPORT + code]


def _console(*argv: str) -> list[str]:
    """What the ``fal-typed`` console script runs (``from fal_typed.cli import main; main()``)."""
    return _python(
        f"sys.argv = ['fal-typed', *{list(argv)!r}]\nfrom fal_typed.cli import main\nmain()"
    )


def scenarios() -> dict[str, list[str]]:
    """Name -> command line; every command is one fresh process."""
    ten = "\n".join(f"from fal_endpoints import {m}" for m in TEN_MODULES)
    listing = "import fal_typed\nn = len(fal_typed.installed_endpoints())\nassert n > 1000, n"
    return {
        "import httpx, pydantic": _python("import httpx, pydantic"),
        "import fal_client": _python("import fal_client"),
        "from fal_endpoints import flux_dev": _python("from fal_endpoints import flux_dev"),
        "  + flux_dev.Input(...) built": _python(
            "from fal_endpoints import flux_dev\nflux_dev.Input(prompt='a cat')"
        ),
        "import fal_typed": _python("import fal_typed"),
        "10 endpoint modules": _python(ten),
        "fal-typed --help": _console("--help"),
        "fal-typed list": _console("list"),
        "list all installed endpoints": _python(listing),
    }


# Bytecode is written on the warm-up round and read after (as in any installed package), even
# where the environment says not to write it (``PYTHONDONTWRITEBYTECODE``): compiling fal-typed's
# sources on every run while fal-client's come precompiled from its wheel would not compare.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run of ``command`` in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    if done.returncode != 0 or b"VMHWM=" not in done.stderr:
        raise SystemExit(
            f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]!r}"
        )
    return wall, int(done.stderr.rsplit(b"VMHWM=", 1)[1].split()[0]) / 1024


def _check_setup() -> None:
    if importlib.util.find_spec("fal_client") is None:
        raise SystemExit("fal-client is not installed: .venv/bin/pip install fal-client")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    _check_setup()
    os.chdir(ROOT)  # fal-typed list reads ./schemas when present; the checkout's index otherwise
    table = scenarios()
    for command in table.values():  # warm-up: bytecode compiled and cached, files in page cache
        measure(command)
    walls: dict[str, list[float]] = {name: [] for name in table}
    rsss: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(runs):
        for name, command in table.items():
            wall, rss = measure(command)
            walls[name].append(wall)
            rsss[name].append(rss)
    wall = {name: statistics.median(values) for name, values in walls.items()}
    rss = {name: statistics.median(values) for name, values in rsss.items()}
    floor, client = wall["import httpx, pydantic"], wall["import fal_client"]
    print(f"start-up, medians of {runs} fresh processes (python {sys.version.split()[0]})")
    header = f"{'what':<34} {'wall s':>7} {'/fal-client':>11} {'-floor ms':>9} {'RSS MiB':>8} {'-fal-client':>11}"
    print(header)
    print("-" * len(header))
    for name in table:
        print(
            f"{name:<34} {wall[name]:>7.3f} {wall[name] / client:>10.2f}x "
            f"{(wall[name] - floor) * 1000:>+9.0f} {rss[name]:>8.1f} "
            f"{rss[name] - rss['import fal_client']:>+11.1f}"
        )
    print("floor = `import httpx, pydantic`; RSS deltas against `import fal_client`")


if __name__ == "__main__":
    main()
