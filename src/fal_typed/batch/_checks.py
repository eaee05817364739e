"""The options of ``batch.run`` / ``validate`` / ``read`` / ``status``, checked before anything
starts.

An option found wrong once the run has begun costs a half-loaded journal, rows marked failed, or
(a journal location taken for a file) every row sent again by each worker. Each check raises
:class:`~fal_typed.InvalidArgumentError` (a ``ValueError`` too) naming the option, before a
journal is opened, a row read or a request sent.
"""

from __future__ import annotations

import os
import re
from typing import Any, cast

from .._errors import InvalidArgumentError
from ._journal import Journal
from ._postgres import is_postgres_dsn

__all__ = ["journal_location"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
#: libpq's key=value connection strings (``host=db dbname=jobs``): not read as DSNs here.
_CONNINFO = re.compile(
    r"^\s*(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|"
    r"connect_timeout|application_name|options|target_session_attrs)\s*=",
    re.IGNORECASE,
)


def journal_location(journal: object) -> Journal | str:
    """A :class:`Journal` as is, or the journal's location: a SQLite file path or a supported
    PostgreSQL DSN.

    Anything else that looks like a URL or a DSN (``mysql://``, SQLAlchemy's
    ``postgresql+psycopg://``, ``host=... dbname=...``) is refused: taken as a file name, it
    would give each worker a private journal, and each would send every row. The message names
    the scheme only, never the value (a DSN may hold a password). A one-letter scheme is a
    Windows drive; a file whose name holds a colon is written ``./name``."""
    if isinstance(journal, Journal):
        return journal
    if not isinstance(journal, (str, os.PathLike)):
        raise InvalidArgumentError(
            "journal must be a SQLite file path, a postgresql:// DSN or a Journal, got "
            f"{type(journal).__name__}"
        )
    location = _text(cast("str | os.PathLike[str]", journal))
    if location is None:
        raise InvalidArgumentError("journal must be a str path or DSN, not bytes")
    if not location.strip():
        raise InvalidArgumentError("journal must not be empty")
    if is_postgres_dsn(location):
        return location
    found = _SCHEME.match(location)
    if found is not None and len(found.group(1)) > 1:
        scheme = found.group(1)
        hint = ""
        if scheme.lower().split("+")[0] in ("postgresql", "postgres"):
            hint = "; for PostgreSQL write postgresql://user@host/db (lower case, no +driver)"
        raise InvalidArgumentError(
            f"journal: the scheme {scheme!r} is not supported: a journal is a SQLite file path "
            f"or a postgresql:// (or postgres://) DSN{hint}; a file whose name holds a colon is "
            "written ./NAME"
        )
    if _CONNINFO.match(location):
        raise InvalidArgumentError(
            "journal: a PostgreSQL key=value connection string is not supported; give it as a "
            "DSN: postgresql://user@host:port/db"
        )
    return location


def _text(value: str | os.PathLike[Any]) -> str | None:
    """The text of a path (None for a bytes path, which no journal or folder here takes)."""
    text: object = os.fspath(value)
    return text if isinstance(text, str) else None
