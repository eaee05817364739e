"""The README's first command (`make demo`) runs examples/quickstart.py: it must work end to end,
print statuses as fal's own log lines read, and end an error with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def _demo(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(QUICKSTART), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def test_quickstart_subscribes_against_the_local_server(tmp_path: Path) -> None:
    done = _demo(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Queued(position=2)" in out
    lines = out.splitlines()
    # Statuses read like fal's log lines: no dataclass reprs, no datetime noise.
    assert any(line.strip().startswith("InProgress: [INFO ") for line in lines), out
    assert any("] loading weights" in line for line in lines), out
    assert any(line.strip().startswith("Completed(inference_time=") for line in lines), out
    assert "datetime" not in out and "Log(" not in out and "logs=[]" not in out
    assert "FluxDevOutput:" in out and '"seed": 6252023' in out
    saved = Path(out.rsplit("saved to ", 1)[1].split(" (")[0])
    assert saved.read_bytes()[:3] == b"\xff\xd8\xff"  # cat.jpg is a JPEG (output_format's default)
    assert "image/jpeg" in out.rsplit("saved to ", 1)[1]


def test_an_error_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "no-schemas"
    empty.mkdir()
    # A server without fal-ai/flux/dev: configuring it is refused, naming the id.
    done = _demo(tmp_path, FAL_TYPED_SCHEMAS=str(empty))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: configure: this local server serves no endpoint ")
    assert "'fal-ai/flux/dev'" in line and "--debug" in line

    debug = _demo(tmp_path, "--debug", FAL_TYPED_SCHEMAS=str(empty))
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
