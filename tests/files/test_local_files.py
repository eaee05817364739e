"""Local file inputs that are not files: FIFOs, devices, directories, pseudo-files, huge files.

Each is refused with a FileInputError naming the field and the path before anything is read or
sent, in every way a local file reaches the library: a call's arguments (sync and async), a direct
upload (sync and async), a file object, a data URI.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fal_typed import Client, Endpoint, FileInputError, InputModel, OutputModel
from fal_typed.files import UploadSettings, encode_file, upload, upload_async
from fal_typed.files._local import pseudo_filesystem
from fal_typed.files._source import open_source
from fal_typed.testing import LocalFal

from .conftest import StorageServer


class EchoInput(InputModel):
    image_url: str


class EchoOutput(OutputModel):
    image_url: str


ECHO = Endpoint("test/echo-file", EchoInput, EchoOutput)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    yield path


def not_files(tmp_path: Path, fifo: Path) -> dict[str, tuple[Path, str]]:
    """Paths that name no regular file, with what the error must say."""
    cases = {
        "fifo": (fifo, "is a named pipe (FIFO), not a regular file"),
        "dev-zero": (Path("/dev/zero"), "is a character device, not a regular file"),
        "directory": (tmp_path, "is a directory, not a file"),
    }
    if Path("/proc/self/environ").exists():
        cases["proc"] = (Path("/proc/self/environ"), "on the proc pseudo-filesystem")
    if Path("/sys/kernel/mm/transparent_hugepage/enabled").exists():
        path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
        cases["sys"] = (path, "on the sysfs pseudo-filesystem")
    return cases


CASES = ["fifo", "dev-zero", "directory", "proc", "sys"]


def case(tmp_path: Path, fifo: Path, name: str) -> tuple[Path, str]:
    found = not_files(tmp_path, fifo)
    if name not in found:
        pytest.skip(f"{name}: not on this system")
    return found[name]


@pytest.mark.parametrize("name", CASES)
def test_a_call_refuses_them_naming_the_field_before_any_request(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path, fifo: Path, name: str
) -> None:
    path, says = case(tmp_path, fifo, name)
    started = time.monotonic()
    with pytest.raises(FileInputError) as caught:
        ECHO.subscribe(ECHO.arguments(None, {"image_url": path}), client=local_fal_client)
    assert time.monotonic() - started < 10  # a FIFO used to block open() for ever
    assert caught.value.field == "image_url" and says in str(caught.value)
    assert str(path) in str(caught.value)
    assert local_fal.requests == []


@pytest.mark.parametrize("name", CASES)
async def test_an_async_call_refuses_them_too(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path, fifo: Path, name: str
) -> None:
    path, says = case(tmp_path, fifo, name)
    with pytest.raises(FileInputError, match=re.escape(says)):
        await ECHO.subscribe_async(
            ECHO.arguments(None, {"image_url": path}), client=local_fal_client, client_timeout=3
        )
    assert local_fal.requests == []


@pytest.mark.parametrize("name", CASES)
def test_upload_refuses_them(
    server: StorageServer, client: Client, tmp_path: Path, fifo: Path, name: str
) -> None:
    path, says = case(tmp_path, fifo, name)
    with pytest.raises(FileInputError, match=re.escape(says)):
        upload(path, client=client)
    with pytest.raises(FileInputError, match=re.escape(says)):
        asyncio.run(upload_async(path, client=client))
    with pytest.raises(FileInputError, match=re.escape(says)):
        encode_file(path)
    assert server.storage.attempts == {}


def test_the_generated_subscribe_with_a_fifo_does_not_hang(
    local_fal: LocalFal, local_fal_client: Client, fifo: Path
) -> None:
    from fal_endpoints import flux_lora_inpainting as inpainting

    done = threading.Event()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            inpainting.subscribe(
                prompt="x",
                image_url=fifo,
                mask_url="https://x/m.png",
                client_timeout=3,
                client=local_fal_client,
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=call, daemon=True).start()
    if not done.wait(20):
        with open(fifo, "wb"):  # release the reader the old code blocked in open()
            pass
        pytest.fail("subscribe hung on a FIFO")
    (error,) = errors
    assert isinstance(error, FileInputError) and error.field == "image_url"
    assert local_fal.requests == []


def test_a_file_past_the_size_limit_is_refused_before_it_is_read(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(5 * 1024 * 1024)  # sparse: nothing is written
    settings = UploadSettings(max_file_bytes=4 * 1024 * 1024)
    with pytest.raises(FileInputError, match=r"more than the limit of 4194304 bytes"):
        upload(big, client=client, settings=settings)
    with (
        big.open("rb") as handle,
        pytest.raises(FileInputError, match=r"UploadSettings.max_file_bytes"),
    ):
        upload(handle, client=client, settings=settings)
    assert server.storage.attempts == {}


def test_a_pipe_given_as_a_file_object_is_read_no_further_than_the_limit(
    server: StorageServer, client: Client
) -> None:
    read, write = os.pipe()
    writer = threading.Thread(target=_fill, args=(write, 64 * 1024 * 1024), daemon=True)
    writer.start()
    with (
        os.fdopen(read, "rb") as stream,
        pytest.raises(FileInputError, match="the stream is more than the limit"),
    ):
        upload(stream, client=client, settings=UploadSettings(max_file_bytes=1024 * 1024))
    writer.join(10)
    assert server.storage.attempts == {}


def _fill(fd: int, total: int) -> None:
    """Write ``total`` bytes into a pipe, stopping when the reader goes away."""
    block = b"\0" * 65536
    try:
        for _ in range(total // len(block)):
            os.write(fd, block)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_a_device_opened_as_a_file_object_is_refused(client: Client) -> None:
    with open("/dev/zero", "rb") as zero, pytest.raises(FileInputError, match="character device"):
        upload(zero, client=client)


def test_a_pseudo_file_opened_as_a_file_object_is_refused(client: Client) -> None:
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc")
    with (
        open("/proc/self/environ", "rb") as environ,
        pytest.raises(FileInputError, match="pseudo-filesystem"),
    ):
        upload(environ, client=client)


def test_regular_files_and_memory_still_pass(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    data = tmp_path / "data.bin"
    data.write_bytes(b"abc")
    for value in (empty, data, io.BytesIO(b"xyz"), b"123"):
        with open_source(value) as source:
            assert source.size in (0, 3)
    assert pseudo_filesystem(os.stat(data)) is None


def test_a_file_swapped_for_a_fifo_after_the_check_is_refused_not_waited_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG" + b"\0" * 100)
    with open_source(path) as source:
        path.unlink()
        os.mkfifo(path)
        with pytest.raises(FileInputError, match="changed after it was checked"):
            source.read_all()
