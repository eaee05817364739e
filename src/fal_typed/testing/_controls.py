"""How the local server behaves for a test: queue timing, logs, failures and user handlers.

Everything here is set from the test's thread while the server runs in its own, so the state is
immutable values swapped under a lock (:class:`Controls`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final, Literal, TypeAlias

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
        if not 400 <= status_code <= 599:
            raise ValueError(f"a failure needs a 4xx or 5xx status, got {status_code}")
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
        if self.max_concurrent_per_key is not None and self.max_concurrent_per_key < 1:
            raise ValueError(
                f"max_concurrent_per_key must be at least 1, got {self.max_concurrent_per_key}"
            )
        if not 0 <= self.queue_position <= MAX_QUEUE_POSITION:
            raise ValueError(
                f"queue_position must be between 0 and {MAX_QUEUE_POSITION}, got {self.queue_position}"
            )
        for name in ("queue_step", "processing_time"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_SECONDS:
                raise ValueError(
                    f"{name} must be between 0 and {MAX_SECONDS:g} seconds, got {value}"
                )
        if isinstance(self.logs, (str, bytes)):
            raise TypeError("logs must be a sequence of lines, not a single string")
        if len(self.logs) > MAX_LOGS:
            raise ValueError(f"at most {MAX_LOGS} log lines, got {len(self.logs)}")
        lines: Sequence[LogLine] = self.logs
        object.__setattr__(self, "logs", tuple(lines))
        if self.hold not in (None, "queue", "progress"):
            raise ValueError(f"hold must be None, 'queue' or 'progress', got {self.hold!r}")
        if self.failure is not None and not isinstance(self.failure, Failure):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError("failure must be a Failure")

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
        if handler is not None and not callable(handler):
            raise TypeError(
                f"handler for {endpoint_id} must be callable, got {type(handler).__name__}"
            )
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
