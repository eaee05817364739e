"""One switch for offline work: ``FAL_TYPED_BASE_URL`` (or ``use_local_server``) and nothing
reaches fal's hosts.

The end-to-end test runs user code and the command line in subprocesses whose name resolution
is guarded (``sitecustomize`` wraps ``socket.getaddrinfo``): any host but loopback is refused and
written to a log. With the switch set, every family of calls (queue, run, stream, realtime and
its token, uploads, the JWKS of webhooks, the Platform API, fal's document URL for ``add``)
must work against the local server with an empty log, and the server's request log must show
each of them arrived there.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

import fal_typed
from fal_typed import Client, InvalidArgumentError
from fal_typed._hosts import DEFAULT_OPENAPI_URL
from fal_typed._local import BASE_URL_ENV, LOCAL_KEY, default_hosts, local_client
from fal_typed.catalog import fetch_endpoints
from fal_typed.testing import LocalFal
from fal_typed.webhooks import WebhookVerifier, shared_verifier

FAL_HOSTS = ("fal.run", "fal.ai", "fal.media", "falrun.com")

GUARD = """
import os, socket

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_real = socket.getaddrinfo


def _guarded(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and str(name) not in _LOOPBACK:
        with open(os.environ["FAL_TYPED_GUARD_LOG"], "a") as log:
            log.write(f"{name}\\n")
        raise socket.gaierror(socket.EAI_NONAME, f"offline guard: {name} is not loopback")
    return _real(host, *args, **kwargs)


socket.getaddrinfo = _guarded
"""

USER_CODE = """
import json
import sys
from pathlib import Path

import fal_typed
from fal_endpoints import flux_dev, moondream2
from fal_typed import platform, webhooks

Path("in.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(64))
report = {}
report["subscribe"] = len(flux_dev.subscribe(prompt="a cat").images)
report["run"] = len(flux_dev.run(prompt="a cat", num_images=1).images)
with flux_dev.stream(prompt="a cat") as events:
    list(events)
    report["stream"] = len(events.result().images)
with flux_dev.realtime() as conn:
    conn.send(prompt="a cat", seed=1)
    report["realtime"] = conn.recv().seed
report["upload"] = fal_typed.upload(Path("in.png"))
report["untyped"] = fal_typed.untyped("fal-ai/moondream2").subscribe({"image_url": Path("in.png")})["output"]
fal_typed.configure_uploads(local_file_strings=True)
report["file_string"] = moondream2.subscribe(image_url="in.png").output
report["jwks"] = len(webhooks.WebhookVerifier().cache.get().keys)
report["shared_jwks"] = webhooks.shared_verifier().jwks_url
report["prices"] = platform.prices(["fal-ai/flux/dev"])["fal-ai/flux/dev"].unit_price
print(json.dumps(report))
"""


@pytest.fixture
def guard(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Python refuses to resolve any host but loopback, and its log."""
    site = tmp_path / "guard"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "resolved.log"
    log.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAL_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), FAL_TYPED_GUARD_LOG=str(log), NO_COLOR="1", COLUMNS="200")
    return env, log


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run("-c", textwrap.dedent(code), env=env, cwd=cwd)


def _fal_typed(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run("-m", "fal_typed.cli", *args, env=env, cwd=cwd)


def test_the_guard_refuses_and_logs_fal_hosts(
    guard: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    """The control: without loopback, resolution fails and the host is logged."""
    env, log = guard
    done = _python(
        "import httpx\ntry:\n    httpx.get('https://queue.fal.run/x')\nexcept httpx.ConnectError as e:\n"
        "    print('refused', e)\n",
        env,
        tmp_path,
    )
    assert "refused" in done.stdout and "offline guard" in done.stdout, done.stderr
    assert log.read_text().split() == ["queue.fal.run"]


def test_with_the_switch_nothing_reaches_fal(
    guard: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, log = guard
    docs = tmp_path / "docs"
    docs.mkdir()
    with LocalFal() as fal:
        fal.platform.set_price("fal-ai/flux/dev", 0.025)
        env = {**env, BASE_URL_ENV: fal.base_url}  # no FAL_KEY: the local key is used
        done = _python(USER_CODE, env, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        call = _fal_typed("call", "fal-ai/flux/dev", "--prompt", "a cat", env=env, cwd=tmp_path)
        price = _fal_typed("price", "fal-ai/flux/dev", env=env, cwd=tmp_path)
        fetch = _fal_typed(
            "fetch", "fal-ai/flux/dev", "--schemas", str(docs), env=env, cwd=tmp_path
        )
        operations = {r.operation for r in fal.requests}

    assert log.read_text() == "", f"resolved non-loopback hosts: {log.read_text()}"
    assert report["subscribe"] == report["run"] == report["stream"] == 1
    assert report["realtime"] == 1
    assert report["upload"].startswith(fal.base_url) or report["upload"].startswith("data:")
    assert report["untyped"] and report["file_string"]
    assert report["jwks"] >= 1
    assert report["shared_jwks"] == f"{fal.rest_url}/.well-known/jwks.json"
    assert report["prices"] == 0.025
    assert call.returncode == 0, call.stderr
    assert price.returncode == 0 and "0.025" in price.stdout, price.stderr
    assert fetch.returncode == 0 and (docs / "fal-ai__flux__dev.json").is_file(), fetch.stderr
    for operation in ("queue.submit", "run", "stream", "webhooks.jwks"):
        assert any(op is not None and op.startswith(operation) for op in operations), operations
    assert any(op and op.startswith("realtime.") for op in operations), operations
    assert any(op and op.startswith("platform.") for op in operations), operations
    assert any(op and op.startswith("catalog.") for op in operations), operations


def _urls(client: Client) -> list[str]:
    return [
        client.queue_url,
        client.run_url,
        client.rest_url,
        client.cdn_url,
        client.realtime_url,
        client.api_url,
    ]


def test_the_default_client_reads_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "http://127.0.0.1:8765"
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("FAL_KEY_ID", raising=False)
    monkeypatch.setenv(BASE_URL_ENV, base)
    fal_typed.set_default_client(None)
    try:
        client = fal_typed.default_client()
        assert all(url.startswith((base, "ws://127.0.0.1:8765")) for url in _urls(client)), _urls(
            client
        )
        assert client.credentials().header == f"Key {LOCAL_KEY}"
        assert WebhookVerifier().jwks_url == f"{base}/rest/.well-known/jwks.json"
        assert shared_verifier().jwks_url == f"{base}/rest/.well-known/jwks.json"
        # A key in the environment is sent instead (a server started with --key wants it).
        monkeypatch.setenv("FAL_KEY", "id:secret")
        fal_typed.set_default_client(None)
        assert fal_typed.default_client().credentials().header == "Key id:secret"
        # Unset, the default client is fal's again.
        monkeypatch.delenv(BASE_URL_ENV)
        fal_typed.set_default_client(None)
        assert not any("127.0.0.1" in url for url in _urls(fal_typed.default_client()))
        assert any(host in fal_typed.default_client().queue_url for host in FAL_HOSTS)
    finally:
        fal_typed.set_default_client(None)


def test_a_bad_switch_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "127.0.0.1:8765")
    fal_typed.set_default_client(None)
    try:
        with pytest.raises(InvalidArgumentError, match=BASE_URL_ENV):
            fal_typed.default_client()
    finally:
        fal_typed.set_default_client(None)


def test_use_local_server_takes_a_url_or_a_server(local_fal: LocalFal) -> None:
    try:
        client = fal_typed.use_local_server(local_fal.base_url)
        assert fal_typed.default_client() is client
        assert all(local_fal.base_url.split("//")[1] in url for url in _urls(client))
        response = httpx.get(f"{client.rest_url}/.well-known/jwks.json")
        assert response.status_code == 200

        client = fal_typed.use_local_server(local_fal)
        assert fal_typed.default_client() is client and client.queue_url == local_fal.queue_url
    finally:
        fal_typed.set_default_client(None)


def test_local_client_rejects_what_is_not_a_url() -> None:
    with pytest.raises(InvalidArgumentError, match="local server URL"):
        local_client("localhost:8765")


def test_fetching_documents_follows_the_switch(
    local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, local_fal.base_url)
    report = asyncio.run(fetch_endpoints(["fal-ai/flux/dev"], tmp_path))
    assert report.ok and (tmp_path / "fal-ai__flux__dev.json").is_file()
    assert [r.operation for r in local_fal.requests] == ["catalog.openapi"]
    monkeypatch.delenv(BASE_URL_ENV)
    assert default_hosts().openapi_url == DEFAULT_OPENAPI_URL
