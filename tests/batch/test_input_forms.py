"""The same rows read the same from a file and from standard input, whatever a spreadsheet or a
shell wrote around them: a byte-order mark (PowerShell's pipes write one), CRLF line ends, a
quoted cell holding a newline, an empty line. From standard input a BOM made the first JSONL row
"not JSON" and the first CSV column ``\\ufeffprompt``, so every row was invalid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BOM = b"\xef\xbb\xbf"
COMMAND = [sys.executable, "-m", "fal_typed.cli", "batch", "run", "fal-ai/flux/dev"]
FORMS = [
    pytest.param("jsonl", b'{"prompt": "a"}\r\n\r\n{"prompt": "b", "seed": 2}\r\n', id="jsonl"),
    pytest.param("csv", b'prompt,seed\r\n"multi\r\nline",1\r\n\r\nb,2\r\n', id="csv"),
]


def _dry_run(source: str, fmt: str, cwd: Path, data: bytes | None) -> str:
    done = subprocess.run(
        [*COMMAND, source, "--format", fmt, "--dry-run", "--journal", str(cwd / "j.db")],
        input=data,
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "FAL_KEY": "id:secret", "HOME": str(cwd)},
    )
    text = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, text
    return text


@pytest.mark.parametrize("bom", [b"", BOM], ids=["no-bom", "bom"])
@pytest.mark.parametrize(("fmt", "body"), FORMS)
def test_a_file_and_standard_input_read_the_same_rows(
    tmp_path: Path, fmt: str, body: bytes, bom: bytes
) -> None:
    (tmp_path / f"rows.{fmt}").write_bytes(bom + body)
    from_file = _dry_run(f"rows.{fmt}", fmt, tmp_path, None)
    from_stdin = _dry_run("-", fmt, tmp_path, bom + body)
    assert "2 rows: 2 valid, 0 invalid" in from_file
    assert "2 rows: 2 valid, 0 invalid" in from_stdin
