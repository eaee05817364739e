"""Output files against a hostile file host (tests/peers/sse.py), sync and async, read and save.

A host dripping a byte a second is cut at ``Limits.download_timeout``; a file past
``max_download_bytes`` stops being read at the limit (a larger Content-Length before any byte);
a decompression bomb stops at the ratio; redirect loops, error answers of any size and URLs that
cannot be fetched are FalErrors naming the URL without its query. A failed save leaves nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fal_typed import (
    Client,
    FalConnectionError,
    FalError,
    FalTimeoutError,
    Limits,
    NotFoundError,
    RetryPolicy,
)
from fal_typed.files import DownloadError
from fal_typed.files._output import FileOutput

from ..peers.sse import (
    KEY,
    Exchange,
    MiB,
    ScriptedPeer,
    compressed,
    drip,
    flood,
    gzip_bomb,
    raw_answer,
    redirect_to_self,
    serving,
    silent,
    trickle_head,
)

SOCKET_SLACK = 16 * MiB
OVERRUN = 10.0
SIGNED = "?X-Amz-Signature=s3cr3t-signature&X-Amz-Credential=abc"


class Image(FileOutput):
    url: str
    file_name: str | None = None
    content_type: str | None = None


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def client_for(peer: ScriptedPeer, **limits: Any) -> Client:
    return Client(KEY, retry=RetryPolicy(max_attempts=1), backup_hosts={}, limits=Limits(**limits))


def fetch(how: str, image: Image, client: Client, folder: Path) -> Any:
    """``read``, ``save``, ``aread`` or ``asave`` of ``image`` (async ones on their own loop)."""
    if how == "read":
        return image.read(client=client)
    if how == "save":
        return image.save(folder / "out.png", client=client)

    async def run() -> Any:
        try:
            if how == "aread":
                return await image.aread(client=client)
            return await image.asave(folder / "out.png", client=client)
        finally:
            await client.aclose()

    return asyncio.run(run())


HOW = ["read", "save", "aread", "asave"]


def nothing_left(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [], "a failed download left files"


@pytest.mark.parametrize("how", HOW)
def test_a_host_dripping_a_byte_a_second_is_cut_at_the_download_timeout(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = drip(1000, interval=0.5)
    client = client_for(peer, download_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError) as caught:
        fetch(how, Image(url=f"{peer.url}/files/a.png{SIGNED}"), client, tmp_path)
    client.close()
    assert time.monotonic() - started < 1.5 + OVERRUN
    assert "Limits.download_timeout" in str(caught.value)
    assert f"{peer.url}/files/a.png" in str(caught.value) and "s3cr3t" not in str(caught.value)
    nothing_left(tmp_path)


@pytest.mark.parametrize("how", HOW)
def test_a_host_trickling_its_headers_is_cut_at_the_download_timeout(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = trickle_head(interval=0.2)
    client = client_for(peer, download_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError):
        fetch(how, Image(url=f"{peer.url}/files/a.png"), client, tmp_path)
    client.close()
    assert time.monotonic() - started < 1.0 + OVERRUN
    nothing_left(tmp_path)


@pytest.mark.parametrize("how", HOW)
def test_a_host_that_never_answers_is_left_at_the_download_timeout(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = silent()
    client = client_for(peer, download_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FalTimeoutError):
        fetch(how, Image(url=f"{peer.url}/files/a.png"), client, tmp_path)
    client.close()
    assert time.monotonic() - started < 1.0 + OVERRUN


@pytest.mark.parametrize("how", HOW)
def test_a_declared_size_past_the_limit_is_refused_before_reading(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = flood(256 * MiB, content_length=256 * MiB)
    client = client_for(peer, max_download_bytes=MiB)
    with pytest.raises(DownloadError) as caught:
        fetch(how, Image(url=f"{peer.url}/files/big.png{SIGNED}"), client, tmp_path)
    client.close()
    error = caught.value
    assert error.error_type == "limit_exceeded" and "Content-Length is 268435456" in str(error)
    assert error.url == f"{peer.url}/files/big.png" and "s3cr3t" not in str(error)
    assert peer.last().sent < SOCKET_SLACK
    nothing_left(tmp_path)


@pytest.mark.parametrize("how", HOW)
def test_an_undeclared_size_past_the_limit_stops_at_the_limit(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = flood(256 * MiB)  # no Content-Length: the body ends when the host closes
    client = client_for(peer, max_download_bytes=2 * MiB)
    with pytest.raises(DownloadError, match=r"Limits\.max_download_bytes"):
        fetch(how, Image(url=f"{peer.url}/files/big.png"), client, tmp_path)
    client.close()
    exchange = peer.last()
    assert exchange.client_left and exchange.sent < 2 * MiB + SOCKET_SLACK
    nothing_left(tmp_path)


@pytest.mark.parametrize("how", HOW)
def test_a_decompression_bomb_stops_at_the_ratio(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = compressed(gzip_bomb(b"", b"\0", 200 * MiB), content_type="image/png")
    client = client_for(peer)
    with pytest.raises(DownloadError, match="decompresses past the limit of 200 times"):
        fetch(how, Image(url=f"{peer.url}/files/bomb.png"), client, tmp_path)
    client.close()
    nothing_left(tmp_path)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip"])
def test_an_encoding_no_limit_can_bound_is_refused_before_reading(
    peer: ScriptedPeer, tmp_path: Path, how: str, encoding: str
) -> None:
    """httpx inflates a read of ``br`` or ``zstd`` whole (where brotli or zstandard is
    installed), and stacked encodings multiply: a file host answering so is refused."""

    async def script(exchange: Exchange) -> None:
        await exchange.answer(
            200, b"\0" * 1024, {"Content-Type": "image/png", "Content-Encoding": encoding}
        )

    peer.script = script
    client = client_for(peer)
    with pytest.raises(DownloadError, match="which was not asked for") as caught:
        fetch(how, Image(url=f"{peer.url}/files/odd.png"), client, tmp_path)
    assert caught.value.error_type == "limit_exceeded"
    client.close()
    nothing_left(tmp_path)


@pytest.mark.parametrize("how", HOW)
def test_a_redirect_loop_is_a_download_error(peer: ScriptedPeer, tmp_path: Path, how: str) -> None:
    peer.script = redirect_to_self()
    client = client_for(peer)
    with pytest.raises(DownloadError, match="too many redirects"):
        fetch(how, Image(url=f"{peer.url}/files/loop.png{SIGNED}"), client, tmp_path)
    client.close()


@pytest.mark.parametrize("how", HOW)
def test_an_error_answer_of_any_size_is_read_only_in_part_and_names_the_url(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    peer.script = raw_answer(b"not here " * (8 * MiB), status=404, content_type="text/plain")
    client = client_for(peer)
    with pytest.raises(NotFoundError) as caught:
        fetch(how, Image(url=f"{peer.url}/files/gone.png{SIGNED}"), client, tmp_path)
    client.close()
    message = str(caught.value)
    assert f"download of {peer.url}/files/gone.png: not here" in message
    assert "s3cr3t" not in message
    assert peer.last().sent < 64 * 1024 + SOCKET_SLACK


@pytest.mark.parametrize("how", HOW)
def test_an_error_answer_names_no_request_of_the_file_host(
    peer: ScriptedPeer, tmp_path: Path, how: str
) -> None:
    """A file host's own ``x-fal-request-id`` was shown as the error's request id: `fal-typed
    call --save` printed it beside the call's, as if it were the paid request."""

    async def script(exchange: Any) -> None:
        await exchange.answer(
            503,
            b'{"detail": "busy"}',
            {"Content-Type": "application/json", "x-fal-request-id": "cdn-1"},
        )

    peer.script = script
    client = client_for(peer)
    with pytest.raises(FalError) as caught:
        fetch(how, Image(url=f"{peer.url}/files/a.png"), client, tmp_path)
    client.close()
    assert caught.value.request_id is None and "cdn-1" not in str(caught.value)
    assert f"download of {peer.url}/files/a.png: " in str(caught.value)


@pytest.mark.parametrize("how", HOW)
def test_a_refused_connection_is_a_connection_error_naming_the_url(
    tmp_path: Path, how: str
) -> None:
    with serving() as gone:
        url = f"{gone.url}/files/a.png{SIGNED}"
    client = Client(KEY, limits=Limits(download_timeout=30))
    with pytest.raises(FalConnectionError) as caught:
        fetch(how, Image(url=url), client, tmp_path)
    client.close()
    assert url.split("?")[0] in str(caught.value) and "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://[::1/x.png", "https://exa mple.com/a b.png"])
def test_a_url_that_cannot_be_fetched_is_a_download_error(url: str, tmp_path: Path) -> None:
    with Client(KEY) as client, pytest.raises(FalError):
        Image(url=url).read(client=client)


def test_a_write_that_fails_is_a_download_error_naming_the_file(
    peer: ScriptedPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer.script = raw_answer(b"\x89PNG" + b"\0" * 1000, content_type="image/png")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fal_typed.files._save.os.fsync", disk_full)
    with client_for(peer) as client, pytest.raises(DownloadError) as caught:
        Image(url=f"{peer.url}/files/a.png").save(tmp_path / "a.png", client=client)
    assert caught.value.file == str(tmp_path / "a.png")
    assert "cannot write the file (No space left on device)" in str(caught.value)
    nothing_left(tmp_path)
