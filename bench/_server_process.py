"""A server script in a process of its own, driven over stdin/stdout (one JSON line per answer).

The benches measure the client, so the server runs apart: no GIL shared with the client. The
script prints its base URL first, then answers each command line it reads with one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


class ServerProcess:
    """``python -c script *args``: its base URL, a command/answer channel, and a clean stop."""

    def __init__(self, script: str, *args: str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None and self._proc.stdin is not None
        self._stdin, self._stdout = self._proc.stdin, self._proc.stdout
        self.base_url = self._stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the server process did not start: {self.base_url!r}")

    def ask(self, command: str) -> Any:
        """Send one command line; its answer, parsed."""
        self._stdin.write(command + "\n")
        self._stdin.flush()
        return json.loads(self._stdout.readline())

    def close(self) -> None:
        """Close its stdin (the script's cue to stop), then wait, killing it past 20 s."""
        self._stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stdout.close()
