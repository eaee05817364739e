"""One SQLite file, one name: the rule every SQLite file fal-typed shares between runs keeps.

SQLite keeps a database's last commits in a write-ahead log named after the path it was opened
by (``j.db-wal``), and the locks and index of that log in a shared-memory file named so too
(``j.db-shm``). A second name of the same file (a hard link) has a log of its own: a process
opening it reads none of the commits still in the first name's log, and takes locks the first
never sees. Symbolic links are safe (SQLite follows them to the file's own name).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["names_problem"]


def names_problem(path: Path) -> str | None:
    """What is wrong with opening ``path`` with SQLite by this name, or None: it has more than
    one name (hard links). A file not there yet is made with one name."""
    try:
        names = path.stat().st_nlink
    except OSError:  # not there yet, or unreadable: said by the connect that follows
        return None
    if names <= 1:
        return None
    return (
        f"{path} has {names} names (hard links to one file): SQLite keeps its last commits "
        "beside the name it was opened by, so processes using two names miss each other's "
        "commits and locks. Keep one name: delete the others (find "
        f"{path.parent} -samefile {path} lists those in its folder), keeping the one in use, "
        "or give each its own copy (cp)"
    )
