"""A JWKS URL answering whatever it likes: every answer the verifier cannot use is a JWKSFetchError
(the receiver answers 503 and fal retries), never another exception (a 500). Real HTTP servers on
127.0.0.1 serve each answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fal_typed import FalError
from fal_typed import webhooks as wh
from fal_typed.webhooks._signature import public_jwk

from .helpers import EndlessError, JWKSHost, Receiver, jwks_of, make_delivery, serve, serve_raw


class Text(BaseModel):
    text: str
    seed: int


def _key_entry() -> dict[str, str]:
    return public_jwk(Ed25519PrivateKey.generate().public_key())


DEPTH = 100_000  # far past the interpreter's recursion limit, within the 1 MiB cap

# (id, the JWKS answer's body, what the error says)
HOSTILE: list[tuple[str, bytes, str]] = [
    ("deep-array", b"[" * DEPTH + b"]" * DEPTH, "nested too deep"),
    ("deep-object", b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, "nested too deep"),
    ("deep-in-keys", b'{"keys": [' + b"[" * DEPTH + b"]" * DEPTH + b"]}", "nested too deep"),
    ("not-utf8", b'{"keys": "\xff\xfe"}', "not JSON"),
    ("utf16-bom-odd", b"\xff\xfe{\x00", "not JSON"),
    ("huge-int", b'{"keys": [], "n": ' + b"9" * 5000 + b"}", "not JSON"),
    ("empty", b"", "not JSON"),
    ("nan-keys", b'{"keys": NaN}', "no 'keys' list"),
    ("keys-object", b'{"keys": {"kty": "OKP"}}', "no 'keys' list"),
    ("keys-string", b'{"keys": "OKP"}', "no 'keys' list"),
    ("keys-null", b'{"keys": null}', "no 'keys' list"),
    ("junk-entries", b'{"keys": [1, "a", null, [], true, 1e999]}', "no Ed25519"),
    (
        "odd-fields",
        json.dumps(
            {
                "keys": [
                    {"kty": "OKP", "crv": "Ed25519", "x": 5},
                    {"kty": "OKP", "crv": "Ed25519", "x": "\u00e9\u00e9\u00e9"},
                    {"kty": "OKP", "crv": "Ed25519", "x": None},
                    {"kty": ["OKP"], "crv": "Ed25519", "x": "AAAA"},
                    {"kty": "OKP", "crv": {"a": 1}, "x": "AAAA"},
                    {"kty": "OKP", "crv": "Ed25519", "use": ["sig"], "x": "A" * 43},
                    {"kty": "OKP", "crv": "Ed25519", "x": "!!!!"},
                ]
            }
        ).encode(),
        "no Ed25519",
    ),
    (
        "too-many-keys",
        json.dumps({"keys": [_key_entry() for _ in range(wh.MAX_JWKS_KEYS + 1)]}).encode(),
        f"more than {wh.MAX_JWKS_KEYS}",
    ),
]


@pytest.mark.parametrize(("body", "message"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
async def test_an_unusable_jwks_answer_is_a_jwks_fetch_error(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey, body: bytes, message: str
) -> None:
    jwks_host.raw = body
    delivery = make_delivery(signing_key)
    with pytest.raises(wh.JWKSFetchError, match=message) as caught:
        wh.WebhookVerifier(jwks_host.url).verify(*delivery)
    assert caught.value.url == jwks_host.url
    with pytest.raises(wh.JWKSFetchError, match=message):
        await wh.WebhookVerifier(jwks_host.url).verify_async(*delivery)


@pytest.mark.parametrize(
    ("jwks_body", "message"),
    [c[1:] for c in HOSTILE if c[0] in ("deep-array", "not-utf8", "huge-int", "too-many-keys")],
    ids=["deep-array", "not-utf8", "huge-int", "too-many-keys"],
)
def test_the_receiver_answers_an_unusable_jwks_503(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey, jwks_body: bytes, message: str
) -> None:
    """What the probe saw: a deeply nested JWKS made the endpoint answer 500 (fal gives up on
    a 500 after its retries just the same, but the log and the status said "our bug")."""
    jwks_host.raw = jwks_body
    receiver = Receiver(Text, wh.WebhookVerifier(jwks_host.url))
    body, headers = make_delivery(signing_key)
    with serve(receiver.app) as base:
        answer = httpx.post(f"{base}/hook", content=body, headers=headers, timeout=30)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error_type"] == "webhook_jwks_unavailable"
    assert message in answer.json()["detail"]
    assert receiver.handled == []


def test_a_jwks_at_the_key_limit_is_read(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    others: list[dict[str, Any]] = [_key_entry() for _ in range(wh.MAX_JWKS_KEYS - 1)]
    jwks_host.document = {"keys": [*others, *jwks_of(signing_key)["keys"]]}
    assert wh.WebhookVerifier(jwks_host.url).verify(*make_delivery(signing_key))


def test_odd_entries_beside_a_good_key_are_skipped(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    odd = json.loads(dict((c[0], c[1]) for c in HOSTILE)["odd-fields"])["keys"]
    document = {"keys": [*odd, 1, None, *jwks_of(signing_key)["keys"]], "n": 1e999}
    jwks_host.raw = json.dumps(document).encode()  # "n": Infinity, which json.loads reads
    assert wh.WebhookVerifier(jwks_host.url).verify(*make_delivery(signing_key))


@pytest.mark.parametrize("url", ["http://[::1", "http://", "https:///jwks.json"])
def test_a_jwks_url_httpx_cannot_send_is_refused_when_given(url: str) -> None:
    with pytest.raises(ValueError, match="jwks_url"):
        wh.WebhookVerifier(url)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_deeply_nested_meta_error_is_a_fal_error(mode: str) -> None:
    """WebhookSenders reads fal's /meta the same way: an error answer nested past the
    interpreter's recursion limit is a FalError (its text kept), not a RecursionError."""

    async def meta(_: Request) -> Response:
        return Response(b"[" * DEPTH + b"]" * DEPTH, status_code=500, media_type="application/json")

    with serve(Starlette(routes=[Route("/v1/meta", meta)])) as base:
        senders = wh.WebhookSenders(api_url=base)
        with pytest.raises(FalError):
            if mode == "sync":
                senders.allows("127.0.0.1")
            else:
                await senders.allows_async("127.0.0.1")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_jwks_error_says_what_the_server_said(jwks_host: JWKSHost, mode: str) -> None:
    """A JWKS answer other than 200 was 'answered HTTP 503' alone; its start is now quoted,
    one line without control characters, cut short (the rest is never read)."""
    jwks_host.status = 503
    jwks_host.raw = b"maintenance\r\n\x1b[2Juntil 12:00 " + b"y" * 9000 + b"END-NEVER-READ"
    cache = wh.WebhookVerifier(jwks_host.url).cache
    assert cache is not None
    with pytest.raises(wh.JWKSFetchError) as caught:
        if mode == "sync":
            cache.get()
        else:
            await cache.get_async()
    message = str(caught.value)
    assert "answered HTTP 503: maintenance until 12:00 yyy" in message, message
    assert "\x1b" not in message and "\n" not in message and "END-NEVER-READ" not in message
    assert len(caught.value.reason) < 400


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_rest_of_a_jwks_error_answer_is_never_read(mode: str) -> None:
    """Only the start of an error answer is read (MAX_ERROR_BYTES): a 256 MiB one is left
    unread, not read whole and then cut for the message."""
    endless = EndlessError()
    with serve_raw(endless) as base:
        cache = wh.WebhookVerifier(f"{base}/jwks").cache
        assert cache is not None
        with pytest.raises(wh.JWKSFetchError, match="answered HTTP 503: maintenance until 12:00"):
            if mode == "sync":
                cache.get()
            else:
                await cache.get_async()
    assert endless.sent < endless.total // 8, endless.sent


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_error_answer_whose_body_stalls_is_quoted_at_once(mode: str) -> None:
    """Its start was read until the whole fetch timeout: a 503 that sent 11 of its 1,000 bytes
    held the fetch, and the key cache's lock every delivery waits on, for 10 s by default."""
    import socket
    import threading
    import time

    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def answer() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 1000\r\n\r\nmaintenance"
            )

    threading.Thread(target=answer, daemon=True).start()
    port = server.getsockname()[1]
    cache = wh.WebhookVerifier(f"http://127.0.0.1:{port}/jwks", timeout=20.0).cache
    assert cache is not None
    started = time.monotonic()
    try:
        with pytest.raises(wh.JWKSFetchError, match="answered HTTP 503: maintenance"):
            if mode == "sync":
                cache.get()
            else:
                await cache.get_async()
    finally:
        server.close()
        for connection in held:
            connection.close()
    assert time.monotonic() - started < 10.0  # 20 s before; ERROR_READ_SECONDS (1 s) now
