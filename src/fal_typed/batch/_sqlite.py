"""The SQLite journal: one file, the embedded default.

WAL mode, so ``batch status`` (and workers on the same machine) read while a run writes.
``synchronous=FULL``: every commit is on disk before it returns, also across a power cut or an
OS crash. With ``NORMAL`` a commit survives a killed process but the last ones may roll back on a
power cut, and a rolled-back ``submitting`` would let the next run send that row again, paying
twice. The cost of FULL is one fsync per commit, and the runner commits many rows' changes in one
transaction (group commit), so it stays small per row (bench/bench_batch.py measures it).

The run lock is ``flock`` on ``<journal>.lock``: exclusive for a solo run, shared for workers;
the operating system drops it when the process dies, so a killed run is resumed at once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import IO, Any

from ._journal import JournalBusyError, JournalError, Mode, SQLJournal

__all__ = ["SQLiteJournal"]


class SQLiteJournal(SQLJournal):
    """A batch journal in one SQLite file (``name`` tells batches in one file apart)."""

    placeholder = "?"
    now = "fal_now()"

    def __init__(self, path: str | os.PathLike[str], *, name: str = "default") -> None:
        super().__init__(name)
        self.path: Path = Path(path)
        self.location: str = str(self.path)
        self._lock_file: IO[bytes] | None = None
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from None
        connection.create_function("fal_now", 0, time.time)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=60000")
        self._connection = connection
        self._depth = 0

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.location!r}, name={self.name!r})"

    def _lock_journal(self, mode: Mode) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock, one run at a time is on you
            return
        handle = (self.path.parent / f"{self.path.name}.lock").open("ab")
        flag = fcntl.LOCK_EX if mode == "solo" else fcntl.LOCK_SH
        try:
            fcntl.flock(handle.fileno(), flag | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            held = "workers are" if mode == "solo" else "a run without --worker is"
            raise JournalBusyError(
                f"{self.path} is in use: {held} working on it now"
                + (" (pass --worker to join them)" if mode == "solo" else "")
            ) from None
        self._lock_file = handle

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Generator[None, None, None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._connection.execute("ROLLBACK")
                raise
            self._depth = 0
            self._connection.execute("COMMIT")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, tuple(params)).fetchall()

    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock:
            return self._connection.execute(sql, tuple(params)).rowcount

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            if self._lock_file is not None:
                self._lock_file.close()  # closing the file drops the flock
                self._lock_file = None
