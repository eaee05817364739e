"""The SQLite journal: one file, the embedded default.

WAL mode, so ``batch status`` (and workers on the same machine) read while a run writes.
``synchronous=FULL``: every commit is on disk before it returns, also across a power cut or an
OS crash. With ``NORMAL`` a commit survives a killed process but the last ones may roll back on a
power cut, and a rolled-back ``submitting`` would let the next run send that row again, paying
twice. The cost of FULL is one fsync per commit, and the runner commits many rows' changes in one
transaction (group commit), so it stays small per row (bench/bench_batch.py measures it).

The run lock is ``flock`` on ``<journal>.lock``: exclusive for a solo run, shared for workers;
the operating system drops it when the process dies, so a killed run is resumed at once.

A journal copied without its ``-wal`` file (or an older backup put back in its place) lacks the
commits of its last run: rows that run sent would read ``pending`` and be sent, and paid for,
again. So each run counts itself into the journal (``fal_journal_runs``: the count of runs that
opened it and of those that closed it cleanly, checkpointed into the main file at once) and into
its lock file. A run refuses a journal whose lock file counts more runs than the journal does
(an older copy put back, or its log lost), and one its last run left open, found with no log and
no lock file beside it (the main file of a journal copied while running, or after a crash,
without its ``-wal``). See :meth:`SQLiteJournal._check_whole`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import IO, Any

from .._sqlite_names import names_problem
from ._journal import (
    BatchInfo,
    JournalBusyError,
    JournalError,
    JournalMismatchError,
    Mode,
    SQLJournal,
)

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
        self._opened: int | None = None
        if self.path.is_dir():
            raise JournalError(f"{self.path} is a folder, not a journal file")
        # Through a second name, a run reads none of the commits a run killed through the
        # first left in its log: it took the rows sent for unsent and sent them again.
        problem = names_problem(self.path)
        if problem is not None:
            raise JournalError(f"{problem}; a run through another name would send rows again")
        # Looked at before SQLite opens the file: its first read makes an empty log.
        self._log_found: bool = _has_log(self.path)
        # A journal made by this open (deleted and made anew under the same name, its lock
        # file left): the lock file's count is an older journal's, not this one's.
        self._new: bool = not self.path.exists()
        self._mode: Mode | None = None
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from None
        try:
            # Looked at before the first write (WAL mode is one): a file that is not ours is
            # refused as it is, never turned into a journal.
            _check_is_journal(self.path, connection)
            connection.create_function("fal_now", 0, time.time)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=60000")
        except sqlite3.Error as exc:
            connection.close()
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from None
        except JournalError:
            connection.close()
            raise
        self._connection = connection
        self._depth = 0

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.location!r}, name={self.name!r})"

    def _lock_journal(self, mode: Mode) -> None:
        if mode == "worker":
            _refuse_network_filesystem(self.path)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock, one run at a time is on you
            return
        # Beside the file itself: a run through a symbolic link to the journal must meet the
        # same lock, or two runs each take over every row and send it.
        handle = self._lock_path().open("ab")
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

    def open(self, info: BatchInfo, mode: Mode) -> None:
        super().open(info, mode)
        if mode != "read":
            self._check_whole(mode)

    def _lock_path(self) -> Path:
        real = self.path.resolve()
        return real.parent / f"{real.name}.lock"

    def _check_whole(self, mode: Mode) -> None:
        """Refuse a journal that lacks commits of a run that used it (see the module docstring);
        then count this run in, in the main file (checkpointed) and in the lock file."""
        counted = None if self._new else _lock_count(self._lock_path())
        self._mode = mode
        with self._transaction(write=True):
            self._execute(
                "CREATE TABLE IF NOT EXISTS fal_journal_runs (id INTEGER PRIMARY KEY "
                "CHECK (id = 1), opened INTEGER NOT NULL, closed INTEGER NOT NULL)"
            )
            self._execute("INSERT OR IGNORE INTO fal_journal_runs VALUES (1, 0, 0)")
            opened, closed = self._execute("SELECT opened, closed FROM fal_journal_runs")[0]
            if counted is not None and counted > opened:
                raise JournalMismatchError(
                    f"{self.path} lacks the commits of its last runs: its lock file counts "
                    f"{counted} runs, the journal {opened}. It is an older copy put back in its "
                    f"place, or its log ({self.path.name}-wal) was lost: rows those runs sent "
                    "would be sent, and paid for, again. Put the journal's latest copy back "
                    "(with its -wal file); to resume this copy anyway, accepting that, delete "
                    f"{self._lock_path().name}"
                )
            if closed < opened and not self._log_found and counted is None:
                raise JournalMismatchError(
                    f"{self.path} was left open by its last run (killed, or still running), "
                    f"and its log {self.path.name}-wal is not beside it: it looks like a copy "
                    "of the main file alone, without the commits of that run (rows it sent "
                    "would be sent, and paid for, again). Copy the -wal file with it, or copy "
                    f"a journal with `sqlite3 {self.path.name} '.backup copy.db'`; to resume "
                    "this copy anyway, accepting that, run `sqlite3 "
                    f"{self.path.name} 'UPDATE fal_journal_runs SET closed = opened'`"
                )
            self._execute("UPDATE fal_journal_runs SET opened = opened + 1")
        now = int(opened) + 1
        # Into the main file now: a copy of it alone, taken while this run works, says so.
        # (A worker joining others checkpoints what their readers allow.)
        with self._lock, contextlib.suppress(sqlite3.Error):
            way = "FULL" if mode == "solo" else "PASSIVE"
            self._connection.execute(f"PRAGMA wal_checkpoint({way})").fetchall()
        self._opened = now
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fd = self._lock_file.fileno()
                os.ftruncate(fd, 0)  # (counted <= opened < now: checked above)
                os.write(fd, f"{now}\n".encode())

    def _close_cleanly(self) -> None:
        """Count this run's clean end. A run alone (solo: its lock is exclusive, or no lock
        exists without fcntl) ends every run before it too: ``closed = opened``. A worker counts
        itself (``closed + 1``), never upgrading its shared lock to find whether it is the last:
        on Linux that upgrade is not atomic, so a worker starting meanwhile was refused as
        meeting a run without --worker, and two closing together both failed it and recorded no
        clean end. Without fcntl (Windows) nothing was recorded, and every next run was
        refused as a copy left open."""
        if self._opened is None:
            return
        count = "closed = opened" if self._mode == "solo" else "closed = MIN(opened, closed + 1)"
        with contextlib.suppress(JournalError), self._transaction(write=True):
            self._execute(f"UPDATE fal_journal_runs SET {count}")

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
            try:
                self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc
            self._depth = 1
            try:
                yield
            except BaseException as exc:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):  # a failed statement may have ended it
                    self._connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc) from exc
                raise
            self._depth = 0
            try:
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:  # a full disk, an I/O error: nothing was committed
                with contextlib.suppress(sqlite3.Error):
                    self._connection.execute("ROLLBACK")
                raise self._failed(exc) from exc

    def _failed(self, exc: sqlite3.Error) -> JournalError:
        """A journal error naming the file (a disk full or read-only, an I/O error, a lock
        held past the busy timeout), so the run stops saying where, not as a bug."""
        return JournalError(f"the journal {self.path} failed: {exc}")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, tuple(params)).fetchall()

    def _rowcount(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock:
            return self._connection.execute(sql, tuple(params)).rowcount

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._close_cleanly()
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            if self._lock_file is not None:
                self._lock_file.close()  # closing the file drops the flock
                self._lock_file = None


def _has_log(path: Path) -> bool:
    """Whether ``path`` has a write-ahead log beside it with anything in it."""
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def _lock_count(lock: Path) -> int | None:
    """The count of runs the lock file beside a journal holds (None: no lock file, or one from
    before runs were counted)."""
    try:
        text = lock.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _check_is_journal(path: Path, connection: sqlite3.Connection) -> None:
    """Refuse a file that is not a batch journal: not SQLite at all (the input file given as
    ``--journal``), or another program's SQLite database (its tables would be written into)."""
    try:
        tables = {
            str(row[0])
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.OperationalError:
        raise  # locked, unreadable: a journal may be behind it, said as such by the caller
    except sqlite3.DatabaseError as exc:  # SQLite's "file is not a database", "malformed"
        raise JournalError(
            f"{path} is not a batch journal: SQLite cannot read it ({exc}); is it the input file?"
        ) from None
    if tables and "fal_batch" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise JournalError(
            f"{path} is not a batch journal: it is a SQLite database of something else "
            f"(tables {shown}); give the journal a path of its own"
        )


#: Where Linux lists this process's mounts (``man 5 proc``): absent elsewhere, then not checked.
MOUNTINFO = Path("/proc/self/mountinfo")
_NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "9p",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.cephfs",
        "beegfs",
        "ocfs2",
        "gfs2",
    }
)


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem ``path`` is on (``ext4``, ``nfs4``...), from
    :data:`MOUNTINFO`: the mount point that is the longest prefix of the resolved path."""
    try:
        lines = MOUNTINFO.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        fstype = line.split(" - ", 1)[1].split()[0]
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and (best is None or len(mount) >= best[0]):
            best = (len(mount), fstype)
    return None if best is None else best[1]


def _refuse_network_filesystem(path: Path) -> None:
    """Workers may share a SQLite journal on one machine only: on a network filesystem each
    machine's SQLite keeps its own shared memory (WAL) and locks, so workers on two machines
    would each claim, and send, the same rows. PostgreSQL is the journal for that."""
    fstype = filesystem_type(path)
    if fstype is not None and fstype in _NETWORK_FILESYSTEMS:
        raise JournalError(
            f"{path} is on a network filesystem ({fstype}): workers sharing a SQLite journal must "
            "run on one machine, with the file on a local disk; for workers on several machines "
            "use a PostgreSQL journal (--journal postgresql://...)"
        )
