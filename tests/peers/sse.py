"""A hostile HTTP peer on 127.0.0.1 for the streaming readers: SSE streams and file downloads.

:class:`ScriptedPeer` is a raw HTTP/1.1 server (asyncio sockets, one thread) whose every answer
is a script: an ``async`` function of one :class:`Exchange` that writes exactly the bytes it
wants (headers, chunked or close-delimited framing, a cut anywhere, pauses). So it can do what a
well-behaved framework never would: a line that never ends, heartbeats for ever, an event every
50 ms, one enormous event, a stream cut in the middle of an event, invalid JSON under a 200, an
``event: error`` echoing the request's headers, a gzip bomb, a file trickled a byte a second.

Each exchange records how many bytes the kernel accepted (``sent``) and whether the client went
away before the script ended, so a test can show *structurally* that a limit stopped the client
reading (the peer could send no more than the limit plus the socket buffers), not by timing.

Every script is bounded: in bytes (``total``) and in time (the peer closes everything when the
test ends; scripts that wait for ever stop there).
"""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KEY = "hostile-key-id:hostile-key-secret-5f0c2a"
"""The key the tests' clients send; scripts echo it back to check it never surfaces."""

MiB = 1 << 20

Script = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request and the answer a script writes, with what it managed to send."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    _reader: asyncio.StreamReader
    _writer: asyncio.StreamWriter
    sent: int = 0
    """Bytes of the answer (head included) the kernel accepted: written and drained."""
    client_left: bool = False
    """The client closed or reset the connection before the script was done."""
    connection: int = 0
    """Which connection carried it (numbered from 1 as they are accepted): exchanges on one
    kept-alive connection share the number."""
    done: threading.Event = field(default_factory=threading.Event)

    async def write(self, data: bytes) -> None:
        """Write ``data`` and wait until the socket takes it (raises once the client is gone)."""
        self._writer.write(data)
        await self._writer.drain()
        self.sent += len(data)

    async def head(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """The status line and headers (``headers`` as given: the script chooses the framing)."""
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        await self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def chunk(self, data: bytes) -> None:
        """One chunk of a ``Transfer-Encoding: chunked`` body."""
        if data:
            await self.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_chunks(self) -> None:
        await self.write(b"0\r\n\r\n")

    def close(self) -> None:
        """Close the connection (the end of a close-delimited body, or a cut)."""
        self._writer.close()

    async def receive(self, size: int) -> bytes:
        """Exactly ``size`` more bytes from the client (IncompleteReadError once it is gone)."""
        return await self._reader.readexactly(size)

    async def until_client_leaves(self) -> None:
        """Read (and drop) whatever the client sends until it closes the connection."""
        while await self._reader.read(65536):
            pass
        self.client_left = True

    @property
    def closed(self) -> bool:
        return self._writer.is_closing()

    async def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """A whole answer with a Content-Length."""
        await self.head(status, {"Content-Length": str(len(body)), **(headers or {})})
        await self.write(body)


_REASONS = {200: "OK", 302: "Found", 401: "Unauthorized", 404: "Not Found", 500: "Error"}
_SSE_HEAD = {"Content-Type": "text/event-stream", "Cache-Control": "no-store"}


class ScriptedPeer:
    """The server: ``script`` answers every request (change it at any time)."""

    def __init__(self) -> None:
        self.script: Script = ok_json({})
        self.exchanges: list[Exchange] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def last(self, timeout: float = 10.0) -> Exchange:
        """The latest exchange, once its script has ended (the client left, or it finished)."""
        assert self.exchanges, "no request reached the peer"
        exchange = self.exchanges[-1]
        assert exchange.done.wait(timeout), "the script is still running"
        return exchange

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._connections += 1
        connection = self._connections
        try:
            while True:
                exchange = await _read_request(reader, writer)
                if exchange is None:
                    return
                exchange.connection = connection
                self.exchanges.append(exchange)
                try:
                    await self.script(exchange)
                except (ConnectionError, asyncio.IncompleteReadError):
                    exchange.client_left = True
                    return
                finally:
                    exchange.done.set()
                if exchange.closed or exchange.headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Exchange | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, path, _ = lines[0].split(" ", 2)
    except ValueError:  # not HTTP: hang up
        return None
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Exchange(method, path, headers, body, reader, writer)


@contextmanager
def serving() -> Iterator[ScriptedPeer]:
    """A started :class:`ScriptedPeer`, stopped (every connection closed) on exit."""
    peer = ScriptedPeer()
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


# -- scripts ---------------------------------------------------------------------------------


def ok_json(value: Any, *, status: int = 200) -> Script:
    """A well-formed JSON answer."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(
            status, json.dumps(value).encode(), {"Content-Type": "application/json"}
        )

    return script


def raw_answer(body: bytes, *, status: int = 200, content_type: str = "application/json") -> Script:
    """``body`` as is under ``status`` (invalid JSON under a 200, for example)."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(status, body, {"Content-Type": content_type})

    return script


def sse(events: list[bytes], *, interval: float = 0.0, chunked: bool = True) -> Script:
    """The given raw event blocks, then a proper end (chunked, or closing the connection)."""

    async def script(exchange: Exchange) -> None:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Connection": "close"}
        await exchange.head(200, {**_SSE_HEAD, **framing})
        for index, event in enumerate(events):
            if index and interval:
                await asyncio.sleep(interval)
            await (exchange.chunk(event) if chunked else exchange.write(event))
        if chunked:
            await exchange.end_chunks()
        else:
            exchange.close()

    return script


def event(data: Any, *, name: str | None = None) -> bytes:
    """One complete SSE event carrying ``data`` as JSON."""
    prefix = f"event: {name}\n" if name else ""
    return f"{prefix}data: {json.dumps(data)}\n\n".encode()


def forever(block: bytes, *, interval: float, total: int = 256 * MiB) -> Script:
    """``block`` again and again every ``interval`` seconds (events, heartbeats), up to ``total``."""

    async def script(exchange: Exchange) -> None:
        await exchange.head(200, {**_SSE_HEAD, "Transfer-Encoding": "chunked"})
        while exchange.sent < total:
            await exchange.chunk(block)
            await asyncio.sleep(interval)

    return script


def endless(prefix: bytes, filler: bytes, *, total: int) -> Script:
    """``prefix`` then ``filler`` repeated up to ``total`` bytes: a line or event that never ends."""

    async def script(exchange: Exchange) -> None:
        await exchange.head(200, {**_SSE_HEAD, "Transfer-Encoding": "chunked"})
        await exchange.chunk(prefix)
        piece = filler * max(1, (256 * 1024) // len(filler))
        while exchange.sent < total:
            await exchange.chunk(piece)

    return script


def echo_error_event(*, as_keys: bool = False) -> Script:
    """One partial event, then ``event: error`` whose data echoes the request's headers (the
    Authorization key among them), as values, or also as object keys."""

    async def script(exchange: Exchange) -> None:
        headers = dict(exchange.headers)
        data: dict[str, Any] = {
            "detail": f"upstream rejected {headers.get('authorization')}",
            "status_code": 502,
            "request_headers": headers,
        }
        if as_keys:
            data["seen"] = {value: name for name, value in headers.items()}
        await exchange.head(
            200,
            {
                **_SSE_HEAD,
                "Transfer-Encoding": "chunked",
                "X-Echo": headers.get("authorization", ""),
            },
        )
        await exchange.chunk(event({"partial": True}))
        await exchange.chunk(event(data, name="error"))
        await exchange.end_chunks()

    return script


def cut_mid_event(*, chunked: bool) -> Script:
    """Two complete events, then half of a third, then the connection closes."""

    async def script(exchange: Exchange) -> None:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Connection": "close"}
        await exchange.head(200, {**_SSE_HEAD, **framing})
        blocks = [event({"step": 1}), event({"step": 2}), b'data: {"step": 3, "images": [{"u']
        for block in blocks:
            await (exchange.chunk(block) if chunked else exchange.write(block))
        exchange.close()

    return script


def gzip_bomb(prefix: bytes, filler: bytes, decoded_size: int) -> bytes:
    """gzip data that inflates to ``prefix`` + ``filler`` repeated up to ``decoded_size`` bytes,
    built a MiB at a time (the test process never holds the inflated body)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [packer.compress(prefix)]
    block = filler * (MiB // len(filler))
    for _ in range(decoded_size // len(block)):
        parts.append(packer.compress(block))
    parts.append(packer.flush())
    return b"".join(parts)


def compressed(data: bytes, *, content_type: str, status: int = 200) -> Script:
    """``data`` (already gzip-compressed) sent with ``Content-Encoding: gzip``."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(
            status, data, {"Content-Type": content_type, "Content-Encoding": "gzip"}
        )

    return script


def drip(size: int, *, interval: float, content_length: int | None = None) -> Script:
    """A file of ``size`` bytes, one byte every ``interval`` seconds."""

    async def script(exchange: Exchange) -> None:
        length = size if content_length is None else content_length
        await exchange.head(200, {"Content-Type": "image/png", "Content-Length": str(length)})
        for _ in range(size):
            await exchange.write(b"\x00")
            await asyncio.sleep(interval)

    return script


def flood(total: int, *, content_length: int | None = None, chunk: int = 256 * 1024) -> Script:
    """``total`` bytes as fast as the client reads them (Content-Length as given, else none and
    the connection closes at the end)."""

    async def script(exchange: Exchange) -> None:
        headers = {"Content-Type": "image/png"}
        headers.update(
            {"Content-Length": str(content_length)}
            if content_length is not None
            else {"Connection": "close"}
        )
        await exchange.head(200, headers)
        piece = b"\x00" * chunk
        while exchange.sent < total:
            await exchange.write(piece)
        exchange.close()

    return script


def redirect_to_self() -> Script:
    """A redirect to the same path, for ever."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(302, b"", {"Location": exchange.path})

    return script


def silent() -> Script:
    """Reads the request and never answers (until the client leaves, or the peer stops)."""

    async def script(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    return script


def trickle_head(*, interval: float) -> Script:
    """A status line, then a header that grows by one byte every ``interval`` seconds, for ever:
    every read returns in time, the headers never end."""

    async def script(exchange: Exchange) -> None:
        await exchange.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            await exchange.write(b"a")
            await asyncio.sleep(interval)

    return script
