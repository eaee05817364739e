"""``fal_typed.untyped(id)``: any endpoint id, with the runtime's guarantees and open models."""

from __future__ import annotations

from pathlib import Path

import pytest

import fal_typed
from fal_typed import (
    Client,
    FalValidationError,
    FileInputError,
    InvalidArgumentError,
    NotFoundError,
    UntypedInput,
    UntypedOutput,
)
from fal_typed.testing import Failure, Fault, LocalFal

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def test_a_dict_in_and_every_field_fal_sent_out(local_fal: LocalFal, client: Client) -> None:
    endpoint = fal_typed.untyped("fal-ai/flux/dev")
    assert endpoint.Input is UntypedInput and endpoint.Output is UntypedOutput
    out = endpoint.subscribe({"prompt": "a cat", "num_images": 2}, client=client)
    assert isinstance(out, UntypedOutput)
    assert len(out["images"]) == 2 and "seed" in out
    assert out.model_dump()["images"][0]["url"].startswith(local_fal.cdn_url)
    with pytest.raises(KeyError):
        out["no_such_field"]
    assert local_fal.requests_for("submit")[0].json() == {"prompt": "a cat", "num_images": 2}


def test_fal_judges_the_fields_and_errors_are_typed(local_fal: LocalFal, client: Client) -> None:
    endpoint = fal_typed.untyped("fal-ai/flux/dev")
    with pytest.raises(FalValidationError) as invalid:
        endpoint.run({"prompt": "a cat", "num_images": 99}, client=client)
    assert invalid.value.fields == ["num_images"]
    with pytest.raises(NotFoundError):
        fal_typed.untyped("acme/not-a-model").run({"prompt": "x"}, client=client)


def test_retries_and_failures_as_for_generated_modules(local_fal: LocalFal, client: Client) -> None:
    local_fal.inject(Fault.rate_limited(retry_after=0), on="submit")
    endpoint = fal_typed.untyped("fal-ai/flux/dev")
    assert endpoint.subscribe({"prompt": "a cat"}, client=client)["images"]
    assert [r.status_code for r in local_fal.requests_for("submit")] == [429, 200]
    local_fal.configure("fal-ai/flux/dev", failure=Failure(503, "No runner"))
    with pytest.raises(fal_typed.ServerError):
        endpoint.subscribe({"prompt": "a cat"}, client=client)


def test_local_files_are_uploaded(
    local_fal: LocalFal, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("in.png").write_bytes(PNG)
    endpoint = fal_typed.untyped("fal-ai/moondream2")
    for image in (Path("in.png"), PNG):
        endpoint.subscribe({"image_url": image}, client=client)
    sent = [r.json()["image_url"] for r in local_fal.requests_for("submit")]
    assert all(url.startswith((local_fal.cdn_url, "data:")) for url in sent), sent
    # A string is no local file (files/_strings.py): refused, as a path to nothing is.
    for path in ("in.png", "missing.png"):
        with pytest.raises(FileInputError, match="image_url"):
            endpoint.subscribe({"image_url": path}, client=client)
    assert len(local_fal.requests_for("submit")) == 2  # the bad ones were never sent


def test_a_malformed_id_fails_at_once() -> None:
    for bad in ("flux", "fal-ai/flux dev", "fal-ai//dev", "fal-ai/flux/dev?x=1"):
        with pytest.raises(InvalidArgumentError):
            fal_typed.untyped(bad)


def test_endpoint_stays_strict_and_names_the_way_out() -> None:
    with pytest.raises(fal_typed.UnknownEndpointError) as caught:
        fal_typed.endpoint("acme/brand-new-model")
    assert "fal_typed.untyped('acme/brand-new-model')" in str(caught.value)
    assert "fal-typed add acme/brand-new-model" in str(caught.value)
