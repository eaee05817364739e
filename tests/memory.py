"""Peak memory of a piece of code run in a fresh interpreter, to show a bound structurally.

The child prints its ``ru_maxrss`` (peak resident set) once the code has run; a test compares
it with the baseline of the same imports, with a bound generous enough for any machine yet far
below what the unbounded behaviour takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_EPILOGUE = """
import json as _json, resource as _resource, sys as _sys
_sys.stdout.write("\\n" + _json.dumps({"peak_rss": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024}))
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
