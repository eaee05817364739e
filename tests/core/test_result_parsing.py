"""A paid result is never lost to parsing: queue result, run and stream, sync and async.

A peer on 127.0.0.1 (tests/peers/sse.py) answers with a result nested ~1,000 deep (past
Python's recursion limit), one nested past ``Limits.max_json_depth`` but parseable, and invalid
JSON. Each must raise a :class:`ProtocolError` that keeps the text and the request id, never a
raw ``RecursionError`` / ``JSONDecodeError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fal_typed import (
    Client,
    FalHTTPError,
    Limits,
    PossiblyAcceptedError,
    ProtocolError,
    RetryPolicy,
    untyped,
)

from ..peers.sse import KEY, Exchange, ScriptedPeer, serving, sse

RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
ENDPOINT = untyped("tests/paid")
MODES = ["sync", "async"]


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


BODIES = {
    "past the recursion limit": nested(1000),
    "past max_json_depth": nested(300),
    "invalid": '{"images": [{"url": "https://v3.fal.media/files/a.png"}',
}


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def client_of(peer: ScriptedPeer, **limits: Any) -> Client:
    return Client(
        KEY,
        queue_url=peer.url,
        run_url=peer.url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        limits=Limits(**limits) if limits else None,
    )


def answer(body: str) -> Any:
    """Every request answered 200 with ``body`` as JSON, stamped with the request id."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(
            200,
            body.encode(),
            {"Content-Type": "application/json", "x-fal-request-id": RID},
        )

    return script


def call(mode: str, client: Client, how: str) -> Any:
    async def run_async() -> Any:
        try:
            if how == "result":
                return await ENDPOINT.result_async(RID, client=client)
            if how == "run":
                return await ENDPOINT.run_async({"prompt": "x"}, client=client)
            async with ENDPOINT.stream_async({"prompt": "x"}, client=client) as stream:
                return await stream.result()
        finally:
            await client.aclose()

    if mode == "async":
        return asyncio.run(run_async())
    with client:
        if how == "result":
            return ENDPOINT.result(RID, client=client)
        if how == "run":
            return ENDPOINT.run({"prompt": "x"}, client=client)
        with ENDPOINT.stream({"prompt": "x"}, client=client) as stream:
            return stream.result()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["result", "run"])
@pytest.mark.parametrize("kind", list(BODIES))
def test_an_unreadable_result_keeps_its_text_and_request_id(
    peer: ScriptedPeer, mode: str, how: str, kind: str
) -> None:
    body = BODIES[kind]
    peer.script = answer(body)
    with pytest.raises(ProtocolError) as caught:
        call(mode, client_of(peer), how)
    error = caught.value
    assert error.text == body and error.request_id == RID
    assert ("max_json_depth" in str(error)) == (kind != "invalid")
    assert error.error_type == ("protocol_error" if kind == "invalid" else "limit_exceeded")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["past the recursion limit", "past max_json_depth"])
def test_a_deep_final_stream_event_keeps_its_text(peer: ScriptedPeer, mode: str, kind: str) -> None:
    body = BODIES[kind]
    peer.script = sse([b"data: " + body.encode() + b"\n\n"])
    with pytest.raises(ProtocolError) as caught:
        call(mode, client_of(peer), "stream")
    assert caught.value.text == body


@pytest.mark.parametrize("mode", MODES)
def test_max_json_depth_is_the_limit_applied(peer: ScriptedPeer, mode: str) -> None:
    """A result 20 deep is read under the default limit and refused under a limit of 10."""
    body = json.dumps({"deep": json.loads(nested(19))})
    peer.script = answer(body)
    assert call(mode, client_of(peer), "result")["deep"]["a"]["a"]
    with pytest.raises(ProtocolError, match=r"max_json_depth \(10\)") as caught:
        call(mode, client_of(peer, max_json_depth=10), "result")
    assert caught.value.text == body


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["result", "run"])
@pytest.mark.parametrize(
    ("content_type", "body", "prompt"),
    [
        ("application/json", '{"prompt": "caf\u00e9"}'.encode(), "caf\u00e9"),
        ("application/json", b'{"prompt": "caf\xe9"}', "caf\ufffd"),  # not UTF-8: replaced
        ("application/json; charset=iso-8859-1", b'{"prompt": "caf\xe9"}', "caf\u00e9"),
    ],
    ids=["utf-8", "undecodable-byte", "named-charset"],
)
def test_a_result_is_decoded_by_its_charset_or_as_utf_8(
    peer: ScriptedPeer, mode: str, how: str, content_type: str, body: bytes, prompt: str
) -> None:
    async def script(exchange: Exchange) -> None:
        await exchange.answer(200, body, {"Content-Type": content_type, "x-fal-request-id": RID})

    peer.script = script
    assert call(mode, client_of(peer), how)["prompt"] == prompt


def test_a_submit_answer_too_deep_to_read_is_possibly_accepted_keeping_its_text(
    peer: ScriptedPeer,
) -> None:
    peer.script = answer(nested(5000))
    with (
        client_of(peer) as client,
        pytest.raises(PossiblyAcceptedError, match="no request_id") as caught,
    ):
        ENDPOINT.submit({"prompt": "x"}, client=client)
    assert caught.value.text == nested(5000)


def error_answer(status: int, body: str) -> Any:
    async def script(exchange: Exchange) -> None:
        await exchange.answer(status, body.encode(), {"Content-Type": "application/json"})

    return script


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("depth", [300, 5000])
def test_an_error_answer_too_deep_to_read_is_a_typed_error_keeping_its_text(
    peer: ScriptedPeer, mode: str, depth: int
) -> None:
    """An error body past max_json_depth (or past Python's recursion limit) is kept as text,
    scrubbed of the key, on the typed error: never a raw RecursionError from reading or
    redacting it."""
    body = '{"key": "' + KEY + '", "a":' + nested(depth) + "}"
    peer.script = error_answer(422, body)
    with pytest.raises(FalHTTPError) as caught:
        call(mode, client_of(peer), "result")
    error = caught.value
    assert error.status_code == 422 and isinstance(error.body, str)
    assert error.body.startswith('{"key": "') and KEY not in error.body
    assert KEY not in str(error) and KEY not in repr(error)


# -- a paid run's answer that fails after its head ----------------------------------------------


def cut_after_head(body: bytes, headers: dict[str, str]) -> Any:
    """A 200 stamped with the request id whose body is cut (or ``headers`` make it undecodable)."""

    async def script(exchange: Exchange) -> None:
        await exchange.head(200, {"x-fal-request-id": RID, **headers})
        await exchange.write(body)
        exchange.close()

    return script


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("body", "headers", "said"),
    [
        (b'{"images": [{"url"', {"Content-Length": "500"}, "then its body failed"),
        (b"a\r\n" + b'{"images": [', {"Transfer-Encoding": "chunked"}, "then its body failed"),
        (
            b"definitely not gzip",
            {"Content-Encoding": "gzip", "Content-Length": "19"},
            "with a body that cannot be decoded (DecodingError: ",
        ),
    ],
    ids=["cut-length", "cut-chunks", "corrupt-gzip"],
)
def test_a_run_answered_200_whose_body_fails_keeps_its_request_id(
    peer: ScriptedPeer, mode: str, body: bytes, headers: dict[str, str], said: str
) -> None:
    """fal answered (and billed) the run: the error says it may have been accepted, with the
    answer's status and request id, and nothing is sent again."""
    peer.script = cut_after_head(body, {"Content-Type": "application/json", **headers})
    with pytest.raises(PossiblyAcceptedError) as caught:
        call(mode, client_of(peer), "run")
    error = caught.value
    assert (error.request_id, error.status_code) == (RID, 200)
    assert said in str(error)
    sent = peer.exchanges[0].body  # what reconciles it: the digest of the input sent
    assert (error.payload_size, error.payload_sha256) == (
        len(sent),
        hashlib.sha256(sent).hexdigest(),
    )
    assert len(peer.exchanges) == 1


@pytest.mark.parametrize("how", ["result", "status"])
def test_a_queue_answer_read_in_time_keeps_its_parse_error_however_long_the_parse_takes(
    peer: ScriptedPeer, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The same rule on the queue's calls that hold a deadline (``Client.request`` settles
    every answer it reads whole, whichever call made it)."""
    from fal_typed import _queue
    from fal_typed._deadline import Deadline

    body = '{"images": [{"url": "https://v3.fal.media/files/a.png"}'
    peer.script = answer(body)
    parse = _queue.parse_json

    def slow(text: str, **kwargs: Any) -> Any:
        time.sleep(0.6)  # past the deadline of 0.3 s
        return parse(text, **kwargs)

    monkeypatch.setattr(_queue, "parse_json", slow)
    with client_of(peer) as client, pytest.raises(ProtocolError) as caught:
        fetch = _queue.fetch_result if how == "result" else _queue.get_status
        fetch(client, "tests/paid", RID, deadline=Deadline(0.3))
    assert caught.value.text == body and caught.value.request_id == RID


@pytest.mark.parametrize("mode", MODES)
def test_a_run_read_in_time_keeps_its_parse_error_however_long_the_parse_takes(
    peer: ScriptedPeer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline bounds the answer's arrival, not what is done with it once read whole: an
    answer that then fails to parse is its ProtocolError, with its text, not the deadline's."""
    from fal_typed import _run

    body = '{"images": [{"url": "https://v3.fal.media/files/a.png"}'
    peer.script = answer(body)
    parse = _run.parse_json

    def slow(text: str, **kwargs: Any) -> Any:
        time.sleep(0.6)  # past the run's timeout of 0.3 s
        return parse(text, **kwargs)

    monkeypatch.setattr(_run, "parse_json", slow)
    client = client_of(peer)

    async def run_async() -> Any:
        try:
            return await ENDPOINT.run_async({"prompt": "x"}, client=client, timeout=0.3)
        finally:
            await client.aclose()

    with pytest.raises(ProtocolError) as caught:
        if mode == "async":
            asyncio.run(run_async())
        else:
            with client:
                ENDPOINT.run({"prompt": "x"}, client=client, timeout=0.3)
    assert caught.value.text == body and caught.value.request_id == RID
