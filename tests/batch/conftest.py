"""Fixtures of the batch tests: a real PostgreSQL server the tests start themselves, the local fal
server (in this process, or in its own for batches that get killed), and running the CLI."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fal_typed import Client, RetryPolicy
from fal_typed.testing import LocalFal

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)
KEY = "batch-key-id:batch-key-secret"


@pytest.fixture
def client(local_fal: LocalFal) -> Iterator[Client]:
    """A client of the in-process local server, retrying fast."""
    with local_fal.client(retry=FAST_RETRY, poll_interval=0.02) as c:
        yield c


def rows(count: int, tag: str = "row", **extra: Any) -> list[dict[str, Any]]:
    """``count`` flux/dev inputs with distinct prompts ``<tag> <n>``."""
    return [{"prompt": f"{tag} {i}", "image_size": "square", **extra} for i in range(count)]


def accepted_by_prompt(local_fal: LocalFal) -> dict[str, int]:
    """How many submits the in-process server accepted, by prompt."""
    counts: dict[str, int] = {}
    for entry in local_fal.requests_for("submit"):
        if entry.fault is None and entry.status_code == 200:
            prompt = str(entry.json().get("prompt"))
            counts[prompt] = counts.get(prompt, 0) + 1
    return counts


# -- the command line ---------------------------------------------------------------------------


def cli(
    args: Sequence[str], *, base_url: str, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``fal-typed batch ...`` in a subprocess against a local server."""
    env = {**os.environ, "FAL_KEY": KEY, "FAL_TYPED_BASE_URL": base_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "fal_typed.cli", "batch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_command(*args: str) -> list[str]:
    """The argv of ``fal-typed batch ARGS`` run by this interpreter."""
    return [sys.executable, "-m", "fal_typed.cli", "batch", *args]


def cli_env(base_url: str) -> dict[str, str]:
    return {**os.environ, "FAL_KEY": KEY, "FAL_TYPED_BASE_URL": base_url, "COLUMNS": "200"}


# -- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user() -> tuple[list[str], str | None]:
    """How to run PostgreSQL's programs: as is, or (as root, which initdb refuses) as an
    unprivileged user through runuser."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
    pytest.fail("running as root and no unprivileged user (postgres, nobody) for PostgreSQL")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of our own, on a free port of 127.0.0.1; yields its admin DSN."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail(
            "PostgreSQL's initdb/pg_ctl were not found (on PATH or /usr/lib/postgresql/*/bin): "
            "install Debian's postgresql package (scripts/system-deps.sh does)"
        )
    prefix, user = _as_user()
    root = Path(tempfile.mkdtemp(prefix="fal-batch-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        root.chmod(0o755)
    port = _free_port()
    try:
        subprocess.run(
            [
                *prefix,
                initdb,
                "-D",
                str(data),
                "-U",
                "fal",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        subprocess.run(
            [
                *prefix,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.CalledProcessError as exc:
        details = exc.stderr or exc.stdout
        if log.exists():
            details += log.read_text()
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {details}")
    try:
        yield f"postgresql://fal@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(postgres_server: str) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server."""
    import psycopg

    name = f"batch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # pyright: ignore[reportArgumentType]
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # pyright: ignore[reportArgumentType]
