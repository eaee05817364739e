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
from collections.abc import Iterable
from pathlib import Path
from typing import Final, cast

from .._checks import path_text
from .._errors import InvalidArgumentError
from .._options import check_webhook_url
from ..files._local import folder_problem
from ._journal import Journal
from ._postgres import is_postgres_dsn

__all__ = [
    "MAX_CONCURRENCY",
    "MIN_LEASE",
    "MIN_WEBHOOK_TIMEOUT",
    "check_batch_name",
    "check_listen",
    "check_optional_text",
    "check_out",
    "check_retry_kinds",
    "check_webhook",
    "journal_location",
]

MAX_CONCURRENCY: Final = 10_000
"""As the command line's ``--concurrency``: more is a typo, not a plan."""
MIN_LEASE: Final = 3.0
"""A lease is renewed every third of it: shorter, a busy worker loses rows it holds."""
MIN_WEBHOOK_TIMEOUT: Final = 1.0
"""As the command line's ``--webhook-timeout``: below it every row is polled at once."""
MAX_BATCH_NAME: Final = 200

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
    location = path_text(cast("str | os.PathLike[str]", journal))
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


def check_optional_text(name: str, value: object) -> str | None:
    """None or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty string or None, got {value!r}")
    return value


def check_batch_name(value: object) -> str:
    """A batch's name: 1 to 200 characters (it is a key in the journal)."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_BATCH_NAME:
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise InvalidArgumentError(
            f"batch_name must be a string of 1 to {MAX_BATCH_NAME} characters, got {shown}"
        )
    return value


#: A kind ``retry_failed`` names: ``all``, a class of statuses, a status (ASCII digits only:
#: ``str.isdigit`` takes ``"²"`` too, which ``int`` refuses), or an error type's name.
_RETRY_KIND: Final = re.compile(r"all|[1-5]xx|[1-5][0-9]{2}|[A-Za-z][A-Za-z0-9_.-]*", re.ASCII)


def check_retry_kinds(value: object) -> frozenset[str]:
    """``retry_failed`` as a set of kinds: a comma-separated string or an iterable of them."""
    items: list[object]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        items = list(value)  # pyright: ignore[reportUnknownArgumentType]
    else:
        raise InvalidArgumentError(
            f"retry_failed must be a string or an iterable of strings, got {type(value).__name__}"
        )
    kinds: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise InvalidArgumentError(
                f"retry_failed must hold strings (error kinds), got {type(item).__name__}"
            )
        kinds.update(k.strip() for k in item.split(",") if k.strip())
    for kind in kinds:
        if not _RETRY_KIND.fullmatch(kind):
            raise InvalidArgumentError(
                f"retry_failed: {kind!r} is no kind of failure: give an error type "
                "(content_policy_violation, timeout ...), a class of statuses (4xx, 5xx), a "
                "status (504) or all"
            )
    return frozenset(kinds)


def check_webhook(value: object) -> bool | str:
    """``webhook``: a bool, or the public URL fal posts to (checked as a submit would)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_webhook_url(value, "webhook")
    raise InvalidArgumentError(
        f"webhook must be True, False or an http(s) URL, got {type(value).__name__}"
    )


def check_listen(value: object) -> tuple[str, int]:
    """``webhook_listen``: a ``(host, port)`` pair, port 0 (any free one) to 65535."""
    pair = cast("tuple[object, ...] | list[object]", value)
    if isinstance(value, (tuple, list)) and len(pair) == 2:
        host, port = pair
        if (
            isinstance(host, str)
            and host.strip()
            and isinstance(port, int)
            and not isinstance(port, bool)
            and 0 <= port <= 65535
        ):
            return host, port
    raise InvalidArgumentError(
        f"webhook_listen must be a (host, port) pair with a port from 0 to 65535, got {value!r}"
    )


def check_out(value: object) -> Path | None:
    """``out``: None, or a folder that exists or can be created (nothing in its way is a file).

    Checked here, so a run does not load the journal and then fail on its first download."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidArgumentError(f"out must be a folder path, got {type(value).__name__}")
    text = path_text(cast("str | os.PathLike[str]", value))
    if not text:
        raise InvalidArgumentError("out must be a non-empty str path")
    folder = Path(text)
    problem = folder_problem(folder)
    if problem is not None:
        raise InvalidArgumentError(f"out must be a folder: {problem}")
    return folder
