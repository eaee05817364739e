"""A whole answer (a result, a status, a submit's, an error) is read within ``Limits``.

Its decoded size (``max_response_bytes``), its decompression ratio
(``max_decompression_ratio``) and the time its body takes (``answer_timeout``: a read timeout
only bounds the silence between two chunks, so a peer trickling a byte at a time held a call as
long as it liked). Past one, the call fails naming the limit, as a read that failed would: a
paid request's answer is possibly accepted, with its status and request id. Against a scripted
peer on 127.0.0.1 over real sockets.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fal_typed import Client, FalError, Limits, PossiblyAcceptedError, ProtocolError, RetryPolicy
from fal_typed._queue import fetch_result, fetch_result_async, get_status, submit, submit_async
from fal_typed._run import run, run_async

from ..memory import peak_rss
from ..peers.sse import KEY, Exchange, ScriptedPeer, serving

ID = "tests/paid"
RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
MiB = 1 << 20
#: 16 MiB of JSON that gzip shrinks about a thousandfold.
BOMB = gzip.compress(b'{"a": "' + b"0" * (16 * MiB) + b'"}', compresslevel=9)


def _big_bomb(decoded: int) -> bytes:
    """``decoded`` bytes of zeros, gzipped a MiB at a time (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    block = bytes(MiB)
    return b"".join(packer.compress(block) for _ in range(decoded // MiB)) + packer.flush()


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def _client(url: str, **limits: Any) -> Client:
    return Client(
        KEY,
        queue_url=url,
        run_url=url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        limits=Limits(**limits),
    )


def _answering(body: bytes, headers: dict[str, str]) -> Any:
    async def script(exchange: Exchange) -> None:
        await exchange.answer(
            200, body, {"Content-Type": "application/json", "x-fal-request-id": RID, **headers}
        )

    return script


CALLS: dict[str, Callable[[Client], Any]] = {
    "status": lambda c: get_status(c, ID, RID),
    "result": lambda c: fetch_result(c, ID, RID),
    "result_async": lambda c: asyncio.run(fetch_result_async(c, ID, RID)),
    "submit": lambda c: submit(c, ID, {"prompt": "x"}),
    "submit_async": lambda c: asyncio.run(submit_async(c, ID, {"prompt": "x"})),
    "run": lambda c: run(c, ID, {"prompt": "x"}),
    "run_async": lambda c: asyncio.run(run_async(c, ID, {"prompt": "x"})),
}
PAID = {"submit", "submit_async", "run", "run_async"}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize(
    ("body", "headers", "limits", "limit"),
    [
        (
            BOMB,
            {"Content-Encoding": "gzip"},
            {"max_response_bytes": 64 * MiB},
            "decompresses past the limit of 200 times",
        ),
        (
            BOMB,
            {"Content-Encoding": "gzip"},
            {"max_response_bytes": MiB},
            "larger than the limit of 1048576 bytes",
        ),
        (
            b'{"a": "' + b"0" * (2 * MiB) + b'"}',
            {},
            {"max_response_bytes": MiB},
            "larger than the limit of 1048576 bytes",
        ),
        (  # brotli (were it installed, httpx would inflate a read of it whole, unbounded)
            b"\x1b\xff\xff" * 100,
            {"Content-Encoding": "br"},
            {},
            "encoded 'br', which was not asked for",
        ),
        (  # gzip of gzip: each layer multiplies the last's thousandfold
            gzip.compress(BOMB),
            {"Content-Encoding": "gzip, gzip"},
            {},
            "encoded 'gzip, gzip', which was not asked for",
        ),
    ],
    ids=["gzip-bomb", "gzip-too-large", "too-large", "br", "gzip-twice"],
)
def test_an_answer_past_a_size_limit_fails_naming_it(
    peer: ScriptedPeer,
    call: str,
    body: bytes,
    headers: dict[str, str],
    limits: dict[str, Any],
    limit: str,
) -> None:
    peer.script = _answering(body, headers)
    with pytest.raises(FalError) as caught:
        CALLS[call](_client(peer.url, **limits))
    assert limit in str(caught.value)
    if call in PAID:  # fal took it: possibly accepted, never a plain failure to resend
        assert isinstance(caught.value, PossiblyAcceptedError)
        assert (caught.value.status_code, caught.value.request_id) == (200, RID)
    else:  # as a stream's limits: named, with the answer's id
        assert isinstance(caught.value, ProtocolError)
        assert (caught.value.error_type, caught.value.request_id) == ("limit_exceeded", RID)


@pytest.mark.parametrize("call", list(CALLS))
def test_a_trickled_answer_ends_at_the_answer_timeout(peer: ScriptedPeer, call: str) -> None:
    async def trickle(exchange: Exchange) -> None:
        body = b'{"request_id": "' + RID.encode() + b'", "status": "COMPLETED"}'
        await exchange.head(
            200,
            {"Content-Type": "application/json", "Content-Length": str(len(body))},
        )
        for byte in body:  # one byte every 0.2 s: each read well within the read timeout
            await exchange.write(bytes([byte]))
            await asyncio.sleep(0.2)

    peer.script = trickle
    started = time.monotonic()
    with pytest.raises(FalError) as caught:
        CALLS[call](_client(peer.url, answer_timeout=1.0))
    assert time.monotonic() - started < 6  # the whole body would take 13 s
    assert "Limits.answer_timeout (1s)" in str(caught.value)
    if call in PAID:
        assert isinstance(caught.value, PossiblyAcceptedError)


@pytest.mark.parametrize("call", ["run", "run_async"])
def test_a_run_s_answer_that_stops_coming_ends_at_its_timeout(
    peer: ScriptedPeer, call: str
) -> None:
    """Headers, part of the body, then silence: a run's reads have no timeout of their own (a
    model may take minutes to answer), so its ``timeout=`` is what ends the wait, and the
    request it sent is possibly accepted."""

    async def stall(exchange: Exchange) -> None:
        await exchange.head(200, {"Content-Type": "application/json", "Content-Length": "100"})
        await exchange.write(b'{"request_id": ')
        await asyncio.sleep(15)
        exchange.close()  # a client that did not end it fails here, at 15 s

    peer.script = stall
    client = _client(peer.url)
    started = time.monotonic()
    with pytest.raises(PossiblyAcceptedError):
        if call == "run":
            run(client, ID, {"prompt": "x"}, timeout=1.0)
        else:
            asyncio.run(run_async(client, ID, {"prompt": "x"}, timeout=1.0))
    assert time.monotonic() - started < 10


def test_a_gzip_bomb_is_never_held_whole(peer: ScriptedPeer) -> None:
    """A bomb of 512 MiB never reaches memory: the read stops at the first chunk past the
    ratio (httpx decodes a chunk whole, so about that chunk's worth is held)."""
    peer.script = _answering(_big_bomb(512 * MiB), {"Content-Encoding": "gzip"})
    peak, output = peak_rss(
        f"""
        from fal_typed import Client, FalError, Limits, RetryPolicy
        from fal_typed._queue import get_status
        client = Client({KEY!r}, queue_url={peer.url!r}, retry=RetryPolicy(max_attempts=1),
                        backup_hosts={{}}, limits=Limits(max_response_bytes=1 << 30))
        try:
            get_status(client, {ID!r}, {RID!r})
        except FalError as exc:
            print("refused:", exc)
        """
    )
    assert "decompresses past the limit" in output
    baseline, _ = peak_rss("import fal_typed._queue")
    assert peak - baseline < 192 * MiB, (peak, baseline)


def test_only_encodings_read_within_bounds_are_asked_for(
    peer: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx asks for ``br`` and ``zstd`` too where ``brotli`` or ``zstandard`` is installed
    (as here, made so): a client of ours never does."""
    import httpx._client

    monkeypatch.setattr(httpx._client, "ACCEPT_ENCODING", "gzip, deflate, br, zstd")
    asked: list[str | None] = []

    async def script(exchange: Exchange) -> None:
        asked.append(exchange.headers.get("accept-encoding"))
        await exchange.answer(200, b'{"status": "COMPLETED"}', {"Content-Type": "application/json"})

    peer.script = script
    get_status(_client(peer.url), ID, RID)
    asyncio.run(fetch_result_async(_client(peer.url), ID, RID))
    assert asked == ["gzip, deflate", "gzip, deflate"]
