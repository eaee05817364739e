"""The retry table's cells for the requests sent inside a flow: the upload steps (single, multipart
initiate, part, complete, the storage fallback's initiate), downloads, and generic calls.

The hostile peer faults only the step under test (its path) and answers the others well, so
the count it keeps is that step's: a retried cell ends in success after one more request of
it; a cell sent once raises a FalError with the step received at most once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fal_typed import Client, FalError, RetryPolicy
from fal_typed._retry import Kind, Outcome, decide
from fal_typed.files import UploadSettings, upload, upload_async
from fal_typed.files._output import FileOutput
from tests.peers.http import KEY, SERVED_OUTCOMES, OutcomePeer, serving_outcomes
from tests.peers.sse import Exchange, Script

ATTEMPTS = 3
SMALL = UploadSettings(attempts=ATTEMPTS, retry_backoff=0.001, fallback=False)
MULTI = UploadSettings(
    attempts=ATTEMPTS,
    retry_backoff=0.001,
    fallback=False,
    multipart_threshold=16,
    part_size=16,
    max_concurrency=1,
)
FALLBACK = UploadSettings(attempts=ATTEMPTS, retry_backoff=0.001, fallback=True)


class File(FileOutput):
    url: str


async def _json(exchange: Exchange, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    await exchange.answer(200, data, {"Content-Type": "application/json", **(headers or {})})


def _storage(base: str) -> Script:
    """A well-behaved fal storage: token, CDN single and multipart, storage fallback."""

    async def script(exchange: Exchange) -> None:
        path = exchange.path
        if path.startswith("/storage/auth/token"):
            await _json(
                exchange,
                {
                    "token": "cdn-token-abcdef123456",
                    "token_type": "Bearer",
                    "base_url": base,
                    "expires_at": "2099-01-01T00:00:00Z",
                },
            )
        elif path == "/files/upload" and "fallback" in _mode:
            await exchange.answer(400, b'{"detail": "no"}', {"Content-Type": "application/json"})
        elif path == "/files/upload":
            await _json(exchange, {"access_url": f"{base}/files/single"})
        elif path == "/files/upload/multipart":
            await _json(exchange, {"access_url": f"{base}/files/multi", "uploadId": "u1"})
        elif "/multipart/u1/complete" in path:
            await _json(exchange, {"access_url": f"{base}/files/multi"})
        elif "/multipart/u1/" in path:
            number = path.rsplit("/", 1)[1]
            await _json(exchange, {}, {"ETag": f'"etag-{number}"'})
        elif path.startswith("/storage/upload/initiate"):
            await _json(
                exchange,
                {"upload_url": f"{base}/signed/put?sig=abcdef123", "file_url": f"{base}/files/s"},
            )
        elif path.startswith("/signed/put"):
            await exchange.answer(200, b"", {})
        elif path.startswith("/other"):
            await _json(exchange, {"ok": 1})
        elif path.startswith("/files/"):
            await exchange.answer(200, b"file bytes", {"Content-Type": "image/png"})
        else:
            await exchange.answer(404, b"{}", {"Content-Type": "application/json"})

    return script


_mode: set[str] = set()


@dataclass(frozen=True)
class Flow:
    match: str
    sync: Callable[[Client, str], Any]
    async_: Callable[[Client, str], Any]
    fallback: bool = False


FLOWS: dict[Kind, Flow] = {
    Kind.UPLOAD_SINGLE: Flow(
        "/files/upload",
        lambda c, _: upload(b"hello", "text/plain", client=c, settings=SMALL),
        lambda c, _: upload_async(b"hello", "text/plain", client=c, settings=SMALL),
    ),
    Kind.UPLOAD_INITIATE: Flow(
        "/files/upload/multipart",
        lambda c, _: upload(b"m" * 40, "text/plain", client=c, settings=MULTI),
        lambda c, _: upload_async(b"m" * 40, "text/plain", client=c, settings=MULTI),
    ),
    Kind.UPLOAD_PART: Flow(
        "/multipart/u1/2",
        lambda c, _: upload(b"m" * 40, "text/plain", client=c, settings=MULTI),
        lambda c, _: upload_async(b"m" * 40, "text/plain", client=c, settings=MULTI),
    ),
    Kind.UPLOAD_COMPLETE: Flow(
        "/multipart/u1/complete",
        lambda c, _: upload(b"m" * 40, "text/plain", client=c, settings=MULTI),
        lambda c, _: upload_async(b"m" * 40, "text/plain", client=c, settings=MULTI),
    ),
    Kind.STORAGE_INITIATE: Flow(
        "/storage/upload/initiate",
        lambda c, _: upload(b"hello", "text/plain", client=c, settings=FALLBACK),
        lambda c, _: upload_async(b"hello", "text/plain", client=c, settings=FALLBACK),
        fallback=True,
    ),
    Kind.DOWNLOAD: Flow(
        "/files/d.png",
        lambda c, url: File(url=f"{url}/files/d.png").read(client=c),
        lambda c, url: File(url=f"{url}/files/d.png").aread(client=c),
    ),
    Kind.OTHER_IDEMPOTENT: Flow(
        "/other",
        lambda c, url: c.request("GET", f"{url}/other"),
        lambda c, url: c.arequest("GET", f"{url}/other"),
    ),
    Kind.OTHER_POST: Flow(
        "/other",
        lambda c, url: c.request("POST", f"{url}/other", json={"a": 1}),
        lambda c, url: c.arequest("POST", f"{url}/other", json={"a": 1}),
    ),
}


def _client(url: str) -> Client:
    return Client(
        key=KEY,
        queue_url=url,
        run_url=url,
        rest_url=url,
        cdn_url=url,
        timeout=httpx.Timeout(5.0, read=0.5),
        retry=RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.001, max_delay=0.01),
        backup_hosts={},
    )


@pytest.fixture(scope="module")
def peer() -> Any:
    with serving_outcomes() as p:
        yield p


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("outcome", SERVED_OUTCOMES, ids=[o.name for o in SERVED_OUTCOMES])
@pytest.mark.parametrize("kind", list(FLOWS), ids=[k.name for k in FLOWS])
def test_flow_cell(peer: OutcomePeer, kind: Kind, outcome: Outcome, mode: str) -> None:
    flow = FLOWS[kind]
    decision = decide(kind, outcome)
    storage = _storage(peer.url)
    _mode.clear()
    if flow.fallback:
        _mode.add("fallback")
    times = 1 if decision.retry else ATTEMPTS + 1
    peer.set(outcome, times=times, good=storage, match=flow.match, other=storage)
    client = _client(peer.url)
    seen = 0 if outcome is Outcome.RESET_BEFORE_SENT else 1

    def go() -> Any:
        if mode == "sync":
            return flow.sync(client, peer.url)

        async def run() -> Any:
            async with client:
                return await flow.async_(client, peer.url)

        return asyncio.run(run())

    try:
        if decision.retry:
            go()
            assert (peer.faults, peer.received) == (1, seen + 1)
        else:
            with pytest.raises(FalError) as info:
                go()
            if kind in (Kind.OTHER_IDEMPOTENT, Kind.OTHER_POST):
                assert isinstance(info.value, decision.error)
            assert peer.faults == 1, "sent again although the table says once"
            assert peer.received == seen
    finally:
        client.close()
