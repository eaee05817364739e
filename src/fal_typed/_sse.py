"""A server-sent-events decoder that holds a bounded amount of memory and knows a cut from an end.

Fed the decoded bytes of a ``text/event-stream`` body as they arrive, :class:`SSEDecoder`
returns each complete event (the WHATWG rules: ``\\n``, ``\\r\\n`` or ``\\r`` ends a line, a blank
line dispatches the event, ``data:`` lines join with ``\\n``, ``:`` starts a comment, an event with
no data is not dispatched). Unlike a generic line reader it never holds more than one line of
``max_line_bytes`` and one event of ``max_event_bytes``: a peer sending a line that never ends,
or one enormous event, fails with :class:`SSELimitError` once the limit is passed, not when the
memory runs out. :meth:`SSEDecoder.finish` says whether the body stopped in the middle of an
event, which a stream whose length is set by the connection closing cannot tell otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["SSEDecoder", "SSEEvent", "SSELimitError"]

_CR: Final = 0x0D
_LF: Final = 0x0A


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its type (``"message"`` when unnamed), data and last event id."""

    event: str
    data: str
    id: str


class SSELimitError(Exception):
    """A line or an event went past its limit; ``limit`` names the :class:`~fal_typed.Limits` field."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class SSEDecoder:
    """Incremental, bounded SSE parser: :meth:`feed` bytes, get complete events."""

    def __init__(self, *, max_line_bytes: int, max_event_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no line ending
        self._after_cr = False  # the last line ended with CR: a LF right after belongs to it
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._fields = 0  # fields of the pending event (an event in progress, if not 0)
        self._last_id = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next bytes of the body; return the events they completed, in order."""
        events: list[SSEEvent] = []
        if not chunk:
            return events
        if self._after_cr and chunk[0] == _LF:
            chunk = chunk[1:]
        self._after_cr = False
        buffer = self._buffer
        buffer += chunk
        if _CR not in chunk:  # the held bytes end no line: with LF only, split at once
            return self._feed_lf(events)
        start = 0
        scan = self._scanned
        while True:
            end = _line_end(buffer, scan)
            if end < 0:
                break
            if end - start > self.max_line_bytes:
                raise self._line_too_long()
            line = bytes(buffer[start:end])
            if buffer[end] == _CR:
                if end + 1 < len(buffer):
                    start = end + 2 if buffer[end + 1] == _LF else end + 1
                else:
                    start = end + 1
                    self._after_cr = True
            else:
                start = end + 1
            scan = start
            event = self._line(line)
            if event is not None:
                events.append(event)
        del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self.max_line_bytes:
            raise self._line_too_long()
        return events

    def _feed_lf(self, events: list[SSEEvent]) -> list[SSEEvent]:
        """:meth:`feed` for a buffer whose line endings are all LF (what servers send)."""
        buffer = self._buffer
        last = buffer.rfind(b"\n", self._scanned)
        if last >= 0:
            lines = bytes(buffer[:last]).split(b"\n")
            del buffer[: last + 1]
            check = last > self.max_line_bytes  # else no line can be past the limit
            for line in lines:
                if check and len(line) > self.max_line_bytes:
                    raise self._line_too_long()
                event = self._line(line)
                if event is not None:
                    events.append(event)
        self._scanned = len(buffer)
        if len(buffer) > self.max_line_bytes:
            raise self._line_too_long()
        return events

    def finish(self) -> bool:
        """The body ended: ``True`` if it ended between events, ``False`` if in the middle of one
        (a partial line, or fields not yet followed by the blank line that dispatches them)."""
        return not self._buffer and self._fields == 0

    @property
    def pending_bytes(self) -> int:
        """Bytes held for the line and the event in progress."""
        return len(self._buffer) + self._data_bytes

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", "replace")
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._fields += 1
        if name == "data":
            self._data_bytes += len(raw) + 1
            if self._data_bytes > self.max_event_bytes:
                raise SSELimitError(
                    f"an event is larger than the limit of {self.max_event_bytes} bytes",
                    limit="max_sse_event_bytes",
                )
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event = "\n".join(self._data), self._event or "message"
        self._data, self._event, self._data_bytes, self._fields = [], "", 0, 0
        if not data:
            return None  # an empty data buffer dispatches nothing (WHATWG)
        return SSEEvent(event, data, self._last_id)

    def _line_too_long(self) -> SSELimitError:
        return SSELimitError(
            f"a line is longer than the limit of {self.max_line_bytes} bytes",
            limit="max_sse_line_bytes",
        )


def _line_end(buffer: bytearray, start: int) -> int:
    """Index of the first CR or LF at or after ``start``, or -1."""
    lf = buffer.find(b"\n", start)
    cr = buffer.find(b"\r", start, lf if lf >= 0 else len(buffer))
    return cr if cr >= 0 else lf
