"""SQLite-backed webhook state that survives a restart and is shared by processes on one machine.

- :class:`SQLiteIdempotencyStore`: the claims of a :class:`~fal_typed.webhooks.Deduplicator`, so
  a delivery replayed after the receiver restarted (inside the signature's 5-minute window, or a
  retry of fal's hours later) is not handled twice, and several worker processes share them.
- :class:`SQLiteRequestRegistry`: the request ids this application submitted, recorded at submit
  time, so a receiver can refuse authentic deliveries for any other request.

Both use the standard library's ``sqlite3`` on one file (several stores may share it: each has
its own table) in WAL mode, so readers never wait for a writer and each claim is one short
``BEGIN IMMEDIATE`` transaction, atomic across processes. Times are wall-clock (``time.time()``):
they must mean the same thing after a restart. Methods are synchronous and take well under a
millisecond on a local disk; a connection is shared by the threads of a process under a lock.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Final

from typing_extensions import Self

from .._sqlite_names import names_problem
from . import _checks
from ._idempotency import Claimed

__all__ = ["SQLiteIdempotencyStore", "SQLiteRequestRegistry"]

#: Seconds a writer waits for another process's transaction before giving up.
DEFAULT_BUSY_TIMEOUT: Final = 10.0
#: Expired claims are swept once per this many claims (each claim also clears its own key).
_SWEEP_EVERY: Final = 1000
_TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class _SQLiteFile:
    """One connection to ``path`` (WAL, autocommit with explicit transactions), behind a lock."""

    def __init__(self, path: str | os.PathLike[str], table: str, busy_timeout: float) -> None:
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"table must be a plain SQL identifier, got {table!r}")
        busy_timeout = _checks.seconds("busy_timeout", busy_timeout)
        self.path: str = os.fspath(path)
        self.table = table
        # Through two names, processes would keep two logs and two sets of locks: a claim made
        # through one is not seen through the other, and a delivery is handled twice.
        problem = names_problem(Path(self.path))
        if problem is not None:
            raise ValueError(problem)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint, fast commits

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, table={self.table!r})"

    @contextmanager
    def _transaction(self) -> Generator[sqlite3.Connection, None, None]:
        """One immediate transaction (atomic across processes), committed unless it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _write(self, *statements: tuple[str, tuple[object, ...]]) -> int:
        """Run ``statements`` in one immediate transaction; the rows the last one changed."""
        with self._transaction() as db:
            changed = 0
            for sql, parameters in statements:
                changed = db.execute(sql, parameters).rowcount
            return changed

    def _read(self, sql: str, parameters: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def close(self) -> None:
        """Close the connection (the file stays, with its rows)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SQLiteIdempotencyStore(_SQLiteFile):
    """Claims in a SQLite file: an :class:`~fal_typed.webhooks.IdempotencyStore` that persists.

    ``Deduplicator(SQLiteIdempotencyStore("webhooks.db"))``; every process (and every restart)
    opening the same file sees the same claims. A claim holds the deduplicator's lease while
    its handler runs and its TTL once handled, and records which: a retry finding it in progress
    (in another process, or left by a receiver that died less than the lease ago) is told
    ``busy`` (answered 409: fal retries), a handled one ``duplicate``. Times are wall-clock, so
    a clock set forward by more than the lease lets a claim in progress lapse early.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "fal_webhook_claims",
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        super().__init__(path, table, busy_timeout)
        # ``done``: 1 handled, 0 in progress, NULL a row of a version that did not record it
        # (the column is added to its table; see claim()). One transaction, so processes
        # opening an old file together do not both add it.
        with self._transaction() as db:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} "
                "(key TEXT PRIMARY KEY, expires_at REAL NOT NULL, done INTEGER)"
            )
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if "done" not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN done INTEGER")
        self._claims = 0

    def __len__(self) -> int:
        rows = self._read(f"SELECT COUNT(*) FROM {self.table} WHERE expires_at > ?", (time.time(),))
        count = rows[0][0]
        return count if isinstance(count, int) else 0

    def _sweep(self, db: sqlite3.Connection, now: float) -> None:
        self._claims += 1
        if self._claims % _SWEEP_EVERY == 0:
            db.execute(f"DELETE FROM {self.table} WHERE expires_at <= ?", (now,))

    def add(self, key: str, ttl: float) -> bool:
        """Record ``key`` (as handled) for ``ttl`` seconds unless a live claim exists; True if
        recorded now."""
        ttl = _checks.seconds("ttl", ttl, positive=True)
        now = time.time()
        with self._transaction() as db:
            self._sweep(db, now)
            db.execute(f"DELETE FROM {self.table} WHERE key = ? AND expires_at <= ?", (key, now))
            return (
                db.execute(
                    f"INSERT OR IGNORE INTO {self.table} (key, expires_at, done) VALUES (?, ?, 1)",
                    (key, now + ttl),
                ).rowcount
                == 1
            )

    def claim(self, key: str, lease: float) -> Claimed:
        """Claim ``key`` as being handled for ``lease`` seconds unless a live claim exists
        (``first``); else ``duplicate`` if it was completed, ``busy`` if it is in progress
        (in this process or another: fal's retry is answered non-2xx and tried again).

        A row written by a version that did not record completion is taken as completed if
        it holds for more than ``lease`` seconds yet (claims in progress held for the lease
        only), else as in progress: it lapses soon, and the delivery is handled then."""
        lease = _checks.seconds("lease", lease, positive=True)
        now = time.time()
        with self._transaction() as db:
            self._sweep(db, now)
            row = db.execute(
                f"SELECT expires_at, done FROM {self.table} WHERE key = ? AND expires_at > ?",
                (key, now),
            ).fetchone()
            if row is not None:
                expires_at, done = row
                if done is None:
                    done = float(expires_at) - now > lease
                return "duplicate" if done else "busy"
            db.execute(
                f"INSERT OR REPLACE INTO {self.table} (key, expires_at, done) VALUES (?, ?, 0)",
                (key, now + lease),
            )
            return "first"

    def extend(self, key: str, lease: float) -> None:
        """Keep a claim of ``key`` in progress ``lease`` seconds from now (its handler still
        runs: the deduplicator renews it, so no other process takes it over). A claim that
        lapsed, and was not taken since, is renewed too: its handler still runs (the renewal
        came late, or the wall clock jumped forward past it)."""
        lease = _checks.seconds("lease", lease, positive=True)
        self._write(
            (
                f"UPDATE {self.table} SET expires_at = ? WHERE key = ? AND done = 0",
                (time.time() + lease, key),
            )
        )

    def discard(self, key: str) -> None:
        """Forget ``key`` (its handler failed: the next delivery is handled)."""
        self._write((f"DELETE FROM {self.table} WHERE key = ?", (key,)))

    def complete(self, key: str, ttl: float) -> None:
        """Record ``key`` as handled for ``ttl`` seconds from now (its handler succeeded): until
        then it held for the deduplicator's lease only, so a receiver that died mid-handler
        left a claim that lapses, and fal's next retry is handled. Recorded even if the claim
        lapsed meanwhile (the handler ran longer than the lease): it was handled."""
        ttl = _checks.seconds("ttl", ttl, positive=True)
        self._write(
            (
                f"INSERT OR REPLACE INTO {self.table} (key, expires_at, done) VALUES (?, ?, 1)",
                (key, time.time() + ttl),
            )
        )


class SQLiteRequestRegistry(_SQLiteFile):
    """The request ids an application submitted, for ``webhook_endpoint(known_requests=...)``.

    Record each id when the submit returns (``registry.record(handle.request_id)``); a delivery
    for an id never recorded is refused. Ids are kept ``retention`` seconds (a week: fal retries
    a delivery for hours), then swept.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "fal_submitted_requests",
        retention: float = 7 * 24 * 3600.0,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self.retention: float = _checks.seconds("retention", retention, positive=True)
        super().__init__(path, table, busy_timeout)
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} "
            "(request_id TEXT PRIMARY KEY, recorded_at REAL NOT NULL)"
        )
        self._records = 0

    def record(self, request_id: str) -> None:
        """Remember that this application submitted ``request_id``."""
        if not isinstance(request_id, str) or not request_id:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"request_id must be a non-empty string, got {request_id!r}")
        now = time.time()
        self._records += 1
        statements: list[tuple[str, tuple[object, ...]]] = []
        if self._records % _SWEEP_EVERY == 0:
            cutoff = now - self.retention
            statements.append((f"DELETE FROM {self.table} WHERE recorded_at <= ?", (cutoff,)))
        statements.append(
            (
                f"INSERT OR REPLACE INTO {self.table} (request_id, recorded_at) VALUES (?, ?)",
                (request_id, now),
            )
        )
        self._write(*statements)

    def contains(self, request_id: str) -> bool:
        """Whether ``request_id`` was recorded (and not yet past the retention)."""
        rows = self._read(
            f"SELECT 1 FROM {self.table} WHERE request_id = ? AND recorded_at > ?",
            (request_id, time.time() - self.retention),
        )
        return bool(rows)

    def __contains__(self, request_id: object) -> bool:
        return isinstance(request_id, str) and self.contains(request_id)

    def discard(self, request_id: str) -> None:
        """Forget ``request_id`` (its deliveries will be refused)."""
        self._write((f"DELETE FROM {self.table} WHERE request_id = ?", (request_id,)))
