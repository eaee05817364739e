"""Realtime: fal's WebSocket protocol (msgpack frames, short-lived JWTs, throttled sends).

The parts: ``_connection`` (the sync and async connections), ``_protocol`` (URLs and frames, no
I/O), ``_token`` (fetching and caching the JWT), ``_throttle`` (keeping only the latest input).
"""

from ._connection import AsyncRealtimeConnection, RealtimeConnection
from ._protocol import RealtimeError

__all__ = ["AsyncRealtimeConnection", "RealtimeConnection", "RealtimeError"]
