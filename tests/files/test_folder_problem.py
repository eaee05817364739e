"""A folder the caller names (``--save``, a batch's ``out``) that is something else is said as
what it is, by one rule (``files._local.folder_problem``).

``--save /dev/full`` said "cannot create /dev/full: File exists", and ``--save /dev/full/x``
"Not a directory"; a batch's ``out`` called a device "a file"."""

from __future__ import annotations

from pathlib import Path

import pytest

from fal_typed import InvalidArgumentError
from fal_typed.batch._checks import check_out
from fal_typed.files._local import folder_problem

from ..cli.helpers import run_cli

needs_dev_null = pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")


@needs_dev_null
def test_a_device_or_a_path_under_one_is_no_folder(tmp_path: Path) -> None:
    assert folder_problem(Path("/dev/null")) == "/dev/null is a character device, not a folder"
    assert folder_problem(Path("/dev/null/x/y")) == (
        "/dev/null is a character device, so /dev/null/x/y cannot be made"
    )
    (tmp_path / "file").write_bytes(b"")
    assert folder_problem(tmp_path / "file") == f"{tmp_path / 'file'} is a file, not a folder"
    assert folder_problem(tmp_path) is None
    assert folder_problem(tmp_path / "new" / "deeper") is None
    with pytest.raises(InvalidArgumentError, match="out must be a folder: /dev/null is a char"):
        check_out("/dev/null")


@needs_dev_null
@pytest.mark.parametrize(
    ("save", "message"),
    [
        ("/dev/null", "'--save': /dev/null is a character device, not a folder"),
        ("/dev/null/out", "'--save': /dev/null is a character device, so /dev/null/out cannot"),
    ],
)
def test_call_save_into_a_device_says_what_it_is(save: str, message: str) -> None:
    run = run_cli(
        "call", "fal-ai/flux/dev", "--prompt", "a cat", "--save", save,
        FAL_KEY="id:secret", FAL_TYPED_BASE_URL="http://127.0.0.1:9",
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert message in " ".join(run.stderr.split())
    assert "File exists" not in run.stderr


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "path must not be empty: give a file's path, or a folder ('.' for this one)"),
        (" ", "path must not be empty"),
        ("{file}/x.png", "cannot save to {file}/x.png: {file} is a file, not a folder"),
        ("{file}/a/b.png", "cannot save to {file}/a/b.png: {file} is a file, so {file}/a cannot"),
        ("{file}/", "cannot save into {file}/: {file} is a file, not a folder"),
    ],
)
def test_save_says_what_is_in_the_way_before_downloading(
    tmp_path: Path, path: str, message: str
) -> None:
    """save('') saved into the working directory; a path under a file said its 'directory does
    not exist', and a folder path ending in a separator under one 'cannot create the folder
    (Not a directory)'."""
    from fal_typed.files._save import save_target

    file = tmp_path / "a-file"
    file.write_bytes(b"")
    with pytest.raises(InvalidArgumentError) as caught:
        save_target(path.format(file=file), "image.png")
    assert caught.value.message.startswith(message.format(file=file))


def test_a_folder_the_system_cannot_look_at_is_said_not_raised(tmp_path: Path) -> None:
    """``Path.exists()`` re-raises a name too long (and a parent it may not enter): ``--save``
    with such a path ended in a raw OSError, exit 1, where it was a usage error before."""
    long = tmp_path / ("x" * 300) / "out"
    assert folder_problem(long) == f"{long} cannot be used: File name too long"
    run = run_cli(
        "call", "fal-ai/flux/dev", "--prompt", "a cat", "--save", str(long),
        FAL_KEY="id:secret", FAL_TYPED_BASE_URL="http://127.0.0.1:9",
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "File name too long" in run.stderr and "Traceback" not in run.stderr
