"""`Stream` / `AsyncStream` against a hostile peer (tests/peers/sse.py), over real sockets.

Each class of misbehaviour, sync and async: a timeout that must hold however often the server
sends something, lines and events past their limits (shown by how little the peer managed to
send), streams cut in the middle of an event, bodies that are not what they claim, and error
events that echo the key back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fal_typed import (
    AsyncStream,
    Client,
    FalConnectionError,
    FalError,
    FalTimeoutError,
    Limits,
    ProtocolError,
    RetryPolicy,
    ServerError,
    Stream,
)

from ..endpoints import LCM
from ..memory import growth
from ..peers.sse import (
    KEY,
    MiB,
    ScriptedPeer,
    compressed,
    cut_mid_event,
    echo_error_event,
    endless,
    event,
    forever,
    gzip_bomb,
    raw_answer,
    sse,
    trickle_head,
)

MODES = ["sync", "async"]
SECRET = KEY.partition(":")[2]
#: What the kernel may hold between the peer and the client (socket buffers on both sides).
SOCKET_SLACK = 16 * MiB
#: Seconds a timed-out call may overrun its timeout on a loaded machine (without the limit the
#: scripts below run for hours).
OVERRUN = 10.0
OUTPUT = {"images": [{"url": "https://v3.fal.media/files/a.png"}], "seed": 7, "prompt": "x"}


@pytest.fixture
def client(peer: ScriptedPeer) -> Iterator[Client]:
    with Client(
        KEY, run_url=peer.url, retry=RetryPolicy(max_attempts=1), backup_hosts={}
    ) as client:
        yield client


def limited(peer: ScriptedPeer, **limits: Any) -> Client:
    return Client(
        KEY,
        run_url=peer.url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        limits=Limits(**limits),
    )


def open_stream(mode: str, client: Client, **options: Any) -> Stream[Any] | AsyncStream[Any]:
    """A stream of LCM through ``client`` (sync or async), not opened yet."""
    cls = Stream if mode == "sync" else AsyncStream
    return cls(LCM, {"prompt": "x"}, client=client, **options)


def drain(stream: Stream[Any] | AsyncStream[Any]) -> None:
    """Read ``stream`` to its result (an async one on its own event loop)."""
    if isinstance(stream, Stream):
        stream.result()
        return

    async def read() -> None:
        try:
            await stream.result()
        finally:
            await stream.client.aclose()

    asyncio.run(read())


def consume(mode: str, client: Client, **options: Any) -> Stream[Any] | AsyncStream[Any]:
    """Open a stream of LCM through ``client`` and drain it to its result (sync or async)."""
    stream = open_stream(mode, client, **options)
    drain(stream)
    return stream


def no_secret(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text), text


# -- the timeout is a total limit ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_timeout_holds_against_an_event_every_50ms(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = forever(event({"partial": True}), interval=0.05)
    stream = open_stream(mode, client, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError) as caught:
        drain(stream)
    elapsed = time.monotonic() - started
    assert caught.value.timeout == 2.0 and "did not end within 2s" in str(caught.value)
    assert elapsed < 2.0 + OVERRUN, f"the 2 s timeout took {elapsed:.1f}s"
    assert stream.events_received > 0  # events kept coming: each read returned in time
    assert peer.last().client_left  # the client closed the connection (fal cancels the run)


@pytest.mark.parametrize("mode", MODES)
def test_timeout_holds_against_heartbeats_for_ever(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = forever(b": keepalive\n\n", interval=0.02)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError):
        consume(mode, client, timeout=1.0)
    assert time.monotonic() - started < 1.0 + OVERRUN


@pytest.mark.parametrize("mode", MODES)
def test_timeout_holds_against_a_byte_a_second_inside_one_event(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = forever(b"x", interval=0.3)  # each read returns, none ends a line
    started = time.monotonic()
    with pytest.raises(FalTimeoutError):
        consume(mode, client, timeout=1.0)
    assert time.monotonic() - started < 1.0 + OVERRUN


@pytest.mark.parametrize("mode", MODES)
def test_timeout_holds_against_headers_trickled_a_byte_at_a_time(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = trickle_head(interval=0.2)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError):
        consume(mode, client, timeout=1.0)
    assert time.monotonic() - started < 1.0 + OVERRUN


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_that_ends_in_time_is_returned(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = sse([event({"partial": True}), event(OUTPUT)], interval=0.05)
    stream = consume(mode, client, timeout=5.0)
    assert stream.events_received == 2


# -- lines and events past their limits ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_line_without_end_stops_at_the_line_limit(peer: ScriptedPeer, mode: str) -> None:
    peer.script = endless(b"data: ", b"x", total=256 * MiB)
    client = limited(peer, max_sse_line_bytes=MiB)
    with pytest.raises(ProtocolError) as caught:
        consume(mode, client)
    client.close()
    assert caught.value.error_type == "limit_exceeded"
    assert "Limits.max_sse_line_bytes" in str(caught.value)
    exchange = peer.last()
    assert exchange.client_left
    assert exchange.sent < MiB + SOCKET_SLACK, f"the peer sent {exchange.sent} bytes"


@pytest.mark.parametrize("mode", MODES)
def test_an_event_of_many_short_lines_stops_at_the_event_limit(
    peer: ScriptedPeer, mode: str
) -> None:
    peer.script = endless(b"", b"data: " + b"y" * 100 + b"\n", total=256 * MiB)
    client = limited(peer, max_sse_event_bytes=2 * MiB)
    with pytest.raises(ProtocolError) as caught:
        consume(mode, client)
    client.close()
    assert "Limits.max_sse_event_bytes" in str(caught.value)
    assert peer.last().sent < 2 * MiB + SOCKET_SLACK


def test_one_200_mb_event_is_refused_within_a_bounded_memory(peer: ScriptedPeer) -> None:
    """With the default limits, one 200 MB event used to take 648 MB; it now stops at the line
    limit (64 MiB) and the process stays far below that figure."""
    peer.script = endless(b"data: ", b"z", total=200 * MiB)
    code = f"""
        client = Client({KEY!r}, run_url={peer.url!r}, retry=RetryPolicy(max_attempts=1))
        try:
            Stream(LCM, {{"prompt": "x"}}, client=client).result()
        except ProtocolError as exc:
            print(exc.error_type)
    """
    imports = (
        "from fal_typed import Client, ProtocolError, RetryPolicy, Stream\n"
        "from tests.endpoints import LCM"
    )
    rise, output = growth(code, imports=imports)
    assert output.strip() == "limit_exceeded"
    assert rise < 250 * MiB, f"the peak rose by {rise / MiB:.0f} MiB"
    assert peer.last().sent < 64 * MiB + SOCKET_SLACK


# -- cut streams are errors, never results ----------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["close-delimited", "chunked"])
@pytest.mark.parametrize("mode", MODES)
def test_a_stream_cut_mid_event_is_an_error_not_the_previous_event(
    peer: ScriptedPeer, client: Client, mode: str, chunked: bool
) -> None:
    peer.script = cut_mid_event(chunked=chunked)
    with pytest.raises(FalConnectionError) as caught:
        consume(mode, client)
    if not chunked:
        assert "in the middle of an event, after 2 complete events" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_close_delimited_stream_ending_between_events_is_complete(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = sse([event({"partial": True}), event(OUTPUT)], chunked=False)
    assert consume(mode, client).events_received == 2


def test_the_result_of_a_cut_stream_raises_again(peer: ScriptedPeer, client: Client) -> None:
    peer.script = cut_mid_event(chunked=False)
    stream = Stream(LCM, {"prompt": "x"}, client=client)
    events = []
    with pytest.raises(FalConnectionError):
        events.extend(stream)
    assert events == [{"step": 1}, {"step": 2}]
    with pytest.raises(FalConnectionError):
        stream.result()  # the step-2 partial is never passed off as the output


# -- bodies that are not what they claim ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_invalid_json_under_200_is_a_protocol_error_keeping_the_text(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    body = f'{{"images": [{{"url": "https://x/a.png"}}], "note": "{KEY}", '.encode()
    peer.script = raw_answer(body)
    with pytest.raises(ProtocolError) as caught:
        consume(mode, client)
    error = caught.value
    assert not isinstance(error, json.JSONDecodeError)
    assert error.text is not None and error.text.startswith(
        '{"images": [{"url": "https://x/a.png"}]'
    )
    assert "[redacted]" in error.text
    no_secret(error, error.text)


@pytest.mark.parametrize("mode", MODES)
def test_a_json_answer_nested_past_the_recursion_limit_keeps_the_text(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = raw_answer(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ProtocolError) as caught:
        consume(mode, client)
    assert caught.value.text is not None and len(caught.value.text) == 200_000


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_under_200_stops_at_the_decompression_ratio(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    bomb = gzip_bomb(b'{"data": "', b"0", 200 * MiB)
    assert len(bomb) < 300 * 1024
    peer.script = compressed(bomb, content_type="application/json")
    with pytest.raises(ProtocolError) as caught:
        consume(mode, client)
    assert caught.value.error_type == "limit_exceeded"
    assert "decompresses past the limit of 200 times" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_json_answer_past_the_response_limit_is_refused(peer: ScriptedPeer, mode: str) -> None:
    peer.script = raw_answer(b'{"a": "' + b"0" * (8 * MiB) + b'"}')
    client = limited(peer, max_response_bytes=MiB)
    with pytest.raises(ProtocolError, match="larger than the limit of 1048576 bytes"):
        consume(mode, client)
    client.close()


@pytest.mark.parametrize("mode", MODES)
def test_an_error_answer_is_read_within_the_response_limit(peer: ScriptedPeer, mode: str) -> None:
    peer.script = raw_answer(b"x" * (8 * MiB), status=500, content_type="text/plain")
    client = limited(peer, max_response_bytes=MiB)
    with pytest.raises(ProtocolError, match=r"HTTP 500 answer .* larger than the limit"):
        consume(mode, client)
    client.close()


# -- nothing echoed back shows the key ---------------------------------------------------------


@pytest.mark.parametrize("as_keys", [False, True], ids=["values", "object-keys"])
@pytest.mark.parametrize("mode", MODES)
def test_an_error_event_echoing_the_authorization_header_is_redacted(
    peer: ScriptedPeer, client: Client, mode: str, as_keys: bool
) -> None:
    peer.script = echo_error_event(as_keys=as_keys)
    with pytest.raises(ServerError) as caught:
        consume(mode, client)
    error = caught.value
    assert error.status_code == 502
    assert error.message == "upstream rejected Key [redacted]"
    no_secret(error, error.message, json.dumps(error.body), error.headers)
    assert error.body["request_headers"]["authorization"] == "Key [redacted]"
    if as_keys:
        assert error.body["seen"]["Key [redacted]"] == "authorization"


@pytest.mark.parametrize("mode", MODES)
def test_a_non_json_error_event_echoing_the_key_is_redacted(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = sse([b"event: error\ndata: denied for " + KEY.encode() + b"\n\n"])
    with pytest.raises(ServerError) as caught:
        consume(mode, client)
    assert caught.value.body == "denied for [redacted]"
    no_secret(caught.value, caught.value.body)


@pytest.mark.parametrize("mode", MODES)
def test_an_event_that_is_not_json_is_quoted_redacted(
    peer: ScriptedPeer, client: Client, mode: str
) -> None:
    peer.script = sse([event({"partial": True}), b"data: {" + KEY.encode() + b"\n\n"])
    with pytest.raises(
        ProtocolError, match="event 2 of fal-ai/fast-lcm-diffusion is not JSON"
    ) as caught:
        consume(mode, client)
    assert caught.value.text == "{[redacted]"
    no_secret(caught.value)


def test_every_failure_is_a_fal_error(peer: ScriptedPeer, client: Client) -> None:
    """The classes above, once more, through the generic handler a caller would write."""
    scripts = [
        cut_mid_event(chunked=False),
        raw_answer(b"{"),
        echo_error_event(),
        sse([b"data: [1, 2]\n\n"]),
        sse([]),
    ]
    for script in scripts:
        peer.script = script
        with pytest.raises(FalError):
            consume("sync", client)


@pytest.mark.parametrize("depth", [500, 950, 100_000])
def test_an_error_event_nested_deeper_than_can_be_walked_is_still_a_typed_error(
    peer: ScriptedPeer, client: Client, depth: int
) -> None:
    data = b"[" * depth + b'"' + KEY.encode() + b'"' + b"]" * depth
    peer.script = sse([b"event: error\ndata: " + data + b"\n\n"])
    with pytest.raises(ServerError) as caught:
        consume("sync", client)
    no_secret(caught.value, json.dumps(caught.value.body) if depth < 900 else caught.value.body)
