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
