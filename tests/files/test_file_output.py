"""FileOutput.read/save/aread/asave: files served by the local server, data: URIs, failures."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest

from fal_typed import Client, FalConnectionError, FalError, InvalidArgumentError, NotFoundError
from fal_typed.files._output import FileOutput
from fal_typed.files._upload import upload

from .conftest import StorageServer

KEY = "mock-key-id:mock-key-secret-4e1b"


class Image(FileOutput):
    """Shaped like the generated output models."""

    url: str
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    width: int | None = None
    height: int | None = None


@pytest.fixture
def served(server: StorageServer, client: Client) -> tuple[Image, bytes]:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(3 * 1024 * 1024)  # several read chunks
    url = upload(data, file_name="result.png", client=client)
    return Image(
        url=url, content_type="image/png", file_name="result.png", file_size=len(data)
    ), data


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_read_returns_the_served_bytes(served: tuple[Image, bytes], client: Client) -> None:
    image, data = served
    assert image.read(client=client) == data


def test_save_writes_the_served_bytes(
    served: tuple[Image, bytes], client: Client, tmp_path: Path
) -> None:
    image, data = served
    target = image.save(tmp_path / "cat.png", client=client)
    assert target == tmp_path / "cat.png"
    assert target.read_bytes() == data
    assert _leftovers(tmp_path) == []


def test_save_into_a_directory_keeps_the_file_name(
    served: tuple[Image, bytes], client: Client, tmp_path: Path
) -> None:
    image, data = served
    assert image.save(tmp_path, client=client) == tmp_path / "result.png"
    assert (tmp_path / "result.png").read_bytes() == data
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nameless = Image(url=image.url)  # no file_name: the URL's last segment names it
    assert nameless.save(elsewhere, client=client) == elsewhere / "result.png"


async def test_aread_and_asave(
    served: tuple[Image, bytes], aclient: Client, tmp_path: Path
) -> None:
    image, data = served
    assert await image.aread(client=aclient) == data
    target = await image.asave(tmp_path / "async.png", client=aclient)
    assert target.read_bytes() == data
    assert _leftovers(tmp_path) == []


def test_data_uri_outputs(tmp_path: Path) -> None:
    data = os.urandom(500)
    image = Image(
        url="data:image/png;base64," + base64.b64encode(data).decode(), file_name="inline.png"
    )
    assert image.read() == data  # no client needed, no network
    assert image.save(tmp_path).read_bytes() == data
    assert (tmp_path / "inline.png").exists()


async def test_data_uri_outputs_async(tmp_path: Path) -> None:
    image = Image(url="data:text/plain,hi%21")
    assert await image.aread() == b"hi!"
    assert (await image.asave(tmp_path / "t.txt")).read_bytes() == b"hi!"


def test_failed_save_leaves_the_old_file_and_no_partial(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    missing = Image(url=f"{server.base}/cdn/files/b/000000000000/none.png")
    with pytest.raises(NotFoundError):
        missing.save(target, client=client)
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


async def test_failed_asave_leaves_no_partial(
    server: StorageServer, aclient: Client, tmp_path: Path
) -> None:
    missing = Image(url=f"{server.base}/cdn/files/b/000000000000/none.png")
    with pytest.raises(NotFoundError):
        await missing.asave(tmp_path / "x.png", client=aclient)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", ""])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(FalError):
        Image(url=url).read()


def test_save_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        Image(url="data:,x").save(tmp_path / "nope" / "x.txt")


# -- through a mock transport, in addition: what is sent, and retries -------------------------


def _mock_client(handler: httpx.MockTransport) -> Client:
    # The user's own httpx client carries the key by default: downloads must strip it.
    http = httpx.Client(transport=handler, headers={"Authorization": f"Key {KEY}"})
    return Client(KEY, http_client=http)


def test_download_never_sends_the_key_and_retries_5xx() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, content=b"image-bytes")

    client = _mock_client(httpx.MockTransport(handle))
    assert Image(url="https://v3.fal.media/files/x/y.png").read(client=client) == b"image-bytes"
    assert len(seen) == 2
    assert all("authorization" not in r.headers for r in seen)


def test_download_restarts_after_a_broken_transfer(tmp_path: Path) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(200, content=b"whole")

    client = _mock_client(httpx.MockTransport(handle))
    assert (
        Image(url="https://cdn.test/f.bin").save(tmp_path / "f.bin", client=client).read_bytes()
        == b"whole"
    )
    assert calls == 2


def test_download_gives_up_with_a_connection_error(tmp_path: Path) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = _mock_client(httpx.MockTransport(handle))
    with pytest.raises(
        FalConnectionError, match=r"https://cdn.test/f.bin failed after 4 attempts"
    ) as caught:
        Image(url="https://cdn.test/f.bin?sig=SECRET").save(tmp_path / "f.bin", client=client)
    assert "SECRET" not in str(caught.value)  # a signed URL's query is a credential
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("length", ["\u00b2", "1, 1", "-1", "9" * 5000])
def test_a_content_length_that_is_no_length_is_counted_as_it_comes(length: str) -> None:
    """Read by the one rule (``_checks.declared_length``): '²' passed isdigit() and then
    raised a ValueError from int() out of the download (as did 5,000 digits)."""

    def handle(request: httpx.Request) -> httpx.Response:
        headers = [(b"content-length", length.encode("latin-1"))]
        return httpx.Response(200, headers=headers, content=b"image-bytes")

    client = _mock_client(httpx.MockTransport(handle))
    assert Image(url="https://v3.fal.media/files/x/y.png").read(client=client) == b"image-bytes"
