"""``python -m wheels``: wrong options and an unwritable output end with a message, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheels.__main__ import main


@pytest.mark.parametrize(
    ("jobs", "reason"),
    [
        ("0", "must be at least 1, got 0"),
        ("-3", "must be at least 1, got -3"),
        ("two", "not a whole number: 'two'"),
        ("1.5", "not a whole number: '1.5'"),
    ],
)
def test_jobs_must_be_a_count_of_workers(
    jobs: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--out", str(tmp_path / "out"), "--jobs", jobs, "fal-ai/flux/dev"])
    assert exited.value.code == 2
    assert f"argument --jobs: {reason}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was built


def test_an_output_that_cannot_be_made_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "wheels"
    assert main(["--out", str(out), "fal-ai/flux/dev"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the wheels (")
    assert str(blocker) in err
    assert "Traceback" not in err


def test_a_root_that_is_no_checkout_is_named_as_read_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OSError reading --root's files said "cannot write the wheels", sending the user to look
    at --out, which was fine."""
    root = tmp_path / "not-a-checkout"
    root.mkdir()
    out = tmp_path / "out"
    assert main(["--root", str(root), "--out", str(out), "fal-ai/flux/dev"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read {root / 'pyproject.toml'} (")
    assert "is --root a fal-typed checkout?" in err
    assert "cannot write" not in err
    assert "Traceback" not in err
