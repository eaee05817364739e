"""The README's first command (`make demo`) runs examples/quickstart.py: it must work end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def test_quickstart_subscribes_against_the_local_server(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Queued(position=2)" in out and "InProgress(" in out and "Completed(" in out
    assert "FluxDevOutput:" in out and '"seed": 6252023' in out
    saved = out.rsplit("saved to ", 1)[1].split(" (")[0]
    assert Path(saved).stat().st_size > 0
