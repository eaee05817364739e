"""Queue status types: ``Queued``, ``InProgress``, ``Completed`` (fal has no FAILED status).

A failure or a cancellation is ``Completed`` with ``error`` (for humans) and ``error_type`` (for
code); the result request then returns the failure itself.

How a status prints (its repr, its notebook view) has every key the process uses scrubbed out:
its text is the server's (an error, log lines), and a callback printing each update is the
first thing users write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, cast

from ._errors import ProtocolError, scrub

__all__ = ["Completed", "InProgress", "Log", "Queued", "Status", "parse_logs", "parse_status"]


@dataclass(frozen=True)
class Log:
    """One log line of the running model; shown as fal shows it: ``[INFO 12:00:01] message``."""

    message: str
    level: str = "INFO"
    """STDOUT, STDERR, INFO, WARN, ERROR or DEBUG."""
    source: str = "USER"
    timestamp: datetime | None = None

    def __repr__(self) -> str:
        clock = f" {self.timestamp:%H:%M:%S}" if self.timestamp is not None else ""
        return scrub(f"[{self.level}{clock}] {self.message}")

    def _repr_html_(self) -> str:
        """In a notebook: time, level and message on one line."""
        from .notebook._html import log_html

        return scrub(log_html(self))


def _with_logs(head: str, logs: list[Log] | None) -> str:
    """``head``, then each log line, aligned under the first: how statuses read when printed."""
    if not logs:
        return head
    indent = "\n" + " " * (len(head) + 2)
    return f"{head}: " + indent.join(repr(log) for log in logs)


@dataclass(frozen=True)
class Queued:
    """Waiting in the queue; ``position`` is the number of requests ahead (0-based)."""

    position: int

    def _repr_html_(self) -> str:
        """In a notebook: how many requests are ahead."""
        from .notebook._html import status_html

        return scrub(status_html(self))


@dataclass(frozen=True)
class InProgress:
    """Running. ``logs`` is None unless logs were requested.

    In ``subscribe`` / ``iter_events`` updates, ``logs`` holds only the lines new since the
    previous update; ``status()`` returns every line so far. Printed, it reads like fal's log:
    ``InProgress: [INFO 12:00:01] loading weights``.
    """

    logs: list[Log] | None = None

    def __repr__(self) -> str:
        return _with_logs("InProgress", self.logs)

    def _repr_html_(self) -> str:
        """In a notebook: running, with the log lines."""
        from .notebook._html import status_html

        return scrub(status_html(self))


@dataclass(frozen=True)
class Completed:
    """Finished, successfully or not: ``error`` / ``error_type`` are set on failure or cancel.

    Printed: ``Completed(inference_time=1.02s)``, or ``Completed(error=..., error_type=...)``,
    then its log lines, if any.
    """

    logs: list[Log] | None = None
    metrics: dict[str, Any] = field(default_factory=dict[str, Any])
    error: str | None = None
    error_type: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or self.error_type is not None

    def __repr__(self) -> str:
        facts = [
            f"{name}={value!r}"
            for name, value in (("error", self.error), ("error_type", self.error_type))
            if value is not None
        ]
        inference_time = self.metrics.get("inference_time")
        if isinstance(inference_time, (int, float)) and not isinstance(inference_time, bool):
            facts.append(f"inference_time={inference_time:.2f}s")
        head = f"Completed({', '.join(facts)})" if facts else "Completed"
        return scrub(_with_logs(head, self.logs))

    def _repr_html_(self) -> str:
        """In a notebook: completed or failed (and why), with the log lines."""
        from .notebook._html import status_html

        return scrub(status_html(self))


Status: TypeAlias = Queued | InProgress | Completed


_ISO_TIMESTAMP = re.compile(
    r"(?P<head>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


def _parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp as fal writes it, in the form Python 3.10's ``fromisoformat``
    accepts too (it rejects a trailing ``Z`` and fractions of other than 3 or 6 digits)."""
    if not isinstance(value, str):
        return None
    match = _ISO_TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    fraction, zone = match["fraction"], match["zone"]
    text = match["head"]
    if fraction:
        text += "." + fraction[:6].ljust(6, "0")
    if zone == "Z":
        text += "+00:00"
    elif zone:
        text += zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a month 13, a hour 25...
        return None


def parse_logs(raw: object) -> list[Log] | None:
    """fal's ``logs`` array (or null) as :class:`Log` objects; malformed entries are skipped."""
    if raw is None:  # no logs asked for: most statuses
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return None
    logs: list[Log] = []
    for entry in raw:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(entry, Mapping):
            continue
        item: Mapping[str, Any] = entry  # pyright: ignore[reportUnknownVariableType]
        logs.append(
            Log(
                message=str(item.get("message", "")),
                level=str(item.get("level") or "INFO"),
                source=str(item.get("source") or "USER"),
                timestamp=_parse_timestamp(item.get("timestamp")),
            )
        )
    return logs


def parse_status(data: object, *, request_id: str | None = None) -> Status:
    """Parse a status body (polled or streamed); an unknown status is a :class:`ProtocolError`."""
    if type(data) is not dict and not isinstance(data, Mapping):  # a dict, from JSON: no ABC check
        raise ProtocolError(
            f"status response is not a JSON object: {data!r:.200}", request_id=request_id
        )
    body = cast("Mapping[str, Any]", data)
    status = body.get("status")
    if status == "IN_QUEUE":
        position = body.get("queue_position")
        return Queued(position=position if isinstance(position, int) else 0)
    if status == "IN_PROGRESS":
        return InProgress(logs=parse_logs(body.get("logs")))
    if status == "COMPLETED":
        metrics = body.get("metrics")
        error = body.get("error")
        error_type = body.get("error_type")
        return Completed(
            logs=parse_logs(body.get("logs")),
            metrics=dict(metrics) if isinstance(metrics, Mapping) else {},  # pyright: ignore[reportUnknownArgumentType]
            error=None if error is None else str(error),
            error_type=None if error_type is None else str(error_type),
        )
    raise ProtocolError(f"unknown request status {status!r}", request_id=request_id)
