"""Every request the local server received, for assertions ("exactly one submit").

Secrets never enter the log: the ``Authorization`` value keeps only its scheme, and token headers
and ``fal_jwt_token`` query values are replaced. Bodies are kept up to :data:`MAX_BODY` bytes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["MAX_BODY", "RecordedRequest", "RequestLog", "redact_headers", "redact_query"]

MAX_BODY: Final = 64 * 1024
MAX_ENTRIES: Final = 10_000
REDACTED: Final = "<redacted>"
_SECRET_HEADERS: Final = frozenset({"cookie", "x-fal-cdn-token", "proxy-authorization"})
_SECRET_QUERY: Final = frozenset({"fal_jwt_token", "token", "key"})


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased headers with credentials removed (``Authorization: Key <redacted>``)."""
    result: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower == "authorization":
            scheme, _, secret = value.strip().partition(" ")
            value = f"{scheme} {REDACTED}" if secret else REDACTED
        elif lower in _SECRET_HEADERS:
            value = REDACTED
        result[lower] = value
    return result


def redact_query(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in _SECRET_QUERY else v) for k, v in params}


@dataclass
class RecordedRequest:
    """One request. ``status_code`` stays None while it is in flight (or if it was reset).

    ``operation`` is the route name (``queue.submit``, ``queue.status``, ``queue.status_stream``,
    ``queue.result``, ``queue.cancel``, ``run``, ``cdn.file`` ...); ``fault`` names the fault
    injected into it, if any.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    operation: str | None = None
    endpoint_id: str | None = None
    request_id: str | None = None
    status_code: int | None = None
    fault: str | None = None
    body_size: int = 0
    received_at: float = field(default_factory=time.time)
    """When the request arrived (wall clock, seconds since the epoch)."""
    client_address: tuple[str, int] | None = None
    """The client's end (host, port) of the connection that carried it: requests that share one
    kept-alive connection share it."""
    _body: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def body(self) -> bytes:
        """The first :data:`MAX_BODY` bytes of the request body."""
        return bytes(self._body)

    def add_body(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        room = MAX_BODY - len(self._body)
        if room > 0:
            self._body += chunk[:room]

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class RequestLog:
    """A bounded, thread-safe list of :class:`RecordedRequest`."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def append(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(
        self,
        operation: str | None = None,
        *,
        endpoint_id: str | None = None,
        method: str | None = None,
        request_id: str | None = None,
    ) -> list[RecordedRequest]:
        """The entries, oldest first, optionally filtered (all filters must match)."""
        with self._lock:
            snapshot = list(self._entries)
        return [
            e
            for e in snapshot
            if (operation is None or e.operation == operation)
            and (endpoint_id is None or e.endpoint_id == endpoint_id)
            and (method is None or e.method == method.upper())
            and (request_id is None or e.request_id == request_id)
        ]
