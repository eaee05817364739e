"""The outermost ASGI layer: names each request's route, logs it, and applies injected faults.

It sits outside Starlette so it receives uvicorn's own ``send``, whose connection it can reset
with a real TCP RST (``SO_LINGER`` 0, then ``abort()``), which is what a client sees when a load
balancer drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._incoming import next_wait
from ._faults import Fault, FaultBook
from ._requestlog import RecordedRequest, RequestLog, redact_headers, redact_query

__all__ = [
    "BODY_PAUSE",
    "BODY_TIMEOUT",
    "ENTRY_KEY",
    "FalMiddleware",
    "abort_connection",
    "match_route",
]

ENTRY_KEY = "fal_typed.entry"
"""The scope key under which handlers find this request's :class:`RecordedRequest`."""

logger = logging.getLogger("fal_typed.testing")

BODY_PAUSE = 60.0
"""The longest pause the server waits for more of a request's body, in seconds (408 past it)."""
BODY_TIMEOUT = 600.0
"""The longest the server waits for the whole of a request's body, in seconds (408 past it):
a client sending a byte just within each pause would otherwise hold its handler for ever."""


class _BodyClock:
    """The time bounds of one request's body: each piece within :data:`BODY_PAUSE`, the whole
    within :data:`BODY_TIMEOUT` of the first wait; none once the body is in (a handler then
    waits for the disconnect, as long as the answer lasts)."""

    def __init__(self) -> None:
        self.done = False
        self._deadline: float | None = None

    async def within(self, receive: Receive) -> Message:
        if self.done:
            return await receive()
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + BODY_TIMEOUT
        wait, stalled = next_wait(self._deadline, loop.time(), pause=BODY_PAUSE, total=BODY_TIMEOUT)
        try:
            return await asyncio.wait_for(receive(), wait)
        except asyncio.TimeoutError:
            raise stalled from None


EndpointOf = Callable[[str | None, Mapping[str, Any]], str | None]


@runtime_checkable
class _Abortable(Protocol):
    def abort(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def route_names(routes: Sequence[BaseRoute]) -> frozenset[str]:
    """The names of ``routes`` and of the routes mounted under them."""
    names: set[str] = set()
    for route in routes:
        name = getattr(route, "name", None)
        if isinstance(name, str) and name:
            names.add(name)
        if isinstance(route, Mount) and route.routes:
            names |= route_names(route.routes)
    return frozenset(names)


def match_route(routes: Sequence[BaseRoute], scope: Scope) -> tuple[str | None, dict[str, Any]]:
    """The name and path parameters of the route that will handle ``scope`` (through mounts)."""
    partial: tuple[str | None, dict[str, Any]] | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        params: dict[str, Any] = dict(child.get("path_params", {}))
        if isinstance(route, Mount) and route.routes:
            name, inner = match_route(route.routes, {**scope, **child})
            found: tuple[str | None, dict[str, Any]] = (name, {**params, **inner})
        else:
            found = (getattr(route, "name", None), params)
        if match == Match.FULL:
            return found
        partial = partial or found
    return partial or (None, {})


async def abort_connection(send: Send) -> bool:
    """Reset the client's TCP connection behind uvicorn's ``send``; False if that is impossible."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, _Abortable):  # asyncio's and uvloop's transports (no common base)
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(10):  # let connection_lost run, so uvicorn knows the client is gone
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
    return True


_REQUEST_IN_PATH = re.compile(r"/requests/([^/]+)")


def _named_request(scope: Scope) -> str | None:
    """The request id a queue URL (``.../requests/<id>/...``) names, if any."""
    found = _REQUEST_IN_PATH.search(str(scope["path"]))
    return found.group(1) if found else None


async def _swallow(message: Message) -> None:
    """The ``send`` of a request whose response a fault replaces: the app's answer is lost."""
    return None


class FalMiddleware:
    """See the module docstring. ``endpoint_of(route_name, path_params)`` names the endpoint."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Sequence[BaseRoute]],
        log: RequestLog,
        faults: FaultBook,
        endpoint_of: EndpointOf,
    ) -> None:
        self.app = app
        self._routes = routes
        self._log = log
        self._faults = faults
        self._endpoint_of = endpoint_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name, params = match_route(self._routes(), scope)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        headers = ((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", []))
        method = str(scope.get("method", "WEBSOCKET"))
        path = str(scope["path"])
        peer = scope.get("client")  # ASGI: [host, port], or None when the server knows none
        entry = RecordedRequest(
            method=method,
            path=path,
            query=redact_query(query),
            headers=redact_headers(headers),
            operation=name,
            endpoint_id=self._endpoint_of(name, params),
            client_address=(str(peer[0]), int(peer[1])) if peer else None,
        )
        self._log.append(entry)
        scope = {**scope, ENTRY_KEY: entry}
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        body = _BodyClock()

        async def logging_receive() -> Message:
            message = await body.within(receive)
            if message["type"] == "http.request":
                entry.add_body(message.get("body", b""))
                body.done = not message.get("more_body", False)
            return message

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status_code = int(message["status"])
            await send(message)

        fault = self._faults.take(method, path, name, entry.endpoint_id)
        if fault is None:
            await self.app(scope, logging_receive, logging_send)
            return
        entry.fault = fault.label
        await self._apply(fault, scope, logging_receive, send, logging_send)

    async def _apply(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, logging_send: Send
    ) -> None:
        if fault.action == "delay":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, logging_send)
        elif fault.action == "respond":
            named = _named_request(scope)
            if fault.reach_app:
                # The app's answer is lost, but the request it took is the one the fault's
                # answer names (fal's error after accepting a submit names the queued request).
                named = await self._handled(scope, receive) or named
            await logging_send(
                {
                    "type": "http.response.start",
                    "status": fault.status_code,
                    "headers": fault.response_headers(named),
                }
            )
            await logging_send({"type": "http.response.body", "body": fault.body})
        elif fault.action == "reset":
            if fault.reach_app:
                await self.app(scope, receive, _swallow)
            await self._reset(send)
        else:
            await self._drop(fault, scope, receive, send, logging_send)

    async def _handled(self, scope: Scope, receive: Receive) -> str | None:
        """Let the app handle the request, its answer lost; the request id that answer named."""
        named: list[str] = []

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", []):
                    if key.lower() == b"x-fal-request-id":
                        named.append(value.decode("latin-1"))

        await self.app(scope, receive, swallow)
        return named[0] if named else None

    async def _drop(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, logging_send: Send
    ) -> None:
        sent = 0
        dropped = False

        async def dropping_send(message: Message) -> None:
            nonlocal sent, dropped
            if dropped:
                return
            if message["type"] == "http.response.body" and message.get("body"):
                if sent >= fault.after_chunks:
                    dropped = True
                    await self._reset(send)
                    return
                sent += 1
            await logging_send(message)

        await self.app(scope, receive, dropping_send)

    @staticmethod
    async def _reset(send: Send) -> None:
        if not await abort_connection(send):
            logger.warning(
                "cannot reset this connection (not served by uvicorn); closing it with an error"
            )
            raise ConnectionResetError("injected connection reset")
