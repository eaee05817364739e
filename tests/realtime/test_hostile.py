"""Realtime connections against a hostile peer (tests/peers/ws.py), over real sockets.

Each class, sync and async: waits that must end (a handshake never answered, a close never
answered), a server closing at once, rejections, close reasons and error frames echoing the key
and the token, a tokens endpoint answering with the key, frames past the size and object limits
(shown by how little the peer could send, and by a child process's peak memory), and frames that
do not decode. Every failure is a FalError, never a websockets or msgpack exception.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import msgpack
import pytest

from fal_typed import (
    AsyncRealtimeConnection,
    AuthenticationError,
    FalError,
    FalTimeoutError,
    ProtocolError,
    RealtimeConnection,
    RealtimeError,
    ServerError,
)

from ..endpoints import LCM
from ..memory import growth
from ..peers.sse import KEY, MiB, ScriptedPeer
from ..peers.ws import (
    TOKEN,
    client_for,
    close_at_once,
    close_echoing,
    echo_error_frame,
    empty_maps,
    huge_frame,
    mute,
    never_handshake,
    realtime_script,
    reject_echoing,
    send,
)

MODES = ["sync", "async"]
SECRET = KEY.partition(":")[2]
OVERRUN = 10.0
RESULT = msgpack.packb({"images": [{"url": "https://x/a.png"}], "seed": 1, "prompt": "x"})


def exchange(mode: str, peer: ScriptedPeer, *, recv: bool = True, **limits: Any) -> Any:
    """Open a connection to ``peer``, send one input, and (``recv``) wait for one result."""
    client = client_for(peer, **limits)
    if mode == "sync":
        try:
            with RealtimeConnection(LCM, client=client) as conn:
                conn.send_arguments({"prompt": "x"})
                return conn.recv(timeout=20) if recv else None
        finally:
            client.close()

    async def run() -> Any:
        try:
            async with AsyncRealtimeConnection(LCM, client=client) as conn:
                await conn.send_arguments({"prompt": "x"})
                return await conn.recv(timeout=20) if recv else None
        finally:
            await client.aclose()

    return asyncio.run(run())


def hidden(*texts: object) -> None:
    """Neither the key's secret nor the token appears in any of ``texts``."""
    for text in texts:
        shown = text if isinstance(text, str) else json.dumps(text, default=str)
        assert SECRET not in shown and TOKEN not in shown, shown


def test_a_well_behaved_peer_round_trips(peer: ScriptedPeer) -> None:
    peer.script = realtime_script(send(RESULT))
    for mode in MODES:
        assert exchange(mode, peer).seed == 1


# -- waits that must end ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_peer_that_never_completes_the_handshake_is_left_at_the_open_timeout(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = realtime_script(never_handshake)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError) as caught:
        exchange(mode, peer, realtime_open_timeout=1.0)
    assert time.monotonic() - started < 1.0 + OVERRUN
    assert caught.value.timeout == pytest.approx(1.0)
    assert "Limits.realtime_open_timeout" in str(caught.value)
    assert peer.last().client_left


@pytest.mark.parametrize("mode", MODES)
def test_a_close_the_peer_never_answers_ends_at_the_close_timeout(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = realtime_script(mute)
    started = time.monotonic()
    exchange(mode, peer, recv=False, realtime_close_timeout=1.0)
    assert time.monotonic() - started < 1.0 + OVERRUN  # the default close wait is 10 s
    assert peer.last().client_left


# -- a server closing at once ----------------------------------------------------------------


def test_sends_to_a_server_that_closes_after_each_handshake_raise_realtime_errors(
    peer: ScriptedPeer,
) -> None:
    peer.script = realtime_script(close_at_once(1011, "internal error"))
    client = client_for(peer)
    errors: list[BaseException] = []
    with RealtimeConnection(LCM, client=client) as conn:
        for _ in range(20):
            time.sleep(0.05)  # the close has arrived: the send finds the socket closed
            try:
                conn.send_arguments({"prompt": "x"})
            except Exception as exc:
                errors.append(exc)
    client.close()
    assert errors, "no send noticed the closes"
    assert all(isinstance(e, RealtimeError) for e in errors), errors
    assert {(e.error, e.code) for e in errors if isinstance(e, RealtimeError)} == {
        ("CONNECTION_CLOSED", 1011)
    }


async def test_async_sends_to_a_server_that_closes_after_each_handshake_raise_realtime_errors(
    peer: ScriptedPeer,
) -> None:
    peer.script = realtime_script(close_at_once(1011, "internal error"))
    client = client_for(peer)
    errors: list[BaseException] = []
    async with AsyncRealtimeConnection(LCM, client=client) as conn:
        for _ in range(20):
            await asyncio.sleep(0.05)
            try:
                await conn.send_arguments({"prompt": "x"})
            except Exception as exc:
                errors.append(exc)
    await client.aclose()
    assert errors and all(isinstance(e, RealtimeError) for e in errors), errors


@pytest.mark.parametrize("mode", MODES)
def test_a_receive_after_the_server_closed_is_a_realtime_error(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = realtime_script(close_at_once(1011, "internal error"))
    with pytest.raises(RealtimeError) as caught:
        exchange(mode, peer)
    assert (caught.value.error, caught.value.code) == ("CONNECTION_CLOSED", 1011)


# -- nothing echoed back shows the key or the token ------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_handshake_rejection_echoing_the_token_and_key_is_redacted(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = realtime_script(reject_echoing(403))
    with pytest.raises(AuthenticationError) as caught:
        exchange(mode, peer)
    error = caught.value
    assert error.status_code == 403 and "refused" in error.message
    hidden(str(error), error.message, error.body, error.headers)
    assert error.body["seen"] == {"[redacted]": "key"}  # both keys scrubbed (they collide)
    assert "fal_jwt_token=***" in error.body["url"]


@pytest.mark.parametrize("mode", MODES)
def test_a_server_error_rejection_is_redacted_too(peer: ScriptedPeer, mode: str) -> None:
    peer.script = realtime_script(reject_echoing(500))
    with pytest.raises(ServerError) as caught:
        exchange(mode, peer)
    hidden(str(caught.value), caught.value.body, caught.value.headers)


@pytest.mark.parametrize("mode", MODES)
def test_a_close_reason_echoing_the_token_and_key_is_redacted(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = realtime_script(close_echoing(1008))
    with pytest.raises(RealtimeError) as caught:
        exchange(mode, peer)
    error = caught.value
    assert error.code == 1008 and "[redacted]" in error.reason
    hidden(str(error), error.reason)


@pytest.mark.parametrize("mode", MODES)
def test_an_error_frame_echoing_the_token_and_key_is_redacted(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = realtime_script(echo_error_frame())
    with pytest.raises(RealtimeError) as caught:
        exchange(mode, peer)
    error = caught.value
    assert error.error == "UPSTREAM"
    hidden(str(error), error.reason, error.payload)


@pytest.mark.parametrize(
    "answer",
    [KEY, {"token": KEY}, f"eyJ.{KEY}.sig", SECRET],
    ids=["key", "in-object", "inside", "secret"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_tokens_endpoint_answering_with_the_key_is_refused(
    peer: ScriptedPeer, mode: str, answer: object
) -> None:
    peer.script = realtime_script(send(RESULT), token_answer=answer)
    with pytest.raises(ProtocolError) as caught:
        exchange(mode, peer)
    assert caught.value.error_type == "invalid_token_response"
    hidden(str(caught.value))
    assert [e.method for e in peer.exchanges] == ["POST"]  # no WebSocket was ever opened


@pytest.mark.parametrize("answer", ["tok en", "x" * 10_000, "tok\n"])
def test_a_tokens_endpoint_answering_something_that_is_no_token_is_refused(
    peer: ScriptedPeer, answer: str
) -> None:
    peer.script = realtime_script(send(RESULT), token_answer=answer)
    with pytest.raises(ProtocolError, match="not a token"):
        exchange("sync", peer)


# -- frames past their limits ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_frame_past_the_size_limit_closes_the_socket(peer: ScriptedPeer, mode: str) -> None:
    peer.script = realtime_script(huge_frame(64 * MiB))
    started = time.monotonic()
    with pytest.raises(RealtimeError) as caught:
        exchange(mode, peer, max_realtime_frame_bytes=MiB, realtime_close_timeout=1.0)
    assert caught.value.code == 1009
    assert "Limits.max_realtime_frame_bytes" in str(caught.value)
    assert time.monotonic() - started < 1.0 + OVERRUN


def receive_in_a_child(peer: ScriptedPeer, shown: str, **limits: Any) -> tuple[int, str]:
    """Open a connection to ``peer`` in a fresh process, send one input and receive; return how
    far its peak memory rose above its imports', and ``RealtimeError.<shown>`` it printed."""
    code = f"""
        class Peer:
            url = {peer.url!r}

        client = client_for(Peer(), **{limits!r})
        with RealtimeConnection(LCM, client=client) as conn:
            conn.send_arguments({{"prompt": "x"}})
            try:
                conn.recv(timeout=60)
            except RealtimeError as exc:
                print(exc.{shown})
    """
    imports = (
        "from fal_typed import RealtimeConnection, RealtimeError\n"
        "from tests.endpoints import LCM\n"
        "from tests.peers.ws import client_for"
    )
    return growth(code, imports=imports)


def test_a_256_mb_frame_is_never_held_in_memory(peer: ScriptedPeer) -> None:
    """With the default limits (64 MiB frames) the frame is refused from its header on: what
    follows is discarded as it arrives, so the process stays far below the frame's size."""
    peer.script = realtime_script(huge_frame(256 * MiB))
    rise, output = receive_in_a_child(peer, "code", realtime_close_timeout=5.0)
    assert output.strip() == "1009"
    assert rise < 100 * MiB, f"the peak rose by {rise / MiB:.0f} MiB"


@pytest.mark.parametrize(
    "payload",
    [empty_maps(1_000_000), "[" + "{}," * 1_000_000 + "{}]"],
    ids=["msgpack", "json-text"],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_frame_of_a_million_empty_maps_is_refused_before_decoding(
    peer: ScriptedPeer, mode: str, payload: bytes | str
) -> None:
    peer.script = realtime_script(send(payload))
    with pytest.raises(RealtimeError) as caught:
        exchange(mode, peer, max_realtime_objects=10_000)
    assert caught.value.error == "TOO_MANY_OBJECTS"
    assert "Limits.max_realtime_objects" in str(caught.value)


def test_a_20_mb_frame_of_empty_maps_stays_within_a_bounded_memory(peer: ScriptedPeer) -> None:
    """It used to take 1.65 GB; with the default limits it is refused before it is decoded."""
    peer.script = realtime_script(send(empty_maps(20_000_000)))
    rise, output = receive_in_a_child(peer, "error")
    assert output.strip() == "TOO_MANY_OBJECTS"
    assert rise < 200 * MiB, f"the peak rose by {rise / MiB:.0f} MiB"


# -- frames that do not decode ----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        msgpack.packb({"a": 1}) + msgpack.packb({"b": 2}),  # ExtraData
        b"\xc1",  # FormatError
        b"\x91" * 100_000 + b"\x80",  # nested past msgpack's stack (StackError)
        "[" * 100_000 + "]" * 100_000,  # nested past Python's recursion limit
        msgpack.packb({1: "integer key"}),
        b"\xdd\xff\xff\xff\xff",  # an array of 4 billion items, and no items
    ],
    ids=["extra-data", "format", "msgpack-depth", "json-depth", "int-key", "truncated"],
)
@pytest.mark.parametrize("mode", MODES)
def test_frames_that_do_not_decode_are_realtime_errors(
    peer: ScriptedPeer, mode: str, payload: bytes | str
) -> None:
    peer.script = realtime_script(send(payload))
    with pytest.raises(RealtimeError) as caught:
        exchange(mode, peer)
    assert caught.value.error == "INVALID_FRAME"


def test_every_failure_is_a_fal_error(peer: ScriptedPeer) -> None:
    """The classes above once more, through the generic handler a caller would write."""
    sockets = [
        close_at_once(),
        reject_echoing(401),
        close_echoing(),
        echo_error_frame(),
        send(b"\xc1"),
        send(empty_maps(2_000_000)),
    ]
    for socket in sockets:
        peer.script = realtime_script(socket)
        with pytest.raises(FalError):
            exchange("sync", peer)
