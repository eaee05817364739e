"""``fal-typed call`` with user-named input files that are not (small) files: every read bounded.

``--input-json @/dev/zero`` used to read until MemoryError at 2.7 GB; a FIFO without a writer
blocked in open(). Each is now a usage error (exit 2) naming the file, before any request.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from fal_typed.cli._body import MAX_INPUT_JSON_BYTES
from fal_typed.testing import DEFAULT_KEY

from .helpers import LocalServer, cli_command, cli_env, run_cli


def call(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command("call", *args, "--schemas", str(server.served)),
        env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/dev/zero", "/dev/zero is a character device, not a regular file"),
        ("/proc/self/environ", "pseudo-filesystem"),
        ("/", "is a directory, not a file"),
        ("/no/such/file.json", "no such file: /no/such/file.json"),
    ],
)
def test_input_json_from_what_is_no_file_fails_at_once(
    server: LocalServer, source: str, message: str
) -> None:
    if source.startswith("/proc") and not Path("/proc/self").exists():
        pytest.skip("needs /proc")
    started = time.monotonic()
    run = call(server, "fal-ai/flux/dev", "--input-json", f"@{source}")
    assert time.monotonic() - started < 30
    assert run.returncode == 2, run.stderr
    assert "Invalid value for '--input-json'" in run.stderr and message in run.stderr
    assert "Traceback" not in run.stderr
    assert server.fal.requests == []


def test_input_json_larger_than_the_limit_is_refused_unread(
    server: LocalServer, tmp_path: Path
) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_INPUT_JSON_BYTES + 1)  # sparse
    run = call(server, "fal-ai/flux/dev", "--input-json", f"@{big}")
    assert run.returncode == 2 and "more than the limit of 67108864 bytes" in run.stderr
    assert server.fal.requests == []


def test_input_json_from_a_fifo_without_a_writer_does_not_hang(
    server: LocalServer, tmp_path: Path
) -> None:
    fifo = tmp_path / "input.json"
    os.mkfifo(fifo)
    run = call(server, "fal-ai/flux/dev", "--input-json", f"@{fifo}")
    assert run.returncode == 2 and "is not valid JSON" in run.stderr
    assert server.fal.requests == []


def test_input_json_from_a_pipe_is_read(server: LocalServer) -> None:
    completed = subprocess.run(
        cli_command(
            "call",
            "fal-ai/flux/dev",
            "--input-json",
            "@/dev/stdin",
            "--schemas",
            str(server.served),
        ),
        input='{"prompt": "from a pipe", "num_images": 1}',
        env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert '"images"' in completed.stdout


def test_input_json_from_an_endless_pipe_stops_at_the_limit(server: LocalServer) -> None:
    zeros = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    try:
        completed = subprocess.run(
            cli_command(
                "call", "fal-ai/flux/dev", "--input-json", "@/dev/stdin",
                "--schemas", str(server.served),
            ),
            stdin=zeros.stdout,
            env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
    finally:
        zeros.kill()
        zeros.wait()
    assert completed.returncode == 2 and "more than the limit" in completed.stderr
    assert server.fal.requests == []


def test_a_file_option_naming_a_device_is_refused(server: LocalServer) -> None:
    run = run_cli(
        "call", "fal-ai/demucs", "--audio-url", "/dev/zero", "--schemas", str(server.served),
        FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "'--audio-url': '/dev/zero' is not a regular file" in run.stderr
    assert server.fal.requests == []


def _piped(
    server: LocalServer, stdin: bytes | int, *args: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        cli_command("call", *args, "--schemas", str(server.served)),
        input=stdin if isinstance(stdin, bytes) else None,
        stdin=None if isinstance(stdin, bytes) else stdin,
        env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("dash", ["-", "@-"])
def test_input_json_dash_reads_stdin(server: LocalServer, dash: str) -> None:
    """``-`` is stdin, as for every Unix tool: it was read as the JSON text "-"."""
    run = _piped(server, b'{"prompt": "from stdin"}', "fal-ai/flux/dev", "--input-json", dash)
    assert run.returncode == 0, run.stderr
    [submit] = server.fal.requests_for("submit")
    assert submit.body == b'{"prompt":"from stdin"}'


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", "stdin is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"prompt": "\xff"}', "stdin is not UTF-8 text"),
        (b"x" * (MAX_INPUT_JSON_BYTES + 10), "stdin is more than the limit"),
    ],
    ids=["empty", "not an object", "not UTF-8", "too large"],
)
def test_input_json_dash_with_bad_stdin_is_a_usage_error(
    server: LocalServer, stdin: bytes, message: str
) -> None:
    run = _piped(server, stdin, "fal-ai/flux/dev", "--input-json", "-")
    assert run.returncode == 2 and message in run.stderr.decode(), run.stderr
    assert b"Traceback" not in run.stderr and server.fal.requests == []


def test_input_json_dash_on_a_terminal_is_refused_not_waited_on(server: LocalServer) -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        run = _piped(server, follower, "fal-ai/flux/dev", "--input-json", "-")
    finally:
        os.close(leader)
        os.close(follower)
    assert run.returncode == 2 and b"which is a terminal here: pipe it in" in run.stderr
    assert server.fal.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["fal-ai/demucs", "--audio-url", "-"],
        ["fal-ai/demucs", "--input-json", '{"audio_url": "-"}'],
    ],
    ids=["option", "json"],
)
def test_a_dash_in_a_file_field_is_refused_not_sent(server: LocalServer, args: list[str]) -> None:
    """'-' is no URL and names no file: it was sent to fal as the file's "URL", paid for."""
    run = _piped(server, b"data", *args)
    assert run.returncode == 2, run.stderr
    assert b"'-' is neither a URL nor a file (stdin is not read for file fields)" in run.stderr
    assert server.fal.requests == []


BOM = b"\xef\xbb\xbf"


def test_input_json_with_a_byte_order_mark_is_read_from_a_file_and_from_stdin(
    server: LocalServer, tmp_path: Path
) -> None:
    """PowerShell's ``Out-File -Encoding utf8`` and Notepad start the file with a BOM: JSON refused
    it ("Unexpected UTF-8 BOM"), as batch rows did before they were read the same way. A file and
    stdin are read by one rule, so both take it."""
    body = b'{"prompt": "with a mark"}'
    source = tmp_path / "input.json"
    source.write_bytes(BOM + body)
    from_file = call(server, "fal-ai/flux/dev", "--input-json", f"@{source}")
    assert from_file.returncode == 0, from_file.stderr
    from_stdin = _piped(server, BOM + body, "fal-ai/flux/dev", "--input-json", "-")
    assert from_stdin.returncode == 0, from_stdin.stderr
    bodies = [r.body for r in server.fal.requests_for("submit")]
    assert bodies == [b'{"prompt":"with a mark"}'] * 2


def test_input_json_dash_with_stdin_closed_says_it_is_closed(server: LocalServer) -> None:
    """Started with ``<&-`` (sys.stdin is None) it said stdin was a terminal."""
    run = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *cli_command("call", "fal-ai/flux/dev",
         "--input-json", "-", "--schemas", str(server.served))],
        env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert b"which is closed here: pipe it in" in run.stderr
    assert b"terminal" not in run.stderr and server.fal.requests == []
