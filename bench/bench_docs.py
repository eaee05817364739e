"""Documentation site figures: the generated pages and the whole strict build.

    python bench/bench_docs.py [--jobs N] [--no-build]

Pages: every endpoint, category and index page made from schemas/ (load -> normalise -> plan ->
Markdown), serially and over N worker processes. Build: `mkdocs build --strict` of the whole site
into a temporary directory (the guides, the 1,048 endpoint pages, the API reference, the search
index), with its size and page count. Wall time depends on the machine's load; the CPU time of
the build (this process's children) does much less. Target (issue 18): the build under 2 minutes
on two cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen.site.build import endpoint_pages  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--no-build", action="store_true", help="only time the page generation")
    args = parser.parse_args()

    for jobs in sorted({1, args.jobs}):
        started = time.perf_counter()
        site = endpoint_pages(REPO / "schemas", jobs=jobs)
        seconds = time.perf_counter() - started
        size = sum(len(text.encode()) for text in site.pages.values())
        print(
            f"pages, {jobs} process{'es' if jobs > 1 else ''}: {len(site.pages)} pages "
            f"({len(site.endpoints)} endpoints, {len(site.skipped)} skipped) in {seconds:.1f} s, "
            f"{size / 1e6:.1f} MB of Markdown"
        )
    if args.no_build:
        return
    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        out = Path(tmp) / "site"
        cpu = children_cpu()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
            cwd=REPO,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            check=True,
        )
        seconds = time.perf_counter() - started
        cpu = children_cpu() - cpu
        files = [f for f in out.rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in files)
        pages = sum(1 for f in files if f.name == "index.html")
        search = (out / "search" / "search_index.json").stat().st_size
        print(
            f"build (mkdocs --strict): {seconds:.1f} s wall, {cpu:.1f} s CPU; {pages} pages, "
            f"{len(files)} files, {size / 1e6:.1f} MB (search index {search / 1e6:.1f} MB)"
        )


if __name__ == "__main__":
    main()
