"""Automatic upload of call inputs: extract_uploads, then resolve_uploads(_async)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import AnyUrl, BaseModel, ConfigDict

from fal_typed import Client, InvalidArgumentError
from fal_typed.files._arguments import PLACEHOLDER_PREFIX, attach_uploads
from fal_typed.files._upload import (
    FileInputError,
    UploadError,
    UploadSettings,
    configure_uploads,
    decode_data_uri,
    extract_uploads,
    resolve_uploads,
    resolve_uploads_async,
    upload_settings,
)

from .conftest import StorageServer

Image = pytest.importorskip("PIL.Image")


class _Mask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    weight: float = 1.0


class _EditInput(BaseModel):
    """Shaped like a generated input: URL-typed file fields, one with a URI format."""

    model_config = ConfigDict(extra="forbid")
    prompt: str
    image_url: str
    reference_url: AnyUrl | None = None
    image_urls: list[str] = []
    masks: list[_Mask] = []


def _png(color: tuple[int, int, int]) -> Any:
    return Image.new("RGB", (4, 4), color)


def test_sources_anywhere_become_placeholders_and_validate(tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    image = _png((1, 2, 3))
    arguments = {
        "prompt": "a cat",
        "image_url": path,
        "reference_url": b"raw bytes",
        "image_urls": ["https://example.com/a.png", image, "data:image/png;base64,AAAA"],
        "masks": [{"url": io.BytesIO(b"mask"), "weight": 0.5}],
    }
    body, uploads = extract_uploads(arguments)
    assert len(uploads) == 4
    assert all(p.startswith(PLACEHOLDER_PREFIX) for p in uploads)
    assert body["prompt"] == "a cat"
    assert body["image_urls"][0] == "https://example.com/a.png"  # strings are never touched
    assert body["image_urls"][2] == "data:image/png;base64,AAAA"
    assert uploads[body["image_url"]] is path
    assert uploads[body["image_urls"][1]] is image
    model = _EditInput.model_validate(body)  # placeholders pass str and URL validation
    assert str(model.reference_url) == body["reference_url"]
    assert arguments["image_url"] is path  # the caller's arguments are not modified


def test_same_source_twice_is_uploaded_once(tmp_path: Path) -> None:
    path = tmp_path / "same.png"
    path.write_bytes(b"x")
    data = b"shared"
    body, uploads = extract_uploads(
        {"image_url": path, "image_urls": [Path(str(path)), data, data]}
    )
    assert len(uploads) == 2
    assert body["image_url"] == body["image_urls"][0]
    assert body["image_urls"][1] == body["image_urls"][2]


def test_nested_model_values_are_walked() -> None:
    body, uploads = extract_uploads({"masks": [_Mask.model_construct(url=b"m")]})  # type: ignore[arg-type]
    assert list(uploads.values()) == [b"m"]
    assert body["masks"][0]["url"] in uploads


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"image_url": Path("/missing.png")}, "image_url", "no such file"),
        ({"masks": [{"url": io.StringIO("t")}]}, "masks[0].url", "text mode"),
        ({"image_urls": ["ok", Path("/gone")]}, "image_urls[1]", "no such file"),
    ],
)
def test_unusable_sources_fail_at_extraction_naming_the_field(
    arguments: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(FileInputError, match=message) as caught:
        extract_uploads(arguments)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_path_bytes_and_pil_image_resolve_to_the_same_bytes(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(os.urandom(20_000))
    image = _png((10, 200, 30))
    body, uploads = extract_uploads(
        {"prompt": "p", "image_url": path, "reference_url": b"ref-bytes", "image_urls": [image]}
    )
    body = _EditInput.model_validate(body).model_dump(mode="json", exclude_unset=True)
    resolved = resolve_uploads(body, uploads, client)
    assert resolved["prompt"] == "p"
    assert server.fetch(resolved["image_url"]) == path.read_bytes()
    assert server.fetch(resolved["reference_url"]) == b"ref-bytes"
    sent = Image.open(io.BytesIO(server.fetch(resolved["image_urls"][0])))
    assert sent.format == "PNG" and sent.getpixel((0, 0)) == (10, 200, 30)
    assert server.storage.uploads[resolved["image_url"]].file_name == "photo.jpg"
    assert server.storage.attempts["upload"] == 3 and server.storage.attempts["token"] == 1


async def test_async_resolution_uploads_concurrently(
    server: StorageServer, aclient: Client
) -> None:
    blobs = [os.urandom(1000 + i) for i in range(6)]
    body, uploads = extract_uploads({"image_urls": blobs})
    resolved = await resolve_uploads_async(body, uploads, aclient)
    assert [server.fetch(url) for url in resolved["image_urls"]] == blobs
    assert server.storage.attempts["token"] == 1


def test_placeholders_dropped_by_validation_are_not_uploaded(
    server: StorageServer, client: Client
) -> None:
    body, uploads = extract_uploads({"image_url": b"kept", "extra": b"dropped"})
    del body["extra"]
    resolved = resolve_uploads(body, uploads, client)
    assert server.fetch(resolved["image_url"]) == b"kept"
    assert server.storage.attempts["upload"] == 1


def test_nothing_to_upload_sends_nothing(server: StorageServer, client: Client) -> None:
    body, uploads = extract_uploads({"prompt": "x", "image_url": "https://example.com/i.png"})
    assert uploads == {}
    assert resolve_uploads(body, uploads, client) == body
    assert sum(server.storage.attempts.values()) == 0


def test_small_inputs_become_data_uris_under_the_threshold(
    server: StorageServer, client: Client
) -> None:
    body, uploads = extract_uploads(
        {"image_url": b"\x89PNG\r\n\x1a\n" + b"1" * 10, "video_url": b"2" * 5000}
    )
    resolved = resolve_uploads(
        body, uploads, client, settings=UploadSettings(data_uri_threshold=4096)
    )
    assert resolved["image_url"].startswith("data:image/png;base64,")
    assert decode_data_uri(resolved["image_url"]) == b"\x89PNG\r\n\x1a\n" + b"1" * 10
    assert server.fetch(resolved["video_url"]) == b"2" * 5000
    assert server.storage.attempts["upload"] == 1


def test_process_wide_threshold_is_used_by_default(server: StorageServer, client: Client) -> None:
    assert upload_settings().data_uri_threshold == 0  # off by default
    previous = upload_settings()
    configure_uploads(data_uri_threshold=1024)
    try:
        body, uploads = extract_uploads({"image_url": b"small"})
        resolved = resolve_uploads(body, uploads, client)
    finally:
        configure_uploads(**{"data_uri_threshold": previous.data_uri_threshold})
    assert resolved["image_url"] == "data:application/octet-stream;base64,c21hbGw="
    assert sum(server.storage.attempts.values()) == 0
    with pytest.raises(InvalidArgumentError, match="unknown upload setting 'no_such_setting'"):
        configure_uploads(no_such_setting=1)
    with pytest.raises(ValueError, match="data_uri_threshold"):
        configure_uploads(data_uri_threshold=-1)
    assert upload_settings() == previous


def test_failed_upload_names_the_field(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "input.png"
    path.write_bytes(b"data")
    server.storage.fail("upload", times=None, status=500)
    server.storage.fail("initiate", times=None, status=500)
    body, uploads = extract_uploads({"image_urls": ["https://x.test/a.png", path]})
    with pytest.raises(UploadError) as caught:
        resolve_uploads(body, uploads, client, settings=UploadSettings(retry_backoff=0.0))
    assert str(path) in caught.value.file and "image_urls[1]" in caught.value.file
    assert server.storage.uploads == {}


async def test_async_failure_names_the_field(server: StorageServer, aclient: Client) -> None:
    server.storage.fail("upload", times=None, status=500)
    body, uploads = extract_uploads({"masks": [{"url": b"m1"}], "image_url": b"ok"})
    with pytest.raises(UploadError, match=r"masks\[0\]\.url|image_url"):
        await resolve_uploads_async(
            body, uploads, aclient, settings=UploadSettings(retry_backoff=0.0, fallback=False)
        )


def test_several_failing_uploads_report_a_real_failure(
    server: StorageServer, client: Client
) -> None:
    server.storage.fail("upload", times=None, status=500)
    body, uploads = extract_uploads({"image_urls": [b"a", b"bb", b"ccc", b"dddd", b"eeeee"]})
    settings = UploadSettings(retry_backoff=0.0, fallback=False, max_parallel_files=2)
    with pytest.raises(UploadError, match=r"HTTP 500") as caught:
        resolve_uploads(body, uploads, client, settings=settings)
    assert "image_urls[" in caught.value.file
    assert server.storage.uploads == {}


def test_attached_uploads_travel_with_the_validated_body(
    server: StorageServer, client: Client
) -> None:
    body, uploads = extract_uploads({"prompt": "p", "image_url": b"img"})
    validated = _EditInput.model_validate(body).model_dump(mode="json", exclude_unset=True)
    carried = attach_uploads(validated, uploads)  # what Endpoint.arguments hands to a call
    assert carried == validated and "1 pending uploads" in repr(carried)
    again, pending = extract_uploads(carried)  # what a call does with whatever it is given
    assert pending == uploads and again == validated
    resolved = resolve_uploads(again, pending, client)
    assert server.fetch(resolved["image_url"]) == b"img"
    plain = attach_uploads(validated, {})
    assert type(plain) is dict and plain == validated
