"""A small Language Server Protocol client: what an editor asks basedpyright-langserver.

JSON-RPC over the server's stdin/stdout (``Content-Length`` framed), one reader thread that
routes responses by id and answers the server's own requests (``workspace/configuration``
and the like) with defaults. Used by tests/editors (completion, signature help, hover) and by
bench/bench_editor.py (time to the first completion).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from types import TracebackType
from typing import Any

__all__ = [
    "FirstCompletion",
    "LanguageServer",
    "Position",
    "basedpyright_langserver",
    "first_completion",
]

Position = tuple[int, int]  # (line, character), both from 0


class LanguageServer:
    """One language server process, spoken to as an editor would."""

    def __init__(
        self,
        command: list[str],
        root: Path,
        *,
        env: Mapping[str, str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self._settings = dict(settings or {})
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=root,
            env=dict(env) if env is not None else None,
        )
        self._lock = threading.Lock()
        self._last_id = 0
        self._answers: dict[int, Queue[dict[str, Any]]] = {}
        self._reader = threading.Thread(target=self._read, name="lsp-reader", daemon=True)
        self._reader.start()

    # -- the editor's side of a session ------------------------------------------------------

    def initialize(self) -> None:
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": self.root.as_uri(),
                "workspaceFolders": [{"uri": self.root.as_uri(), "name": self.root.name}],
                "capabilities": {
                    "workspace": {"configuration": True},
                    "textDocument": {
                        "completion": {"completionItem": {"documentationFormat": ["plaintext"]}},
                        "hover": {"contentFormat": ["plaintext"]},
                        "signatureHelp": {
                            "signatureInformation": {
                                "documentationFormat": ["plaintext"],
                                "parameterInformation": {"labelOffsetSupport": True},
                            }
                        },
                    },
                },
            },
        )
        self.notify("initialized", {})

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": document})
        return uri

    def at(self, method: str, uri: str, position: Position) -> Any:
        line, character = position
        return self.request(
            method,
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )

    def completion_labels(self, uri: str, position: Position) -> list[str]:
        """The labels offered at ``position``, in the order an editor lists them (sortText)."""
        answer = self.at("textDocument/completion", uri, position)
        items: list[dict[str, Any]] = answer["items"] if isinstance(answer, dict) else answer
        ordered = sorted(items, key=lambda item: item.get("sortText") or item["label"])
        return [item["label"] for item in ordered]

    # -- JSON-RPC ----------------------------------------------------------------------------

    def request(self, method: str, params: Any, timeout: float = 120.0) -> Any:
        with self._lock:
            self._last_id += 1
            ident = self._last_id
            answer: Queue[dict[str, Any]] = Queue()
            self._answers[ident] = answer
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        try:
            message = answer.get(timeout=timeout)
        except Empty:
            raise TimeoutError(f"{method}: no answer within {timeout} s") from None
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return message.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        stream = self._process.stdin
        assert stream is not None
        with self._lock:
            stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            stream.flush()

    def _read(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b"\n"):
                if not line:
                    return  # the server exited
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            message: dict[str, Any] = json.loads(stream.read(length))
            if "method" in message and "id" in message:  # the server asks the editor
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": self._reply(message)}
                self._send(reply)
            elif "id" in message:
                with self._lock:
                    answer = self._answers.pop(message["id"], None)
                if answer is not None:
                    answer.put(message)

    def _reply(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            return [
                self._settings.get(item.get("section", ""), None)
                for item in request["params"]["items"]
            ]
        return None

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self._process.wait(timeout=10)
        except (OSError, TimeoutError, RuntimeError, subprocess.TimeoutExpired):
            pass
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> LanguageServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def basedpyright_langserver() -> list[str]:
    """The command of the basedpyright language server installed beside this interpreter."""
    return [str(Path(sys.executable).parent / "basedpyright-langserver"), "--stdio"]


@dataclass(frozen=True)
class FirstCompletion:
    """What an editor gets the first time it asks: the labels, and how long it took from the
    server's start (what a user waits for after opening a file), of which ``initialized`` to
    the server's answer to ``initialize``; ``again`` is a second request at the same place."""

    seconds: float
    initialized: float
    again: float
    labels: list[str]


def first_completion(
    root: Path,
    source: str,
    position: Position,
    *,
    env: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> FirstCompletion:
    """Start basedpyright's language server on ``root``, open ``probe.py`` holding ``source`` and
    ask once for completions at ``position``."""
    started = time.perf_counter()
    with LanguageServer(basedpyright_langserver(), root, env=env, settings=settings) as server:
        server.initialize()
        initialized = time.perf_counter() - started
        uri = server.open(root / "probe.py", source)
        labels = server.completion_labels(uri, position)
        first = time.perf_counter() - started
        server.completion_labels(uri, position)
        again = time.perf_counter() - started - first
        return FirstCompletion(first, initialized, again, labels)
