"""Starting, stopping and pointing things at the server; the schemas directory; the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fal_typed import Client
from fal_typed.testing import DEFAULT_KEY, LocalFal
from fal_typed.testing._endpoints import default_schemas_dir

from ..signals import sigint_for_children
from .conftest import AUTH, FLUX

CHECKOUT_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_context_manager_binds_loopback_on_a_free_port_and_releases_it() -> None:
    with LocalFal() as fal:
        assert fal.running
        assert fal.base_url == f"http://127.0.0.1:{fal.port}"
        assert fal.port > 0
        assert (fal.queue_url, fal.run_url, fal.rest_url, fal.cdn_url, fal.realtime_url) == (
            f"{fal.base_url}/queue",
            f"{fal.base_url}/run",
            f"{fal.base_url}/rest",
            f"{fal.base_url}/cdn",
            f"ws://127.0.0.1:{fal.port}/run",
        )
        assert (
            httpx.post(f"{fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH).status_code
            == 200
        )
        port = fal.port
    assert not fal.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/queue", timeout=2)


def test_two_servers_run_side_by_side_with_separate_state() -> None:
    with LocalFal() as first, LocalFal() as second:
        assert first.port != second.port
        httpx.post(f"{first.queue_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH)
        assert len(first.requests) == 1
        assert second.requests == []


def test_stop_cancels_every_timer_and_is_idempotent() -> None:
    fal = LocalFal().start()
    fal.configure(queue_position=100, queue_step=60, processing_time=600)
    for _ in range(3):
        httpx.post(f"{fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH)
    tasks = fal.state._tasks
    assert len(tasks) == 3
    fal.stop()
    assert not fal.running
    assert len(tasks) == 0
    assert fal.state.queue.closed
    fal.stop()


def test_start_twice_is_an_error() -> None:
    with LocalFal() as fal, pytest.raises(RuntimeError, match="already running"):
        fal.start()


def test_a_fixed_port_in_use_is_a_clear_error() -> None:
    with LocalFal() as fal, pytest.raises(OSError):
        LocalFal(port=fal.port).start()


@pytest.mark.parametrize(
    "kwargs", [{"port": -1}, {"key": " "}, {"key": "two words"}, {"max_requests": 0}]
)
def test_bad_arguments_fail_before_anything_starts(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LocalFal(**kwargs)  # type: ignore[arg-type]


def test_max_requests_bounds_the_queue() -> None:
    with LocalFal(max_requests=2) as fal:
        fal.configure(hold="queue")
        url = f"{fal.queue_url}/{FLUX}"
        assert [
            httpx.post(url, json={"prompt": "x"}, headers=AUTH).status_code for _ in range(3)
        ] == [200, 200, 429]
        fal.configure(hold=None)
        fal.release()
        # Completed requests make room again.
        deadline = time.monotonic() + 10
        while httpx.post(url, json={"prompt": "x"}, headers=AUTH).status_code != 200:
            assert time.monotonic() < deadline


def test_client_points_every_host_at_the_server_with_a_default_key() -> None:
    with LocalFal() as fal:
        client = fal.client()
        try:
            assert isinstance(client, Client)
            assert client.queue_url == fal.queue_url
            assert client.run_url == fal.run_url
            assert client.rest_url == fal.rest_url
            assert client.cdn_url == fal.cdn_url
            assert client.realtime_url == fal.realtime_url
            assert DEFAULT_KEY not in repr(client)
        finally:
            client.close()
    with LocalFal(key="mine:secret") as fal:
        other = fal.client(poll_interval=0.5)
        try:
            assert other.poll_interval == 0.5
        finally:
            other.close()


def test_schemas_come_from_the_environment_before_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_schemas_dir() == CHECKOUT_SCHEMAS
    shutil.copy(CHECKOUT_SCHEMAS / "fal-ai__flux__dev.json", tmp_path / "fal-ai__flux__dev.json")
    monkeypatch.setenv("FAL_TYPED_SCHEMAS", str(tmp_path))
    assert default_schemas_dir() == tmp_path
    with LocalFal() as fal:
        assert fal.endpoint_ids == [FLUX]
        assert (
            httpx.post(f"{fal.run_url}/fal-ai/flux/schnell", json={}, headers=AUTH).status_code
            == 404
        )


def test_a_missing_schemas_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="schemas directory"):
        LocalFal(tmp_path / "nowhere")


def test_a_broken_document_is_served_without_validation(tmp_path: Path) -> None:
    (tmp_path / "me__broken.json").write_text("{ not json")
    with LocalFal(tmp_path) as fal:
        response = httpx.post(f"{fal.run_url}/me/broken", json={"anything": 1}, headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {}


def test_documents_are_loaded_lazily() -> None:
    with LocalFal() as fal:
        assert fal.state.catalog._loaded == {}
        httpx.post(f"{fal.run_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH)
        assert list(fal.state.catalog._loaded) == [FLUX]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    shutil.copy(CHECKOUT_SCHEMAS / "fal-ai__flux__dev.json", tmp_path / "fal-ai__flux__dev.json")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "fal_typed.testing",
        "--port",
        str(port),
        "--schemas",
        str(tmp_path),
        "--key",
        "cli:key",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (
        sigint_for_children(),
        subprocess.Popen(  # leaving the block closes the pipes
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as process,
    ):
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.strip() == f"local fal server listening on http://127.0.0.1:{port}"
            assert "1 endpoints" in process.stdout.readline()
            url = f"http://127.0.0.1:{port}/run/{FLUX}"
            assert (
                httpx.post(
                    url, json={"prompt": "x"}, headers={"Authorization": "Key cli:key"}, timeout=10
                ).status_code
                == 200
            )
            assert (
                httpx.post(url, json={"prompt": "x"}, headers=AUTH, timeout=10).status_code == 401
            )
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_command_line_reports_bad_arguments(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fal_typed.testing", "--schemas", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "schemas directory not found" in result.stderr


def test_repr_names_the_address_and_endpoint_count() -> None:
    fal = LocalFal()
    assert "stopped" in repr(fal)
    assert "1048 endpoints" in repr(fal)
    assert json.dumps(fal.endpoint_ids[:1]) == '["alibaba/happy-horse/image-to-video"]'


def test_a_stopped_server_can_be_started_again() -> None:
    fal = LocalFal()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fal.webhooks
    for _ in range(2):
        with fal:
            hooks = len(fal.state.completion_hooks)
            response = httpx.post(f"{fal.run_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH)
            assert response.status_code == 200
            assert (
                httpx.post(
                    f"{fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH
                ).status_code
                == 200
            )
            assert fal.webhooks is fal.state.extensions["webhooks"]
    assert len(fal.state.completion_hooks) == hooks  # rebuilt, not duplicated


@pytest.mark.parametrize("port", [0, 65_000], ids=["free port", "port asked for"])
@pytest.mark.parametrize("how", ["client", "use_local_server"])
def test_a_server_never_started_gives_no_client_of_port_80(port: int, how: str) -> None:
    """``LocalFal()`` without ``.start()``: its URLs had no port, so the client called
    http://127.0.0.1/ (port 80: connection refused ten times, or whatever listens there)."""
    import fal_typed

    fal = LocalFal(port=port)
    with pytest.raises(RuntimeError, match=r"this LocalFal is not started.*call \.start\(\) first"):
        if how == "client":
            fal.client()
        else:
            fal_typed.use_local_server(fal)


def test_a_stopped_server_still_names_where_it_was() -> None:
    fal = LocalFal().start()
    base = fal.base_url
    fal.stop()
    assert fal.client().queue_url == f"{base}/queue"
