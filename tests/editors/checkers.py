"""basedpyright and mypy run over a user's script as a user runs them, reports gathered by line.

Both are this environment's own executables, pointed at an install's interpreter (how they
resolve ``import fal_endpoints``): basedpyright by ``--pythonpath``, mypy by
``--python-executable``; PYTHONPATH/MYPYPATH come from the install. No project configuration
is read: the scratch directory holds the script and the checker's settings only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

__all__ = ["Reports", "basedpyright", "marked_mistakes", "mypy"]

BIN = Path(sys.executable).parent
Reports = dict[int, list[str]]  # line (from 1) -> every message reported there
Mode = Literal["standard", "strict"]
_MYPY_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<level>error|note): (?P<text>.*)$")
_MARK = re.compile(r"#\s*mistake:\s*(?P<word>\S+)")


def marked_mistakes(source: Path) -> dict[int, str]:
    """``{line: word}`` of the lines marked ``# mistake: <word>``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    return {n: m["word"] for n, text in enumerate(lines, 1) if (m := _MARK.search(text))}


def _workspace(scratch: Path, source: Path) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / source.name
    shutil.copy(source, target)
    return target


def basedpyright(
    python: Path, env: Mapping[str, str], scratch: Path, source: Path, mode: Mode
) -> Reports:
    """Errors and warnings by line, in pyright's ``standard`` (the default of pyright and
    VS Code) or ``strict`` mode."""
    target = _workspace(scratch, source)
    (scratch / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": mode}))
    done = subprocess.run(
        [str(BIN / "basedpyright"), "--outputjson", "--pythonpath", str(python), str(target)],
        env=dict(env),
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=600,
    )
    reports: Reports = defaultdict(list)
    for diagnostic in json.loads(done.stdout)["generalDiagnostics"]:
        if diagnostic["severity"] in ("error", "warning"):
            reports[diagnostic["range"]["start"]["line"] + 1].append(diagnostic["message"])
    return dict(reports)


def mypy(python: Path, env: Mapping[str, str], scratch: Path, source: Path, mode: Mode) -> Reports:
    """Errors by line, each with the notes mypy adds to it, with mypy's defaults (``standard``)
    or ``--strict``; cold (a fresh cache directory), as on a first run."""
    target = _workspace(scratch, source)
    strict = ["--strict"] if mode == "strict" else []
    done = subprocess.run(
        [
            str(BIN / "mypy"),
            "--config-file=",
            "--python-executable",
            str(python),
            "--cache-dir",
            str(scratch / ".mypy_cache"),
            "--no-error-summary",
            *strict,
            target.name,
        ],
        env=dict(env),
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    reports: Reports = defaultdict(list)
    errored: set[int] = set()
    for line in done.stdout.splitlines():
        match = _MYPY_LINE.match(line)
        assert match is not None, f"unexpected mypy output: {line!r}"
        number = int(match["line"])
        reports[number].append(match["text"])
        if match["level"] == "error":
            errored.add(number)
    return {number: texts for number, texts in reports.items() if number in errored}
