"""Data-URI helpers: encode, encode_file, decode (no network)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from fal_typed import FalError, InvalidArgumentError
from fal_typed.files._data_uri import data_uri_content_type
from fal_typed.files._upload import FileInputError, decode_data_uri, encode, encode_file


def test_encode_bytes_round_trips_with_sniffed_type() -> None:
    data = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256))
    uri = encode(data)
    assert uri.startswith("data:audio/wav;base64,")
    assert decode_data_uri(uri) == data
    assert data_uri_content_type(uri) == "audio/wav"


def test_encode_explicit_type_and_file_object() -> None:
    assert encode(io.BytesIO(b"abc"), "text/plain") == "data:text/plain;base64,YWJj"


def test_encode_file_guesses_from_the_name(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom")
    uri = encode_file(path)
    assert uri.startswith("data:video/mp4;base64,")
    assert decode_data_uri(uri) == path.read_bytes()
    assert encode_file(str(path)) == uri


def test_encode_pil_image() -> None:
    Image = pytest.importorskip("PIL.Image")
    uri = encode(Image.new("L", (2, 2), 255))
    assert uri.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(decode_data_uri(uri))).size == (2, 2)


def test_encode_rejects_paths_and_strings(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="encode_file"):
        encode(tmp_path / "x")
    with pytest.raises(FileInputError, match="str is not an upload source"):
        encode("hello")
    with pytest.raises(FileInputError, match="no such file"):
        encode_file(tmp_path / "missing.png")


def test_decode_plain_percent_encoded_and_wrapped_base64() -> None:
    assert decode_data_uri("data:,hello%20world") == b"hello world"
    assert data_uri_content_type("data:,x") == "text/plain"
    wrapped = base64.b64encode(b"x" * 100).decode()
    wrapped = "\n".join(wrapped[i : i + 76] for i in range(0, len(wrapped), 76))
    assert decode_data_uri(f"data:application/octet-stream;base64,{wrapped}") == b"x" * 100


@pytest.mark.parametrize("uri", ["https://x/y", "data:image/png;base64", "data:;base64,@@@@"])
def test_decode_rejects_malformed(uri: str) -> None:
    with pytest.raises(FalError):
        decode_data_uri(uri)


@pytest.mark.parametrize("given", [None, b"data:,x", 5, ["data:,x"]])
@pytest.mark.parametrize("read", ["decode_data_uri", "data_uri_content_type"])
def test_a_data_uri_that_is_not_a_string_is_refused_naming_its_type(
    given: object, read: str
) -> None:
    reader = decode_data_uri if read == "decode_data_uri" else data_uri_content_type
    with pytest.raises(InvalidArgumentError) as caught:
        reader(given)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert caught.value.message == f"a data URI must be a string, got {type(given).__name__}"
