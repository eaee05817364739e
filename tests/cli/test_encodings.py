"""Every output of ``fal-typed`` survives a stdout and stderr that cannot encode every character
(a Windows console or pipe: cp1252; ``PYTHONIOENCODING=ascii``), in subprocesses against the
local server: JSON stays the same JSON (``\\uXXXX`` escapes), text gets backslash escapes, and a
paid result that cannot be printed at all is kept, its request id said on stderr."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fal_typed.testing import DEFAULT_KEY, Failure

from .helpers import LocalServer, cli_command, cli_env, filename

#: Neither ASCII nor cp1252 has these (cp1252 has "…", "—" and "é").
ODD = "a cat \u2603 \U0001f600"
ENCODINGS = ("ascii", "cp1252")
FLUX = "fal-ai/flux/dev"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_in(encoding: str, *args: str, cwd: Path | None = None, **env: str) -> Run:
    """``fal-typed ARGS`` with both streams in ``encoding``; its output decoded strictly, so a
    byte the encoding does not have fails the test."""
    completed = subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=cli_env(PYTHONIOENCODING=encoding, **env),
        capture_output=True,
        timeout=120,
        check=False,
    )
    return Run(
        completed.returncode,
        completed.stdout.decode(encoding),
        completed.stderr.decode(encoding),
    )


def call_in(encoding: str, server: LocalServer, *args: str) -> Run:
    return run_in(
        encoding, "call", *args, "--schemas", str(server.served),
        FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY,
    )  # fmt: skip


def with_about(served: Path, endpoint_id: str, about: str) -> None:
    """Give a served document this description (what ``list`` and ``--help`` show)."""
    path = served / filename(endpoint_id)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    document["info"]["x-fal-metadata"]["about"] = about
    document["info"]["description"] = about
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_paid_result_is_printed_whatever_the_encoding(server: LocalServer, encoding: str) -> None:
    server.fal.configure(FLUX, logs=[f"sampling {ODD}"])

    run = call_in(encoding, server, FLUX, "--prompt", ODD)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["prompt"] == ODD  # the same JSON, escaped as \uXXXX
    assert run.stdout.isascii()
    assert "sampling a cat \\u2603 \\U0001f600" in run.stderr  # the log line, escaped
    assert len(server.fal.requests_for("submit")) == 1

    table = call_in(encoding, server, FLUX, "--prompt", ODD, "--table")
    assert table.returncode == 0, table.stderr
    assert "a cat \\u2603 \\U0001f600" in table.stdout
    assert server.fal.cdn_url in table.stdout  # a URL is folded, never cut short


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_streamed_events_and_a_failure_message_reach_stderr(
    server: LocalServer, encoding: str
) -> None:
    server.fal.streams.configure(FLUX, partial_events=1)
    streamed = call_in(encoding, server, FLUX, "--prompt", ODD, "--via", "stream")
    assert streamed.returncode == 0, streamed.stderr
    assert json.loads(streamed.stdout)["prompt"] == ODD

    server.fal.configure(FLUX, failure=Failure(500, f"GPU on fire {ODD}"))
    failed = call_in(encoding, server, FLUX, "--prompt", "a cat")
    assert failed.returncode == 1
    assert "GPU on fire a cat \\u2603" in failed.stderr and "Traceback" not in failed.stderr


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_list_help_and_usage_errors_survive_the_encoding(
    served: Path, server: LocalServer, tmp_path: Path, encoding: str
) -> None:
    long_about = f"{ODD}: a description long enough to be shortened in sixty columns of text."
    with_about(served, FLUX, long_about)

    # The quick path (no typer): the installed endpoints, shortened to the terminal's width.
    quick = run_in(encoding, "list", "flux", "dev", cwd=tmp_path, COLUMNS="60")
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout.splitlines()[0].split() == ["flux_dev", FLUX, "text-to-image"]
    assert ("\u2026" if encoding == "cp1252" else "...") in quick.stdout

    text = run_in(encoding, "list", "--schemas", str(served), "flux", COLUMNS="60")
    assert text.returncode == 0, text.stderr
    assert "a cat \\u2603 \\U0001f600" in text.stdout

    as_json = run_in(encoding, "list", "--schemas", str(served), "flux", "--json")
    assert as_json.returncode == 0, as_json.stderr
    [row] = [r for r in json.loads(as_json.stdout) if r["endpoint_id"] == FLUX]
    assert row["description"].startswith(ODD) and as_json.stdout.isascii()

    # click writes its help itself: as the stream's encoding, or UTF-8 to a stream that says
    # ASCII (click takes that for a misconfigured locale); either way it is written whole.
    described = subprocess.run(
        cli_command("call", FLUX, "--help", "--schemas", str(server.served)),
        env=cli_env(PYTHONIOENCODING=encoding),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert described.returncode == 0, described.stderr
    shown = described.stdout.decode("utf-8" if encoding == "ascii" else encoding)
    assert ODD in shown or "a cat \\u2603 \\U0001f600" in shown

    missing = run_in(encoding, "list", "--schemas", str(tmp_path / f"gone {ODD}"))
    assert missing.returncode == 2
    assert "gone a cat \\u2603" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_price_usage_and_diff_json_survive_the_encoding(
    server: LocalServer, tmp_path: Path, encoding: str
) -> None:
    unit = f"m\u00b2 {ODD}"
    server.fal.platform.set_price(FLUX, 0.025, unit=unit)
    platform = {"FAL_TYPED_BASE_URL": server.base_url, "FAL_KEY": DEFAULT_KEY}

    priced = run_in(encoding, "price", FLUX, "--json", **platform)
    assert priced.returncode == 0, priced.stderr
    assert json.loads(priced.stdout)[0]["unit"] == unit and priced.stdout.isascii()
    table = run_in(encoding, "price", FLUX, **platform)
    assert table.returncode == 0, table.stderr
    assert "\\u2603" in table.stdout

    called = call_in(encoding, server, FLUX, "--prompt", "a cat")
    assert called.returncode == 0, called.stderr
    spent = run_in(encoding, "usage", "--since", "1d", "--json", **platform)
    assert spent.returncode == 0, spent.stderr
    assert json.loads(spent.stdout)["lines"][0]["unit"] == unit
    assert run_in(encoding, "usage", "--since", "1d", **platform).returncode == 0

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    document = json.loads((server.served / filename(FLUX)).read_text(encoding="utf-8"))
    old.write_text(json.dumps(document), encoding="utf-8")
    document["components"]["schemas"]["FluxDevInput"]["properties"]["prompt"]["description"] = ODD
    new.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    diffed = run_in(encoding, "diff", str(old), str(new), "--format", "json", "--docs")
    assert diffed.returncode == 0, diffed.stderr
    assert ODD in json.dumps(json.loads(diffed.stdout), ensure_ascii=False)
    assert run_in(encoding, "diff", str(old), str(new), "--docs").returncode == 0


@pytest.mark.parametrize(
    "stdout",
    [
        # every write fails: ENOSPC
        pytest.param(
            "full",
            marks=pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full"),
        ),
        "read-only",  # every write fails: EBADF
        "closed",  # started with no descriptor 1 (`>&-`): Python's sys.stdout is None
    ],
)
def test_a_result_stdout_refuses_is_kept_and_its_request_id_said(
    server: LocalServer, stdout: str
) -> None:
    target = {"full": ("/dev/full", "w"), "read-only": (os.devnull, "r")}.get(stdout)
    command = cli_command("call", FLUX, "--prompt", ODD, "--schemas", str(server.served))
    if target is None:
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    with open(*target) if target else contextlib.nullcontext() as stream:
        completed = subprocess.run(
            command,
            env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
            stdout=stream,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    stderr = completed.stderr.decode("utf-8")

    assert completed.returncode == 1, stderr
    [submit] = server.fal.requests_for("submit")  # sent once, never again
    assert submit.request_id is not None and f"Request {submit.request_id} completed" in stderr
    kept = re.search(r"saved in (\S+\.json)\.", stderr)
    assert kept is not None, stderr
    result = json.loads(Path(kept.group(1)).read_text(encoding="utf-8"))
    Path(kept.group(1)).unlink()
    assert result["prompt"] == ODD
    url = re.search(r"at (http\S+) \(GET", stderr)
    assert url is not None, stderr
    fetched = httpx.get(url.group(1), headers={"Authorization": f"Key {DEFAULT_KEY}"})
    assert fetched.status_code == 200 and fetched.json() == result
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
