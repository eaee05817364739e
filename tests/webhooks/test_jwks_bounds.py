"""A JWKS fetch ends, and holds little memory, whatever the server does: the whole fetch is bounded
by its timeout in wall-clock time (not per read), the body by MAX_JWKS_BYTES before and after
decompression, and redirects by MAX_JWKS_REDIRECTS (never https to http). Real servers on
127.0.0.1: uvicorn for well-formed answers, a raw-socket peer for trickled ones."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from fal_typed import webhooks as wh

from .helpers import JWKSHost, TLSFiles, jwks_of, make_delivery, make_tls, serve, serve_raw

Mode = Literal["sync", "async"]
Via = Literal["own", "client"]
MODES: list[Mode] = ["sync", "async"]
VIAS: list[Via] = ["own", "client"]

TIMEOUT = 1.0
BOUND = 3.0  # generous: the trickles below would take 10 s and more
TRICKLE = 0.5  # seconds between two bytes


class _Source:
    """A Client stand-in: httpx clients of the test's choosing (a CA to trust, default headers)."""

    def __init__(self, *, tls: TLSFiles | None = None, headers: dict[str, str] | None = None):
        verify: Any = True if tls is None else tls.context()
        self.rest_url = "http://127.0.0.1:9"
        self.http = httpx.Client(verify=verify, headers=headers)
        self.async_http = httpx.AsyncClient(verify=verify, headers=headers)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def source() -> Iterator[_Source]:
    made = _Source()
    yield made
    made.close()


def _verifier(url: str, via: Via, source: _Source, **options: Any) -> wh.WebhookVerifier:
    return wh.WebhookVerifier(url, client=source if via == "client" else None, **options)


async def _verify(verifier: wh.WebhookVerifier, mode: Mode, key: Ed25519PrivateKey) -> None:
    delivery = make_delivery(key)
    if mode == "sync":
        verifier.verify(*delivery)
    else:
        await verifier.verify_async(*delivery)


# -- wall clock ----------------------------------------------------------------------------------


def _trickled_body(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
    """A 200 whose 20-byte body comes a byte every half second (10 s in all)."""
    body = b'{"keys": []}' + b" " * 8
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body))
    for byte in body:
        if stop.wait(TRICKLE):
            return
        conn.sendall(bytes([byte]))


def _trickled_head(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
    """An answer whose header lines come a byte every half second (10 s and more)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for byte in b"X-Slow: " + b"a" * 20 + b"\r\n":
        if stop.wait(TRICKLE):
            return
        conn.sendall(bytes([byte]))
    conn.sendall(b'Content-Length: 12\r\n\r\n{"keys": []}')


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("peer", [_trickled_body, _trickled_head], ids=["body", "head"])
async def test_a_trickled_answer_ends_at_the_timeout(
    mode: Mode, via: Via, peer: Any, source: _Source, signing_key: Ed25519PrivateKey
) -> None:
    with serve_raw(peer) as base:
        verifier = _verifier(f"{base}/jwks.json", via, source, timeout=TIMEOUT)
        started = time.monotonic()
        with pytest.raises(wh.JWKSFetchError, match=f"did not complete within {TIMEOUT:g} s"):
            await _verify(verifier, mode, signing_key)
        elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"the fetch took {elapsed:.1f} s with timeout={TIMEOUT}"


@pytest.mark.parametrize("mode", MODES)
async def test_the_timeout_bounds_all_redirect_hops_together(
    mode: Mode, source: _Source, signing_key: Ed25519PrivateKey
) -> None:
    """Three hops each answered in 0.6 s: each is within a 1 s read timeout, their sum is not."""

    async def hop(request: Request) -> Response:
        left = int(request.path_params["left"])
        await asyncio.sleep(0.6)
        if left == 0:
            return Response(json.dumps(jwks_of(signing_key)), media_type="application/json")
        return RedirectResponse(f"/hop/{left - 1}", status_code=302)

    with serve(Starlette(routes=[Route("/hop/{left}", hop)])) as base:
        verifier = _verifier(f"{base}/hop/3", "own", source, timeout=TIMEOUT)
        started = time.monotonic()
        with pytest.raises(wh.JWKSFetchError, match="did not complete"):
            await _verify(verifier, mode, signing_key)
        assert time.monotonic() - started < BOUND
        # the same hops with time enough
        await _verify(_verifier(f"{base}/hop/3", "own", source, timeout=10), mode, signing_key)


# -- size and compression ------------------------------------------------------------------------


def _padded(key: Ed25519PrivateKey, size: int) -> bytes:
    """A valid JWKS of ``key`` padded with whitespace to ``size`` bytes."""
    document = json.dumps(jwks_of(key)).encode()
    return document[:-1] + b" " * (size - len(document)) + b"}"


@pytest.mark.parametrize("mode", MODES)
async def test_a_jwks_past_one_mib_is_refused(
    mode: Mode, jwks_host: JWKSHost, source: _Source, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.raw = _padded(signing_key, wh.MAX_JWKS_BYTES + 1)  # Content-Length says so
    with pytest.raises(wh.JWKSFetchError, match="larger than the limit of 1048576 bytes"):
        await _verify(wh.WebhookVerifier(jwks_host.url), mode, signing_key)
    jwks_host.raw = _padded(signing_key, wh.MAX_JWKS_BYTES)  # at the limit: read
    await _verify(wh.WebhookVerifier(jwks_host.url), mode, signing_key)


@pytest.mark.parametrize("mode", MODES)
async def test_an_undeclared_length_is_cut_at_the_limit(
    mode: Mode, signing_key: Ed25519PrivateKey
) -> None:
    """A chunked answer (no Content-Length) of 64 MiB: refused at the limit, not read whole."""

    async def endless(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield json.dumps(jwks_of(signing_key)).encode()[:-1]
            for _ in range(1024):
                yield b" " * 65536

        return StreamingResponse(chunks(), media_type="application/json")

    app = Starlette(routes=[Route("/jwks.json", endless)])
    with serve(app) as base, pytest.raises(wh.JWKSFetchError, match="larger than the limit"):
        await _verify(wh.WebhookVerifier(f"{base}/jwks.json"), mode, signing_key)


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", lambda data: gzip.compress(data, mtime=0)),
        ("x-gzip", lambda data: gzip.compress(data, mtime=0)),
        ("deflate", lambda data: _deflate(data, 15)),  # zlib-wrapped, as the RFC says
        ("deflate", lambda data: _deflate(data, -15)),  # raw, as some servers send it
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_answers_are_inflated_within_the_limit(
    mode: Mode, encoding: str, pack: Any, jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Content-Encoding": encoding}
    jwks_host.raw = pack(json.dumps(jwks_of(signing_key)).encode())
    await _verify(wh.WebhookVerifier(jwks_host.url), mode, signing_key)
    bomb = pack(_padded(signing_key, 64 * wh.MAX_JWKS_BYTES))  # 64 MiB in about 64 KB
    assert len(bomb) < wh.MAX_JWKS_BYTES
    jwks_host.raw = bomb
    with pytest.raises(wh.JWKSFetchError, match="inflates past the limit of 1048576 bytes"):
        await _verify(wh.WebhookVerifier(jwks_host.url), mode, signing_key)


@pytest.mark.parametrize(
    ("encoding", "raw", "message"),
    [
        ("br", b"\x1b\x00", "content-encoding 'br' is not read"),
        ("gzip, gzip", b"", "content-encoding 'gzip, gzip' is not read"),
        ("gzip", gzip.compress(b'{"keys": []}', mtime=0)[:-12], "gzip body is cut short"),
        ("gzip", b"not gzip at all", "gzip body does not inflate"),
        (
            "gzip",
            gzip.compress(b'{"keys": []}', mtime=0) + b"junk",
            "gzip body has data after the end of its stream",
        ),
        (
            "deflate",
            zlib.compress(b'{"keys": []}') + b"junk",
            "deflate body has data after the end of its stream",
        ),
        (
            "gzip",
            gzip.compress(b"", mtime=0) * 65 + gzip.compress(b'{"keys": []}', mtime=0),
            "gzip body has more than 64 gzip members",
        ),
    ],
    ids=["br", "twice", "cut", "not-gzip", "gzip-junk", "deflate-junk", "members"],
)
def test_other_or_broken_encodings_are_refused(
    encoding: str, raw: bytes, message: str, jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    jwks_host.headers = {"Content-Encoding": encoding}
    jwks_host.raw = raw
    with pytest.raises(wh.JWKSFetchError, match=message):
        wh.WebhookVerifier(jwks_host.url).verify(*make_delivery(signing_key))


def test_a_jwks_in_several_gzip_members_is_read_whole(
    jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    """RFC 1952 allows several members: all but the first were dropped (a JWKS cut in two
    was read as its first half)."""
    document = json.dumps(jwks_of(signing_key)).encode()
    half = len(document) // 2
    jwks_host.headers = {"Content-Encoding": "gzip"}
    jwks_host.raw = gzip.compress(document[:half]) + gzip.compress(document[half:])
    wh.WebhookVerifier(jwks_host.url).verify(*make_delivery(signing_key))


@pytest.mark.parametrize("mode", MODES)
async def test_the_request_asks_for_identity_and_carries_no_credential(
    mode: Mode, signing_key: Ed25519PrivateKey
) -> None:
    seen: list[dict[str, str]] = []

    async def jwks(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response(json.dumps(jwks_of(signing_key)), media_type="application/json")

    source = _Source(headers={"Authorization": "Key secret-of-the-app"})
    with serve(Starlette(routes=[Route("/jwks.json", jwks)])) as base:
        await _verify(wh.WebhookVerifier(f"{base}/jwks.json", client=source), mode, signing_key)
    source.close()
    [headers] = seen
    assert headers["accept-encoding"] == "identity"
    assert "authorization" not in headers


# -- redirects -----------------------------------------------------------------------------------


def _hops(signing_key: Ed25519PrivateKey) -> Starlette:
    async def hop(request: Request) -> Response:
        left = int(request.path_params["left"])
        if left == 0:
            return Response(json.dumps(jwks_of(signing_key)), media_type="application/json")
        return RedirectResponse(f"/hop/{left - 1}", status_code=307)

    async def loop(_: Request) -> Response:
        return RedirectResponse("/loop", status_code=302)

    async def broken(_: Request) -> Response:
        return Response(status_code=302, headers={"Location": "http://[::1"})

    routes = [Route("/hop/{left}", hop), Route("/loop", loop), Route("/broken", broken)]
    return Starlette(routes=routes)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("mode", MODES)
async def test_up_to_three_redirects_are_followed(
    mode: Mode, via: Via, source: _Source, signing_key: Ed25519PrivateKey
) -> None:
    with serve(_hops(signing_key)) as base:
        await _verify(_verifier(f"{base}/hop/3", via, source), mode, signing_key)
        for path, message in [
            ("/hop/4", "more than 3 redirects"),
            ("/loop", "more than 3 redirects"),
            ("/broken", "JWKS request failed"),
        ]:
            with pytest.raises(wh.JWKSFetchError, match=message):
                await _verify(_verifier(base + path, via, source), mode, signing_key)


@pytest.mark.parametrize("mode", MODES)
async def test_a_redirect_from_https_to_http_is_refused(
    mode: Mode, tmp_path: Path, jwks_host: JWKSHost, signing_key: Ed25519PrivateKey
) -> None:
    """Over TLS to 127.0.0.1 (a certificate made for the test): a redirect to plain http would
    let anyone on the path serve the keys, so it is refused; one to https is followed."""
    tls = make_tls(tmp_path)

    async def down(_: Request) -> Response:
        return RedirectResponse(jwks_host.url, status_code=301)

    async def keys(_: Request) -> Response:
        return Response(json.dumps(jwks_of(signing_key)), media_type="application/json")

    async def same(_: Request) -> Response:
        return RedirectResponse("/keys", status_code=301)

    app = Starlette(routes=[Route("/down", down), Route("/keys", keys), Route("/same", same)])
    source = _Source(tls=tls)
    with serve(app, tls=tls) as base:
        assert base.startswith("https://")
        await _verify(wh.WebhookVerifier(f"{base}/same", client=source), mode, signing_key)
        with pytest.raises(wh.JWKSFetchError, match="redirect from https to http refused"):
            await _verify(wh.WebhookVerifier(f"{base}/down", client=source), mode, signing_key)
    source.close()
    assert jwks_host.hits == 0  # the http URL was never asked


@pytest.mark.parametrize(
    "timeout", [httpx.ReadTimeout("r"), httpx.ConnectTimeout("c"), httpx.PoolTimeout("p")]
)
def test_an_httpx_timeout_is_the_deadline_passing(timeout: httpx.TimeoutException) -> None:
    """httpx's timeouts are capped at the time left, so one firing is the deadline passing: it
    says so, as the deadline's own check would (which of the two notices first is a race)."""
    from fal_typed.webhooks._jwks_http import _failure

    error = _failure(timeout, "https://x.example/jwks.json", TIMEOUT)
    assert error.reason == f"JWKS request did not complete within {TIMEOUT:g} s"
