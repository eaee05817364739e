"""`Stream` / `AsyncStream`: a call to the run host's ``/stream`` path (server-sent events).

Each SSE ``data:`` line is one JSON partial output; the last event is the final result
(PROTOCOL.md section 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from ._client import Client
    from ._endpoint import Endpoint

__all__ = ["AsyncStream", "Stream"]

OutputT = TypeVar("OutputT", bound=BaseModel)


class Stream(Generic[OutputT]):
    """Iterate the partial events of a ``/stream`` call; ``result()`` is the typed final output."""

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        arguments: Mapping[str, Any],
        *,
        client: Client | None = None,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.arguments = dict(arguments)
        self._client = client
        self.path = path
        self.headers = dict(headers or {})
        self.timeout = timeout


class AsyncStream(Generic[OutputT]):
    """Async twin of :class:`Stream`: ``async with`` / ``async for`` / ``await result()``."""

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        arguments: Mapping[str, Any],
        *,
        client: Client | None = None,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.arguments = dict(arguments)
        self._client = client
        self.path = path
        self.headers = dict(headers or {})
        self.timeout = timeout
