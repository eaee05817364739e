"""WebhookSenders fetches fal's /meta under the lock every delivery's check waits on: the fetch
ends, and holds little memory, whatever the server does. It is the JWKS's bounded GET (the
whole fetch within its timeout, the body within 1 MiB), so the same peers show it: a trickled
answer and one past the size. Real servers on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fal_typed import FalConnectionError, ServerError
from fal_typed import webhooks as wh
from fal_typed.webhooks import _sender

from .helpers import EndlessError, serve, serve_raw
from .test_jwks_bounds import _trickled_body, _trickled_head

Mode = Literal["sync", "async"]
TIMEOUT = 1.0


async def _allows(senders: wh.WebhookSenders, mode: Mode) -> bool:
    if mode == "sync":
        return senders.allows("127.0.0.1")
    return await senders.allows_async("127.0.0.1")


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("peer", [_trickled_body, _trickled_head], ids=["body", "head"])
async def test_a_trickled_meta_answer_ends_at_the_timeout(
    mode: Mode, peer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sender, "_TIMEOUT", TIMEOUT)
    with serve_raw(peer) as base:
        senders = wh.WebhookSenders(api_url=base)
        with pytest.raises(FalConnectionError, match=f"did not complete within {TIMEOUT:g} s"):
            await _allows(senders, mode)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_meta_answer_past_one_mib_is_refused(mode: Mode) -> None:
    ranges = json.dumps({"webhook_ip_ranges": ["127.0.0.1/32"] * 100_000}).encode()
    assert len(ranges) > wh.MAX_JWKS_BYTES

    async def meta(_: Request) -> Response:
        return Response(ranges, media_type="application/json")

    with serve(Starlette(routes=[Route("/v1/meta", meta)])) as base:
        senders = wh.WebhookSenders(api_url=base)
        with pytest.raises(FalConnectionError, match="unusable"):
            await _allows(senders, mode)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_small_meta_answer_is_read(mode: Mode) -> None:
    async def meta(_: Request) -> Response:
        return Response(b'{"webhook_ip_ranges": ["127.0.0.0/8"]}', media_type="application/json")

    with serve(Starlette(routes=[Route("/v1/meta", meta)])) as base:
        assert await _allows(wh.WebhookSenders(api_url=base), mode)


ERROR_PAGE = (
    "\x1b[31mupstream overloaded\x1b[0m\r\nretry \u202ein a minute ".encode()
    + b"x" * 9000
    + b" TAIL-NEVER-READ"
)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_a_meta_error_says_what_the_server_said(mode: Mode, encoding: str) -> None:
    """An error answer from /meta was raised as 'request failed with status 503' alone: what
    the server said was never read. Its start is now quoted: one line, no terminal escapes or
    line breaks, cut short (only MAX_ERROR_BYTES of it read, inflated no further)."""
    import gzip

    body = gzip.compress(ERROR_PAGE) if encoding == "gzip" else ERROR_PAGE
    headers = {"Content-Encoding": "gzip"} if encoding == "gzip" else {}

    async def meta(_: Request) -> Response:
        return Response(body, status_code=503, media_type="text/plain", headers=headers)

    with serve(Starlette(routes=[Route("/v1/meta", meta)])) as base:
        senders = wh.WebhookSenders(api_url=base)
        with pytest.raises(ServerError) as caught:
            await _allows(senders, mode)
    message = str(caught.value)
    assert "upstream overloaded" in message and "retry in a minute" in message, message
    assert "\x1b" not in message and "\n" not in message and "\u202e" not in message
    assert "TAIL-NEVER-READ" not in message and len(message) < 400


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_rest_of_a_meta_error_answer_is_never_read(mode: Mode) -> None:
    """Only the start of an error answer from /meta is read: a 256 MiB one is left unread, not
    read whole and then cut for the message."""
    endless = EndlessError()
    with (
        serve_raw(endless) as base,
        pytest.raises(ServerError, match="maintenance until 12:00"),
    ):
        await _allows(wh.WebhookSenders(api_url=base), mode)
    assert endless.sent < endless.total // 8, endless.sent


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_meta_error_echoing_a_key_is_scrubbed(mode: Mode) -> None:
    """/meta is fetched without the key, but a server (or something in front of it) that
    echoes a remembered secret does not get it quoted."""
    from fal_typed._errors import remember_secrets

    secret = "key-id-1234:" + "s3cr3t" * 6
    remember_secrets([secret])  # as a client's key is once in use

    async def meta(_: Request) -> Response:
        return Response(f"bad key {secret}".encode(), status_code=500)

    with serve(Starlette(routes=[Route("/v1/meta", meta)])) as base:
        senders = wh.WebhookSenders(api_url=base)
        with pytest.raises(ServerError) as caught:
            await _allows(senders, mode)
    assert "bad key" in str(caught.value) and secret not in str(caught.value)
    assert "s3cr3t" not in repr(caught.value.body)
