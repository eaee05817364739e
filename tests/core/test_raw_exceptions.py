"""httpx's and the OS's own exceptions never escape: each becomes a FalError naming the URL or file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fal_typed import Client, FalConnectionError, FalError
from fal_typed.files._output import FileOutput
from tests.peers.http import KEY
from tests.peers.sse import Exchange, ScriptedPeer, serving


class File(FileOutput):
    url: str


@pytest.fixture(scope="module")
def peer() -> Iterator[ScriptedPeer]:
    with serving() as p:
        yield p


async def _redirect_loop(exchange: Exchange) -> None:
    await exchange.answer(302, b"", {"Location": exchange.path})


def test_too_many_redirects_is_a_fal_error_naming_the_url(peer: ScriptedPeer) -> None:
    peer.script = _redirect_loop
    url = f"{peer.url}/fal-ai/flux/dev/requests/r/status"
    http = httpx.Client(follow_redirects=True, max_redirects=3)
    client = Client(key=KEY, queue_url=peer.url, http_client=http, backup_hosts={})
    with pytest.raises(FalConnectionError, match="TooManyRedirects") as info:
        client.request("GET", url)
    assert "/fal-ai/flux/dev/requests/r/status" in str(info.value)
    http.close()


def test_too_many_redirects_is_a_fal_error_async(peer: ScriptedPeer) -> None:
    peer.script = _redirect_loop
    url = f"{peer.url}/fal-ai/flux/dev/requests/r/status"

    async def go() -> None:
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=3) as http:
            client = Client(key=KEY, queue_url=peer.url, async_http_client=http)
            await client.arequest("GET", url)

    with pytest.raises(FalConnectionError, match="TooManyRedirects"):
        asyncio.run(go())


async def _file(exchange: Exchange) -> None:
    await exchange.answer(200, b"data", {"Content-Type": "image/png"})


def test_a_file_name_too_long_for_the_file_system_is_a_fal_error_naming_it(
    peer: ScriptedPeer, tmp_path: Path
) -> None:
    peer.script = _file
    target = tmp_path / ("n" * 300 + ".png")
    with Client(key=KEY, backup_hosts={}) as client, pytest.raises(FalError) as info:
        File(url=f"{peer.url}/files/x.png").save(target, client=client)
    assert "n" * 50 in str(info.value)
