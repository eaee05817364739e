"""The local server's files are in the format the request asks for (``output_format`` and the
like, or the input schema's default when it is not sent), so ``save("cat.jpg")`` writes a JPEG."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import httpx
import pytest
from fal_endpoints import flux_dev
from PIL import Image

import fal_typed
from fal_typed import Client
from fal_typed.testing import LocalFal
from fal_typed.testing._media import MP3_FRAME_BYTES, MediaSpec, make_media
from fal_typed.testing._synth import format_kind

_MP3_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """(bitrate kbit/s, sample rate, frame length) of each MPEG-1 Layer III frame, walking the
    stream by the lengths the headers give; fails on anything else."""
    frames: list[tuple[int, int, int]] = []
    offset = 0
    while offset < len(data):
        (header,) = struct.unpack(">I", data[offset : offset + 4])
        assert header >> 21 == 0x7FF, f"no frame sync at {offset}"
        assert (header >> 19) & 3 == 3 and (header >> 17) & 3 == 1, "MPEG-1 Layer III"
        bitrate = _MP3_BITRATES[(header >> 12) & 0xF]
        rate = (44_100, 48_000, 32_000)[(header >> 10) & 3]
        length = 144 * bitrate * 1000 // rate + ((header >> 9) & 1)
        frames.append((bitrate, rate, length))
        offset += length
    assert offset == len(data), "frames tile the file exactly"
    return frames


def test_format_values_map_to_kinds() -> None:
    table = {
        "jpeg": "jpeg",
        "png": "png",
        "webp": "webp",
        "mp3": "mp3",
        "wav": "wav",
        "mp3_44100_128": "mp3",
        "pcm_16000": "wav",
        "X264 (.mp4)": "mp4",
        "url": None,
    }
    assert {value: format_kind(value) for value in table} == table


def test_mp3_is_a_stream_of_frames_of_the_reported_duration() -> None:
    media = make_media(MediaSpec("mp3"))
    frames = mp3_frames(media.data)
    assert {f[:2] for f in frames} == {(128, 44_100)} and frames[0][2] == MP3_FRAME_BYTES
    assert media.duration == len(frames) * 1152 / 44_100
    assert media.content_type == "audio/mpeg" and media.extension == "mp3"


def _image(url: str) -> Image.Image:
    image = Image.open(io.BytesIO(httpx.get(url).content))
    image.load()
    return image


def test_flux_dev_defaults_to_jpeg_and_follows_output_format(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path
) -> None:
    out = flux_dev.subscribe(prompt="a cat", client=local_fal_client)  # output_format not sent
    assert "output_format" not in local_fal.requests_for("submit")[0].json()
    image = out.images[0]
    assert image.content_type == "image/jpeg" and image.url.endswith(".jpg")
    saved = image.save(tmp_path / "cat.jpg", client=local_fal_client)
    assert Image.open(saved).format == "JPEG"

    png = flux_dev.subscribe(prompt="a cat", output_format="png", client=local_fal_client)
    assert png.images[0].content_type == "image/png"
    assert _image(png.images[0].url).format == "PNG"


@pytest.mark.parametrize(("requested", "fmt"), [(None, "PNG"), ("webp", "WEBP"), ("jpeg", "JPEG")])
def test_webp_where_the_endpoint_offers_it(
    local_fal: LocalFal, local_fal_client: Client, requested: str | None, fmt: str
) -> None:
    endpoint = fal_typed.endpoint("fal-ai/flux-2")  # output_format: jpeg, png, webp; default png
    fields = {"prompt": "a cat"} | ({"output_format": requested} if requested else {})
    out = endpoint.subscribe(endpoint.arguments(fields), client=local_fal_client)
    image = out.images[0]  # type: ignore[attr-defined]
    assert _image(image.url).format == fmt
    assert image.content_type == f"image/{fmt.lower()}"


def test_audio_follows_output_format(local_fal: LocalFal, local_fal_client: Client) -> None:
    endpoint = fal_typed.untyped("fal-ai/stable-audio-3/small/sfx/text-to-audio")  # mp3 default
    out = endpoint.run({"prompt": "rain"}, client=local_fal_client)
    files = [
        value for value in out.model_dump().values() if isinstance(value, dict) and "url" in value
    ]
    assert files and files[0]["content_type"] == "audio/mpeg"
    assert mp3_frames(httpx.get(files[0]["url"]).content)
    out = endpoint.run({"prompt": "rain", "output_format": "wav"}, client=local_fal_client)
    wav = next(v for v in out.model_dump().values() if isinstance(v, dict) and "url" in v)
    assert wav["content_type"] == "audio/wav"
    assert httpx.get(wav["url"]).content[:4] == b"RIFF"
