"""``results.jsonl``: one line per row, what a script reads back after a batch.

Each line holds the row's ``key``, ``position``, ``state``, ``request_id``, ``input``,
``output`` (fal's JSON, as returned), ``files`` (paths relative to the output folder) and
``error`` (``kind``, ``status``, ``message``), or null where there is none. During a run lines are
appended as rows finish; at its end the file is rewritten from the journal, whole and in input
order (a row retried during the run appears once again then: the later line is the one that
counts until the rewrite).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Final

from ._journal import JournalRow

__all__ = ["RESULTS_NAME", "ResultsFile", "result_record"]

RESULTS_NAME: Final = "results.jsonl"


def result_record(row: JournalRow) -> dict[str, Any]:
    """The JSON object of one row."""
    error = row.error
    return {
        "key": row.key,
        "position": row.position,
        "state": row.state,
        "request_id": row.request_id,
        "input": row.input,
        "output": row.output,
        "files": row.files,
        "error": None
        if error is None
        else {"kind": error.kind, "status": error.status, "message": error.message},
    }


def _line(row: JournalRow) -> str:
    return json.dumps(result_record(row), ensure_ascii=False, separators=(",", ":")) + "\n"


class ResultsFile:
    """The results file of one output folder."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RESULTS_NAME
        self._live: IO[str] | None = None

    def append(self, row: JournalRow) -> None:
        """Add one finished row (flushed, so ``tail -f`` sees it)."""
        if self._live is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._live = self.path.open("a", encoding="utf-8")
        self._live.write(_line(row))
        self._live.flush()

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    def rewrite(self, rows: Iterable[JournalRow]) -> int:
        """Replace the file with ``rows`` (streamed, written atomically); how many lines."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".results.", suffix=".part")
        count = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(_line(row))
                    count += 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return count
