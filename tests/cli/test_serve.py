"""``fal-typed serve`` in a subprocess: the other commands work against it, Ctrl+C stops it."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from fal_typed.testing import DEFAULT_KEY

from ..signals import sigint_for_children
from .helpers import cli_command, cli_env, filename, run_cli


def test_serve_answers_call_and_fetch_then_stops_on_ctrl_c(served: Path, tmp_path: Path) -> None:
    with sigint_for_children():
        process = subprocess.Popen(
            cli_command("serve", "--port", "0", "--schemas", str(served)),
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("local fal server listening on http://127.0.0.1:"), first
        base_url = first.rsplit(" ", 1)[1].strip()
        banner = [process.stdout.readline() for _ in range(4)]
        assert f"export FAL_TYPED_BASE_URL={base_url}" in "".join(banner)

        called = run_cli(
            "call", "fal-ai/flux/dev", "--prompt", "a cat", "--schemas", str(served),
            FAL_TYPED_BASE_URL=base_url, FAL_KEY=DEFAULT_KEY,
        )  # fmt: skip
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["images"][0]["url"].startswith(base_url)

        target = tmp_path / "mirror"
        fetched = run_cli("fetch", "--all", "--schemas", str(target), FAL_TYPED_BASE_URL=base_url)
        assert fetched.returncode == 0, fetched.stderr
        assert (target / filename("fal-ai/demucs")).read_bytes() == (
            served / filename("fal-ai/demucs")
        ).read_bytes()

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_serve_refuses_a_missing_schemas_directory(tmp_path: Path) -> None:
    run = run_cli("serve", "--port", "0", "--schemas", str(tmp_path / "nope"))

    assert run.returncode == 2
    assert "is not a directory" in run.stderr and "Traceback" not in run.stderr


def test_serve_refuses_a_host_that_is_no_address_of_this_machine_as_a_usage_error() -> None:
    # One that does not resolve, and one that resolves to no interface here (TEST-NET-1).
    for host in ("0.0.0.0x", "192.0.2.1"):
        run = run_cli("serve", "--port", "0", "--host", host, timeout=60)

        assert run.returncode == 2, (host, run.stderr)
        assert f"--host {host} is not an address of this machine" in run.stderr
        assert "Traceback" not in run.stderr
