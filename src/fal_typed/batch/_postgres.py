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
import random
import threading
import time
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .._errors import scrub
from ._journal import (
    ClaimRequest,
    JournalBusyError,
    JournalError,
    JournalRow,
    LoadConflict,
    LoadRecord,
    Mode,
    SQLJournal,
    Transition,
)
from ._states import RowState

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJournal", "is_postgres_dsn"]

_T = TypeVar("_T")
_RETRIES: Final = 8


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
        # libpq quotes what it cannot parse: the DSN whole, or the password itself when its
        # percent-encoding is broken. Neither reaches the message.
        detail = scrub(str(exc).replace(dsn, _redacted(dsn)), _passwords(dsn))
        raise JournalError(f"cannot connect to the PostgreSQL journal: {detail}") from None


def _passwords(dsn: str) -> list[str]:
    """The password of a DSN (in its userinfo or a ``password=`` parameter), as written and
    percent-decoded."""
    from urllib.parse import unquote

    rest = dsn.partition("://")[2]
    authority, _, query = rest.partition("?")
    found = [authority.rpartition("@")[0].partition(":")[2]] if "@" in authority else []
    for parameter in query.split("&"):
        name, _, value = parameter.partition("=")
        if name == "password":
            found.append(value)
    return sorted({form for raw in found for form in (raw, unquote(raw)) if form}, key=len)[::-1]


def _redacted(dsn: str) -> str:
    """The DSN without its password (userinfo or ``password=`` parameter), for messages."""
    import re

    scheme, sep, rest = dsn.partition("://")
    rest, mark, query = rest.partition("?")
    userinfo, at, host = rest.rpartition("@")
    if at:
        rest = f"{userinfo.split(':', 1)[0]}@{host}"
    if mark:
        query = re.sub(r"(^|&)password=[^&]*", r"\1password=[redacted]", query)
    return f"{scheme}{sep}{rest}{mark}{query}"


class PostgresJournal(SQLJournal):
    """A batch journal in a PostgreSQL database (``name`` tells batches in one database apart)."""

    placeholder = "%s"
    now = "extract(epoch from clock_timestamp())"
    skip_locked = "FOR UPDATE SKIP LOCKED"

    def __init__(self, dsn: str, *, name: str = "default") -> None:
        super().__init__(name)
        self.location: str = _redacted(dsn)
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

    # PostgreSQL aborts one of two transactions that wait on each other (or on a serialisation
    # conflict); the whole transaction rolled back, so running it again is safe.

    def _retrying(self, call: Callable[[], _T]) -> _T:
        import psycopg.errors

        transient = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
        for attempt in range(_RETRIES):
            try:
                return call()
            except JournalError as exc:
                if not isinstance(exc.__cause__, transient) or attempt == _RETRIES - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    def load(self, records: Sequence[LoadRecord], run_id: str) -> list[LoadConflict]:
        return self._retrying(lambda: super(PostgresJournal, self).load(records, run_id))

    def claim(self, request: ClaimRequest) -> list[JournalRow]:
        return self._retrying(lambda: super(PostgresJournal, self).claim(request))

    def apply(self, transitions: Sequence[Transition], run_id: str) -> list[bool]:
        return self._retrying(lambda: super(PostgresJournal, self).apply(transitions, run_id))

    def renew(self, owner: str, lease: float) -> int:
        return self._retrying(lambda: super(PostgresJournal, self).renew(owner, lease))

    def release(self, owner: str) -> None:
        self._retrying(lambda: super(PostgresJournal, self).release(owner))

    def resolve_ambiguous(self, slot: str, request_id: str | None) -> bool:
        return self._retrying(
            lambda: super(PostgresJournal, self).resolve_ambiguous(slot, request_id)
        )

    def _serialize_adoptions(self) -> None:
        # READ COMMITTED: without turns, two workers could each see no row holding an id and
        # both adopt it. The lock is the transaction's: released at its commit.
        self._execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"fal_batch_adopt:{self.name}",)
        )

    def state_of(self, slot: str) -> RowState | None:
        return self._retrying(lambda: super(PostgresJournal, self).state_of(slot))

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):
            self._connection.close()  # ends the session: its advisory lock goes with it


def _ddl() -> tuple[str, ...]:
    from ._journal import DDL

    return DDL
