"""How the local server behaves for a test: queue timing, logs, failures and user handlers.

Everything here is set from the test's thread while the server runs in its own, so the state is
immutable values swapped under a lock (:class:`Controls`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final, Literal, TypeAlias

from .._checks import check_bool, check_callable, check_count, check_items, check_seconds
from .._errors import InvalidArgumentError
from ._json import as_dict, as_list

__all__ = ["Behaviour", "Controls", "Failure", "Handler", "LogLine"]

MAX_SECONDS: Final = 600.0
MAX_QUEUE_POSITION: Final = 10_000
MAX_LOGS: Final = 10_000

LogLine: TypeAlias = str | Mapping[str, Any]
"""A log line to emit: a message, or ``{"message", "level"?}``."""

Handler: TypeAlias = Callable[[dict[str, Any]], Any | Awaitable[Any]]
"""Produces an endpoint's output from its input dict (sync or async). It may return or raise a
:class:`Failure`; any other exception becomes a 500 failure."""


class Failure(Exception):
    """A model failure: the request completes with this HTTP status and body.

    ``Failure(422, [{"loc": ["body", "prompt"], "msg": "...", "type": "..."}])`` makes a fal
    validation error; ``Failure(500, "boom", error_type="internal_server_error")`` a flat one.
    ``body`` replaces the default ``{"detail", "error_type"}`` body entirely.
    """

    def __init__(
        self,
        status_code: int = 500,
        detail: Any = "Internal server error",
        *,
        error_type: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not 400 <= check_count("status_code", status_code, minimum=0) <= 599:
            raise InvalidArgumentError(
                f"status_code must be a 4xx or 5xx status for a failure, got {status_code}"
            )
        self.status_code: int = status_code
        self.detail: Any = detail
        self.error_type: str = (
            error_type if error_type is not None else _default_error_type(status_code, detail)
        )
        self.headers: dict[str, str] = dict(headers or {})
        default: dict[str, Any] = {"detail": detail}
        if not isinstance(detail, list):
            default["error_type"] = self.error_type
        self.body: Any = default if body is None else body
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The human message the status's ``error`` field carries."""
        entries = as_list(self.detail)
        if entries:
            entry = as_dict(entries[0])
            loc = ".".join(str(p) for p in as_list(entry.get("loc")) if p != "body")
            msg = str(entry.get("msg", "invalid"))
            return f"{loc}: {msg}" if loc else msg
        return str(self.detail)

    def __repr__(self) -> str:
        return f"Failure({self.status_code}, {self.detail!r}, error_type={self.error_type!r})"


def _default_error_type(status_code: int, detail: Any) -> str:
    entries = as_list(detail)
    kind = as_dict(entries[0]).get("type") if entries else None
    if isinstance(kind, str):
        return kind
    return {
        400: "bad_request",
        422: "validation_error",
        429: "concurrent_requests_limit",
        499: "client_cancelled",
        502: "runner_incomplete_response",
        503: "runner_scheduling_failure",
        504: "request_timeout",
    }.get(status_code, "internal_server_error")


@dataclass(frozen=True)
class Behaviour:
    """How requests to an endpoint move through the queue.

    A request reports ``queue_position``, counts down to 0 spending ``queue_step`` seconds at each
    position, then is IN_PROGRESS for ``processing_time`` seconds while ``logs`` are emitted
    evenly across it, then COMPLETED with the handler's (or the synthesised) output, or with
    ``failure``. ``hold`` parks requests at the end of the queue ("queue") or of processing
    ("progress") until :meth:`LocalFal.release` lets them go; ``honour_cancel=False`` lets a
    request that is already running finish despite a cancel (fal does not guarantee it stops).
    Direct ``run`` calls wait the same total time. ``max_concurrent_per_key`` (set globally) is
    the account's concurrency limit: a submit past that many unfinished requests of the same key
    is answered 429 ``concurrent_requests_limit`` with ``Retry-After: 1``.
    """

    queue_position: int = 0
    queue_step: float = 0.0
    processing_time: float = 0.0
    logs: Sequence[LogLine] = ()
    failure: Failure | None = None
    hold: Literal["queue", "progress"] | None = None
    honour_cancel: bool = True
    max_concurrent_per_key: int | None = None

    def __post_init__(self) -> None:
        if self.max_concurrent_per_key is not None:
            check_count("max_concurrent_per_key", self.max_concurrent_per_key)
        check_count("queue_position", self.queue_position, minimum=0, maximum=MAX_QUEUE_POSITION)
        for name in ("queue_step", "processing_time"):
            check_seconds(name, getattr(self, name), maximum=MAX_SECONDS)
        lines = check_items("logs", self.logs, "log lines")
        if len(lines) > MAX_LOGS:
            raise InvalidArgumentError(f"logs must be at most {MAX_LOGS} lines, got {len(lines)}")
        object.__setattr__(self, "logs", tuple(lines))
        check_bool("honour_cancel", self.honour_cancel)
        if self.hold not in (None, "queue", "progress"):
            raise InvalidArgumentError(
                f"hold must be None, 'queue' or 'progress', got {self.hold!r}"
            )
        if self.failure is not None and not isinstance(self.failure, Failure):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(
                f"failure must be a fal_typed.testing.Failure, got {type(self.failure).__name__}"
            )

    @property
    def queue_time(self) -> float:
        return (self.queue_position + 1) * self.queue_step


_BEHAVIOUR_FIELDS: Final = frozenset(f.name for f in fields(Behaviour))


class Controls:
    """The current behaviours (global and per endpoint) and handlers; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global = Behaviour()
        self._overrides: dict[str, dict[str, Any]] = {}
        self._handlers: dict[str, Handler] = {}

    def behaviour(self, endpoint_id: str) -> Behaviour:
        with self._lock:
            overrides = self._overrides.get(endpoint_id)
            return replace(self._global, **overrides) if overrides else self._global

    def configure(self, endpoint_id: str | None = None, **changes: Any) -> Behaviour:
        """Change some fields globally (``endpoint_id=None``) or for one endpoint."""
        unknown = sorted(set(changes) - _BEHAVIOUR_FIELDS)
        if unknown:
            raise TypeError(
                f"unknown behaviour field(s): {', '.join(unknown)}; known: {', '.join(sorted(_BEHAVIOUR_FIELDS))}"
            )
        with self._lock:
            if endpoint_id is None:
                self._global = replace(self._global, **changes)
                return self._global
            merged = {**self._overrides.get(endpoint_id, {}), **changes}
            behaviour = replace(self._global, **merged)  # validates
            self._overrides[endpoint_id] = merged
            return behaviour

    def set_handler(self, endpoint_id: str, handler: Handler | None) -> None:
        check_callable(f"handler for {endpoint_id}", handler)
        with self._lock:
            if handler is None:
                self._handlers.pop(endpoint_id, None)
            else:
                self._handlers[endpoint_id] = handler

    def handler(self, endpoint_id: str) -> Handler | None:
        with self._lock:
            return self._handlers.get(endpoint_id)

    def has_handler(self, endpoint_id: str) -> bool:
        with self._lock:
            return endpoint_id in self._handlers

    def reset(self) -> None:
        with self._lock:
            self._global = Behaviour()
            self._overrides.clear()
            self._handlers.clear()
