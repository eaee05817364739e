"""Strings in file fields (files/_strings.py).

A URL (or a name such as ``canny``) is sent as is. A string that looks like a path is refused,
before anything is sent, without the library looking at the filesystem: a service passing its
users' strings into file fields must not upload the files they name, nor tell them which exist.
Where the strings are the user's own (the command line, batch files, or a process that set
``configure_uploads(local_file_strings=True)``), a string naming a local file is uploaded like a
``Path`` and one naming nothing is an error naming the field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
from fal_endpoints import alibaba__happy_horse_reference_to_video as happy_horse
from fal_endpoints import flux_general, moondream2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fal_typed
from fal_typed import Client, FileInputError, UploadSettings, configure_uploads, upload_settings
from fal_typed.files._strings import _shown, file_string, is_file_field
from fal_typed.testing import DEFAULT_KEY, LocalFal
from fal_typed.testing._realtime import RealtimeService

PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.png").write_bytes(PNG)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "edges.png").write_bytes(PNG + b"edges")
    return tmp_path


@pytest.fixture
def local_strings() -> Iterator[None]:
    """The process lets strings name local files, as a notebook's user may ask."""
    before = upload_settings()
    configure_uploads(local_file_strings=True)
    try:
        yield
    finally:
        configure_uploads(local_file_strings=before.local_file_strings)


def _sent(fal: LocalFal) -> dict[str, object]:
    body: dict[str, object] = fal.requests_for("submit")[-1].json()
    return body


def _served(url: object) -> bytes:
    assert isinstance(url, str)
    if url.startswith("data:"):
        from fal_typed import decode_data_uri

        return decode_data_uri(url).data
    return httpx.get(url).content


LOOKS_LIKE_A_PATH = ("in.png", "./images/edges.png", "images/edges.png", "~/in.png", "missing.png")


def test_by_default_a_string_is_never_read_as_a_local_file(workdir: Path) -> None:
    assert upload_settings().local_file_strings is False
    for kept in ("https://x.test/a.png", "data:image/png;base64,AA==", "gs://b/a.png", "canny", ""):
        assert file_string(kept, field="f", local=False) == kept
    # A file that exists and one that does not are refused alike: the error tells nothing of
    # what this machine holds, and says what to do instead.
    existing = str(workdir / "in.png")
    for value in (*LOOKS_LIKE_A_PATH, existing, existing + ".gone", "/etc/passwd"):
        with pytest.raises(FileInputError) as caught:
            file_string(value, field="image_url", local=False)
        assert caught.value.field == "image_url"
        assert str(caught.value) == (
            f"image_url: {_shown(value)} is not a URL (URLs start with http://, https:// or data:); to "
            "upload a local file, give it as a pathlib.Path or as bytes (or let strings name "
            "local files: configure_uploads(local_file_strings=True)) (error_type=file_input)"
        )
    for url in (Path(existing).as_uri(), "file:///etc/passwd", "FILE:/etc/passwd"):
        with pytest.raises(FileInputError, match="names a file on this machine") as caught:
            file_string(url, field="image_url", local=False)
        assert caught.value.field == "image_url"


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(),
        st.sampled_from(LOOKS_LIKE_A_PATH),
        st.from_regex(r"[~./]?[a-z/]{0,8}(\.[a-z]{2,4})?", fullmatch=True),
    )
)
def test_by_default_judging_a_string_never_looks_at_the_filesystem(
    text: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def looked(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the filesystem was looked at for {text!r}")

    with monkeypatch.context() as patched:
        for name in ("stat", "lstat", "access", "getcwd", "listdir", "scandir"):
            patched.setattr(os, name, looked)
        patched.setattr(os.path, "lexists", looked)
        patched.setattr(os.path, "exists", looked)
        try:
            judged = file_string(text, field="url", local=False)
        except FileInputError as exc:
            judged = exc
    # Whatever it was, it is sent as given or refused: never a file to read.
    assert judged == text or isinstance(judged, FileInputError)


def test_by_default_every_call_refuses_a_path_string_before_anything_is_sent(
    workdir: Path, local_fal: LocalFal, local_fal_client: Client
) -> None:
    client = local_fal_client
    absolute = str(workdir / "in.png")
    nested = flux_general.Input(
        prompt="a lighthouse",
        easycontrols=[
            flux_general.EasyControlWeight(
                control_method_url="canny", image_url=absolute, image_control_type="spatial"
            )
        ],
    )
    calls = {
        "image_url": lambda: moondream2.subscribe(image_url="in.png", client=client),
        "image_url ": lambda: moondream2.submit(image_url=absolute, client=client),
        "image_url  ": lambda: moondream2.run(image_url="~/in.png", client=client),
        "image_url   ": lambda: moondream2.stream(image_url="in.png", client=client),
        "easycontrols[0].image_url": lambda: flux_general.subscribe(nested, client=client),
        "image_urls[1]": lambda: happy_horse.subscribe(
            prompt="a horse", image_urls=["https://x.test/b.png", "in.png"], client=client
        ),
        "image_url    ": lambda: fal_typed.untyped("fal-ai/moondream2").subscribe(
            {"image_url": "in.png"}, client=client
        ),
        "image_url     ": lambda: fal_typed.endpoint("fal-ai/moondream2").submit(
            {"image_url": "file://" + absolute}, client=client
        ),
    }
    for field, call in calls.items():
        with pytest.raises(FileInputError) as caught:
            call()
        assert caught.value.field == field.strip(), field
        assert "pathlib.Path" in str(caught.value)
    assert local_fal.requests == []  # nothing uploaded, nothing submitted
    realtime = cast(RealtimeService, local_fal.state.extensions["realtime"])
    with flux_general.realtime(client=client) as connection, pytest.raises(FileInputError):
        connection.send(prompt="a red square", reference_image_url="in.png")
    assert realtime.inputs() == []  # no frame carried it

    # A Path is a local file, and is uploaded.
    moondream2.subscribe(image_url=Path("in.png"), client=client)
    assert _served(_sent(local_fal)["image_url"]) == PNG


def test_the_setting_is_a_bool() -> None:
    for name in ("local_file_strings", "fallback"):
        with pytest.raises(ValueError, match=f"UploadSettings.{name} must be True or False"):
            UploadSettings(**{name: "no"})
    with pytest.raises(ValueError, match="local_file_strings"):
        configure_uploads(local_file_strings=1)
    assert upload_settings().local_file_strings is False


def test_the_rule_where_strings_are_the_user_s_own(workdir: Path) -> None:
    for kept in ("https://x.test/a.png", "http://x.test/a", "data:image/png;base64,AA==", "canny"):
        assert file_string(kept, field="f") == kept
    assert file_string("gs://bucket/a.png") == "gs://bucket/a.png"  # another scheme: fal's call
    assert file_string("") == ""
    assert file_string("in.png") == Path("in.png")
    assert file_string("./images/edges.png") == Path("images/edges.png")
    assert file_string("images") == Path("images")  # exists: refused later, as a directory
    assert file_string(Path("in.png").absolute().as_uri()) == Path("in.png").absolute()
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


def test_with_local_file_strings_a_relative_path_is_uploaded_never_sent_as_a_url(
    workdir: Path, local_strings: None, local_fal: LocalFal, local_fal_client: Client
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


def test_with_local_file_strings_a_path_to_nothing_is_an_error_naming_the_field_before_sending(
    workdir: Path, local_strings: None, local_fal: LocalFal, local_fal_client: Client
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


def _refusal(value: str, *, local: bool, field: str = "image_url") -> FileInputError:
    with pytest.raises(FileInputError) as caught:
        file_string(value, field=field, local=local)
    assert caught.value.field == field
    return caught.value


def test_a_refusal_quotes_the_string_up_to_80_characters(workdir: Path) -> None:
    def message(shown: str) -> str:
        return (
            f"image_url: {shown} is not a URL (URLs start with http://, https:// or data:); to "
            "upload a local file, give it as a pathlib.Path or as bytes (or let strings name "
            "local files: configure_uploads(local_file_strings=True)) (error_type=file_input)"
        )

    whole = "images/" + "a" * 69 + ".png"
    assert len(whole) == 80
    assert str(_refusal(whole, local=False)) == message(f"'{whole}'")
    assert str(_refusal("in.png", local=False)) == message("'in.png'")
    longer = "images/" + "a" * 70 + ".png"  # 81 characters: the first 79, then an ellipsis
    assert str(_refusal(longer, local=False)) == message(f"'{longer[:79]}\u2026'")


def test_a_missing_path_names_the_working_directory_only_when_it_is_relative(
    workdir: Path,
) -> None:
    assert str(_refusal("/no-such-file-here.png", local=True)) == (
        "image_url: '/no-such-file-here.png' is neither a URL nor an existing file (URLs start with "
        "http://, https:// or data:) (error_type=file_input)"
    )
    assert str(_refusal("gone.png", local=True)) == (
        "image_url: 'gone.png' is neither a URL nor an existing file (URLs start with "
        f"http://, https:// or data:; paths are relative to {os.getcwd()}) (error_type=file_input)"
    )


def test_file_urls_name_a_file_of_this_machine_or_are_refused_saying_why(workdir: Path) -> None:
    assert str(_refusal("file:///in.png", local=False)) == (
        "image_url: 'file:///in.png' names a file on this machine, which fal cannot fetch; to "
        "upload it, give it as a pathlib.Path or as bytes (error_type=file_input)"
    )
    # With local files asked for: this machine's host (none, or localhost), and a path to a file.
    here = workdir / "in.png"
    assert file_string(here.as_uri()) == here
    assert file_string(f"file://localhost{here}") == here
    assert file_string(f"file://LocalHost{here}") == here  # a host name is any case
    for elsewhere in ("file://otherhost/", "file:", "file://localhost"):  # "/" exists here
        assert str(_refusal(elsewhere, local=True)) == (
            f"image_url: {elsewhere!r} is not a file URL of this machine (error_type=file_input)"
        )
    assert str(_refusal("file:///no-such-file-here.png", local=True, field="image_urls[2]")) == (
        "image_urls[2]: 'file:///no-such-file-here.png' names no existing file "
        "(error_type=file_input)"
    )


def test_the_strings_of_a_urls_sequence_are_judged_and_it_keeps_its_kind() -> None:
    from fal_typed.files._arguments import extract_uploads

    urls = ["https://x.test/a.png", "canny"]
    body, uploads = extract_uploads({"image_urls": tuple(urls), "mask_urls": list(urls)})
    assert body == {"image_urls": tuple(urls), "mask_urls": urls} and uploads == {}
    assert type(body["image_urls"]) is tuple and type(body["mask_urls"]) is list
    with pytest.raises(FileInputError) as caught:
        extract_uploads({"image_urls": ("https://x.test/a.png", "in.png")})
    assert caught.value.field == "image_urls[1]"
    # Anything but a string or a sequence of them, in a file field, is left for validation.
    untouched = {"image_urls": None, "image_url": None, "mask_urls": 3, "video_urls": {"a": "b"}}
    assert extract_uploads(untouched) == (untouched, {})


@pytest.mark.parametrize("local", [True, False])
def test_a_file_url_urlsplit_cannot_read_is_refused_naming_the_field(local: bool) -> None:
    """'file://[oops/x.png' raised urlsplit's ValueError ('Invalid IPv6 URL') out of the call."""
    expected = "is not a file URL of this machine" if local else "names a file on this machine"
    with pytest.raises(FileInputError, match=expected) as caught:
        file_string("file://[oops/x.png", field="image_url", local=local)
    assert caught.value.field == "image_url"


@pytest.mark.parametrize(
    "url", [" https://example.com/cat.png", "https://example.com/cat.png\n", "\tdata:,x"]
)
def test_a_url_pasted_with_whitespace_around_it_is_refused_before_sending(
    local_fal: LocalFal, url: str
) -> None:
    """It was sent as written (a trailing line break too: the call was taken, and fal failed to
    fetch the file), or, with spaces in front, said to be 'not a URL'."""
    for local in (True, False):
        with pytest.raises(FileInputError) as caught:
            file_string(url, field="image_url", local=local)
        assert caught.value.message == (
            f"image_url: {url!r} is a URL with spaces or a line break around it: strip it"
        )
    with pytest.raises(FileInputError, match="strip it"):
        moondream2.run(image_url=url, prompt="what is it?", client=local_fal.client())
    assert local_fal.requests == []
