"""FalProxy against a broken or hostile upstream and a caller that stops reading: what it holds
and for how long. Each upstream here is a raw socket peer on 127.0.0.1 (answers no framework
would send); the proxy is served by uvicorn, and spoken to over real sockets."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib

import httpx
import pytest

from fal_typed._bounded import Inflater, LimitExceeded

from ..webhooks.helpers import serve_raw
from .conftest import ALICE, PROXY_KEY, ProxyFactory, ServedProxy
from .test_proxy import QUEUE

STATUS = f"{QUEUE}/fal-ai/flux/requests/abc/status"


class _Dropped(list[bytes]):
    """A recorder's list that keeps nothing (the recorder would hold every byte sent)."""

    def append(self, item: bytes) -> None:
        pass

    def extend(self, items: object) -> None:
        pass


def _head(status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _answer(
    served: ServedProxy, target: str = STATUS, *, keep: int = 2**30
) -> tuple[httpx.Response, bytes, int, Exception | None]:
    """GET ``target`` through the proxy; its answer, the first ``keep`` bytes of its body, their
    count and how reading ended."""
    headers = {**ALICE, "x-fal-target-url": target}
    body = bytearray()
    size = 0
    error: Exception | None = None
    with httpx.stream("GET", served.url, headers=headers, timeout=30) as response:
        try:
            for chunk in response.iter_raw():
                size += len(chunk)
                if len(body) < keep:
                    body += chunk[: keep - len(body)]
        except httpx.HTTPError as exc:
            error = exc
    return response, bytes(body), size, error


# -- compressed answers, though identity was asked for ------------------------------------------

_BOMB_SIZE = 64 * 2**20
_BOMB = gzip.compress(b"\0" * _BOMB_SIZE, compresslevel=9)  # about 64 KiB


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_gzip_bomb_sent_despite_identity_is_inflated_a_piece_at_a_time(
    serve_proxy: ProxyFactory, framing: str
) -> None:
    """The proxy asks fal for identity, but an upstream (or something in front of it) that
    answers gzip anyway was inflated by httpx a read at a time, unbounded: 64 KiB received
    became 64 MiB in one chunk in the proxy's memory. It is now decoded a bounded piece at a
    time, and cut once it decodes past 200 times its size."""
    seen: list[bytes] = []

    def bomb(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        seen.append(head)
        if framing == "length":
            conn.sendall(
                _head(
                    content_type="application/json",
                    content_encoding="gzip",
                    content_length=str(len(_BOMB)),
                )
                + _BOMB
            )
        else:
            conn.sendall(
                _head(
                    content_type="application/json",
                    content_encoding="gzip",
                    transfer_encoding="chunked",
                )
                + _chunked(_BOMB)
                + b"0\r\n\r\n"
            )
        stop.wait(10)

    with serve_raw(bomb) as base:
        served = serve_proxy(upstream=base)
        served.recorder.sent = _Dropped()
        tracemalloc.start()
        try:
            response, _, size, error = _answer(served, keep=0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert b"accept-encoding: identity" in seen[0].lower()
    assert peak < 16 * 2**20, peak
    # Cut, not ended cleanly: the caller never takes a part for the whole.
    assert error is not None or response.status_code >= 500
    assert size < _BOMB_SIZE // 4
    [record] = served.calls.wait()
    assert record.error_type == "proxy_upstream_interrupted"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw deflate"])
def test_an_ordinary_compressed_answer_is_decoded_and_sent_plain(
    serve_proxy: ProxyFactory, encoding: str
) -> None:
    """Decoded as httpx decoded it (deflate zlib-wrapped or raw), sent without its encoding
    headers, scrubbed like any answer."""
    plain = b'{"status": "COMPLETED", "logs": [' + b'"line", ' * 20000 + b'"end"]}'
    if encoding == "gzip":
        encoded = gzip.compress(plain)
    elif encoding == "deflate":
        encoded = zlib.compress(plain)
    else:
        raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        encoded = raw.compress(plain) + raw.flush()
    name = encoding.split()[-1]

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                content_type="application/json",
                content_encoding=name,
                content_length=str(len(encoded)),
            )
            + encoded
        )
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base)
        response, body, _, error = _answer(served)
    assert error is None and response.status_code == 200
    assert body == plain
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == str(len(plain))


def test_a_truncated_gzip_answer_is_cut_for_the_caller_too(serve_proxy: ProxyFactory) -> None:
    encoded = gzip.compress(b"x" * 3_000_000)[:-100]

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(content_type="text/plain", content_encoding="gzip", transfer_encoding="chunked")
            + _chunked(encoded)
            + b"0\r\n\r\n"
        )
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base)
        _, body, _, error = _answer(served)
    assert error is not None  # not a complete-looking short answer
    assert len(body) < 3_000_000
    [record] = served.calls.wait()
    assert record.error_type == "proxy_upstream_interrupted"


def test_a_small_answer_cut_before_anything_was_sent_is_explained(
    serve_proxy: ProxyFactory,
) -> None:
    """A small answer of known length is held whole before it is sent: one fal cut short was
    the ASGI server's bare "Internal Server Error" (and a traceback in its log); nothing had
    gone out, so the caller now gets a 500 in fal's error shape that says what happened."""

    def cut(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(_head(content_type="application/json", content_length="1000") + b"{" * 500)

    with serve_raw(cut) as base:
        served = serve_proxy(upstream=base)
        response, body, _, _ = _answer(served)
    assert response.status_code == 500
    assert b'"error_type":"proxy_upstream_interrupted"' in body
    assert b"{{{" not in body
    [record] = served.calls.wait()
    assert record.error_type == "proxy_upstream_interrupted"


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_an_encoding_the_proxy_cannot_bound_is_refused(
    serve_proxy: ProxyFactory, encoding: str
) -> None:
    """httpx passed an encoding it has no decoder for through as it came, and the proxy dropped
    its Content-Encoding: the caller got compressed bytes as if plain (and unscrubbed). One it
    cannot bound is refused before anything is sent."""

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(content_type="application/json", content_encoding=encoding, content_length="4")
            + b"\x1f\x8b\x08\x00"
        )
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base)
        response, body, _, _ = _answer(served)
    assert response.status_code == 500  # fal did the request: not a 502, which clients retry
    assert b'"error_type":"proxy_upstream_encoding"' in body
    assert b"\x1f\x8b" not in body


# -- a caller that stops reading -----------------------------------------------------------------


def test_a_caller_that_stops_reading_is_dropped_at_the_write_timeout(
    serve_proxy: ProxyFactory,
) -> None:
    """The proxy awaits the ASGI server's send, which waits while the caller does not read (so
    memory stays bounded), but nothing bounded that wait: the call, fal's connection and the
    caller's slot were held for as long as the caller did not read. Each piece must now be
    taken within the write timeout."""
    upstream_sent = [0]
    upstream_done = threading.Event()

    def endless(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(_head(content_type="application/octet-stream", transfer_encoding="chunked"))
        piece = _chunked(b"x" * 65536)
        conn.settimeout(1)
        try:
            for _ in range(4096):  # 256 MiB at most
                if stop.is_set():
                    return
                try:
                    conn.sendall(piece)
                except TimeoutError:  # the proxy reads no more: wait, then offer again
                    continue
                upstream_sent[0] += len(piece)
        except OSError:
            pass
        finally:
            upstream_done.set()

    with serve_raw(endless) as base:
        served = serve_proxy(upstream=base, timeout=httpx.Timeout(30.0, read=None, write=0.5))
        url = httpx.URL(served.url)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((url.host, url.port or 80))
            sock.sendall(
                f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
                f"Authorization: {ALICE['Authorization']}\r\nx-fal-target-url: {STATUS}\r\n"
                "\r\n".encode()
            )
            # ... and reads nothing.
            [record] = served.calls.wait(timeout=15)
            assert record.status_code == 499 and record.error_type == "client_stalled"
            # fal's connection is closed: the upstream stops being able to send.
            assert upstream_done.wait(15)
    assert upstream_sent[0] < 256 * 2**20


# -- the head of fal's answer --------------------------------------------------------------------


def test_a_head_fal_trickles_is_bounded_in_total(
    serve_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream reads have no timeout (a run's answer waits for the model), so a head sent
    a byte at a time was waited for as long as it kept coming; for the operations fal answers
    at once it must now begin within HEAD_TIMEOUT."""
    monkeypatch.setattr("fal_typed.proxy._app.HEAD_TIMEOUT", 1.0)

    def trickle(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        for byte in b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"a" * 10_000:
            if stop.wait(0.05):
                return
            conn.sendall(bytes([byte]))

    with serve_raw(trickle) as base:
        served = serve_proxy(upstream=base)
        started = time.monotonic()
        response, body, _, _ = _answer(served)
        elapsed = time.monotonic() - started
    assert response.status_code == 500
    assert b'"error_type":"proxy_upstream_timeout"' in body
    assert b"may have been accepted" in body
    assert elapsed < 6.0


def test_a_run_waits_for_its_head_as_long_as_the_caller_does(
    serve_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A direct run's head comes when the model is done: it is not bounded by HEAD_TIMEOUT."""
    monkeypatch.setattr("fal_typed.proxy._app.HEAD_TIMEOUT", 0.3)

    def slow_run(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        length = head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0]
        body = head.partition(b"\r\n\r\n")[2]
        while len(body) < int(length or 0):
            body += conn.recv(65536)
        if stop.wait(1.0):
            return
        conn.sendall(_head(content_type="application/json", content_length="2") + b"{}")
        stop.wait(10)

    with serve_raw(slow_run) as base:
        served = serve_proxy(upstream=base, validate_inputs=False)
        response = httpx.post(
            served.url,
            headers={**ALICE, "x-fal-target-url": "https://fal.run/fal-ai/flux/dev"},
            json={"prompt": "a cat"},
            timeout=30,
        )
    assert response.status_code == 200 and response.json() == {}


def test_the_head_clock_starts_once_the_request_is_sent(
    serve_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large input that fal reads slowly takes longer to send than HEAD_TIMEOUT: the bound is
    on the wait for the answer's head after the last byte is written (less what the sockets'
    buffers still hold), not on the upload."""
    monkeypatch.setattr("fal_typed.proxy._app.HEAD_TIMEOUT", 1.5)
    prompt = "x" * (24 * 2**20)
    took: list[float] = []

    def slow_reader(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        started = time.monotonic()
        length = int(head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0])
        received = len(head.partition(b"\r\n\r\n")[2])
        while received < length and not stop.is_set():
            data = conn.recv(512 * 1024)
            if not data:
                return
            received += len(data)
            time.sleep(0.05)
        took.append(time.monotonic() - started)
        answer = b'{"request_id": "abc"}'
        conn.sendall(
            _head(content_type="application/json", content_length=str(len(answer))) + answer
        )
        stop.wait(10)

    with serve_raw(slow_reader) as base:
        served = serve_proxy(upstream=base, validate_inputs=False)
        response = httpx.post(
            served.url,
            headers={**ALICE, "x-fal-target-url": f"{QUEUE}/fal-ai/flux/dev"},
            json={"prompt": prompt},
            timeout=60,
        )
    assert response.status_code == 200, response.text[:300]
    assert took and took[0] > 1.5  # the upload itself took longer than HEAD_TIMEOUT


# -- what follows the end of a compressed stream -------------------------------------------------


def _inflated(encoding: str, data: bytes, piece: int) -> bytes:
    inflater = Inflater(encoding, step=1024)
    out = bytearray()
    for start in range(0, len(data), piece):
        for decoded in inflater.feed(data[start : start + piece]):
            assert len(decoded) <= 1024
            out += decoded
    inflater.finish()
    return bytes(out)


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_every_member_of_a_gzip_body_is_decoded(piece: int) -> None:
    """RFC 1952 allows several members one after another: the second was left in zlib's
    unused_data and dropped, so the caller got the first part as if it were the whole."""
    first, second = b"a" * 5000, b"b" * 3000
    assert _inflated("gzip", gzip.compress(first) + gzip.compress(second), piece) == first + second


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(b"{}") + b"junk"),
        ("gzip", gzip.compress(b"{}") + b"\0" * 64),
        ("deflate", zlib.compress(b"{}") + b"junk"),
        ("deflate", zlib.compress(b"{}") + gzip.compress(b"{}")),
    ],
    ids=["gzip-junk", "gzip-zeros", "deflate-junk", "deflate-gzip"],
)
def test_data_after_the_end_of_a_stream_is_refused(encoding: str, body: bytes, piece: int) -> None:
    """What came after the stream's end was kept aside by zlib, never decoded nor counted:
    a tiny stream followed by GiBs of junk grew the proxy's memory without bound."""
    with pytest.raises(LimitExceeded, match="data after the end"):
        _inflated(encoding, body, piece)


def test_a_body_of_many_gzip_members_is_refused() -> None:
    """Each member costs a copy of what follows it: tens of thousands of empty ones made a
    1 MiB body cost gigabytes of copying."""
    with pytest.raises(LimitExceeded, match="more than 64 gzip members"):
        _inflated("gzip", gzip.compress(b"") * 50_000, 1 << 20)
    assert _inflated("gzip", gzip.compress(b"x") * 64, 1 << 20) == b"x" * 64


@pytest.mark.parametrize(
    "tail", [b"\x1f", b"\x1f\x8b", gzip.compress(b"more")[:-3]], ids=["1", "2", "most"]
)
def test_a_second_member_cut_short_is_refused(tail: bytes) -> None:
    with pytest.raises(LimitExceeded, match="ends inside"):
        _inflated("gzip", gzip.compress(b"{}") + tail, 1)


def test_junk_after_a_gzip_answer_is_not_held_by_the_proxy(serve_proxy: ProxyFactory) -> None:
    """A 20-byte gzip stream, then 16 MiB of junk: zlib held all of it (unused_data), growing
    memory (and copying it all again for each piece) as it came, and the caller got "{}" as if
    complete; now the answer is cut at the first byte past the stream."""
    junk = b"j" * 65536
    sent = [0]

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                content_type="application/json",
                content_encoding="gzip",
                transfer_encoding="chunked",
            )
            + _chunked(gzip.compress(b"{}"))
        )
        try:
            for _ in range(256):  # 16 MiB at most
                if stop.is_set():
                    return
                conn.sendall(_chunked(junk))
                sent[0] += len(junk)
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            return
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base)
        served.recorder.sent = _Dropped()
        tracemalloc.start()
        try:
            response, body, _, error = _answer(served)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * 2**20, peak
    assert error is not None or response.status_code == 500
    assert b"junk" not in body and b"jjj" not in body
    [record] = served.calls.wait()
    assert record.error_type == "proxy_upstream_interrupted"


def test_a_two_member_gzip_answer_reaches_the_caller_whole(serve_proxy: ProxyFactory) -> None:
    encoded = gzip.compress(b'{"status": "IN_') + gzip.compress(b'QUEUE"}')

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                content_type="application/json",
                content_encoding="gzip",
                content_length=str(len(encoded)),
            )
            + encoded
        )
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base)
        response, body, _, error = _answer(served)
    assert error is None and response.status_code == 200
    assert body == b'{"status": "IN_QUEUE"}'


# -- refusals made after fal answered ------------------------------------------------------------

_REQUEST_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def _submit(served: ServedProxy) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(
        served.url,
        headers={**ALICE, "x-fal-target-url": f"{QUEUE}/fal-ai/flux/dev"},
        json={"prompt": "a cat"},
        timeout=30,
    )
    return response, time.monotonic() - started


def _names_the_request(response: httpx.Response) -> None:
    assert response.status_code == 500
    assert response.headers.get("x-fal-request-id") == _REQUEST_ID
    assert _REQUEST_ID in response.json()["detail"]


def test_an_encoding_refusal_names_fals_request_id(serve_proxy: ProxyFactory) -> None:
    """fal queued (and bills) the submit, but the proxy's 500 dropped the id fal gave it: the
    caller could never follow its request."""

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                content_type="application/json",
                content_encoding="br",
                content_length="4",
                x_fal_request_id=_REQUEST_ID,
            )
            + b"\x1f\x8b\x08\x00"
        )
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base, validate_inputs=False)
        response, _ = _submit(served)
    _names_the_request(response)
    assert response.json()["error_type"] == "proxy_upstream_encoding"


def test_an_answer_cut_before_anything_was_sent_names_fals_request_id(
    serve_proxy: ProxyFactory,
) -> None:
    def cut(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                content_type="application/json",
                content_length="1000",
                x_fal_request_id=_REQUEST_ID,
            )
            + b"{" * 500
        )

    with serve_raw(cut) as base:
        served = serve_proxy(upstream=base, validate_inputs=False)
        response, _ = _submit(served)
    _names_the_request(response)
    assert response.json()["error_type"] == "proxy_upstream_interrupted"


def test_the_encoding_fal_named_is_scrubbed_of_the_key(serve_proxy: ProxyFactory) -> None:
    """fal's Content-Encoding value was quoted into the caller's body as it came: an upstream
    echoing the key there handed it to the front end."""
    secret = PROXY_KEY.partition(":")[2]

    def answer(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(content_type="application/json", content_encoding=PROXY_KEY, content_length="2")
            + b"{}"
        )
        stop.wait(10)

    with serve_raw(answer) as base:
        served = serve_proxy(upstream=base)
        response, body, _, _ = _answer(served)
    assert response.status_code == 500
    assert b'"error_type":"proxy_upstream_encoding"' in body
    assert secret.encode() not in body
    assert secret.encode() not in served.recorder.text()


# -- the body of an answer fal gives at once -----------------------------------------------------


def test_a_submit_answer_fal_trickles_is_bounded_in_total(
    serve_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its head, the reads have no timeout: a submit's answer sent a byte at a time held
    the caller's slot and fal's connection for as long as it kept coming. It must now end
    within ANSWER_TIMEOUT; nothing was sent, so the caller gets a 500 naming fal's request id."""
    monkeypatch.setattr("fal_typed.proxy._app.ANSWER_TIMEOUT", 1.0)

    def trickle(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(
                content_type="application/json",
                content_length="10000",
                x_fal_request_id=_REQUEST_ID,
            )
        )
        for _ in range(10_000):
            if stop.wait(0.05):
                return
            conn.sendall(b" ")

    with serve_raw(trickle) as base:
        served = serve_proxy(upstream=base, validate_inputs=False)
        response, elapsed = _submit(served)
    _names_the_request(response)
    assert response.json()["error_type"] == "proxy_upstream_timeout"
    assert elapsed < 6.0
    [record] = served.calls.wait()
    assert record.error_type == "proxy_upstream_timeout"


def test_a_streamed_status_answer_that_stalls_is_cut(
    serve_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once part of the answer went out, the caller's connection is cut at ANSWER_TIMEOUT (a
    cut answer, never a complete-looking short one)."""
    monkeypatch.setattr("fal_typed.proxy._app.ANSWER_TIMEOUT", 1.0)

    def stall(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(
            _head(content_type="application/json", transfer_encoding="chunked")
            + _chunked(b"x" * 3_000_000)
        )
        stop.wait(20)

    with serve_raw(stall) as base:
        served = serve_proxy(upstream=base)
        started = time.monotonic()
        response, _, size, error = _answer(served, keep=0)
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and error is not None
    assert size >= 1 << 20
    assert elapsed < 8.0
    [record] = served.calls.wait()
    assert record.error_type == "proxy_upstream_timeout"


def test_a_run_answer_is_not_bounded_by_the_answer_timeout(
    serve_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's (and a stream's) body comes as the model works: only the caller bounds it."""
    monkeypatch.setattr("fal_typed.proxy._app.ANSWER_TIMEOUT", 0.3)

    def slow_run(conn: socket.socket, head: bytes, stop: threading.Event) -> None:
        conn.sendall(_head(content_type="application/json", content_length="11") + b'{"a": ')
        if stop.wait(1.0):
            return
        conn.sendall(b'"b"}\n')
        stop.wait(10)

    with serve_raw(slow_run) as base:
        served = serve_proxy(upstream=base, validate_inputs=False)
        response = httpx.post(
            served.url,
            headers={**ALICE, "x-fal-target-url": "https://fal.run/fal-ai/flux/dev"},
            json={"prompt": "a cat"},
            timeout=30,
        )
    assert response.status_code == 200 and response.json() == {"a": "b"}
