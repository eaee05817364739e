"""A hostile realtime peer on 127.0.0.1: fal's tokens endpoint and WebSockets, written by hand.

The WebSocket side is the raw protocol over :class:`~tests.peers.sse.ScriptedPeer` (the opening
handshake is an HTTP exchange answered ``101``; frames are written byte by byte), so it can do what
a WebSocket library never would: accept TCP and never answer the handshake, answer it and close
at once, never answer a close, send a frame of any size (counting what the kernel accepted), a
frame of millions of empty msgpack maps, close reasons and rejections that echo the token and the
key. ``POST /tokens/`` on the same port answers whatever the test sets (the key itself, say).

A client points both ``rest_url`` and ``realtime_url`` at it (:func:`client_for`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from fal_typed import Client, Limits, RetryPolicy

from .sse import KEY, Exchange, Script, ScriptedPeer

TOKEN = "tok-" + "7" * 40
"""The token the peer's tokens endpoint hands out by default (short: close reasons fit 123 bytes)."""

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Socket = Callable[[Exchange], Awaitable[None]]


def client_for(peer: ScriptedPeer, **limits: Any) -> Client:
    """A client whose tokens and realtime sockets both go to ``peer``."""
    return Client(
        KEY,
        rest_url=peer.url,
        run_url=peer.url,
        realtime_url=peer.url.replace("http://", "ws://"),
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        limits=Limits(**limits),
    )


def realtime_script(socket: Socket, *, token_answer: Any = TOKEN) -> Script:
    """``POST /tokens/`` answers ``token_answer`` (JSON); every other request is a WebSocket
    opening handed to ``socket``, which answers it (or not) and the connection ends after it."""

    async def script(exchange: Exchange) -> None:
        if exchange.method == "POST" and exchange.path.rstrip("/").endswith("/tokens"):
            body = json.dumps(token_answer).encode()
            await exchange.answer(200, body, {"Content-Type": "application/json"})
            return
        try:
            await socket(exchange)
        finally:
            exchange.close()

    return script


def token_of(exchange: Exchange) -> str:
    """The ``fal_jwt_token`` the client put in the WebSocket URL."""
    query = urllib.parse.urlsplit(exchange.path).query
    return urllib.parse.parse_qs(query).get("fal_jwt_token", [""])[0]


async def accept(exchange: Exchange) -> None:
    """Complete the opening handshake (``101 Switching Protocols``)."""
    key = exchange.headers["sec-websocket-key"]
    digest = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    await exchange.head(
        101,
        {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": digest},
    )


def frame_header(opcode: int, length: int) -> bytes:
    """The header of one unmasked, final server frame of ``length`` payload bytes."""
    first = 0x80 | opcode
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


async def frame(exchange: Exchange, payload: bytes | str) -> None:
    """One binary (bytes) or text (str) frame."""
    data = payload.encode() if isinstance(payload, str) else payload
    await exchange.write(frame_header(0x1 if isinstance(payload, str) else 0x2, len(data)) + data)


async def close_frame(exchange: Exchange, code: int, reason: str = "") -> None:
    """A close frame (the reason is cut to the 123 bytes a close frame can carry)."""
    payload = struct.pack("!H", code) + reason.encode()[:123]
    await exchange.write(frame_header(0x8, len(payload)) + payload)


async def read_frame(exchange: Exchange) -> tuple[int, bytes]:
    """The next frame from the client: its opcode and unmasked payload."""
    first, second = await exchange.receive(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await exchange.receive(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await exchange.receive(8))
    mask = await exchange.receive(4) if second & 0x80 else b"\0\0\0\0"
    payload = await exchange.receive(length)
    return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def until_close(exchange: Exchange, *, answer: bool = True) -> None:
    """Drop the client's frames until its close frame; echo it (``answer``), as a well-behaved
    server does, so the client need not wait for its close timeout."""
    while True:
        opcode, payload = await read_frame(exchange)
        if opcode == 0x8:
            if answer:
                await exchange.write(frame_header(0x8, len(payload[:2])) + payload[:2])
            return


# -- sockets ---------------------------------------------------------------------------------


async def never_handshake(exchange: Exchange) -> None:
    """Take the connection and the opening request, never answer."""
    await exchange.until_client_leaves()


def close_at_once(code: int = 1011, reason: str = "going away") -> Socket:
    """Complete the handshake, then close straight away."""

    async def socket(exchange: Exchange) -> None:
        await accept(exchange)
        await close_frame(exchange, code, reason)
        await until_close(exchange, answer=False)

    return socket


async def mute(exchange: Exchange) -> None:
    """Complete the handshake, then never send anything, nor answer a close."""
    await accept(exchange)
    await exchange.until_client_leaves()  # a close frame included: never answered


def reject_echoing(status: int = 403) -> Socket:
    """Refuse the handshake with a body and a header quoting the token and the key."""

    async def socket(exchange: Exchange) -> None:
        token = token_of(exchange)
        body = json.dumps(
            {
                "detail": f"token {token} refused (key {KEY})",
                "url": exchange.path,
                "seen": {token: "token", KEY: "key"},
            }
        ).encode()
        await exchange.answer(
            status, body, {"Content-Type": "application/json", "X-Echo": f"{token} {KEY}"}
        )

    return socket


def close_echoing(code: int = 1008) -> Socket:
    """Complete the handshake, then close with a reason quoting the token and the key."""

    async def socket(exchange: Exchange) -> None:
        await accept(exchange)
        await close_frame(exchange, code, f"{token_of(exchange)} {KEY}")
        await until_close(exchange, answer=False)  # the client's answer to our close

    return socket


def send(*payloads: bytes | str) -> Socket:
    """Complete the handshake, send ``payloads`` as frames, then wait for the client to leave."""

    async def socket(exchange: Exchange) -> None:
        await accept(exchange)
        for payload in payloads:
            await frame(exchange, payload)
        await until_close(exchange)

    return socket


def huge_frame(size: int) -> Socket:
    """Complete the handshake and read one input, then answer one binary frame of ``size``
    bytes, written a MiB at a time."""

    async def socket(exchange: Exchange) -> None:
        await accept(exchange)
        await read_frame(exchange)
        await exchange.write(frame_header(0x2, size))
        block = b"\x00" * (1 << 20)
        written = 0
        while written < size:
            piece = block[: size - written]
            await exchange.write(piece)
            written += len(piece)
        await exchange.until_client_leaves()

    return socket


def empty_maps(count: int) -> bytes:
    """A msgpack array of ``count`` empty maps: one byte each, one dict each once decoded."""
    return b"\xdd" + struct.pack("!I", count) + b"\x80" * count


def echo_error_frame() -> Socket:
    """Complete the handshake, then an ``x-fal-error`` quoting the token and the key."""

    async def socket(exchange: Exchange) -> None:
        await accept(exchange)
        token = token_of(exchange)
        error = {
            "type": "x-fal-error",
            "error": "UPSTREAM",
            "reason": f"refused {token} / {KEY}",
            "echo": {token: KEY, "url": f"wss://x{exchange.path}"},
        }
        await frame(exchange, json.dumps(error))
        await until_close(exchange)

    return socket
