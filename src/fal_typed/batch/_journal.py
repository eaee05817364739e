"""The journal: where every row's state lives, so a batch survives any crash.

:class:`Journal` is the interface the runner needs; :class:`SQLJournal` implements it in SQL
shared by the two backends (SQLite: ``_sqlite``, PostgreSQL: ``_postgres``), which differ in how
they connect, lock, tell the time and claim rows.

Every change of state is a :class:`Transition` whose ``UPDATE`` carries its precondition (the
row is still in the state the runner saw, still leased by this worker, still on the same submit
attempt). A transition that finds its precondition false changes nothing and reports False, so a
worker that lost its lease can never send a row another worker has taken over.

Leases: a worker claims rows for ``lease`` seconds and renews them while it lives. A run without
``--worker`` holds the journal exclusively (a file lock, or a PostgreSQL advisory lock, both
released by the operating system when the process dies), so it takes over every unfinished row at
once; workers share the journal and take over a row only when its lease has lapsed.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, TypeAlias

from .._errors import FalError, InvalidArgumentError
from ._states import ErrorInfo, RowState

__all__ = [
    "BatchInfo",
    "ClaimRequest",
    "Journal",
    "JournalBusyError",
    "JournalError",
    "JournalMismatchError",
    "JournalRow",
    "LoadConflict",
    "LoadRecord",
    "Mode",
    "NoBatchError",
    "SQLJournal",
    "Transition",
]

Mode: TypeAlias = Literal["solo", "worker", "read"]
SCHEMA_VERSION: Final = 1


class JournalError(FalError):
    """The journal cannot be used as asked (see the message)."""

    default_error_type: ClassVar[str | None] = "journal"


class JournalBusyError(JournalError):
    """Another process holds the journal (a run without ``--worker``, or workers, running now)."""


class JournalMismatchError(JournalError):
    """The journal belongs to another batch (another endpoint or key field)."""


class NoBatchError(JournalError):
    """The journal holds no batch of that name (yet): a run would start one there."""


@dataclass(frozen=True)
class BatchInfo:
    """What a journal is for: the endpoint and how rows are keyed (checked on every run)."""

    name: str
    endpoint_id: str
    key_field: str | None


@dataclass(frozen=True)
class LoadRecord:
    """A row as the validation pass hands it to the journal (``pending`` or ``invalid``)."""

    slot: str
    key: str
    position: int
    hash: str
    input: Mapping[str, Any] | None
    state: Literal["pending", "invalid"]
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class LoadConflict:
    """A row the journal refused: ``changed`` (its input differs from the one already sent) or
    ``duplicate`` (its key appears twice in this input)."""

    slot: str
    key: str
    position: int
    reason: Literal["changed", "duplicate"]
    state: RowState | None = None


@dataclass
class JournalRow:
    """A row as the journal holds it."""

    slot: str
    key: str
    position: int
    hash: str
    input: dict[str, Any] | None
    state: RowState
    attempt: int = 0
    token: str | None = None
    request_id: str | None = None
    output: Any = None
    files: list[str] = field(default_factory=list[str])
    error: ErrorInfo | None = None
    sent_at: float | None = None
    updated_at: float | None = None


@dataclass(frozen=True)
class Transition:
    """One state change of one row, applied only if its preconditions still hold.

    ``from_states``: the row must be in one of them. ``owner``: the row must still be leased by
    this worker (and the lease not lapsed). ``token``: the row must be on this submit attempt.
    ``request_id``: the row must be waiting for this request. ``values``: the columns to set
    (``token``, ``request_id``, ``output``, ``files``, ``error``, ``sent``, ``attempt``);
    a final state also gives the lease back.
    """

    slot: str
    to_state: RowState
    from_states: tuple[RowState, ...]
    owner: str | None = None
    token: str | None = None
    request_id: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class ClaimRequest:
    """What a worker asks for: up to ``limit`` rows, leased for ``lease`` seconds.

    ``take_over``: ignore other owners' leases (a solo run: nobody else can be alive).
    ``resend_ambiguous`` / ``retry_kinds``: also rows left ambiguous or failed (of those kinds)
    by an earlier run (``run_id`` is this run, so a row is retried once per run).
    """

    owner: str
    run_id: str
    limit: int
    lease: float
    take_over: bool = False
    resend_ambiguous: bool = False
    retry_kinds: frozenset[str] = frozenset()


class Journal(ABC):
    """The interface the runner uses. Methods are called from one thread at a time."""

    location: str
    info: BatchInfo | None = None

    @abstractmethod
    def open(self, info: BatchInfo, mode: Mode) -> None:
        """Create or check the batch, and take the lock ``mode`` needs (``read`` takes none).

        Raises :class:`JournalBusyError` or :class:`JournalMismatchError`."""

    @abstractmethod
    def load(self, records: Sequence[LoadRecord], run_id: str) -> list[LoadConflict]:
        """Add rows (or refresh rows never sent); return the ones refused."""

    @abstractmethod
    def claim(self, request: ClaimRequest) -> list[JournalRow]:
        """Lease rows to work on, in input order."""

    @abstractmethod
    def apply(self, transitions: Sequence[Transition], run_id: str) -> list[bool]:
        """Apply the transitions in one durable transaction; whether each took effect."""

    @abstractmethod
    def renew(self, owner: str, lease: float) -> int:
        """Extend the leases of every row ``owner`` holds; how many it holds."""

    @abstractmethod
    def release(self, owner: str) -> None:
        """Give back every lease ``owner`` holds (a clean stop)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Rows per state."""

    @abstractmethod
    def failed_kinds(self) -> dict[str, int]:
        """Failed rows per error kind."""

    @abstractmethod
    def workers(self) -> list[tuple[str, int, float]]:
        """``(owner, rows held, seconds until its lease lapses)`` of each lease holder."""

    @abstractmethod
    def rows(
        self, states: Sequence[RowState] | None = None, *, page: int = 500
    ) -> Iterator[JournalRow]:
        """Every row (or those in ``states``) in input order, read page by page."""

    @abstractmethod
    def resolve_ambiguous(self, slot: str, request_id: str | None) -> bool:
        """Settle an ambiguous row: the request id it was accepted under (it is then awaited,
        never re-sent), or None when it is known that fal never accepted it (back to pending).

        This is the seam for reconciling against fal's request history."""

    def cut_off(self, *, take_over: bool) -> int:
        """Make rows left ``submitting`` by a run that is gone ``ambiguous`` (every such row when
        ``take_over``, else those whose lease lapsed), so they can be settled before anything
        is sent; how many. A journal that cannot tell leaves them to :meth:`claim`."""
        return 0

    def request_ids(self) -> set[str]:
        """Every request id the journal holds (none of them may be adopted by another row)."""
        return {row.request_id for row in self.rows() if row.request_id is not None}

    def state_of(self, slot: str) -> RowState | None:
        """The state of one row (None: no such row)."""
        return next((row.state for row in self.rows() if row.slot == slot), None)

    def not_loaded(self, loaded: Container[str]) -> tuple[int, list[str]]:
        """Rows never sent (``pending``) whose slots are not among ``loaded`` (the slots this
        run's load gave: each run's own, as workers loading one input together overwrite each
        other's ``loaded_by``): how many, and the keys of the first 20 (in input order)."""
        return 0, []

    def clock(self) -> float:
        """The journal's clock now (Unix seconds): the clock of its rows' ``sent_at`` and
        ``updated_at`` (a database server's, for PostgreSQL; this machine's, by default)."""
        return time.time()

    @abstractmethod
    def close(self) -> None:
        """Release the lock and the connection."""

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- SQL shared by the backends -------------------------------------------------------------

_COLUMNS: Final = (
    "slot, row_key, pos, input_hash, input, state, attempt, token, request_id, output, files, "
    "error_kind, error_status, error, sent_at, updated_at"
)

DDL: Final = (
    """
    CREATE TABLE IF NOT EXISTS fal_batch (
        name TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL,
        key_field TEXT,
        version INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS fal_batch_rows (
        batch TEXT NOT NULL,
        slot TEXT NOT NULL,
        row_key TEXT NOT NULL,
        pos BIGINT NOT NULL,
        input_hash TEXT NOT NULL,
        input TEXT,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        token TEXT,
        request_id TEXT,
        output TEXT,
        files TEXT,
        error_kind TEXT,
        error_status INTEGER,
        error TEXT,
        sent_at DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        loaded_by TEXT NOT NULL,
        run_id TEXT,
        PRIMARY KEY (batch, slot)
    )
    """,
    "CREATE INDEX IF NOT EXISTS fal_batch_rows_state ON fal_batch_rows (batch, state, pos)",
    "CREATE INDEX IF NOT EXISTS fal_batch_rows_pos ON fal_batch_rows (batch, pos, slot)",
    "CREATE INDEX IF NOT EXISTS fal_batch_rows_owner ON fal_batch_rows (batch, lease_owner)",
)

_REFRESHABLE = "r.state IN ('pending', 'invalid')"

_UPSERT: Final = f"""
    INSERT INTO fal_batch_rows AS r
        (batch, slot, row_key, pos, input_hash, input, state, error_kind, error, updated_at,
         loaded_by)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {{now}}, ?)
    ON CONFLICT (batch, slot) DO UPDATE SET
        loaded_by = excluded.loaded_by,
        pos = excluded.pos,
        row_key = CASE WHEN {_REFRESHABLE} THEN excluded.row_key ELSE r.row_key END,
        input_hash = CASE WHEN {_REFRESHABLE} THEN excluded.input_hash ELSE r.input_hash END,
        input = CASE WHEN {_REFRESHABLE} THEN excluded.input ELSE r.input END,
        state = CASE WHEN {_REFRESHABLE} THEN excluded.state ELSE r.state END,
        error_kind = CASE WHEN {_REFRESHABLE} THEN excluded.error_kind ELSE r.error_kind END,
        error = CASE WHEN {_REFRESHABLE} THEN excluded.error ELSE r.error END,
        updated_at = CASE WHEN {_REFRESHABLE} THEN excluded.updated_at ELSE r.updated_at END
    WHERE r.loaded_by <> excluded.loaded_by
      AND (r.input_hash = excluded.input_hash OR {_REFRESHABLE})
    RETURNING slot
"""

_SETTABLE: Final = {
    "token": "token",
    "request_id": "request_id",
    "attempt": "attempt",
    "output": "output",
    "files": "files",
}


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _loads(text: Any) -> Any:
    return None if text is None else json.loads(text)


def row_from_record(record: Sequence[Any]) -> JournalRow:
    """A :class:`JournalRow` from a ``SELECT`` of :data:`_COLUMNS`."""
    (slot, key, pos, digest, text, state, attempt, token, request_id, output, files) = record[:11]
    kind, status, message, sent_at, updated_at = record[11:16]
    error = None if kind is None else ErrorInfo(kind, message or "", status)
    return JournalRow(
        slot=slot,
        key=key,
        position=int(pos),
        hash=digest,
        input=_loads(text),
        state=state,
        attempt=int(attempt),
        token=token,
        request_id=request_id,
        output=_loads(output),
        files=_loads(files) or [],
        error=error,
        sent_at=sent_at,
        updated_at=updated_at,
    )


class SQLJournal(Journal):
    """The SQL both backends share. Subclasses provide the connection and the dialect:
    ``placeholder`` (``?`` or ``%s``), ``now`` (an SQL expression of unix seconds) and the claim
    query's locking clause."""

    placeholder: str = "?"
    now: str = "fal_now()"
    skip_locked: str = ""

    def __init__(self, name: str = "default") -> None:
        if not isinstance(name, str) or not name or len(name) > 200:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError("a batch name must be a string of 1 to 200 characters")
        self.name = name
        self.mode: Mode | None = None
        self._lock = threading.RLock()

    # -- what the backends implement ----------------------------------------------------------

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (in the current transaction, if any) and return its rows."""

    @abstractmethod
    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement and return how many rows it changed."""

    @abstractmethod
    def _transaction(self, *, write: bool) -> Any:
        """A context manager around one durable transaction."""

    @abstractmethod
    def _lock_journal(self, mode: Mode) -> None:
        """Take the process lock for ``mode`` or raise :class:`JournalBusyError`."""

    def _sql(self, text: str) -> str:
        text = text.replace("{now}", self.now)
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    # -- opening --------------------------------------------------------------------------------

    def _create_schema(self) -> None:
        with self._transaction(write=True):
            for statement in DDL:
                self._execute(statement)

    def open(self, info: BatchInfo, mode: Mode) -> None:
        if info.name != self.name:
            raise ValueError(f"this journal holds batch {self.name!r}, not {info.name!r}")
        if mode != "read":
            self._lock_journal(mode)
        self.mode = mode
        self._create_schema()
        with self._transaction(write=True):
            if mode != "read":
                # Created if absent in one statement: workers starting together would each find
                # no batch with a SELECT, and every INSERT but the first would then fail on the
                # primary key. Here the others wait for the first's commit and join its batch.
                self._execute(
                    self._sql(
                        "INSERT INTO fal_batch (name, endpoint_id, key_field, version, created_at) "
                        "VALUES (?, ?, ?, ?, {now}) ON CONFLICT (name) DO NOTHING"
                    ),
                    (self.name, info.endpoint_id, info.key_field, SCHEMA_VERSION),
                )
            found = self._execute(
                self._sql("SELECT endpoint_id, key_field, version FROM fal_batch WHERE name = ?"),
                (self.name,),
            )
        if not found:
            raise NoBatchError(f"{self.location} holds no batch named {self.name!r}")
        endpoint_id, key_field, version = found[0]
        self.info: BatchInfo | None = BatchInfo(self.name, endpoint_id, key_field)
        if mode == "read":
            return
        if version != SCHEMA_VERSION:
            # Another layout's rows and states, read as ours, could send a row twice.
            raise JournalMismatchError(
                f"{self.location} is a journal of version {version}; this fal-typed keeps "
                f"version {SCHEMA_VERSION}: resume it with the fal-typed that started it"
            )
        if endpoint_id != info.endpoint_id:
            raise JournalMismatchError(
                f"{self.location} is the journal of a batch on {endpoint_id}, not "
                f"{info.endpoint_id}: use another journal (or --batch-name)"
            )
        if key_field != info.key_field:
            was = f"--key-field {key_field}" if key_field else "no --key-field"
            raise JournalMismatchError(
                f"{self.location} was started with {was}: its rows are keyed that way, "
                "so resume it with the same setting"
            )

    def read_info(self) -> BatchInfo:
        """The batch this journal holds (for ``batch status``), without locking it."""
        self._create_schema()
        found = self._execute(
            self._sql("SELECT endpoint_id, key_field FROM fal_batch WHERE name = ?"), (self.name,)
        )
        if not found:
            raise NoBatchError(f"{self.location} holds no batch named {self.name!r}")
        self.info = BatchInfo(self.name, found[0][0], found[0][1])
        self.mode = "read"
        return self.info

    # -- loading --------------------------------------------------------------------------------

    def load(self, records: Sequence[LoadRecord], run_id: str) -> list[LoadConflict]:
        upsert = self._sql(_UPSERT)
        missed: list[LoadRecord] = []
        with self._transaction(write=True):
            # Rows are locked in slot order everywhere, so concurrent loads and commits of
            # several workers cannot deadlock on each other.
            for record in sorted(records, key=lambda r: r.slot):
                error = record.error
                params = (
                    self.name,
                    record.slot,
                    record.key,
                    record.position,
                    record.hash,
                    _dumps(record.input),
                    record.state,
                    None if error is None else error.kind,
                    None if error is None else error.message,
                    run_id,
                )
                if not self._execute(upsert, params):
                    missed.append(record)
            return [self._conflict(r, run_id) for r in missed]

    def _conflict(self, record: LoadRecord, run_id: str) -> LoadConflict:
        found = self._execute(
            self._sql("SELECT state, loaded_by FROM fal_batch_rows WHERE batch = ? AND slot = ?"),
            (self.name, record.slot),
        )
        state, loaded_by = found[0] if found else (None, None)
        reason: Literal["changed", "duplicate"] = "duplicate" if loaded_by == run_id else "changed"
        return LoadConflict(record.slot, record.key, record.position, reason, state)

    # -- claiming and changing ------------------------------------------------------------------

    def _claimable(self, request: ClaimRequest) -> tuple[str, list[Any]]:
        clauses = ["state IN ('pending', 'submitting', 'submitted', 'downloading')"]
        params: list[Any] = []
        if request.resend_ambiguous:
            clauses.append("(state = 'ambiguous' AND COALESCE(run_id, '') <> ?)")
            params.append(request.run_id)
        kinds = request.retry_kinds
        if kinds:
            # Kinds as check_retry_kinds let them through: all, a name, a status or a class.
            names = sorted(k for k in kinds if not k[0].isdigit())
            statuses = sorted(int(k) for k in kinds if k.isdigit())
            classes = sorted(int(k[0]) for k in kinds if k[0].isdigit() and k[1:] == "xx")
            parts = [f"error_kind IN ({', '.join('?' * len(names))})"] if names else []
            parts += [f"error_status = {s}" for s in statuses]
            parts += [f"error_status BETWEEN {c}00 AND {c}99" for c in classes]
            match = "1 = 1" if "all" in kinds else " OR ".join(parts) or "1 = 0"
            clauses.append(f"(state = 'failed' AND COALESCE(run_id, '') <> ? AND ({match}))")
            params.append(request.run_id)
            if "all" not in kinds:
                params.extend(names)
        return " OR ".join(clauses), params

    def claim(self, request: ClaimRequest) -> list[JournalRow]:
        claimable, claim_params = self._claimable(request)
        free = "lease_owner IS NULL OR (lease_owner <> ? AND (? = 1 OR lease_until < {now}))"
        sql = self._sql(
            f"""
            WITH claimed AS (
                SELECT slot FROM fal_batch_rows
                WHERE batch = ? AND ({claimable}) AND ({free})
                ORDER BY pos LIMIT ? {self.skip_locked}
            )
            UPDATE fal_batch_rows SET lease_owner = ?, lease_until = {{now}} + ?
            WHERE batch = ? AND slot IN (SELECT slot FROM claimed)
            RETURNING {_COLUMNS}
            """
        )
        # A CTE: PostgreSQL evaluates a locking one exactly once (an IN subquery may be
        # re-run per row, claiming more than asked).
        params = [
            self.name,
            *claim_params,
            request.owner,
            1 if request.take_over else 0,
            request.limit,
            request.owner,
            request.lease,
            self.name,
        ]
        with self._transaction(write=True):
            records = self._execute(sql, params)
        rows = [row_from_record(r) for r in records]
        rows.sort(key=lambda row: row.position)
        return rows

    def _transition_sql(self, t: Transition, run_id: str) -> tuple[str, list[Any]]:
        sets = ["state = ?", "updated_at = {now}", "run_id = ?"]
        params: list[Any] = [t.to_state, run_id]
        for name, value in t.values.items():
            if name == "error":
                error: ErrorInfo | None = value
                sets += ["error_kind = ?", "error_status = ?", "error = ?"]
                params += (
                    [None, None, None]
                    if error is None
                    else [error.kind, error.status, error.message]
                )
            elif name == "sent":
                sets.append("sent_at = {now}")
            elif name == "attempt":
                sets.append("attempt = attempt + 1")
            elif name in ("output", "files"):
                sets.append(f"{name} = ?")
                params.append(_dumps(value))
            elif name in _SETTABLE:
                sets.append(f"{_SETTABLE[name]} = ?")
                params.append(value)
            else:
                raise ValueError(f"unknown journal column {name!r}")
        if t.to_state in ("completed", "failed", "ambiguous", "invalid"):
            sets.append("lease_owner = NULL")
            sets.append("lease_until = NULL")
        where = [
            "batch = ?",
            "slot = ?",
            f"state IN ({', '.join('?' * len(t.from_states))})",
        ]
        params += [self.name, t.slot, *t.from_states]
        if t.owner is not None:
            where.append("lease_owner = ? AND lease_until > {now}")
            params.append(t.owner)
        if t.token is not None:
            where.append("token = ?")
            params.append(t.token)
        if t.request_id is not None:
            where.append("request_id = ?")
            params.append(t.request_id)
        sql = f"UPDATE fal_batch_rows SET {', '.join(sets)} WHERE {' AND '.join(where)}"
        return self._sql(sql), params

    def apply(self, transitions: Sequence[Transition], run_id: str) -> list[bool]:
        order = sorted(range(len(transitions)), key=lambda i: transitions[i].slot)
        results = [False] * len(transitions)
        with self._transaction(write=True):
            for i in order:  # slot order: see load()
                results[i] = self._rowcount(*self._transition_sql(transitions[i], run_id)) == 1
        return results

    def renew(self, owner: str, lease: float) -> int:
        sql = self._sql(
            "UPDATE fal_batch_rows SET lease_until = {now} + ? WHERE batch = ? AND lease_owner = ?"
        )
        with self._transaction(write=True):
            return self._rowcount(sql, (lease, self.name, owner))

    def release(self, owner: str) -> None:
        sql = self._sql(
            "UPDATE fal_batch_rows SET lease_owner = NULL, lease_until = NULL "
            "WHERE batch = ? AND lease_owner = ?"
        )
        with self._transaction(write=True):
            self._rowcount(sql, (self.name, owner))

    def resolve_ambiguous(self, slot: str, request_id: str | None) -> bool:
        if request_id is None:
            sql = (
                "UPDATE fal_batch_rows SET state = 'pending', token = NULL, error_kind = NULL, "
                "error_status = NULL, error = NULL, updated_at = {now} "
                "WHERE batch = ? AND slot = ? AND state = 'ambiguous'"
            )
            params: list[Any] = [self.name, slot]
        else:
            # A request adopted by one row is never adopted by another (two identical inputs
            # each find their own request), even by two workers settling at once; nor while a
            # row with the same input is being sent by a live worker (the request found may be
            # that one's, its id not committed yet).
            sql = (
                "UPDATE fal_batch_rows SET state = 'submitted', request_id = ?, "
                "error_kind = NULL, error_status = NULL, error = NULL, updated_at = {now} "
                "WHERE batch = ? AND slot = ? AND state = 'ambiguous' AND NOT EXISTS "
                "(SELECT 1 FROM fal_batch_rows AS other WHERE other.batch = ? "
                "AND other.request_id = ?) AND NOT EXISTS "
                "(SELECT 1 FROM fal_batch_rows AS busy WHERE busy.batch = ? AND busy.slot <> ? "
                "AND busy.state = 'submitting' AND busy.lease_until > {now} "
                "AND busy.input_hash = fal_batch_rows.input_hash)"
            )
            params = [request_id, self.name, slot, self.name, request_id, self.name, slot]
        with self._transaction(write=True):
            if request_id is not None:
                self._serialize_adoptions()
            return self._rowcount(self._sql(sql), params) == 1

    def _serialize_adoptions(self) -> None:
        """Make concurrent adoptions of this batch take turns (within the transaction), so that
        each sees the ids the others committed. SQLite's writers take turns already."""

    def clock(self) -> float:
        with self._transaction(write=False):
            return float(self._execute(self._sql("SELECT {now}"))[0][0])

    def state_of(self, slot: str) -> RowState | None:
        sql = self._sql("SELECT state FROM fal_batch_rows WHERE batch = ? AND slot = ?")
        with self._transaction(write=False):
            found = self._execute(sql, (self.name, slot))
        return found[0][0] if found else None

    def cut_off(self, *, take_over: bool) -> int:
        error = ErrorInfo(
            "possibly_accepted",
            "the run stopped between sending this row and getting its request id; "
            "fal may have accepted it",
        )
        sql = self._sql(
            "UPDATE fal_batch_rows SET state = 'ambiguous', error_kind = ?, error_status = NULL, "
            "error = ?, lease_owner = NULL, lease_until = NULL, updated_at = {now} "
            "WHERE batch = ? AND state = 'submitting' "
            "AND (? = 1 OR lease_owner IS NULL OR lease_until < {now})"
        )
        with self._transaction(write=True):
            return self._rowcount(
                sql, (error.kind, error.message, self.name, 1 if take_over else 0)
            )

    def request_ids(self) -> set[str]:
        sql = self._sql(
            "SELECT request_id FROM fal_batch_rows WHERE batch = ? AND request_id IS NOT NULL"
        )
        with self._transaction(write=False):
            return {str(rid) for (rid,) in self._execute(sql, (self.name,))}

    # -- reading --------------------------------------------------------------------------------

    def not_loaded(self, loaded: Container[str]) -> tuple[int, list[str]]:
        sql = self._sql(
            "SELECT slot, row_key FROM fal_batch_rows WHERE batch = ? AND state = 'pending' "
            "ORDER BY pos"
        )
        found = 0
        shown: list[str] = []
        with self._transaction(write=False):
            for slot, key in self._execute(sql, (self.name,)):
                if str(slot) in loaded:
                    continue
                found += 1
                if len(shown) < 20:
                    shown.append(str(key))
        return found, shown

    def counts(self) -> dict[str, int]:
        sql = self._sql("SELECT state, COUNT(*) FROM fal_batch_rows WHERE batch = ? GROUP BY state")
        with self._transaction(write=False):
            return {state: int(n) for state, n in self._execute(sql, (self.name,))}

    def failed_kinds(self) -> dict[str, int]:
        sql = self._sql(
            "SELECT error_kind, COUNT(*) FROM fal_batch_rows "
            "WHERE batch = ? AND state = 'failed' GROUP BY error_kind ORDER BY COUNT(*) DESC"
        )
        with self._transaction(write=False):
            return {str(kind): int(n) for kind, n in self._execute(sql, (self.name,))}

    def workers(self) -> list[tuple[str, int, float]]:
        sql = self._sql(
            "SELECT lease_owner, COUNT(*), MAX(lease_until) - {now} FROM fal_batch_rows "
            "WHERE batch = ? AND lease_owner IS NOT NULL GROUP BY lease_owner ORDER BY lease_owner"
        )
        with self._transaction(write=False):
            return [(o, int(n), float(left)) for o, n, left in self._execute(sql, (self.name,))]

    def rows(
        self, states: Sequence[RowState] | None = None, *, page: int = 500
    ) -> Iterator[JournalRow]:
        where = "batch = ? AND (pos > ? OR (pos = ? AND slot > ?))"
        if states:
            where += f" AND state IN ({', '.join('?' * len(states))})"
        sql = self._sql(
            f"SELECT {_COLUMNS} FROM fal_batch_rows WHERE {where} ORDER BY pos, slot LIMIT ?"
        )
        after: tuple[int, str] = (-1, "")
        while True:
            with self._transaction(write=False):
                records = self._execute(
                    sql, (self.name, after[0], after[0], after[1], *(states or ()), page)
                )
            for record in records:
                yield row_from_record(record)
            if len(records) < page:
                return
            after = (int(records[-1][2]), str(records[-1][0]))
