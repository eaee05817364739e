"""The local fal server in a process of its own, for batches that get killed and for benchmarks.

The batch under test (or measured) runs elsewhere and shares no GIL or fate with the server. The
server counts every submit the queue *accepted*, by prompt, without the request log's bound, so a
test can check that each row reached fal exactly once. Commands go over stdin, one per line;
each answer is one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

_SCRIPT = r"""
import asyncio, json, sys, threading, time
from collections import Counter
from fal_typed.testing import LocalFal
from fal_typed.testing._queue import RequestQueue
from fal_typed.testing._queue_routes import _QueueRoutes

config = json.loads(sys.argv[1])
accepted = Counter()
lock = threading.Lock()
original = RequestQueue.submit

def counting(self, endpoint_id, arguments, **kwargs):
    request = original(self, endpoint_id, arguments, **kwargs)
    prompt = arguments.get("prompt") if isinstance(arguments, dict) else None
    with lock:
        accepted[str(prompt)] += 1
    return request

RequestQueue.submit = counting

# Answers of accepted submits held back (the batch is killed before it learns their ids).
hold = {"after": config.pop("hold_answers_after", None), "answered": 0}
original_route = _QueueRoutes.submit

async def holding(self, request):
    response = await original_route(self, request)
    with lock:
        hold["answered"] += 1
        held = hold["after"] is not None and hold["answered"] > hold["after"]
    deadline = time.monotonic() + 120
    while held and hold["after"] is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return response

_QueueRoutes.submit = holding
fal = LocalFal(max_requests=config.pop("max_requests", 10_000)).start()
fixed = config.pop("fixed_output", False)
fal.platform.set_prices(config.pop("prices", {}))
fal.platform.configure(history_delay=config.pop("history_delay", 0.0))
if config:
    fal.configure(**config)
if fixed:
    from fal_typed.testing._media import MediaSpec, make_media
    image = make_media(MediaSpec("png", 8, 8, 1))
    stored = fal.state.files.put(image.data, content_type="image/png", file_name="fixed.png")
    url = f"{fal.cdn_url}/files/{stored.key}"
    fal.handler("fal-ai/flux/dev", lambda body: {
        "images": [{"url": url, "width": 8, "height": 8, "content_type": "image/png"}],
        "timings": {}, "seed": 1, "has_nsfw_concepts": [False], "prompt": body["prompt"],
    })
print(fal.base_url, flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "accepted":
        with lock:
            print(json.dumps(dict(accepted)), flush=True)
    elif command == "rate_limited":
        n = sum(1 for r in fal.requests_for("submit") if r.status_code == 429)
        print(json.dumps(n), flush=True)
    elif command == "release":
        hold["after"] = None
        print(json.dumps(True), flush=True)
    elif command == "quit":
        break
fal.stop()
"""


class ServerProcess:
    """``with ServerProcess(processing_time=0.1) as server: server.base_url``; the keyword
        arguments go to ``LocalFal.configure`` (``fixed_output=True``: flux/dev answers with one
        8x8 PNG, the same for every request, instead of synthesising images; ``max_requests``: the
        server's bound; ``hold_answers_after=N``: submits after the first N are accepted but their
    answers held until :meth:`release`; ``prices``: ``{endpoint_id: unit price}``;
    ``history_delay``: the Platform request history's lag)."""

    def __init__(self, **config: Any) -> None:
        self.config: dict[str, Any] = dict(config)
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, json.dumps(self.config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError("the local server process did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None and process.stdin is not None:
                process.stdin.write("quit\n")
                process.stdin.flush()
                process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None

    def _ask(self, command: str) -> Any:
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write(command + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    def accepted(self) -> Mapping[str, int]:
        """How many submits the queue accepted, by the input's ``prompt``."""
        result: dict[str, int] = self._ask("accepted")
        return result

    def release(self) -> None:
        """Answer the submits held by ``hold_answers_after`` (and hold no more)."""
        self._ask("release")

    def rate_limited(self) -> int:
        """How many submits were answered 429 (within the request log's bound)."""
        count: int = self._ask("rate_limited")
        return count

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid
