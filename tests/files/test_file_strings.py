"""Strings in file fields: one rule for the library and the command line (files/_strings.py).

A URL (or a name such as ``canny``) is sent as is; a string naming a local file is uploaded like a
``Path``; a path to nothing is an error naming the field, raised before anything is sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fal_endpoints import alibaba__happy_horse_reference_to_video as happy_horse
from fal_endpoints import flux_general, moondream2

from fal_typed import Client, FileInputError
from fal_typed.files._strings import file_string, is_file_field
from fal_typed.testing import DEFAULT_KEY, LocalFal

PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.png").write_bytes(PNG)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "edges.png").write_bytes(PNG + b"edges")
    return tmp_path


def _sent(fal: LocalFal) -> dict[str, object]:
    body: dict[str, object] = fal.requests_for("submit")[-1].json()
    return body


def _served(url: object) -> bytes:
    assert isinstance(url, str)
    if url.startswith("data:"):
        from fal_typed import decode_data_uri

        return decode_data_uri(url).data
    return httpx.get(url).content


def test_the_rule(workdir: Path) -> None:
    for kept in ("https://x.test/a.png", "http://x.test/a", "data:image/png;base64,AA==", "canny"):
        assert file_string(kept, field="f") == kept
    assert file_string("gs://bucket/a.png") == "gs://bucket/a.png"  # another scheme: fal's call
    assert file_string("") == ""
    assert file_string("in.png") == Path("in.png")
    assert file_string("./images/edges.png") == Path("images/edges.png")
    assert file_string("images") == Path("images")  # exists: refused later, as a directory
    for missing in ("missing.png", "images/gone.png", "./gone", "~/no-such-file-here"):
        with pytest.raises(FileInputError, match="neither a URL nor an existing file") as caught:
            file_string(missing, field="image_url")
        assert caught.value.field == "image_url"
    assert [
        n for n in ("url", "image_url", "image_urls", "urls", "curl", "x_url_y") if is_file_field(n)
    ] == [
        "url",
        "image_url",
        "image_urls",
    ]


def test_a_relative_path_is_uploaded_never_sent_as_a_url(
    workdir: Path, local_fal: LocalFal, local_fal_client: Client
) -> None:
    moondream2.subscribe(image_url="in.png", client=local_fal_client)
    url = _sent(local_fal)["image_url"]
    assert url != "in.png" and _served(url) == PNG

    # An Input instance holding the string is judged the same way, nested fields and lists too.
    request = flux_general.Input(
        prompt="a lighthouse",
        easycontrols=[
            flux_general.EasyControlWeight(
                control_method_url="canny",  # a name the endpoint knows: sent as is
                image_url="images/edges.png",
                image_control_type="spatial",
            )
        ],
    )
    flux_general.subscribe(request, client=local_fal_client)
    [control] = _sent(local_fal)["easycontrols"]  # type: ignore[misc]
    assert control["control_method_url"] == "canny"
    assert _served(control["image_url"]) == PNG + b"edges"

    happy_horse.subscribe(
        prompt="a horse", image_urls=["in.png", "https://x.test/b.png"], client=local_fal_client
    )
    first, second = _sent(local_fal)["image_urls"]  # type: ignore[misc]
    assert _served(first) == PNG and second == "https://x.test/b.png"


def test_a_path_to_nothing_is_an_error_naming_the_field_before_sending(
    workdir: Path, local_fal: LocalFal, local_fal_client: Client
) -> None:
    with pytest.raises(FileInputError) as caught:
        moondream2.subscribe(image_url="missing.png", client=local_fal_client)
    assert caught.value.field == "image_url" and str(workdir) in str(caught.value)
    with pytest.raises(FileInputError) as nested:
        happy_horse.subscribe(
            prompt="a horse", image_urls=["in.png", "gone.jpg"], client=local_fal_client
        )
    assert nested.value.field == "image_urls[1]"
    with pytest.raises(FileInputError, match="directory"):
        moondream2.subscribe(image_url="images", client=local_fal_client)
    assert local_fal.requests == []  # nothing uploaded, nothing submitted


def test_the_command_line_follows_the_same_rule(workdir: Path, local_fal: LocalFal) -> None:
    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fal_typed.cli", "call", *args],
            cwd=workdir,
            env={
                "PATH": "/usr/bin:/bin",
                "FAL_TYPED_BASE_URL": local_fal.base_url,
                "FAL_KEY": DEFAULT_KEY,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = call("fal-ai/moondream2", "--image-url", "in.png")
    assert done.returncode == 0, done.stderr
    assert _served(_sent(local_fal)["image_url"]) == PNG
    easycontrol = {
        "control_method_url": "canny",
        "image_url": "images/edges.png",
        "image_control_type": "spatial",
    }
    done = call("fal-ai/flux-general", "--prompt", "x", "--easycontrols", json.dumps(easycontrol))
    assert done.returncode == 0, done.stderr
    [control] = _sent(local_fal)["easycontrols"]  # type: ignore[misc]
    assert (
        control["control_method_url"] == "canny" and _served(control["image_url"]) == PNG + b"edges"
    )
    before = len(local_fal.requests)
    done = call("fal-ai/moondream2", "--image-url", "missing.png")
    assert done.returncode == 2 and "neither a URL nor an existing file" in done.stderr
    assert len(local_fal.requests) == before
