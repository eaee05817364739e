"""Files through a real endpoint of the local server: inputs uploaded, output images saved.

``fal-ai/flux-lora/inpainting`` takes two file URLs (``image_url``, ``mask_url``) and LoRA
weights by URL (``loras[].path``) and returns images, which the server synthesises as real PNG
or JPEG files and serves from its CDN prefix.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from fal_typed import Client, Endpoint, InputModel, OutputModel
from fal_typed.files._output import FileOutput
from fal_typed.files._upload import extract_uploads, resolve_uploads, resolve_uploads_async
from fal_typed.testing import LocalFal

from .conftest import StorageServer

Image = pytest.importorskip("PIL.Image")

ENDPOINT_ID = "fal-ai/flux-lora/inpainting"


class LoraWeight(InputModel):
    path: str
    scale: float = 1.0


class InpaintingInput(InputModel):
    prompt: str
    image_url: str
    mask_url: str
    loras: list[LoraWeight] = Field(default_factory=list[LoraWeight])
    output_format: str | None = None


class OutputImage(FileOutput):
    url: str
    width: int | None = None
    height: int | None = None
    content_type: str | None = None


class InpaintingOutput(OutputModel):
    images: list[OutputImage]


inpainting = Endpoint(ENDPOINT_ID, InpaintingInput, InpaintingOutput)


def _sources(tmp_path: Path) -> tuple[Path, bytes, Any]:
    path = tmp_path / "photo.png"
    Image.new("RGB", (16, 12), (40, 90, 200)).save(path)
    weights = os.urandom(50_000)
    mask = Image.new("L", (16, 12), 255)
    return path, weights, mask


def _check_sent(server: StorageServer, sent: dict[str, Any], path: Path, weights: bytes) -> None:
    assert server.fetch(sent["image_url"]) == path.read_bytes()
    assert server.fetch(sent["loras"][0]["path"]) == weights
    mask = Image.open(io.BytesIO(server.fetch(sent["mask_url"])))
    assert mask.format == "PNG" and mask.size == (16, 12) and mask.getpixel((3, 3)) == 255


def test_path_bytes_and_pil_image_reach_the_endpoint_as_urls(
    server: StorageServer, local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    path, weights, mask = _sources(tmp_path)
    arguments = {
        "prompt": "a red door",
        "image_url": path,
        "mask_url": mask,
        "loras": [{"path": weights, "scale": 0.7}],
    }
    body, uploads = extract_uploads(arguments)
    validated = inpainting.arguments(None, body)  # placeholders validate like URLs
    assert sum(server.storage.attempts.values()) == 0  # nothing uploaded before validation
    output = inpainting.run(resolve_uploads(validated, uploads, client), client=client)
    (call,) = local_fal.requests_for("run", endpoint_id=ENDPOINT_ID)
    _check_sent(server, call.json(), path, weights)
    assert output.images


async def test_async_call_with_uploads(
    server: StorageServer, local_fal: LocalFal, aclient: Client, tmp_path: Path
) -> None:
    path, weights, mask = _sources(tmp_path)
    body, uploads = extract_uploads(
        {"prompt": "p", "image_url": path, "mask_url": mask, "loras": [{"path": weights}]}
    )
    resolved = await resolve_uploads_async(inpainting.arguments(None, body), uploads, aclient)
    await inpainting.subscribe_async(resolved, client=aclient)
    (call,) = local_fal.requests_for("submit", endpoint_id=ENDPOINT_ID)
    _check_sent(server, call.json(), path, weights)


def test_invalid_input_fails_before_any_upload(server: StorageServer, tmp_path: Path) -> None:
    path, _, _ = _sources(tmp_path)
    body, _ = extract_uploads({"prompt": "p", "image_url": path})  # mask_url missing
    with pytest.raises(ValueError, match="mask_url"):
        inpainting.arguments(None, body)
    assert sum(server.storage.attempts.values()) == 0


def test_output_image_save_writes_the_served_bytes(
    server: StorageServer, client: Client, tmp_path: Path
) -> None:
    output = inpainting.run(
        {
            "prompt": "p",
            "image_url": "https://example.com/in.png",
            "mask_url": "https://example.com/m.png",
        },
        client=client,
    )
    image = output.images[0]
    served = server.fetch(image.url)
    saved = image.save(tmp_path / "out", client=client)
    assert saved.read_bytes() == served
    with Image.open(saved) as saved_image:
        assert saved_image.size == (image.width, image.height)
    assert image.read(client=client) == served


async def test_output_image_asave(server: StorageServer, aclient: Client, tmp_path: Path) -> None:
    output = await inpainting.run_async(
        {
            "prompt": "p",
            "image_url": "https://example.com/in.png",
            "mask_url": "https://example.com/m.png",
        },
        client=aclient,
    )
    image = output.images[0]
    assert (await image.asave(tmp_path, client=aclient)).read_bytes() == server.fetch(image.url)
