"""The receiver under pressure: huge and unsigned bodies, replays after a restart, deliveries for
requests this application never submitted. Real uvicorn servers on 127.0.0.1, raw sockets."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message

from fal_typed import OutputModel
from fal_typed import webhooks as wh
from fal_typed.webhooks._signature import sign_delivery

from .helpers import NOT_A_LENGTH, jwks_of, make_delivery, serve

MiB = 1 << 20
#: Bytes the kernel and the server's read buffer may take before a server that stopped reading
#: makes the sender block.
SLACK = 16 * MiB


class TextOutput(OutputModel):
    text: str
    seed: int


class App:
    """A receiver endpoint whose handler records the request ids it handled."""

    def __init__(self, key: Ed25519PrivateKey, **options: Any) -> None:
        self.handled: list[str] = []

        async def handler(result: wh.WebhookResult[TextOutput]) -> None:
            self.handled.append(result.request_id)

        endpoint = wh.webhook_endpoint(
            TextOutput, handler, verifier=wh.WebhookVerifier(jwks=jwks_of(key)), **options
        )
        self.app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def post_raw(
    base: str, headers: dict[str, str], size: int, *, chunked: bool = False
) -> tuple[int, int]:
    """POST ``size`` zero bytes to ``base``/hook from a raw socket, as fast as the server takes
    them; return the answer's status and how many body bytes the kernel accepted."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80))
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(size)}
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **framing}.items())
    sock.sendall(f"POST /hook HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
    sent = 0
    stop = threading.Event()

    def pump() -> None:
        nonlocal sent
        block = b"\0" * (256 * 1024)
        piece = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
        sock.settimeout(3)  # a server that stopped reading leaves the sender blocked: give up
        try:
            while sent < size and not stop.is_set():
                sock.sendall(piece)
                sent += len(block)
        except OSError:
            pass

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    answer = b""
    deadline = time.monotonic() + 60
    while b"\r\n" not in answer and time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except OSError:  # the sender's timeout applies to the reader too
            continue
        if not data:
            break
        answer += data
    stop.set()
    sender.join(30)
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent


@pytest.fixture
def app(key: Ed25519PrivateKey) -> App:
    return App(key, max_body_bytes=MiB)


@pytest.fixture
def base(app: App) -> Iterator[str]:
    with serve(app.app) as url:
        yield url


def signed_headers(key: Ed25519PrivateKey, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return sign_delivery(key, request_id="r-big", user_id="u", timestamp=ts, body=b"whatever")


# -- bodies: headers first, then at most the limit --------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_600_mb_unsigned_body_is_refused_unread(base: str, chunked: bool) -> None:
    status, sent = post_raw(base, {"Content-Type": "application/json"}, 600 * MiB, chunked=chunked)
    assert status == 401
    assert sent < SLACK, f"{sent / MiB:.0f} MiB of an unsigned body were taken"


def test_a_stale_delivery_is_refused_before_its_body_is_read(
    base: str, key: Ed25519PrivateKey
) -> None:
    stale = signed_headers(key, timestamp=int(time.time()) - 3600)
    status, sent = post_raw(base, stale, 600 * MiB, chunked=True)
    assert status == 401 and sent < SLACK


def test_a_declared_size_past_the_limit_is_answered_413_before_reading(
    base: str, key: Ed25519PrivateKey
) -> None:
    status, sent = post_raw(base, signed_headers(key), 600 * MiB)
    assert status == 413 and sent < SLACK


def test_an_undeclared_size_past_the_limit_stops_being_read_at_the_limit(
    base: str, key: Ed25519PrivateKey
) -> None:
    status, sent = post_raw(base, signed_headers(key), 600 * MiB, chunked=True)
    assert status == 413 and sent < MiB + SLACK


def test_the_413_names_the_limit_and_small_deliveries_pass(
    base: str, app: App, key: Ed25519PrivateKey
) -> None:
    body, headers = make_delivery(key, {"text": "x" * (2 * MiB), "seed": 1}, request_id="r-2mb")
    answer = httpx.post(f"{base}/hook", content=body, headers=headers)
    assert answer.status_code == 413
    assert answer.json()["error_type"] == "webhook_body_too_large"
    assert "limit of 1048576 bytes" in answer.json()["detail"]
    body, headers = make_delivery(key, {"text": "small", "seed": 1}, request_id="r-small")
    assert httpx.post(f"{base}/hook", content=body, headers=headers).status_code == 200
    assert app.handled == ["r-small"]


def test_the_limit_is_checked_when_the_endpoint_is_built(key: Ed25519PrivateKey) -> None:
    for bad in (0, -1, -(10**5000)):
        with pytest.raises(ValueError, match="max_body_bytes must be >= 1, got "):
            App(key, max_body_bytes=bad)
    for wrong in (True, 1.5, "1024"):  # the wrong kind: TypeError, as every webhooks option
        with pytest.raises(TypeError, match="max_body_bytes must be an int, got "):
            App(key, max_body_bytes=wrong)
    assert 32 * MiB == wh.DEFAULT_MAX_BODY_BYTES


@pytest.mark.parametrize("values", NOT_A_LENGTH)
async def test_a_content_length_that_is_no_single_length_is_counted_as_the_body_arrives(
    key: Ed25519PrivateKey, values: list[bytes]
) -> None:
    """Behind a lax server a Content-Length may be anything: no value crashes the receiver; the
    body is read in pieces, judged by what arrives."""
    verifier = wh.WebhookVerifier(jwks=jwks_of(key))

    def request(body: bytes, headers: dict[str, str]) -> Request:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw += [(b"content-length", value) for value in values]
        chunks = [body[:10], body[10:]]

        async def receive() -> Message:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

        return Request({"type": "http", "method": "POST", "headers": raw}, receive)

    small = make_delivery(key, {"text": "small", "seed": 1}, request_id="r-small")
    result = await wh.receive(request(*small), TextOutput, verifier=verifier, max_body_bytes=MiB)
    assert result.request_id == "r-small"
    large = make_delivery(key, {"text": "x" * MiB, "seed": 1}, request_id="r-large")
    with pytest.raises(wh.WebhookBodyTooLargeError):
        await wh.receive(request(*large), TextOutput, verifier=verifier, max_body_bytes=MiB)


def test_a_body_that_stops_arriving_is_answered_408(key: Ed25519PrivateKey) -> None:
    """Headers that look authentic let the body be read (the signature covers it): a sender
    that then stops sending is answered once a pause passes ``body_timeout``."""
    app = App(key, body_timeout=0.2)
    with serve(app.app) as base:
        url = urlsplit(base)
        head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(key).items())
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), 30) as sock:
            sock.sendall(
                f"POST /hook HTTP/1.1\r\nHost: x\r\n{head}Content-Length: 100\r\n\r\n".encode()
                + b'{"request_id": "r-big", "sta'
            )
            answer = b""
            while not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"error_type":"webhook_body_timeout"' in answer
    assert app.handled == []


def test_a_body_trickled_a_byte_at_a_time_is_answered_408_at_body_timeout(
    key: Ed25519PrivateKey,
) -> None:
    """body_timeout bounds the whole body, not each pause: a sender sending a byte every
    pause - 1 seconds never paused too long, and held the receiver for as long as it liked."""
    app = App(key, body_timeout=1.0)
    started = time.monotonic()
    with serve(app.app) as base:
        url = urlsplit(base)
        head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(key).items())
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), 30) as sock:
            sock.sendall(
                f"POST /hook HTTP/1.1\r\nHost: x\r\n{head}Content-Length: 10000\r\n\r\n".encode()
            )
            answer = b""
            while time.monotonic() - started < 10 and not answer.rstrip().endswith(b"}"):
                readable, _, _ = select.select([sock], [], [], 0.1)
                if not readable:
                    sock.sendall(b" ")  # a pause of 0.1 s, far within body_timeout
                    continue
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"error_type":"webhook_body_timeout"' in answer
    assert b"did not arrive in whole within 1 s" in answer
    assert time.monotonic() - started < 8
    assert app.handled == []


async def test_a_request_without_streaming_is_bounded_by_body_timeout_too(
    key: Ed25519PrivateKey,
) -> None:
    """receive() takes any request with headers and body(): one without stream() had its body
    awaited with no bound at all (only its server's, if any)."""
    import asyncio

    class Stalled:
        headers = signed_headers(key)

        async def body(self) -> bytes:
            await asyncio.sleep(3600)
            return b""

    verifier = wh.WebhookVerifier(jwks=jwks_of(key))
    started = time.monotonic()
    with pytest.raises(wh.WebhookBodyTimeoutError, match=r"within 0\.3 s"):
        receiving = wh.receive(Stalled(), TextOutput, verifier=verifier, body_timeout=0.3)
        await asyncio.wait_for(receiving, 10)  # not for ever, if it is not bounded
    assert time.monotonic() - started < 5


# -- replays after a restart: the SQLite store ------------------------------------------------


def test_a_replay_after_a_restart_is_not_handled_twice(
    key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "claims.db"
    delivery = make_delivery(key, {"text": "once", "seed": 1}, request_id="r-replayed")
    first = App(key, deduplicator=wh.Deduplicator(wh.SQLiteIdempotencyStore(path)))
    with serve(first.app) as url:
        assert httpx.post(f"{url}/hook", content=delivery[0], headers=delivery[1]).json() == {
            "status": "ok",
            "request_id": "r-replayed",
        }
    restarted = App(key, deduplicator=wh.Deduplicator(wh.SQLiteIdempotencyStore(path)))
    with serve(restarted.app) as url:
        replay = httpx.post(f"{url}/hook", content=delivery[0], headers=delivery[1])
    assert replay.json() == {"status": "duplicate", "request_id": "r-replayed"}
    assert first.handled == ["r-replayed"] and restarted.handled == []


def test_with_the_memory_store_the_same_replay_is_handled_again(key: Ed25519PrivateKey) -> None:
    """What the SQLite store is for: the in-memory claims die with the process."""
    delivery = make_delivery(key, {"text": "twice", "seed": 1}, request_id="r-forgotten")
    handled = []
    for _ in range(2):
        app = App(key)
        with serve(app.app) as url:
            httpx.post(f"{url}/hook", content=delivery[0], headers=delivery[1])
        handled += app.handled
    assert handled == ["r-forgotten", "r-forgotten"]


_CLAIMER = textwrap.dedent(
    """
    import json, sys
    from fal_typed.webhooks import SQLiteIdempotencyStore
    store = SQLiteIdempotencyStore(sys.argv[1])
    sys.stdin.readline()  # start together
    won = [key for key in map(str, range(int(sys.argv[2]))) if store.add(key, 3600)]
    print(json.dumps(won))
    """
)


def test_processes_sharing_the_file_claim_each_key_exactly_once(tmp_path: Path) -> None:
    path, keys = tmp_path / "claims.db", 200
    wh.SQLiteIdempotencyStore(path).close()  # create the file and table once
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path), str(keys)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    won: list[str] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        won += json.loads(out)
    assert sorted(won, key=int) == [str(k) for k in range(keys)]  # each key once, no key lost


def test_claims_expire_and_a_released_claim_can_be_taken_again(tmp_path: Path) -> None:
    with wh.SQLiteIdempotencyStore(tmp_path / "c.db") as store:
        assert store.add("a", 0.2) and not store.add("a", 0.2)
        time.sleep(0.3)  # past the claim's TTL
        assert store.add("a", 3600)
        store.discard("a")
        assert store.add("a", 3600) and len(store) == 1
    with wh.SQLiteIdempotencyStore(tmp_path / "c.db") as reopened:
        assert not reopened.add("a", 3600)  # the claim outlived the connection
    assert isinstance(reopened, wh.IdempotencyStore)
    with pytest.raises(ValueError, match="identifier"):
        wh.SQLiteIdempotencyStore(tmp_path / "c.db", table="x; DROP TABLE y")


# -- only the requests this application submitted ---------------------------------------------


def _post(url: str, delivery: tuple[bytes, dict[str, str]]) -> httpx.Response:
    return httpx.post(f"{url}/hook", content=delivery[0], headers=delivery[1])


def test_deliveries_for_requests_not_recorded_are_refused_403(
    key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    registry = wh.SQLiteRequestRegistry(tmp_path / "submitted.db")
    registry.record("r-mine")
    app = App(key, known_requests=registry)
    with serve(app.app) as url:
        mine = _post(url, make_delivery(key, request_id="r-mine"))
        foreign = _post(url, make_delivery(key, request_id="r-foreign"))
        forged = _post(url, make_delivery(Ed25519PrivateKey.generate(), request_id="r-foreign"))
    assert mine.status_code == 200 and app.handled == ["r-mine"]
    assert foreign.status_code == 403
    assert foreign.json()["error_type"] == "webhook_unknown_request"
    assert "r-foreign" in foreign.json()["detail"]
    assert forged.status_code == 401  # the signature is judged first
    assert wh.SQLiteRequestRegistry(tmp_path / "submitted.db").contains("r-mine")  # persisted


@pytest.mark.parametrize("asynchronous", [False, True])
def test_known_requests_may_be_a_function(key: Ed25519PrivateKey, asynchronous: bool) -> None:
    submitted = {"r-1"}

    def known(request_id: str) -> bool:
        return request_id in submitted

    async def known_async(request_id: str) -> bool:
        return request_id in submitted

    app = App(key, known_requests=known_async if asynchronous else known)
    with serve(app.app) as url:
        assert _post(url, make_delivery(key, request_id="r-1")).status_code == 200
        assert _post(url, make_delivery(key, request_id="r-2")).status_code == 403
    assert app.handled == ["r-1"]


def test_a_delivery_refused_as_unknown_is_handled_once_recorded(
    key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """A delivery racing the record is refused; fal's retry, after the record, is handled."""
    registry = wh.SQLiteRequestRegistry(tmp_path / "submitted.db")
    app = App(key, known_requests=registry)
    with serve(app.app) as url:
        assert _post(url, make_delivery(key, request_id="r-late")).status_code == 403
        registry.record("r-late")
        assert _post(url, make_delivery(key, request_id="r-late")).status_code == 200
    assert app.handled == ["r-late"]


def test_the_registry_forgets_ids_past_their_retention(tmp_path: Path) -> None:
    with wh.SQLiteRequestRegistry(tmp_path / "r.db", retention=0.2) as registry:
        registry.record("r-old")
        assert "r-old" in registry
        time.sleep(0.3)
        assert not registry.contains("r-old")
        registry.record("r-new")
        registry.discard("r-new")
        assert "r-new" not in registry
        with pytest.raises(ValueError, match="request_id"):
            registry.record("")
