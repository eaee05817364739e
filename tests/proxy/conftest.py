"""Fixtures of the proxy tests: a local fal server that accepts only the proxy's key, and
FalProxy apps served by uvicorn on 127.0.0.1 in front of it.

The proxy forwards to the local server through its ``upstream`` mapping, so every target is
still fal's own URL (``https://queue.fal.run/...``), checked against the default patterns, as
in production. The local server requires ``Key <PROXY_KEY>``: a call that succeeds proves the
proxy added the key, and a caller's own ``Authorization`` could never pass for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fal_typed.proxy import FalProxy, ProxyCall
from fal_typed.testing import LocalFal

from ..webhooks.helpers import serve

PROXY_KEY = "proxy-key-id:proxy-key-secret-0123456789abcdef"
KEY_SECRET = PROXY_KEY.partition(":")[2]
ENDPOINT = "fal-ai/flux/dev"
FILE_ENDPOINT = "fal-ai/flux-control-lora-canny"
FORBIDDEN_ENDPOINT = "fal-ai/flux/schnell"
PROXY_PATH = "/api/fal/proxy"
SESSIONS = {"Bearer session-alice": "alice", "Bearer session-bob": "bob"}
ALICE = {"Authorization": "Bearer session-alice"}
BOB = {"Authorization": "Bearer session-bob"}


async def by_session(request: Request) -> str | None:
    """The app's own authentication: a session token in ``Authorization``."""
    return SESSIONS.get(request.headers.get("authorization", ""))


@pytest.fixture(scope="session")
def _upstream_server() -> Iterator[LocalFal]:
    with LocalFal(key=PROXY_KEY) as server:
        yield server


@pytest.fixture
def upstream(_upstream_server: LocalFal) -> Iterator[LocalFal]:
    """The local fal server behind the proxy (only ``Key <PROXY_KEY>`` gets in), reset."""
    _upstream_server.reset()
    yield _upstream_server
    _upstream_server.reset()


class Recorder:
    """An ASGI wrapper keeping every byte the proxy sends back (status lines aside)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sent: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.sent.extend(k + b": " + v for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                self.sent.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)

    def text(self) -> bytes:
        return b"\n".join(self.sent)


class CallLog:
    """The ``on_call`` records of a proxy. The hook runs once the answer is sent, so a test may
    see the answer first: :meth:`wait` for the records."""

    def __init__(self) -> None:
        self._calls: list[ProxyCall] = []
        self._changed = threading.Condition()

    def append(self, call: ProxyCall) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[ProxyCall]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._calls) >= count, timeout):
                raise TimeoutError(f"expected {count} proxy calls, got {len(self._calls)}")
            return list(self._calls)


@dataclass
class ServedProxy:
    """A running proxy: its URL, the app, what it sent back, and its ``on_call`` records."""

    base_url: str
    proxy: FalProxy
    recorder: Recorder
    calls: CallLog

    @property
    def url(self) -> str:
        return self.base_url + PROXY_PATH


ProxyFactory = Callable[..., ServedProxy]


@pytest.fixture
def serve_proxy(upstream: LocalFal) -> Iterator[ProxyFactory]:
    """``serve_proxy(**FalProxy options)``: a proxy in front of ``upstream``, served until the
    test ends. Defaults: the test sessions, PROXY_KEY, ENDPOINT and FILE_ENDPOINT allowed."""
    with _ServedProxies(upstream) as factory:
        yield factory


class _ServedProxies:
    def __init__(self, upstream: LocalFal) -> None:
        self.upstream = upstream
        self._stack: list[Any] = []

    def __enter__(self) -> ProxyFactory:
        return self.start

    def start(self, **options: Any) -> ServedProxy:
        calls = CallLog()
        settings: dict[str, Any] = {
            "authenticate": by_session,
            "key": PROXY_KEY,
            "upstream": self.upstream.base_url,
            "allowed_endpoints": [ENDPOINT, FILE_ENDPOINT],
            "on_call": calls.append,
            **options,
        }
        proxy = FalProxy(**settings)
        recorder = Recorder(proxy)
        context = serve(recorder)
        base_url = context.__enter__()
        self._stack.append(context)
        return ServedProxy(base_url, proxy, recorder, calls)

    def __exit__(self, *exc_info: object) -> None:
        while self._stack:
            self._stack.pop().__exit__(None, None, None)


@pytest.fixture
def served(serve_proxy: ProxyFactory) -> ServedProxy:
    """A proxy with the default test settings."""
    return serve_proxy()


@pytest.fixture
def environment(upstream: LocalFal, monkeypatch: pytest.MonkeyPatch) -> LocalFal:
    """The environment docs/proxy.md's examples read: the key, and the local server as the
    upstream."""
    monkeypatch.setenv("FAL_KEY", PROXY_KEY)
    monkeypatch.setenv("FAL_PROXY_UPSTREAM", upstream.base_url)
    return upstream
