"""Peak memory of a piece of code run in a fresh interpreter, to show a bound structurally.

The child prints its peak resident set once the code has run; a test compares it with the
baseline of the same imports, with a bound generous enough for any machine yet far below what
the unbounded behaviour takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# The peak of this process's own memory: ``VmHWM`` where /proc has it. ``ru_maxrss`` would do
# elsewhere, but on Linux it may count the parent's pages at fork time (before the exec).
_EPILOGUE = """
import json as _json, resource as _resource, sys as _sys
try:
    with open("/proc/self/status") as _status:
        _peak = next(int(l.split()[1]) for l in _status if l.startswith("VmHWM:")) * 1024
except (OSError, StopIteration):
    _peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024
_sys.stdout.write("\\n" + _json.dumps({"peak_rss": _peak}))
"""


def peak_rss(code: str, *, timeout: float = 120.0) -> tuple[int, str]:
    """Run ``code`` in a new Python process; return its peak RSS in bytes and its output."""
    program = textwrap.dedent(code) + _EPILOGUE
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output, _, last = done.stdout.rpartition("\n")
    return int(json.loads(last)["peak_rss"]), output


def growth(code: str, *, imports: str) -> tuple[int, str]:
    """How far ``code``'s peak RSS rises above that of a process doing only ``imports`` (bytes),
    and ``code``'s output."""
    peak, output = peak_rss(f"{imports}\n{textwrap.dedent(code)}")
    baseline, _ = peak_rss(imports)
    return peak - baseline, output
