"""The bounded SSE decoder on its own: the WHATWG line and field rules, any chunking, the limits,
and telling a body that ended between events from one cut inside an event."""

from __future__ import annotations

import pytest

from fal_typed._sse import SSEDecoder, SSEEvent, SSELimitError

STREAM = (
    b": keepalive\r\n\r\n"
    b'data: {"a": 1}\n\n'
    b"event: error\r\ndata: line one\r\ndata: line two\r\nid: 7\r\n\r\n"
    b"data:no space\r\r"
    b"retry: 100\nunknown: x\ndata\n\n"
)
EXPECTED = [
    SSEEvent("message", '{"a": 1}', ""),
    SSEEvent("error", "line one\nline two", "7"),
    SSEEvent("message", "no space", "7"),
]  # the last block's ``data`` alone leaves the data buffer empty: nothing is dispatched


def decode(chunks: list[bytes], **limits: int) -> tuple[list[SSEEvent], bool]:
    decoder = SSEDecoder(
        max_line_bytes=limits.get("line", 1 << 20), max_event_bytes=limits.get("event", 1 << 20)
    )
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events, decoder.finish()


def test_fields_comments_and_every_line_ending() -> None:
    events, complete = decode([STREAM])
    assert events == EXPECTED and complete


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode(chunks) == decode([STREAM])


def test_a_crlf_split_between_two_chunks_is_one_line_end() -> None:
    events, complete = decode([b"data: x\r", b"\n\r", b"\n"])
    assert events == [SSEEvent("message", "x", "")] and complete


@pytest.mark.parametrize(
    "body",
    [b'data: {"partial": tr', b"data: x\n", b"event: error\n", b"data: x\n\ndata: y"],
    ids=["inside-a-line", "before-the-blank-line", "fields-only", "after-a-complete-event"],
)
def test_a_body_cut_inside_an_event_is_told_apart(body: bytes) -> None:
    assert decode([body])[1] is False


@pytest.mark.parametrize("body", [b"", b": comment\n", b"data: x\n\n", b"data: x\r\n\r\n"])
def test_a_body_ending_between_events_is_complete(body: bytes) -> None:
    assert decode([body])[1] is True


def test_a_line_past_the_limit_fails_before_it_ends() -> None:
    decoder = SSEDecoder(max_line_bytes=10, max_event_bytes=100)
    decoder.feed(b"data: 1234")
    with pytest.raises(SSELimitError) as caught:
        decoder.feed(b"5")  # no line end yet: the partial line alone is past the limit
    assert caught.value.limit == "max_sse_line_bytes"
    with pytest.raises(SSELimitError):
        SSEDecoder(max_line_bytes=10, max_event_bytes=100).feed(b"data: 12345678\n")


LF_STREAM = b"event: a\ndata: 1\n\n: keepalive\ndata: 2\ndata: 3\nid: 9\n\ndata: \xff\n\n"
LF_EXPECTED = [
    SSEEvent("a", "1", ""),
    SSEEvent("message", "2\n3", "9"),
    SSEEvent("message", "\ufffd", "9"),
]


@pytest.mark.parametrize("size", [1, 2, 5, 13, len(LF_STREAM)])
def test_lf_only_streams_give_the_same_events_however_chunked(size: int) -> None:
    chunks = [LF_STREAM[i : i + size] for i in range(0, len(LF_STREAM), size)]
    assert decode(chunks) == (LF_EXPECTED, True)


def test_a_line_past_the_limit_among_short_ones_fails_and_one_at_the_limit_does_not() -> None:
    at_limit = b"data: 1234\n"  # 10 bytes before its line end
    assert decode([at_limit + b"\n"], line=10) == ([SSEEvent("message", "1234", "")], True)
    with pytest.raises(SSELimitError) as caught:
        decode([b"data: a\n" + b"data: 12345\n" + b"data: b\n\n"], line=10)
    assert caught.value.limit == "max_sse_line_bytes"


def test_an_event_past_the_limit_fails_at_the_line_that_passes_it() -> None:
    decoder = SSEDecoder(max_line_bytes=100, max_event_bytes=20)
    assert decoder.feed(b"data: 123456\n" * 1) == []
    with pytest.raises(SSELimitError) as caught:
        decoder.feed(b"data: 123456\n")
    assert caught.value.limit == "max_sse_event_bytes"


def test_memory_held_is_one_line_and_one_event() -> None:
    decoder = SSEDecoder(max_line_bytes=1 << 20, max_event_bytes=1 << 20)
    for _ in range(1000):
        decoder.feed(b": keepalive\n\n" * 100)
    assert decoder.pending_bytes == 0
    decoder.feed(b"data: abc\ndata: de")
    assert decoder.pending_bytes == len(b"data: abc\n") + len(b"data: de")
