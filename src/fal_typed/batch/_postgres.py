"""The PostgreSQL journal (psycopg 3): one batch shared by workers on many machines.

Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so two workers never claim the same row, and
leased for a while that a live worker keeps renewing. Times are the server's clock
(``clock_timestamp()``), so machines whose clocks disagree still agree on when a lease lapses.

The run lock is a session advisory lock on the batch name: exclusive for a run without
``--worker``, shared for workers. PostgreSQL drops it when the worker's connection ends, which a
killed process's does at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from ._journal import JournalBusyError, JournalError, Mode, SQLJournal

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJournal", "is_postgres_dsn"]


def is_postgres_dsn(location: str) -> bool:
    """Whether a ``--journal`` value names a PostgreSQL database rather than a file."""
    return location.startswith(("postgresql://", "postgres://"))


def _connect(dsn: str) -> psycopg.Connection[tuple[Any, ...]]:
    try:
        import psycopg
    except ImportError:
        raise JournalError(
            "a PostgreSQL journal needs psycopg: pip install 'fal-typed[batch]'"
        ) from None
    try:
        return psycopg.connect(dsn, autocommit=True, application_name="fal-typed batch")
    except psycopg.Error as exc:
        raise JournalError(f"cannot connect to the PostgreSQL journal: {exc}") from None


def _redacted(dsn: str) -> str:
    """The DSN without its password, for messages."""
    scheme, sep, rest = dsn.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return dsn
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"


class PostgresJournal(SQLJournal):
    """A batch journal in a PostgreSQL database (``name`` tells batches in one database apart)."""

    placeholder = "%s"
    now = "extract(epoch from clock_timestamp())"
    skip_locked = "FOR UPDATE SKIP LOCKED"

    def __init__(self, dsn: str, *, name: str = "default") -> None:
        super().__init__(name)
        self.location = _redacted(dsn)
        self._connection = _connect(dsn)
        self._lock = threading.RLock()
        self._depth = 0

    def __repr__(self) -> str:
        return f"PostgresJournal({self.location!r}, name={self.name!r})"

    def _create_schema(self) -> None:
        # Workers starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic
        # in PostgreSQL): a transaction-level advisory lock serialises them.
        with self._transaction(write=True):
            self._execute("SELECT pg_advisory_xact_lock(hashtext('fal_batch_schema'))")
            for statement in _ddl():
                self._execute(statement)

    def _lock_journal(self, mode: Mode) -> None:
        function = "pg_try_advisory_lock" if mode == "solo" else "pg_try_advisory_lock_shared"
        found = self._execute(f"SELECT {function}(hashtext(%s))", (f"fal_batch:{self.name}",))
        if not found or not found[0][0]:
            held = "workers are" if mode == "solo" else "a run without --worker is"
            raise JournalBusyError(
                f"batch {self.name!r} in {self.location} is in use: {held} working on it now"
                + (" (pass --worker to join them)" if mode == "solo" else "")
            )

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Generator[None, None, None]:
        import psycopg

        with self._lock:
            try:
                with self._connection.transaction():
                    yield
            except psycopg.Error as exc:
                raise JournalError(f"the PostgreSQL journal failed: {exc}") from exc

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._connection.cursor() as cursor:
            cursor.execute(sql, tuple(params))  # pyright: ignore[reportArgumentType]
            return cursor.fetchall() if cursor.description is not None else []

    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock, self._connection.cursor() as cursor:
            cursor.execute(sql, tuple(params))  # pyright: ignore[reportArgumentType]
            return cursor.rowcount

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):
            self._connection.close()  # ends the session: its advisory lock goes with it


def _ddl() -> tuple[str, ...]:
    from ._journal import DDL

    return DDL
