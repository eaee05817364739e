"""`RealtimeConnection` / `AsyncRealtimeConnection`: fal's realtime WebSocket (msgpack, JWT).

PROTOCOL.md section 8.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from ._client import Client
    from ._endpoint import Endpoint

__all__ = ["AsyncRealtimeConnection", "RealtimeConnection"]

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


class RealtimeConnection(Generic[InputT, OutputT]):
    """A realtime WebSocket to one endpoint: ``send_arguments`` / ``recv`` / iteration."""

    def __init__(
        self,
        endpoint: Endpoint[InputT, OutputT],
        *,
        client: Client | None = None,
        path: str = "/realtime",
        throttle_interval: float | None = None,
        max_buffering: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._client = client
        self.path = path
        self.throttle_interval = throttle_interval
        self.max_buffering = max_buffering


class AsyncRealtimeConnection(Generic[InputT, OutputT]):
    """Async twin of :class:`RealtimeConnection`."""

    def __init__(
        self,
        endpoint: Endpoint[InputT, OutputT],
        *,
        client: Client | None = None,
        path: str = "/realtime",
        throttle_interval: float | None = None,
        max_buffering: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._client = client
        self.path = path
        self.throttle_interval = throttle_interval
        self.max_buffering = max_buffering
