"""`RealtimeConnection` / `AsyncRealtimeConnection`: fal's realtime WebSocket (PROTOCOL.md section 8).

One connection talks to ``<realtime_url>/<app>/realtime?fal_jwt_token=<jwt>``: inputs go out as
msgpack frames, each result comes back parsed into the endpoint's ``Output``. The socket opens on
``with`` (or the first send), authenticates with a short-lived token from the tokens endpoint (see
:mod:`fal_typed.realtime._token`), and, when the server drops it, is re-opened by the next send,
reusing the token while it is fresh. A frame sent in the very instant the server drops the socket
is lost, as with fal-js: realtime is for latest-state inputs, not for work that must not be lost.

``throttle_interval`` (seconds; fal-js uses 0.128) coalesces bursts of sends so only the latest
pending input is sent (:mod:`fal_typed.realtime._throttle`). Generated per-endpoint subclasses add a typed
``send(**fields)`` that calls :meth:`send_arguments` with the validated body.

The client's :class:`~fal_typed.Limits` bound what a server can make the connection wait for or
hold: opening (token, connect, TLS, handshake) takes at most ``realtime_open_timeout`` seconds
and a close ``realtime_close_timeout``; a frame larger than ``max_realtime_frame_bytes`` closes
the socket (1009), one holding more than ``max_realtime_objects`` objects is refused before it is
decoded, and at most two received frames wait unread. Every failure is a
:class:`~fal_typed.FalError` (:class:`RealtimeError` for the socket's own), never a websockets
exception, with the key and the token scrubbed out of whatever the server said.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from typing_extensions import Self, override

from .._client import Client, check_client, default_client, user_agent
from .._deadline import Deadline
from .._errors import (
    AuthenticationError,
    FalError,
    FalTimeoutError,
    OutputValidationError,
)
from .._urls import parse_endpoint_id
from ._protocol import (
    CONNECTION_CLOSED,
    UNAUTHORIZED,
    RealtimeError,
    check_max_buffering,
    check_path,
    check_recv_timeout,
    check_throttle_interval,
    closed_error,
    decode_frame,
    encode_frame,
    handshake_error,
    is_clean_close,
    realtime_url,
    socket_logger,
)
from ._token import TokenCache

if TYPE_CHECKING:
    import asyncio

    import websockets.asyncio.client as ws_async
    import websockets.sync.client as ws_sync
    from websockets.exceptions import ConnectionClosed
    from websockets.protocol import State

    from .._endpoint import Endpoint

# websockets, asyncio and the throttles load when a connection is made, not when an endpoint
# module (which subclasses these classes) is imported: the methods import what they use.

__all__ = ["AsyncRealtimeConnection", "RealtimeConnection", "RealtimeError"]

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)

#: Received frames that may wait unread before the socket stops reading (websockets: 16).
_MAX_QUEUED_FRAMES: Final = 2
#: Seconds between two looks at whether a receiving socket is stuck closing.
_CLOSING_CHECK: Final = 0.25


class _Socket(Protocol):
    @property
    def state(self) -> State: ...


SocketT = TypeVar("SocketT", bound=_Socket)


class _RealtimeBase(Generic[InputT, OutputT, SocketT]):
    """What the sync and async connections share: options, token cache, URL, result parsing."""

    endpoint: Endpoint[InputT, OutputT]
    _ws: SocketT | None

    def __init__(
        self,
        endpoint: Endpoint[InputT, OutputT],
        *,
        client: Client | None = None,
        path: str = "/realtime",
        throttle_interval: float | None = None,
        max_buffering: int | None = None,
    ) -> None:
        check_client(client)  # kept for the first send: refused here, not by an AttributeError
        self.endpoint = endpoint
        self.path: str = check_path(path)
        self.throttle_interval: float | None = check_throttle_interval(throttle_interval)
        self.max_buffering: int | None = check_max_buffering(max_buffering)
        self._explicit_client = client
        self._tokens = TokenCache(parse_endpoint_id(endpoint.endpoint_id).alias)
        self._token: str | None = None  # the token of the socket open now, scrubbed from errors
        self._closed = False

    @override
    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self.is_open else "idle")
        return f"{type(self).__name__}({self.endpoint.endpoint_id!r}, {state})"

    @property
    def is_open(self) -> bool:
        """Whether a socket is open now (the server may still drop it at any time)."""
        ws = self._ws
        if ws is None:
            return False
        from websockets.protocol import State

        return ws.state is State.OPEN

    @property
    def client(self) -> Client:
        """The client given, else the default client built from the environment."""
        if self._explicit_client is None:
            self._explicit_client = default_client()
        return self._explicit_client

    def _url(self, token: str) -> str:
        return realtime_url(
            self.client.realtime_url,
            self.endpoint.endpoint_id,
            self.path,
            token,
            self.max_buffering,
        )

    def _secrets(self) -> tuple[str, ...]:
        """What no error may show: the key and the socket's token."""
        token = (self._token,) if self._token else ()
        return (*self.client.secrets, *token)

    def _open_deadline(self) -> Deadline:
        return Deadline(self.client.limits.realtime_open_timeout)

    def _dial_error(self, exc: BaseException, deadline: Deadline) -> FalError:
        return handshake_error(exc, secrets=self._secrets(), open_timeout=deadline.seconds)

    def _closed_error(self, exc: ConnectionClosed) -> RealtimeError:
        return closed_error(
            exc,
            secrets=self._secrets(),
            max_frame_bytes=self.client.limits.max_realtime_frame_bytes,
        )

    def _handle(self, frame: bytes | str) -> OutputT | None:
        """Decode one frame into a result, ``None`` for a meta frame, or raise its error."""
        try:
            message = decode_frame(
                frame,
                max_objects=self.client.limits.max_realtime_objects,
                secrets=self._secrets(),
            )
        except RealtimeError as exc:
            if exc.error == UNAUTHORIZED:
                self._tokens.invalidate()
            raise
        if message is None:
            return None
        try:
            return self.endpoint.Output.model_validate(message)
        except (ValidationError, RecursionError) as exc:
            raise OutputValidationError(
                f"realtime result of {self.endpoint.endpoint_id} does not match "
                f"{self.endpoint.Output.__name__}: {exc}",
                data=message,
            ) from None

    def _closed_by_caller(self) -> RealtimeError:
        return RealtimeError(
            CONNECTION_CLOSED, "the connection was closed by the caller", code=1000
        )

    def _not_open(self) -> RealtimeError:
        return RealtimeError(
            CONNECTION_CLOSED, "no open connection: send a message to open one", code=1006
        )


class RealtimeConnection(_RealtimeBase[InputT, OutputT, "ws_sync.ClientConnection"]):
    """A realtime WebSocket to one endpoint (sync; thread-safe sends).

    ``with endpoint_module.realtime() as conn: conn.send(prompt=...); out = conn.recv()``.
    Iterating yields results until the server closes the connection cleanly.
    """

    def __init__(
        self,
        endpoint: Endpoint[InputT, OutputT],
        *,
        client: Client | None = None,
        path: str = "/realtime",
        throttle_interval: float | None = None,
        max_buffering: int | None = None,
    ) -> None:
        super().__init__(
            endpoint,
            client=client,
            path=path,
            throttle_interval=throttle_interval,
            max_buffering=max_buffering,
        )
        self._ws = None
        self._lock = threading.RLock()
        from ._throttle import Throttle

        self._throttle = (
            Throttle(self.throttle_interval, self._send_frame) if self.throttle_interval else None
        )

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[OutputT]:
        """Results as they arrive, until the server closes cleanly (an abnormal close raises)."""
        while True:
            try:
                yield self.recv()
            except RealtimeError as exc:
                if self._closed or is_clean_close(exc):
                    return
                raise

    def connect(self) -> None:
        """Open the socket now (``with`` does this), so auth and URL errors surface early."""
        with self._lock:
            if self._closed:
                raise self._closed_by_caller()
            self._open_socket()

    def send_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Send one input (the body built by ``Endpoint.arguments``), re-opening a dropped socket."""
        if self._closed:
            raise self._closed_by_caller()
        frame = encode_frame(arguments)
        if self._throttle is not None:
            self._throttle.submit(frame)
        else:
            self._send_frame(frame)

    def recv(self, timeout: float | None = None) -> OutputT:
        """The next result, parsed into the endpoint's ``Output``.

        Raises :class:`RealtimeError` on an ``x-fal-error`` frame or when the socket closed
        (``error == "CONNECTION_CLOSED"``; the next send re-opens it), and
        :class:`~fal_typed.FalTimeoutError` when ``timeout`` seconds pass without a result.
        """
        from websockets.exceptions import ConnectionClosed

        check_recv_timeout(timeout)
        while True:
            if self._throttle is not None:
                self._throttle.raise_error()
            if self._closed:
                raise self._closed_by_caller()
            ws = self._ws
            if ws is None:
                raise self._not_open()
            try:
                frame = self._receive(ws, timeout)
            except TimeoutError:
                raise FalTimeoutError(
                    f"no realtime result within {timeout} s", timeout=timeout or 0.0
                ) from None
            except ConnectionClosed as exc:
                self._drop(ws)
                if self._closed:
                    raise self._closed_by_caller() from None
                raise self._closed_error(exc) from None
            result = self._handle(frame)
            if result is not None:
                return result

    @staticmethod
    def _receive(ws: ws_sync.ClientConnection, timeout: float | None) -> bytes | str:
        """``ws.recv(timeout)``, except that a socket stuck closing is closed at its close
        timeout: websockets enforces that wait only when the application sends or closes, so a
        server that never ends a close (after a frame past the size limit, say) would otherwise
        hold a receive for ever."""
        from websockets.protocol import State

        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _CLOSING_CHECK if end is None else min(_CLOSING_CHECK, end - time.monotonic())
            try:
                return ws.recv(max(left, 0.0))
            except TimeoutError:
                if ws.state is State.CLOSING:
                    ws.close()  # waits what is left of the close timeout, then drops the socket
                    return ws.recv(0)  # raises ConnectionClosed, with the close frames
                if end is not None and time.monotonic() >= end:
                    raise

    def close(self) -> None:
        """Close the socket cleanly; pending throttled input is dropped. Idempotent."""
        self._closed = True
        if self._throttle is not None:
            self._throttle.cancel()
        with self._lock:
            ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    def _send_frame(self, frame: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            if self._closed:
                raise self._closed_by_caller()
            ws = self._open_socket()
            try:
                ws.send(frame)
                return
            except ConnectionClosed:
                self._drop(ws)  # dropped since the last use: one fresh socket, then give up
            ws = self._open_socket()
            try:
                ws.send(frame)
            except ConnectionClosed as exc:
                self._drop(ws)
                raise self._closed_error(exc) from None

    def _open_socket(self) -> ws_sync.ClientConnection:
        """The open socket, opening a new one (with a fresh-enough token) if there is none,
        within ``Limits.realtime_open_timeout`` (token requests included)."""
        ws = self._ws
        if ws is not None and self.is_open:
            return ws
        self._drop(ws)
        deadline = self._open_deadline()
        token = self._tokens.get(self.client, deadline=deadline)
        try:
            ws = self._dial(token, deadline)
        except AuthenticationError:
            # The token may have expired early (clock skew) or been revoked: one more, fresh.
            self._tokens.invalidate()
            ws = self._dial(self._tokens.get(self.client, deadline=deadline), deadline)
        self._ws = ws
        return ws

    def _dial(self, token: str, deadline: Deadline) -> ws_sync.ClientConnection:
        import websockets.sync.client as ws_sync
        from websockets.exceptions import WebSocketException

        self._token = token
        try:
            ws = ws_sync.connect(
                self._url(token),
                open_timeout=max(deadline.remaining(), 0.001),
                close_timeout=self.client.limits.realtime_close_timeout,
                max_size=self.client.limits.max_realtime_frame_bytes,
                max_queue=_MAX_QUEUED_FRAMES,
                compression=None,
                logger=socket_logger(),
                user_agent_header=user_agent(),
            )
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise self._dial_error(exc, deadline) from None
        # This object owns the socket's lifetime (close() / _drop), as a ``with`` block would;
        # entering it says so to websockets >= 17.1, which otherwise warns on first use.
        return ws.__enter__()

    def _drop(self, ws: ws_sync.ClientConnection | None) -> None:
        if ws is None:
            return
        with self._lock:
            if self._ws is ws:
                self._ws = None
        ws.close()


class AsyncRealtimeConnection(_RealtimeBase[InputT, OutputT, "ws_async.ClientConnection"]):
    """Async twin of :class:`RealtimeConnection`: ``async with``, ``await send_arguments``,
    ``await recv()``, ``async for``. Use it from one event loop."""

    def __init__(
        self,
        endpoint: Endpoint[InputT, OutputT],
        *,
        client: Client | None = None,
        path: str = "/realtime",
        throttle_interval: float | None = None,
        max_buffering: int | None = None,
    ) -> None:
        super().__init__(
            endpoint,
            client=client,
            path=path,
            throttle_interval=throttle_interval,
            max_buffering=max_buffering,
        )
        self._ws = None
        self._lock: asyncio.Lock | None = None
        from ._throttle import AsyncThrottle

        self._throttle = (
            AsyncThrottle(self.throttle_interval, self._send_frame)
            if self.throttle_interval
            else None
        )

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __aiter__(self) -> AsyncIterator[OutputT]:
        """Results as they arrive, until the server closes cleanly (an abnormal close raises)."""
        while True:
            try:
                yield await self.recv()
            except RealtimeError as exc:
                if self._closed or is_clean_close(exc):
                    return
                raise

    async def connect(self) -> None:
        """Open the socket now (``async with`` does this), so auth and URL errors surface early."""
        async with self._guard():
            if self._closed:
                raise self._closed_by_caller()
            await self._open_socket()

    async def send_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Send one input (the body built by ``Endpoint.arguments``), re-opening a dropped socket."""
        if self._closed:
            raise self._closed_by_caller()
        frame = encode_frame(arguments)
        if self._throttle is not None:
            await self._throttle.submit(frame)
        else:
            await self._send_frame(frame)

    async def recv(self, timeout: float | None = None) -> OutputT:
        """The next result; see :meth:`RealtimeConnection.recv`."""
        import asyncio

        from websockets.exceptions import ConnectionClosed

        check_recv_timeout(timeout)
        while True:
            if self._throttle is not None:
                self._throttle.raise_error()
            if self._closed:
                raise self._closed_by_caller()
            ws = self._ws
            if ws is None:
                raise self._not_open()
            try:
                frame = await self._receive(ws, timeout)
            except asyncio.TimeoutError:
                raise FalTimeoutError(
                    f"no realtime result within {timeout} s", timeout=timeout or 0.0
                ) from None
            except ConnectionClosed as exc:
                await self._drop(ws)
                if self._closed:
                    raise self._closed_by_caller() from None
                raise self._closed_error(exc) from None
            result = self._handle(frame)
            if result is not None:
                return result

    @staticmethod
    async def _receive(ws: ws_async.ClientConnection, timeout: float | None) -> bytes | str:
        """``ws.recv()`` within ``timeout``; see :meth:`RealtimeConnection._receive`."""
        import asyncio

        from websockets.protocol import State

        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            left = _CLOSING_CHECK if end is None else min(_CLOSING_CHECK, end - loop.time())
            try:
                return await asyncio.wait_for(ws.recv(), max(left, 0.0))
            except asyncio.TimeoutError:
                if ws.state is State.CLOSING:
                    await ws.close()  # waits what is left of the close timeout, then drops it
                    return await ws.recv()  # raises ConnectionClosed, with the close frames
                if end is not None and loop.time() >= end:
                    raise

    async def aclose(self) -> None:
        """Close the socket cleanly; pending throttled input is dropped. Idempotent."""
        self._closed = True
        if self._throttle is not None:
            self._throttle.cancel()
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            import asyncio

            self._lock = asyncio.Lock()
        return self._lock

    async def _send_frame(self, frame: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        async with self._guard():
            if self._closed:
                raise self._closed_by_caller()
            ws = await self._open_socket()
            try:
                await ws.send(frame)
                return
            except ConnectionClosed:
                await self._drop(ws)  # dropped since the last use: one fresh socket, then give up
            ws = await self._open_socket()
            try:
                await ws.send(frame)
            except ConnectionClosed as exc:
                await self._drop(ws)
                raise self._closed_error(exc) from None

    async def _open_socket(self) -> ws_async.ClientConnection:
        ws = self._ws
        if ws is not None and self.is_open:
            return ws
        await self._drop(ws)
        deadline = self._open_deadline()
        token = await self._tokens.aget(self.client, deadline=deadline)
        try:
            ws = await self._dial(token, deadline)
        except AuthenticationError:
            # The token may have expired early (clock skew) or been revoked: one more, fresh.
            self._tokens.invalidate()
            ws = await self._dial(await self._tokens.aget(self.client, deadline=deadline), deadline)
        self._ws = ws
        return ws

    async def _dial(self, token: str, deadline: Deadline) -> ws_async.ClientConnection:
        import asyncio

        import websockets.asyncio.client as ws_async
        from websockets.exceptions import WebSocketException

        self._token = token
        try:
            return await ws_async.connect(
                self._url(token),
                open_timeout=max(deadline.remaining(), 0.001),
                close_timeout=self.client.limits.realtime_close_timeout,
                max_size=self.client.limits.max_realtime_frame_bytes,
                max_queue=_MAX_QUEUED_FRAMES,
                compression=None,
                logger=socket_logger(),
                user_agent_header=user_agent(),
            )
        except (WebSocketException, OSError, TimeoutError, asyncio.TimeoutError) as exc:
            raise self._dial_error(exc, deadline) from None

    async def _drop(self, ws: ws_async.ClientConnection | None) -> None:
        if ws is None:
            return
        if self._ws is ws:
            self._ws = None
        await ws.close()
