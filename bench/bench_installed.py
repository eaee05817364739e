"""How long listing and searching the installed endpoints takes, against the ways it replaces.

Run: ``.venv/bin/python bench/bench_installed.py [--repeat N]``. Prints, for the ~1,000 endpoints
of the corpus:

* the checkout (the generated package's ``_index``), cold (a new process) and warm;
* a wheels-only layout (one ``endpoint.json`` + ``openapi.json`` per package, as the wheels
  install them), built in a temporary folder;
* ``fal_typed.search("flux dev")`` over both;
* what the index replaces: reading every document of ``schemas/`` (the old ``fal-typed list``)
  and importing endpoint modules (a sample, extrapolated);
* ``fal-typed list flux dev`` end to end (a new process: interpreter, imports, listing).

Figures depend on the machine's load; the ratios matter more than the milliseconds.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from fal_typed._installed import (  # noqa: E402
    _scan_portion,  # pyright: ignore[reportPrivateUsage]
    compact_document,
    index_record,
    installed_endpoints,
    namespace_portions,
    rank,
    search,
)
from fal_typed.catalog._corpus import iter_document_paths, read_info  # noqa: E402
from fal_typed.naming import module_name  # noqa: E402


def _best(function: Callable[[], object], repeat: int) -> float:
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def _wheels_layout(folder: Path) -> Path:
    """``fal_endpoints/<module>/`` for every document, as the endpoint wheels install them."""
    portion = folder / "fal_endpoints"
    for path in iter_document_paths(ROOT / "schemas"):
        info = read_info(path)
        package = portion / module_name(info.endpoint_id)
        package.mkdir(parents=True, exist_ok=True)
        (package / "endpoint.json").write_bytes(
            index_record(info.endpoint_id, info.category, info.about)
        )
        (package / "openapi.json").write_bytes(compact_document(path.read_bytes()))
        (package / "__init__.py").write_text("")
    return portion


def _cold_listing() -> float:
    code = (  # the runtime imported first: only the listing is timed, in a fresh process
        "import time; from fal_typed._installed import installed_endpoints as e; "
        "t = time.perf_counter(); n = len(e()); print((time.perf_counter() - t) * 1000)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(done.stdout)


def _cli(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "fal_typed.cli", *args], capture_output=True, check=True, cwd="/"
    )
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=40, help="modules imported for the estimate")
    args = parser.parse_args()
    repeat = args.repeat

    count = len(installed_endpoints())
    print(f"{count} installed endpoints; fal_endpoints portions: {len(namespace_portions())}")
    cold = statistics.median(_cold_listing() for _ in range(3))
    warm = _best(installed_endpoints, repeat)
    print(
        f"checkout (_index)    list all: first in a process {cold:6.1f} ms   again {warm:6.1f} ms"
    )
    searched = _best(lambda: search("flux dev"), repeat)
    print(f"checkout             search('flux dev'): {searched:6.1f} ms")

    with tempfile.TemporaryDirectory(prefix="bench-installed-") as scratch:
        portion = _wheels_layout(Path(scratch))
        wheels = _best(lambda: list(_scan_portion(portion)), repeat)
        infos = [e.info for e in _scan_portion(portion)]
        ranked = _best(lambda: rank(infos, "flux dev"), repeat)
        print(
            f"wheels layout        list all ({len(infos)} endpoint.json): {wheels:6.1f} ms   "
            f"search over it: {ranked:5.1f} ms"
        )

    documents = _best(
        lambda: [read_info(p) for p in iter_document_paths(ROOT / "schemas")], max(1, repeat // 2)
    )
    print(
        f"replaced: reading every document of schemas/: {documents:7.1f} ms "
        f"({documents / max(warm, 1e-6):.0f}x the warm listing)"
    )
    sample = [info.module for info in installed_endpoints()][: args.sample]
    started = time.perf_counter()
    for module in sample:
        importlib.import_module(f"fal_endpoints.{module}")
    per_module = (time.perf_counter() - started) * 1000 / len(sample)
    print(
        f"replaced: importing endpoint modules: {per_module:5.1f} ms each, "
        f"~{per_module * count / 1000:.1f} s for all ({per_module * count / max(warm, 1e-6):.0f}x)"
    )
    print(f"fal-typed list flux dev, a new process from /: {_cli('list', 'flux', 'dev'):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
