"""docs/proxy.md is executed: its FastAPI app and its Django ASGI application serve real calls
(the Django one in its own process, as deployed), its Python front end and its metering hooks
run against them, all in front of the local fal server."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fal_endpoints import flux_dev, flux_pro_v1_1, flux_schnell

from fal_typed import AuthenticationError, Client, FalHTTPError
from fal_typed.proxy import FalProxy
from fal_typed.testing import LocalFal

from ..docs.guides import python_blocks
from ..webhooks.helpers import serve
from .conftest import ENDPOINT, ProxyFactory

DOC = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"


def blocks() -> dict[str, str]:
    """The page's Python blocks by the file name on their first line (``# app.py ...``)."""
    found = {f"{block.file}.py": block.code for block in python_blocks("proxy.md")}
    assert sorted(found) == ["app.py", "asgi.py", "front_end.py", "metering.py"], (
        "the page's executable examples changed: update this test"
    )
    return found


def run_block(name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"docs_proxy_{name[:-3]}"}
    exec(compile(blocks()[name], f"{DOC}:{name}", "exec"), namespace)
    return namespace


def test_fastapi_example(environment: LocalFal) -> None:
    app = run_block("app.py")
    app["SESSIONS"]["session-1"] = "alice"
    with serve(app["app"]) as base_url:
        proxy_url = f"{base_url}/api/fal/proxy"
        signed_in = {"Cookie": "session=session-1"}
        with Client(proxy_url=proxy_url, proxy_headers=signed_in, poll_interval=0.02) as client:
            assert flux_dev.subscribe(prompt="a cat", client=client).images
            assert flux_schnell.run(prompt="a dog", client=client).images
            with pytest.raises(AuthenticationError) as not_allowed:  # not in its allow-list
                flux_pro_v1_1.run(prompt="a bird", client=client)
            assert not_allowed.value.error_type == "proxy_endpoint_not_allowed"
        with Client(proxy_url=proxy_url) as stranger, pytest.raises(AuthenticationError):
            flux_dev.run(prompt="a cat", client=stranger)
        assert httpx.get(f"{base_url}/api/me", headers=signed_in, timeout=30).json() == {
            "user": "alice"
        }
    assert len(environment.requests_for("submit")) == 1
    assert len(environment.requests_for("run")) == 1


@contextmanager
def serve_asgi_module(folder: Path, application: str) -> Generator[str]:
    """``application`` (``module:attribute``, a module in ``folder``) served by uvicorn in a
    process of its own, as deployed; yields its URL."""
    runner = (
        "import socket, uvicorn\n"
        "sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)\n"
        "sock.bind(('127.0.0.1', 0)); sock.listen(64)\n"
        "print(f'http://127.0.0.1:{sock.getsockname()[1]}', flush=True)\n"
        f"config = uvicorn.Config({application!r}, log_level='warning', lifespan='on')\n"
        "uvicorn.Server(config).run(sockets=[sock])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", runner],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(folder)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), f"{application} did not start"
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def django_server(environment: LocalFal, tmp_path: Path) -> Iterator[str]:
    """The page's asgi.py served by uvicorn in a process of its own; yields its URL."""
    (tmp_path / "asgi.py").write_text(blocks()["asgi.py"])
    with serve_asgi_module(tmp_path, "asgi:application") as base_url:
        yield base_url


def test_django_example_with_the_python_front_end(
    django_server: str, environment: LocalFal
) -> None:
    token = httpx.get(f"{django_server}/api/login", timeout=30).json()["token"]  # a Django view
    generate = run_block("front_end.py")["generate"]
    out = generate(f"{django_server}/api/fal/proxy", token)
    assert isinstance(out, flux_dev.Output) and out.images
    refused = httpx.post(
        f"{django_server}/api/fal/proxy",
        headers={
            "x-fal-target-url": f"https://queue.fal.run/{ENDPOINT}",
            "Authorization": "Bearer forged",
        },
        json={"prompt": "a cat"},
        timeout=30,
    )
    assert refused.status_code == 401
    assert len(environment.requests_for("submit")) == 1


def test_metering_example(
    serve_proxy: ProxyFactory, environment: LocalFal, caplog: pytest.LogCaptureFixture
) -> None:
    metering = run_block("metering.py")
    assert isinstance(metering["proxy"], FalProxy)  # built as the page shows it
    metering["BUDGET_LEFT"]["alice"] = 1
    caplog.set_level(logging.INFO, logger="fal_usage")
    served = serve_proxy(spend_cap=metering["within_budget"], on_call=metering["meter"])
    with Client(proxy_url=served.url, proxy_headers={"Authorization": "Bearer session-alice"}) as c:
        assert flux_dev.run(prompt="a cat", client=c).images
        with pytest.raises(FalHTTPError) as spent:
            flux_dev.run(prompt="another cat", client=c)
    assert spent.value.status_code == 402 and spent.value.error_type == "spend_cap_exceeded"
    assert metering["BUDGET_LEFT"]["alice"] == 0
    expected = [
        f"alice run {ENDPOINT} -> 200 (ok",
        f"alice run {ENDPOINT} -> 402 (spend_cap_exceeded",
    ]
    deadline = time.monotonic() + 10  # the hook runs once each answer is sent
    while not all(any(e in r.getMessage() for r in caplog.records) for e in expected):
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.01)
