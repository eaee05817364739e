"""Helpers for the webhook tests: real uvicorn servers on 127.0.0.1 and signed deliveries."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fal_typed.webhooks import WebhookResult, WebhookVerifier, webhook_endpoint
from fal_typed.webhooks._signature import public_jwk, sign_delivery

#: Content-Length values a lax server in front may let through, none of them one length: each
#: body is counted as it arrives instead (``fal_typed._checks.declared_length``).
NOT_A_LENGTH: list[list[bytes]] = [
    [b"\xb2"],  # superscript two in latin-1: str.isdigit() says yes, int() says no
    [b"\xd9\xa1"],
    [b"-1"],
    [b"+12"],
    [b"1, 1"],
    [b"0x10"],
    [b"1_000"],
    [b""],
    [b"9" * 5000],  # past int()'s 4,300 digits
    [b"1" + b"0" * 19],  # past every limit, and past 64 bits
    [b"12", b"13"],  # two lengths: which one frames the body depends on who reads it
]


@contextmanager
def serve(app: ASGIApp, *, tls: TLSFiles | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL
    (https with ``tls``' certificate)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ssl: dict[str, Any] = {}
    if tls is not None:
        ssl = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    config = uvicorn.Config(app, log_level="warning", lifespan="off", **ssl)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.005)
    try:
        yield f"{'http' if tls is None else 'https'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass(frozen=True)
class TLSFiles:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""

    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        """A client context trusting only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_tls(folder: Path) -> TLSFiles:
    """A fresh self-signed certificate for the IP address 127.0.0.1, written into ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TLSFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


RawHandler = Callable[[socket.socket, bytes, threading.Event], None]
"""Answers one connection: the socket, the request's head as read, and the server's stop event
(a handler that trickles waits on it, so the server stops at once when the test ends)."""


@contextmanager
def serve_raw(handler: RawHandler) -> Iterator[str]:
    """A raw-socket HTTP peer on a free 127.0.0.1 port, for answers no framework would send
    (trickled headers or bodies); yields its base URL. Each connection runs ``handler`` on a
    thread of its own; all are closed when the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def one(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                handler(conn, head, stop)
            except OSError:  # the client went away (as a deadline makes it do)
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=one, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(10)
        listener.close()
        for thread in threads:
            thread.join(10)


def jwks_of(*keys: Ed25519PrivateKey) -> dict[str, Any]:
    return {"keys": [public_jwk(k.public_key()) for k in keys]}


def make_delivery(
    key: Ed25519PrivateKey,
    payload: dict[str, Any] | None = None,
    *,
    request_id: str = "req-0001",
    user_id: str = "user-42",
    timestamp: int | None = None,
    status: str = "OK",
    extra: dict[str, Any] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A delivery body and its headers, signed with ``key``."""
    document: dict[str, Any] = {
        "request_id": request_id,
        "gateway_request_id": request_id,
        "status": status,
        "payload": payload if payload is not None else {"text": "hello", "seed": 7},
        **(extra or {}),
    }
    body = json.dumps(document).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    return body, sign_delivery(key, request_id=request_id, user_id=user_id, timestamp=ts, body=body)


@dataclass
class JWKSHost:
    """A real HTTP server publishing a JWKS; tests change what it serves and count its hits."""

    url: str = ""
    document: Any = field(default_factory=dict)
    status: int = 200
    raw: bytes | None = None
    hits: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Cache-Control, sent with the JWKS

    def reset(self, document: Any) -> None:
        self.document, self.status, self.raw, self.hits = document, 200, None, 0
        self.headers = {}


class Receiver:
    """A webhook receiver app (fal_typed.webhooks.webhook_endpoint) recording what it handled."""

    def __init__(
        self,
        output_model: type[BaseModel],
        verifier: WebhookVerifier,
        *,
        deduplicate: bool = True,
        sync_handler: bool = False,
    ) -> None:
        self.handled: list[WebhookResult[Any]] = []
        self.fail_next = 0
        self.answer_next: int | None = None
        self._lock = threading.Condition()
        handler = self._handle_sync if sync_handler else self._handle
        endpoint = webhook_endpoint(
            output_model, handler, verifier=verifier, deduplicate=deduplicate
        )
        self.app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])

    def _record(self, result: WebhookResult[Any]) -> Response | None:
        with self._lock:
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("handler failed on purpose")
            if self.answer_next is not None:
                status, self.answer_next = self.answer_next, None
                return Response(status_code=status)
            self.handled.append(result)
            self._lock.notify_all()
            return None

    def wait_handled(self, count: int, timeout: float = 10.0) -> list[WebhookResult[Any]]:
        """Block until ``count`` deliveries were handled; return them."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.handled) >= count, timeout):
                raise TimeoutError(f"{len(self.handled)} of {count} deliveries handled")
            return list(self.handled)

    async def _handle(self, result: WebhookResult[Any]) -> Response | None:
        return self._record(result)

    def _handle_sync(self, result: WebhookResult[Any]) -> Response | None:
        assert threading.current_thread() is not threading.main_thread()
        return self._record(result)


class EndlessError:
    """An error answer (``status``) of ``total`` declared bytes, for :func:`serve_raw`, counting
    what the client took off the socket (bar a few socket buffers): a client that reads only the
    start of it and closes stops it there, one that reads it all takes every byte. So a test can
    assert that the rest of an answer was never read, not only never quoted."""

    CHUNK = 64 * 1024

    def __init__(self, status: int = 503, total: int = 256 * 1024 * 1024) -> None:
        self.status = status
        self.total = total
        self.sent = 0

    def __call__(self, conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        start = b"maintenance until 12:00 "
        conn.sendall(
            f"HTTP/1.1 {self.status} Service Unavailable\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(start) + self.total}\r\n\r\n".encode()
            + start
        )
        chunk = b"y" * self.CHUNK
        while self.sent < self.total and not stop.is_set():
            conn.sendall(chunk)  # OSError once the client has closed: serve_raw ends it
            self.sent += len(chunk)
