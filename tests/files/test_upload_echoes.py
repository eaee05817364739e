"""Uploads against a storage host that echoes credentials back (tests/peers/sse.py), sync and async.

Whatever the status (a 200 that is not JSON, a 401, a 500), an error built from an answer shows
neither the account key nor the CDN token nor a signed URL's query; a token endpoint answering
with the key is refused (the key would otherwise go to the CDN as a bearer token).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest

from fal_typed import AuthenticationError, Client, FalError, ProtocolError, RetryPolicy
from fal_typed.files import UploadError, UploadSettings, upload, upload_async

from ..peers.sse import KEY, Exchange, MiB, ScriptedPeer, serving

SECRET = KEY.partition(":")[2]
CDN_TOKEN = "cdn-token-" + "9" * 32
SIGNATURE = "X-Goog-Signature=0123456789abcdef"
SETTINGS = UploadSettings(attempts=1, retry_backoff=0)


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def storage(
    peer: ScriptedPeer,
    *,
    token: object = CDN_TOKEN,
    cdn_status: int = 200,
    echo_json: bool = False,
    initiate_status: int = 500,
) -> Callable[[Exchange], object]:
    """Token endpoint, CDN and storage fallback, each echoing the request's credentials."""

    async def script(exchange: Exchange) -> None:
        auth = exchange.headers.get("authorization", "")
        path = exchange.path.split("?")[0]
        if path == "/storage/auth/token":
            body = {
                "token": token,
                "token_type": "Bearer",
                "base_url": peer.url,
                "expires_at": "2099-01-01T00:00:00Z",
            }
            await exchange.answer(
                200, json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
        elif path == "/files/upload":
            text = (
                json.dumps({"detail": f"rejected {auth}", auth: "as a key"})
                if echo_json
                else f"stored for {auth}"
            )
            await exchange.answer(
                cdn_status, text.encode(), {"Content-Type": "application/json", "X-Echo": auth}
            )
        elif path == "/storage/upload/initiate":
            body = {
                "upload_url": f"{peer.url}/signed/put?{SIGNATURE}",
                "file_url": f"{peer.url}/files/done.png",
                "detail": f"initiated for {auth}",
            }
            await exchange.answer(
                initiate_status, json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
        elif path == "/signed/put":
            await exchange.answer(403, f"bad signature in {exchange.path}".encode())
        else:
            await exchange.answer(404, b"")

    return script


def client_for(peer: ScriptedPeer) -> Client:
    return Client(
        KEY,
        rest_url=peer.url,
        cdn_url=peer.url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
    )


def send(mode: str, client: Client) -> str:
    if mode == "sync":
        return upload(b"\x89PNG" + bytes(100), client=client, settings=SETTINGS)

    async def run() -> str:
        try:
            return await upload_async(b"\x89PNG" + bytes(100), client=client, settings=SETTINGS)
        finally:
            await client.aclose()

    return asyncio.run(run())


def hidden(error: BaseException) -> None:
    text = str(error)
    for cause in (error.__cause__, error.__context__):
        if cause is not None:
            text += " " + str(cause)
    for secret in (SECRET, CDN_TOKEN, SIGNATURE):
        assert secret not in text, text


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("cdn_status", "echo_json"),
    [(200, False), (401, True), (500, False), (500, True)],
    ids=["200-not-json", "401-json", "500-text", "500-json"],
)
def test_cdn_and_storage_answers_echoing_credentials_are_scrubbed(
    peer: ScriptedPeer, mode: str, cdn_status: int, echo_json: bool
) -> None:
    peer.script = storage(peer, cdn_status=cdn_status, echo_json=echo_json)
    with pytest.raises(FalError) as caught:  # UploadError; a 401 is final: AuthenticationError
        send(mode, client_for(peer))
    hidden(caught.value)
    assert "[redacted]" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_signed_put_echoing_its_signature_is_scrubbed(peer: ScriptedPeer, mode: str) -> None:
    peer.script = storage(peer, cdn_status=500, initiate_status=200)
    with pytest.raises(AuthenticationError) as caught:  # the signed URL's 403: final
        send(mode, client_for(peer))
    assert "bad signature in /signed/put?[redacted]" in str(caught.value)
    hidden(caught.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("token", [KEY, f"Bearer-{KEY}", SECRET], ids=["key", "inside", "secret"])
def test_a_cdn_token_that_is_the_key_is_refused(peer: ScriptedPeer, mode: str, token: str) -> None:
    peer.script = storage(peer, token=token)
    with pytest.raises(FalError) as caught:
        send(mode, client_for(peer))
    hidden(caught.value)
    assert "the token is the API key" in str(caught.value)
    assert not [e for e in peer.exchanges if e.path.startswith("/files/upload")]


@pytest.mark.parametrize("mode", MODES)
def test_a_token_answer_that_is_not_json_is_a_protocol_error(peer: ScriptedPeer, mode: str) -> None:
    async def script(exchange: Exchange) -> None:
        await exchange.answer(200, f"<html>{exchange.headers['authorization']}".encode())

    peer.script = script
    with pytest.raises(UploadError) as caught:
        send(mode, client_for(peer))
    assert "malformed CDN token response: not JSON: '<html>Key [redacted]'" in str(caught.value)
    cause = caught.value.__cause__  # the fallback's own failure, read the same way
    assert isinstance(cause, ProtocolError) and cause.text == "<html>Key [redacted]"
    hidden(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_cdn_answer_of_any_size_is_read_no_further_than_a_mebibyte(
    peer: ScriptedPeer, mode: str
) -> None:
    """The CDN answers 200 with a body that never ends: it is refused at 1 MiB. (The storage
    fallback's initiate goes through Client.request, whose answers Limits.max_response_bytes
    bounds.)"""
    token = storage(peer)

    async def script(exchange: Exchange) -> None:
        if exchange.path.startswith("/storage/auth/token"):
            await token(exchange)
            return
        await exchange.head(200, {"Content-Type": "application/json", "Connection": "close"})
        block = b" " * (256 * 1024)
        while exchange.sent < 512 * MiB:
            await exchange.write(block)

    peer.script = script
    settings = UploadSettings(attempts=1, fallback=False)
    client = client_for(peer)
    with pytest.raises(
        UploadError, match="is refused: the body is larger than the limit of 1048576"
    ):
        if mode == "sync":
            upload(b"\x89PNG" + bytes(100), client=client, settings=settings)
        else:
            asyncio.run(upload_async(b"\x89PNG" + bytes(100), client=client, settings=settings))
    client.close()
    (cdn,) = [e for e in peer.exchanges if e.path.startswith("/files/upload")]
    assert cdn.sent < 17 * MiB, f"the CDN sent {cdn.sent / MiB:.0f} MiB"
