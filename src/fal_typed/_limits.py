"""`Limits`: how much a peer may make the client hold in memory, or wait for.

A server, a proxy in front of it or a network fault can answer with a body that never ends, a
line with no newline, a gzip bomb, JSON nested past Python's recursion limit or a WebSocket frame
that decodes into millions of objects. Each of those is bounded here, by a documented default
that a :class:`~fal_typed.Client` (``Client(limits=Limits(...))``) can change. Going past a limit
raises a :class:`~fal_typed.FalError` that names the URL and the limit, and keeps what was
received where a paid result may be in it (``ProtocolError.text``), so nothing paid is lost.

Timeouts that are limits on a whole call (``client_timeout``, ``run(timeout=...)``,
``stream(timeout=...)``) are per-call arguments; the ones here are per-client.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ._checks import check_count, check_seconds

__all__ = ["DEFAULT_LIMITS", "KiB", "Limits", "MiB"]

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    """Bounds on responses, streams, realtime frames and downloads (see the module docstring)."""

    max_response_bytes: int = 256 * MiB
    """Largest JSON answer read into memory (results, statuses, errors), after decompression."""
    answer_timeout: float = 300.0
    """Longest the body of an answer (a result, a status, an error) may take to arrive once its
    headers did, in seconds, however the server trickles it (a read timeout only bounds the
    silence between two chunks). A silence is ended by the read timeout; a ``run``'s reads have
    none, so there only the call's ``timeout`` ends one."""
    max_json_depth: int = 256
    """Deepest nesting of objects and arrays parsed from JSON (Python's recursion limit is 1000)."""
    max_decompression_ratio: float = 200.0
    """Largest decoded/encoded size ratio of a compressed body (gzip, deflate, br, zstd)."""
    max_sse_line_bytes: int = 64 * MiB
    """Longest line of a server-sent event stream (events may carry images as data URIs)."""
    max_sse_event_bytes: int = 128 * MiB
    """Largest server-sent event (all its ``data:`` lines together)."""
    max_realtime_frame_bytes: int = 64 * MiB
    """Largest realtime (WebSocket) frame received."""
    max_realtime_objects: int = 1_000_000
    """Most objects (maps, arrays, strings...) one realtime frame may decode into."""
    max_download_bytes: int = 16 * 1024 * MiB
    """Largest output file read or saved (16 GiB)."""
    download_timeout: float = 1800.0
    """Longest a whole download may take, in seconds, however the server trickles it."""
    realtime_open_timeout: float = 90.0
    """Longest the opening of a realtime connection may take, in seconds: the token request,
    TCP connect, TLS and the WebSocket handshake together (a cold runner may be started behind
    it; fal-client waits 90 s)."""
    realtime_close_timeout: float = 10.0
    """Longest a clean close of a realtime connection waits for the server's answer, in seconds."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            name, value = f"Limits.{spec.name}", getattr(self, spec.name)
            if spec.type == "int":  # a size or a count: 1.5 bytes is no limit anyone meant
                check_count(name, value)
            else:  # seconds, or a ratio
                unit = "seconds" if spec.name.endswith("_timeout") else ""
                check_seconds(name, value, positive=True, unit=unit)


#: The limits of a client built without ``limits=``.
DEFAULT_LIMITS = Limits()
