"""The committed package is exactly what the generator makes now, and it passes ruff.

This is the CI staleness check (``make check-generated`` runs the same): the whole corpus is
regenerated from scratch into a temporary directory and compared byte for byte.
"""

from __future__ import annotations

import subprocess
import sys

from codegen_helpers import GENERATED, REPO, SCHEMAS


def test_generated_is_not_stale() -> None:
    # In a fresh interpreter, as `make check-generated` runs it: nothing a test worker holds
    # (threads, caches, patched globals) may shape the regeneration.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "--check",
            "--schemas",
            str(SCHEMAS),
            "--out",
            str(GENERATED),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "up to date" in done.stdout


def test_generated_passes_ruff() -> None:
    package = str(GENERATED / "fal_endpoints")
    for command in (["check", "--no-cache", package], ["format", "--no-cache", "--check", package]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
