"""Headless Chromium driven over the DevTools protocol (a WebSocket, JSON messages), and a static
file server on 127.0.0.1: enough to load a page, run JavaScript in it and take a screenshot."""

from __future__ import annotations

import base64
import functools
import http.server
import itertools
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1800",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def chromium_executable() -> str:
    """Debian's ``chromium`` (``make system-deps`` installs it); a test without it fails."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("chromium is missing: run `make system-deps`")
    return found


@contextmanager
def serve_directory(root: Path) -> Generator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 (a search worker cannot run from file://)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


# What DevTools answers when an evaluation meets a navigation: the page it ran in is gone, and
# the same expression in the next page is the answer wanted (``wait_for`` asks again).
NAVIGATED = (
    "Inspected target navigated or closed",
    "Execution context was destroyed",
)


#: The mark ``open`` leaves on the document it navigates away from.
_LEAVING = "__browserLeaving"


class DevToolsError(RuntimeError):
    """A DevTools command answered with an error."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error}")
        self.message = str(error.get("message", ""))

    @property
    def navigated(self) -> bool:
        return self.message.startswith(NAVIGATED)


class Browser:
    """One Chromium with one page; ``open``, ``evaluate``, ``click``, ``wait_for``, ``screenshot``."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.executable = executable
        self.profile = profile
        self.process: subprocess.Popen[bytes] | None = None
        self.socket: ClientConnection | None = None
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        self.process = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._port()
        targets = json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read()
        )
        page = next(t for t in targets if t["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self.socket.__enter__()  # closed by __exit__
        self.call("Page.enable")
        self.call("Runtime.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)

    def _port(self) -> int:
        """The DevTools port Chromium chose (it writes it to its profile folder)."""
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, "chromium exited"
            if marker.exists() and (text := marker.read_text().split()):
                return int(text[0])
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        assert self.socket is not None
        number = next(self._ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == number:
                if "error" in message:
                    raise DevToolsError(method, message["error"])
                return message.get("result", {})

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its document is complete (after any redirect)."""
        # Until the new document commits, the old one (already complete) still answers: it is
        # marked, and the wait is for a complete document without the mark.
        self.evaluate(f"window.{_LEAVING} = true")
        self.call("Page.navigate", url=url)
        self.wait_for(f"!window.{_LEAVING} && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, element: str) -> None:
        """Click the element ``element`` evaluates to; a navigation it starts at once is fine."""
        try:
            self.evaluate(f"{element}.click()")
        except DevToolsError as error:
            if not error.navigated:
                raise

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Evaluate ``expression`` until it is truthy; return its value.

        An evaluation cut short by a navigation counts as not yet: the page is changing, which is
        what a wait is for."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except DevToolsError as error:
                if not error.navigated:
                    raise
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            time.sleep(0.2)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path
