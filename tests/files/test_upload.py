"""upload() / upload_async() against the local server's storage routes, over real sockets."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
from pathlib import Path

import pytest

from fal_typed import AuthenticationError, Client, InvalidArgumentError
from fal_typed.files._lifecycle import AccessRule
from fal_typed.files._upload import (
    FileInputError,
    Lifecycle,
    UploadError,
    UploadSettings,
    upload,
    upload_async,
)
from fal_typed.testing import Fault, LocalFal

from .conftest import SMALL, StorageServer, sha256

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


# -- single POST ------------------------------------------------------------------------------


def test_bytes_arrive_identical_with_sniffed_type(server: StorageServer, client: Client) -> None:
    data = PNG_HEAD + os.urandom(5000)
    url = upload(data, client=client)
    assert server.fetch(url) == data
    stored = server.storage.uploads[url]
    assert (stored.flow, stored.content_type, stored.file_name) == (
        "cdn",
        "image/png",
        "upload.png",
    )
    assert server.storage.attempts["upload"] == 1


def test_path_keeps_its_name_and_guessed_type(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "clip.wav"
    path.write_bytes(os.urandom(70_000))
    url = upload(path, client=client)
    assert server.fetch(url) == path.read_bytes()
    stored = server.storage.uploads[url]
    assert (stored.content_type, stored.file_name) == ("audio/x-wav", "clip.wav")


def test_non_ascii_file_name_is_sent_percent_encoded(server: StorageServer, client: Client) -> None:
    url = upload(b"x", content_type="text/plain", file_name="café ☕.txt", client=client)
    assert server.storage.uploads[url].file_name == "caf_.txt"  # the server's safe form of the name
    assert server.fetch(url) == b"x"


def test_explicit_type_name_and_lifecycle_are_sent(server: StorageServer, client: Client) -> None:
    lifecycle = Lifecycle(
        expires_in="1d", default_access="hide", access_rules=[AccessRule("u1", "allow")]
    )
    url = upload(b"{}", "application/json", "doc.json", lifecycle, client=client)
    stored = server.storage.uploads[url]
    assert (stored.content_type, stored.file_name) == ("application/json", "doc.json")
    assert stored.lifecycle == {
        "expiration_duration_seconds": 86400,
        "initial_acl": {"default": "hide", "rules": [{"user": "u1", "decision": "allow"}]},
    }


def test_lifecycle_shorthand_seconds(server: StorageServer, client: Client) -> None:
    url = upload(b"abc", lifecycle=120, client=client)
    assert server.storage.uploads[url].lifecycle == {"expiration_duration_seconds": 120}


def test_empty_bytes_upload(server: StorageServer, client: Client) -> None:
    url = upload(b"", client=client)
    assert server.fetch(url) == b""
    assert server.storage.uploads[url].content_type == "application/octet-stream"


def test_seekable_file_object_is_read_from_its_position(
    server: StorageServer, client: Client
) -> None:
    handle = io.BytesIO(b"HEADER" + b"payload" * 1000)
    handle.seek(6)
    url = upload(handle, client=client)
    assert server.fetch(url) == b"payload" * 1000
    assert handle.tell() == len(handle.getvalue())  # left where a read() would leave it


def test_open_binary_file_takes_its_name(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(b"# title\n")
    with path.open("rb") as handle:
        url = upload(handle, client=client)
    stored = server.storage.uploads[url]
    assert (stored.file_name, stored.content_type) == ("notes.md", "text/markdown")


def test_non_seekable_stream_is_spooled(server: StorageServer, client: Client) -> None:
    data = os.urandom(300_000)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_fd, "rb") as pipe:
        url = upload(pipe, client=client, settings=SMALL)  # multipart: parts re-read the spool
    writer.join()
    assert sha256(server.fetch(url)) == sha256(data)
    assert server.storage.uploads[url].flow == "multipart"


def test_pil_image_is_encoded_as_png_or_its_own_format(
    server: StorageServer, client: Client
) -> None:
    Image = pytest.importorskip("PIL.Image")
    image = Image.new("RGB", (8, 6), (200, 30, 10))
    url = upload(image, client=client)
    assert server.storage.uploads[url].content_type == "image/png"
    assert Image.open(io.BytesIO(server.fetch(url))).size == (8, 6)

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    jpeg = Image.open(io.BytesIO(buffer.getvalue()))
    url = upload(jpeg, client=client)
    assert server.storage.uploads[url].content_type == "image/jpeg"
    assert server.fetch(url)[:3] == b"\xff\xd8\xff"


# -- the CDN token ------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(server: StorageServer, client: Client) -> None:
    for _ in range(3):
        upload(b"again", client=client)
    assert server.storage.attempts["token"] == 1


def test_token_close_to_expiry_is_refreshed(server: StorageServer, client: Client) -> None:
    server.storage.token_ttl = 1  # reused for half its life, then replaced
    try:
        upload(b"one", client=client)
        upload(b"two", client=client)
        assert server.storage.attempts["token"] == 1
        time.sleep(0.6)
        upload(b"three", client=client)
    finally:
        server.storage.token_ttl = 3600
    assert server.storage.attempts["token"] == 2


def test_token_refused_by_the_cdn_is_replaced_once(server: StorageServer, client: Client) -> None:
    upload(b"first", client=client)
    server.storage.reset()  # the server forgets every token it issued
    url = upload(b"second", client=client)
    assert server.fetch(url) == b"second"
    assert server.storage.attempts["token"] == 1
    assert server.storage.attempts["upload"] == 2  # 401 with the stale token, then success


def test_cdn_requests_never_carry_the_account_key(server: StorageServer, client: Client) -> None:
    upload(os.urandom(600_000), client=client, settings=SMALL)
    server.storage.fail("upload", times=None)
    upload(b"via fallback", client=client, settings=SMALL)
    assert server.storage.attempts["put"] == 1
    assert server.storage.key_sent_to_cdn is False


def test_wrong_key_raises_authentication_error_without_the_key() -> None:
    wrong = "wrong-id:wrong-secret-5d1e"
    with LocalFal(key="right-id:right-secret-77aa") as fal, fal.client(key=wrong) as client:
        with pytest.raises(AuthenticationError) as caught:
            upload(b"x", client=client)
        storage = StorageServer(fal).storage
        assert storage.attempts["token"] == 1
        assert storage.attempts["initiate"] == 0  # no fallback with a refused key
    assert caught.value.status_code == 401
    assert "wrong-secret" not in f"{caught.value} {caught.value!r}"


# -- multipart ----------------------------------------------------------------------------------


def test_multipart_arrives_identical(server: StorageServer, client: Client, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SMALL.part_size * 9 + 123))
    url = upload(path, client=client, settings=SMALL)
    assert sha256(server.fetch(url)) == sha256(path.read_bytes())
    attempts = server.storage.attempts
    assert server.storage.uploads[url].flow == "multipart"
    assert [attempts[f"part:{n}"] for n in range(1, 11)] == [1] * 10
    assert attempts["part:11"] == 0
    assert (attempts["multipart"], attempts["complete"], attempts["upload"]) == (1, 1, 0)


def test_size_equal_to_threshold_is_one_post(server: StorageServer, client: Client) -> None:
    data = os.urandom(SMALL.multipart_threshold)
    url = upload(data, client=client, settings=SMALL)
    assert server.storage.uploads[url].flow == "cdn"
    url = upload(data + b"!", client=client, settings=SMALL)
    assert server.storage.uploads[url].flow == "multipart"
    assert server.fetch(url) == data + b"!"


def test_part_failing_twice_is_retried_alone(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "retry.bin"
    path.write_bytes(os.urandom(SMALL.part_size * 6))
    server.storage.fail("part", part=3, times=2, status=500)
    url = upload(path, client=client, settings=SMALL)
    assert sha256(server.fetch(url)) == sha256(path.read_bytes())
    attempts = server.storage.attempts
    assert attempts["part:3"] == 3
    assert all(attempts[f"part:{n}"] == 1 for n in (1, 2, 4, 5, 6))  # the file was not restarted
    assert attempts["multipart"] == 1 and attempts["initiate"] == 0


def test_failed_complete_is_retried(server: StorageServer, client: Client) -> None:
    data = os.urandom(SMALL.multipart_threshold * 2)
    server.storage.fail("complete", times=1, status=503)
    url = upload(data, client=client, settings=SMALL)
    assert server.fetch(url) == data
    assert server.storage.attempts["complete"] == 2


def test_unrecoverable_part_raises_naming_the_file_and_leaves_no_object(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "doomed.bin"
    path.write_bytes(os.urandom(SMALL.part_size * 5))
    server.storage.fail("part", part=2, times=None, status=500)
    server.storage.fail("initiate", times=None, status=500)
    with pytest.raises(UploadError) as caught:
        upload(path, client=client, settings=SMALL)
    error = caught.value
    assert error.file == str(path)
    assert str(path) in str(error) and "part 2 of 5" in str(error)
    assert server.storage.attempts["part:2"] == SMALL.attempts
    assert server.storage.attempts["complete"] == 0  # never completed: no truncated object
    assert server.storage.uploads == {} and len(server.files) == 0
    assert server.storage.pending_multipart() == 1


def test_without_fallback_a_failure_is_final(server: StorageServer, client: Client) -> None:
    server.storage.fail("upload", times=None, status=500)
    with pytest.raises(UploadError, match=r"<3 bytes>.*HTTP 500"):
        upload(b"abc", client=client, settings=UploadSettings(fallback=False, retry_backoff=0.0))
    assert server.storage.attempts["upload"] == UploadSettings().attempts
    assert server.storage.attempts["initiate"] == 0
    assert server.storage.uploads == {}


def test_cdn_failure_falls_back_to_initiate_and_put(server: StorageServer, client: Client) -> None:
    server.storage.fail("token", times=None, status=500)
    url = upload(b"fallback bytes", "text/plain", "f.txt", "1h", client=client)
    assert server.fetch(url) == b"fallback bytes"
    stored = server.storage.uploads[url]
    assert (stored.flow, stored.file_name, stored.content_type) == (
        "storage",
        "f.txt",
        "text/plain",
    )
    assert stored.lifecycle == {"expiration_duration_seconds": 3600}


def test_multipart_failure_falls_back_with_the_whole_file(
    server: StorageServer, client: Client
) -> None:
    data = os.urandom(SMALL.multipart_threshold * 2)
    server.storage.fail("multipart", times=None, status=502)
    url = upload(data, client=client, settings=SMALL)
    assert server.storage.uploads[url].flow == "storage"
    assert sha256(server.fetch(url)) == sha256(data)


class _Vanishing(io.BytesIO):
    """A file whose data ends early once read: what a file truncated mid-upload looks like."""

    def __init__(self, data: bytes, readable: int) -> None:
        super().__init__(data)
        self.readable = readable
        self.served = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        chunk = chunk[: max(0, self.readable - self.served)]
        self.served += len(chunk)
        return chunk


def test_source_shrinking_during_upload_raises(server: StorageServer, client: Client) -> None:
    handle = _Vanishing(os.urandom(SMALL.part_size * 4), readable=SMALL.part_size + 10)
    with pytest.raises(UploadError, match="changed while uploading"):
        upload(handle, file_name="vanishing.bin", client=client, settings=SMALL)
    assert server.storage.uploads == {}
    assert server.storage.attempts["complete"] == 0
    assert server.storage.attempts["initiate"] == 0  # a source problem: no fallback


# -- input errors, before any request -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (Path("/no/such/file.png"), {}, "no such file"),
        ("photo.png", {}, "a str is not an upload source"),
        (io.StringIO("text"), {}, "text mode"),
        (b"x", {"content_type": "png"}, "type/subtype"),
        (b"x", {"file_name": "a/b.png"}, "path separators"),
        (42, {}, "cannot upload a int"),
    ],
)
def test_bad_input_fails_before_any_request(
    server: StorageServer, client: Client, value: object, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(FileInputError, match=message):
        upload(value, client=client, **kwargs)  # type: ignore[arg-type]
    assert sum(server.storage.attempts.values()) == 0


def test_directory_is_rejected(server: StorageServer, client: Client, tmp_path: Path) -> None:
    with pytest.raises(FileInputError, match="is a directory"):
        upload(tmp_path, client=client)
    assert sum(server.storage.attempts.values()) == 0


@pytest.mark.parametrize("lifecycle", ["2d", 0, -5, True])
def test_bad_lifecycle_fails_before_any_request(
    server: StorageServer, client: Client, lifecycle: object
) -> None:
    with pytest.raises(InvalidArgumentError, match="expires_in"):
        upload(b"x", lifecycle=lifecycle, client=client)  # type: ignore[arg-type]
    assert sum(server.storage.attempts.values()) == 0


def test_bad_settings_are_rejected_when_built() -> None:
    with pytest.raises(ValueError, match="part_size"):
        UploadSettings(part_size=0)
    with pytest.raises(ValueError, match="data_uri_threshold"):
        UploadSettings(data_uri_threshold=-1)
    with pytest.raises(ValueError, match="decision"):
        Lifecycle(default_access="public")  # type: ignore[arg-type]


def test_error_text_never_carries_the_key_or_token(
    server: StorageServer, client: Client, key: str
) -> None:
    server.storage.fail("upload", times=None, status=500)
    server.storage.fail("initiate", times=None, status=500)
    with pytest.raises(UploadError) as caught:
        upload(b"secret?", client=client, settings=SMALL)
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__}"
    assert key not in text and key.split(":")[1] not in text
    assert "Bearer" not in text


# -- async --------------------------------------------------------------------------------------


async def test_async_single_and_multipart(
    server: StorageServer, aclient: Client, tmp_path: Path
) -> None:
    small = await upload_async(b"tiny", client=aclient)
    path = tmp_path / "async.bin"
    path.write_bytes(os.urandom(SMALL.part_size * 7 + 1))
    big = await upload_async(path, client=aclient, settings=SMALL)
    assert server.fetch(small) == b"tiny"
    assert sha256(server.fetch(big)) == sha256(path.read_bytes())
    assert server.storage.uploads[big].flow == "multipart"
    assert server.storage.attempts["token"] == 1


async def test_async_part_failing_twice_is_retried_alone(
    server: StorageServer, aclient: Client
) -> None:
    data = os.urandom(SMALL.part_size * 5)
    server.storage.fail("part", part=4, times=2, status=503)
    url = await upload_async(data, client=aclient, settings=SMALL)
    assert sha256(server.fetch(url)) == sha256(data)
    assert server.storage.attempts["part:4"] == 3
    assert all(server.storage.attempts[f"part:{n}"] == 1 for n in (1, 2, 3, 5))


async def test_async_unrecoverable_failure_raises_and_leaves_no_object(
    server: StorageServer, aclient: Client, tmp_path: Path
) -> None:
    path = tmp_path / "async-doomed.bin"
    path.write_bytes(os.urandom(SMALL.part_size * 6))
    server.storage.fail("part", part=5, times=None, status=500)
    server.storage.fail("put", times=None, status=500)
    with pytest.raises(UploadError) as caught:
        await upload_async(path, client=aclient, settings=SMALL)
    assert caught.value.file == str(path)
    assert "fallback upload" in str(caught.value)
    assert server.storage.attempts["complete"] == 0
    assert server.storage.uploads == {} and len(server.files) == 0


async def test_async_fallback(server: StorageServer, aclient: Client) -> None:
    server.storage.fail("upload", times=None)
    url = await upload_async(io.BytesIO(b"async fallback"), client=aclient, settings=SMALL)
    assert server.storage.uploads[url].flow == "storage"
    assert server.fetch(url) == b"async fallback"


async def test_async_bad_input_fails_before_any_request(
    server: StorageServer, aclient: Client
) -> None:
    with pytest.raises(FileInputError, match="no such file"):
        await upload_async(Path("/nope.bin"), client=aclient)
    assert sum(server.storage.attempts.values()) == 0


def test_lifecycle_headers_are_json() -> None:
    from fal_typed.files._lifecycle import lifecycle_headers

    headers = lifecycle_headers("immediate")
    assert json.loads(headers["X-Fal-Object-Lifecycle"]) == {"expiration_duration_seconds": 60}
    assert headers["X-Fal-Object-Lifecycle-Preference"] == headers["X-Fal-Object-Lifecycle"]
    assert lifecycle_headers("never") == {} and lifecycle_headers(None) == {}


# -- connection resets and cancellation (the server's transport-level faults) ------------------


def test_parts_survive_connection_resets(
    server: StorageServer, local_fal: LocalFal, client: Client
) -> None:
    data = os.urandom(SMALL.part_size * 5)
    rule = local_fal.inject(Fault.reset(), on="storage.part", times=2)
    url = upload(data, client=client, settings=SMALL)
    assert rule.hits == 2
    assert sha256(server.fetch(url)) == sha256(data)
    assert server.storage.uploads[url].flow == "multipart"


async def test_single_post_survives_a_connection_reset(
    server: StorageServer, local_fal: LocalFal, aclient: Client
) -> None:
    rule = local_fal.inject(Fault.reset(), on="storage.upload", times=1)
    url = await upload_async(b"after a reset", client=aclient, settings=SMALL)
    assert rule.hits == 1
    assert server.fetch(url) == b"after a reset"
    assert server.storage.uploads[url].flow == "cdn"


async def test_cancelled_upload_completes_nothing(
    server: StorageServer, local_fal: LocalFal, aclient: Client
) -> None:
    local_fal.inject(Fault.delay(30), on="storage.part", times=None)
    task = asyncio.ensure_future(
        upload_async(os.urandom(SMALL.part_size * 6), client=aclient, settings=SMALL)
    )
    for _ in range(500):  # until the multipart upload has started (bounded: at most 5 s)
        if server.storage.pending_multipart():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.storage.attempts["complete"] == 0
    assert server.storage.uploads == {}
