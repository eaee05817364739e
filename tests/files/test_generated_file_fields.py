"""File fields of a generated module, nested ones and `Input` instances included, end to end.

``fal-ai/flux-general`` takes files at the top level (``reference_image_url``) and inside nested
models (``controlnets[].control_image_url``, ``controlnets[].mask_image_url``). Every form of the
call uploads them to the local server's CDN and sends their URLs; realtime inlines them.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import cast

import pytest
from fal_endpoints import flux_general

from fal_typed import Client, FalTimeoutError, InputValidationError, encode
from fal_typed.testing import LocalFal
from fal_typed.testing._realtime import RealtimeService

from .conftest import StorageServer

Image = pytest.importorskip("PIL.Image")

ENDPOINT_ID = "fal-ai/flux-general"
WEIGHTS = "https://example.com/controlnet.safetensors"
SLOW_UPLINK = 1 << 20  # bytes per second: a 24 MiB input would take ~24 s to upload


def _edge_map(tmp_path: Path) -> Path:
    path = tmp_path / "edges.png"
    Image.new("L", (16, 12), 200).save(path)
    return path


def test_an_input_instance_with_nested_local_files_is_uploaded(
    server: StorageServer, local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    edges, mask, reference = _edge_map(tmp_path), os.urandom(3_000), b"reference bytes"
    request = flux_general.FluxGeneralInput(
        prompt="a lighthouse",
        controlnets=[
            flux_general.ControlNet(path=WEIGHTS, control_image_url=edges, mask_image_url=mask)
        ],
        reference_image_url=io.BytesIO(reference),
    )

    output = flux_general.run(request, client=client)

    (call,) = local_fal.requests_for("run", endpoint_id=ENDPOINT_ID)
    sent = call.json()
    (controlnet,) = sent["controlnets"]
    assert controlnet["path"] == WEIGHTS  # a URL string is sent as it is
    assert server.fetch(controlnet["control_image_url"]) == edges.read_bytes()
    assert server.fetch(controlnet["mask_image_url"]) == mask
    assert server.fetch(sent["reference_image_url"]) == reference
    assert isinstance(output, flux_general.FluxGeneralOutput) and output.images
    assert request.controlnets[0].control_image_url == edges  # the caller's model is untouched


async def test_keyword_form_with_nested_models_uploads_them_async(
    server: StorageServer, local_fal: LocalFal, aclient: Client, tmp_path: Path
) -> None:
    edges = _edge_map(tmp_path)
    await flux_general.subscribe_async(
        prompt="a lighthouse",
        controlnets=[
            flux_general.ControlNet(path=WEIGHTS, control_image_url=edges),
            flux_general.ControlNet(path=WEIGHTS, control_image_url=edges),  # uploaded once
        ],
        client=aclient,
    )

    (call,) = local_fal.requests_for("submit", endpoint_id=ENDPOINT_ID)
    first, second = call.json()["controlnets"]
    assert first["control_image_url"] == second["control_image_url"]
    assert server.fetch(first["control_image_url"]) == edges.read_bytes()
    assert server.storage.attempts  # it went through the CDN, not inline


def test_bad_input_next_to_a_nested_file_fails_before_any_upload(
    server: StorageServer, local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    with pytest.raises(InputValidationError) as caught:
        flux_general.run(
            prompt="a lighthouse",
            controlnets=[
                flux_general.ControlNet(path=WEIGHTS, control_image_url=_edge_map(tmp_path))
            ],
            num_images=0,  # below the schema's minimum
            client=client,
        )
    assert caught.value.fields == ["num_images"]
    assert sum(server.storage.attempts.values()) == 0
    assert local_fal.requests_for("run", endpoint_id=ENDPOINT_ID) == []


def test_realtime_sends_local_files_inline_as_data_uris(
    server: StorageServer, local_fal: LocalFal, client: Client
) -> None:
    realtime_server = cast(RealtimeService, local_fal.state.extensions["realtime"])
    frame = io.BytesIO()
    Image.new("RGB", (8, 8), (250, 10, 10)).save(frame, format="PNG")

    with flux_general.realtime(client=client) as connection:
        connection.send(prompt="a red square", reference_image_url=frame.getvalue())
        result = connection.recv(timeout=30)

    assert isinstance(result, flux_general.FluxGeneralOutput)
    (received,) = realtime_server.inputs()
    assert received["reference_image_url"] == encode(frame.getvalue())
    assert received["reference_image_url"].startswith("data:image/png;base64,")
    assert sum(server.storage.attempts.values()) == 0  # nothing uploaded


def _check_gave_up(
    caught: pytest.ExceptionInfo[FalTimeoutError],
    elapsed: float,
    server: StorageServer,
    local_fal: LocalFal,
) -> None:
    assert elapsed < 12  # long before the upload could have finished
    assert caught.value.request_id is None and caught.value.timeout == 1.0
    assert "reference_image_url" in str(caught.value)
    assert "nothing was submitted" in str(caught.value)
    assert local_fal.requests_for("submit", endpoint_id=ENDPOINT_ID) == []
    assert server.storage.uploads == {}  # no object was stored


def test_client_timeout_bounds_the_upload_of_input_files(
    server: StorageServer, local_fal: LocalFal, client: Client
) -> None:
    server.storage.receive_rate = SLOW_UPLINK
    started = time.monotonic()
    with pytest.raises(FalTimeoutError) as caught:
        flux_general.subscribe(
            prompt="a lighthouse",
            reference_image_url=os.urandom(24 << 20),
            client_timeout=1.0,
            client=client,
        )
    _check_gave_up(caught, time.monotonic() - started, server, local_fal)


async def test_client_timeout_bounds_the_upload_of_input_files_async(
    server: StorageServer, local_fal: LocalFal, aclient: Client
) -> None:
    server.storage.receive_rate = SLOW_UPLINK
    started = time.monotonic()
    with pytest.raises(FalTimeoutError) as caught:
        await flux_general.subscribe_async(
            prompt="a lighthouse",
            reference_image_url=os.urandom(24 << 20),
            client_timeout=1.0,
            client=aclient,
        )
    _check_gave_up(caught, time.monotonic() - started, server, local_fal)
