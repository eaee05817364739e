"""The real schema history both history benches read: arguments and the folder check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT.parent / "shared" / "fal-openapi-history" / "2026-01-28"
"""630 January 2026 revisions of documents whose June 2026 revisions are in schemas/."""


def history_parser(description: str) -> argparse.ArgumentParser:
    """``--history DIR`` (the old revisions) and ``--schemas DIR`` (the current ones)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument("--schemas", type=Path, default=ROOT / "schemas")
    return parser


def missing_history(history: Path) -> bool:
    """True (and says so) when the history folder is not there: the bench is skipped, so
    ``make bench`` still runs the others on a machine without the shared folder."""
    if history.is_dir():
        return False
    print(f"skipped: no history folder at {history} (see --history)", file=sys.stderr)
    return True
