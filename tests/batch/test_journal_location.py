"""Where a journal is: a SQLite file or a PostgreSQL DSN, and nothing else taken for either.

A location with another scheme used to become a SQLite file named after it, so two workers given
``postgresql+psycopg://...`` (SQLAlchemy's form) each kept a private journal and each sent every
row. Such locations are refused before anything is opened, named by their scheme only (a DSN may
hold a password). Workers may share a SQLite journal on one machine, not across a network
filesystem.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, InvalidArgumentError, batch
from fal_typed.batch import _sqlite
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt, cli, cli_command, cli_env, rows

SECRET = "hunter2-not-for-logs"

REFUSED = [
    pytest.param(
        f"postgresql+psycopg://batch:{SECRET}@127.0.0.1:1/jobs",
        "postgresql+psycopg",
        id="sqlalchemy",
    ),
    pytest.param(f"mysql://batch:{SECRET}@127.0.0.1/jobs", "mysql", id="mysql"),
    pytest.param("mysql://x/y", "mysql", id="mysql-short"),
    pytest.param("sqlite:///jobs.db", "sqlite", id="sqlite-url"),
    pytest.param("file:jobs.db", "file", id="file-uri"),
    pytest.param(f"PostgreSQL://batch:{SECRET}@h/db", "PostgreSQL", id="upper-case"),
    pytest.param(f"postgresql:/batch:{SECRET}@h/db", "postgresql", id="one-slash"),
    pytest.param(f"postgres:batch:{SECRET}@h/db", "postgres", id="no-slashes"),
]


@pytest.mark.parametrize(("location", "scheme"), REFUSED)
def test_a_location_of_another_scheme_is_refused_before_anything_is_opened(
    local_fal: LocalFal,
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    location: str,
    scheme: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    calls = [
        lambda: batch.run(flux_dev, rows(3), journal=location, worker=True, client=client),
        lambda: batch.run_async(flux_dev, rows(3), journal=location, client=client),
        lambda: batch.open_journal(location),
        lambda: batch.status(location),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError) as caught:
            call()
        message = str(caught.value)
        assert f"scheme {scheme!r}" in message and "postgresql://" in message
        assert SECRET not in message and SECRET not in repr(caught.value)
    assert list(tmp_path.rglob("*")) == []  # no file named after the DSN, anywhere
    assert local_fal.requests_for("submit") == []


def test_a_key_value_connection_string_is_refused_without_echoing_it(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    conninfo = f"host=db.internal dbname=jobs password={SECRET}"
    with pytest.raises(InvalidArgumentError, match="key=value connection string") as caught:
        batch.run(flux_dev, rows(1), journal=conninfo, client=client)
    assert SECRET not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_two_workers_given_a_sqlalchemy_dsn_send_nothing(
    local_fal: LocalFal, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported case: two "machines" (folders) given the same DSN used to send each row
    twice, into two SQLite files named ``postgresql+psycopg:/...``."""
    dsn = "postgresql+psycopg://batch@127.0.0.1:1/jobs"
    for machine in ("A", "B"):
        (tmp_path / machine).mkdir()
        monkeypatch.chdir(tmp_path / machine)
        with pytest.raises(InvalidArgumentError, match="'postgresql\\+psycopg'"):
            batch.run(flux_dev, rows(5), journal=dsn, worker=True, client=client).wait()
    assert accepted_by_prompt(local_fal) == {}
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "name",
    ["./odd:name.db", "C:jobs.db", "jobs.db", "sub/dir/jobs.sqlite"],
    ids=["colon-after-dot-slash", "windows-drive", "plain", "nested"],
)
def test_plain_paths_and_windows_drives_stay_sqlite_files(
    local_fal: LocalFal, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    summary = batch.run(flux_dev, rows(2, tag=name), journal=name, client=client).wait()
    assert summary.counts == {"completed": 2}
    assert (tmp_path / name).is_file()


def test_wrong_kinds_of_journal_are_refused(client: Client) -> None:
    for value, shown in ((None, "NoneType"), (3, "int"), (b"j.db", "bytes"), ("", "empty")):
        with pytest.raises(InvalidArgumentError, match=f"journal .*{shown}"):
            batch.run(flux_dev, rows(1), journal=value, client=client)  # type: ignore[arg-type]


class BytesPath:
    """A path-like whose path is bytes (as ``os.DirEntry`` from a bytes ``scandir``)."""

    def __fspath__(self) -> bytes:
        return b"j.db"


UNSUPPORTED = (
    "is not supported: a journal is a SQLite file path or a postgresql:// (or postgres://) DSN"
)
AS_DSN = "; for PostgreSQL write postgresql://user@host/db (lower case, no +driver)"
COLON = "; a file whose name holds a colon is written ./NAME"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (BytesPath(), "journal must be a str path or DSN, not bytes"),
        ("", "journal must not be empty"),
        (" \t", "journal must not be empty"),
        ("s3://bucket/jobs.db", f"journal: the scheme 's3' {UNSUPPORTED}{COLON}"),
        (f"mysql://batch:{SECRET}@db/jobs", f"journal: the scheme 'mysql' {UNSUPPORTED}{COLON}"),
        (
            f"postgresql+psycopg://batch:{SECRET}@h/db",
            f"journal: the scheme 'postgresql+psycopg' {UNSUPPORTED}{AS_DSN}{COLON}",
        ),
        (
            f"postgres+asyncpg://batch:{SECRET}@h/db",
            f"journal: the scheme 'postgres+asyncpg' {UNSUPPORTED}{AS_DSN}{COLON}",
        ),
        ("POSTGRES://h/db", f"journal: the scheme 'POSTGRES' {UNSUPPORTED}{AS_DSN}{COLON}"),
        (
            f"host=db dbname=jobs password={SECRET}",
            "journal: a PostgreSQL key=value connection string is not supported; give it as a "
            "DSN: postgresql://user@host:port/db",
        ),
    ],
    ids=["bytes-path", "empty", "blank", "two-letter-scheme", "mysql", "sqlalchemy",
         "postgres-driver", "upper-case-alias", "key-value"],
)  # fmt: skip
def test_a_refused_location_is_told_exactly_what_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, location: object, message: str
) -> None:
    """The refusal says what is wrong and what a journal is; a PostgreSQL form gets the DSN
    to write instead; a scheme of two letters (``s3``) is a scheme, only one is a drive."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError) as caught:
        batch.status(location)  # type: ignore[arg-type]
    assert caught.value.message == message
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_refuses_another_scheme_naming_it_only(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "a cat"}\n')
    dsn = f"mysql://batch:{SECRET}@db/jobs"
    for args in (
        ["run", "fal-ai/flux/dev", "p.jsonl", "--journal", dsn, "--worker"],
        ["run", "fal-ai/flux/dev", "p.jsonl", "--journal", dsn, "--dry-run"],
        ["status", dsn],
    ):
        done = cli(args, base_url=local_fal.base_url, cwd=tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "scheme 'mysql'" in done.stderr and SECRET not in done.stderr + done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]
    assert local_fal.requests_for("submit") == []


@pytest.mark.usefixtures("postgres_server")
async def test_the_postgres_alias_is_one_journal_shared_by_workers(
    local_fal: LocalFal, client: Client, pg_dsn: str, tmp_path: Path
) -> None:
    """The twin of the refusals: the DSN forms that are supported reach one database, so two
    workers started apart from each other send each row once between them."""
    alias = "postgres://" + pg_dsn.removeprefix("postgresql://")
    data = rows(12)
    jobs = [
        batch.run_async(
            flux_dev, data, journal=location, worker=True, client=client, out=tmp_path / name
        )
        for location, name in ((pg_dsn, "a"), (alias, "b"))
    ]
    await asyncio.wait_for(asyncio.gather(*(job.wait() for job in jobs)), 120)
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(12)}
    assert batch.status(alias).counts == {"completed": 12}


# -- workers on a SQLite journal ------------------------------------------------------------------


async def test_workers_on_one_machine_share_one_sqlite_journal(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    journal = tmp_path / "shared.db"
    data = rows(16)
    jobs = [
        batch.run_async(flux_dev, data, journal=journal, worker=True, client=client, concurrency=4)
        for _ in range(2)
    ]
    summaries = await asyncio.wait_for(asyncio.gather(*(job.wait() for job in jobs)), 120)
    assert all(s.counts == {"completed": 16} for s in summaries)
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(16)}


def _mountinfo_with(tmp_path: Path, fstype: str) -> Path:
    """A mountinfo (``man 5 proc``) where ``tmp_path`` is a mount of ``fstype``."""
    mount = str(tmp_path).replace(" ", "\\040")
    text = (
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"98 22 0:51 / {mount} rw,relatime shared:50 - {fstype} server:/export rw,vers=4.2\n"
    )
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return path


def test_workers_are_refused_a_sqlite_journal_on_a_network_filesystem(
    local_fal: LocalFal, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "MOUNTINFO", _mountinfo_with(tmp_path, "nfs4"))
    journal = tmp_path / "shared.db"
    with pytest.raises(batch.JournalError, match=r"network filesystem \(nfs4\).*PostgreSQL"):
        batch.run(flux_dev, rows(3), journal=journal, worker=True, client=client).wait()
    assert local_fal.requests_for("submit") == []
    # One run alone holds the journal whole (nobody shares it), so it may run there.
    solo = batch.run(flux_dev, rows(3), journal=journal, client=client).wait()
    assert solo.counts == {"completed": 3}


def test_the_filesystem_of_a_path_is_read_from_the_longest_mount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "MOUNTINFO", _mountinfo_with(tmp_path, "cifs"))
    assert _sqlite.filesystem_type(tmp_path / "deep" / "j.db") == "cifs"
    assert _sqlite.filesystem_type(Path("/elsewhere/j.db")) == "ext4"
    # A sibling whose name starts like the mount is not under it.
    assert _sqlite.filesystem_type(Path(str(tmp_path) + "-other") / "j.db") == "ext4"
    monkeypatch.setattr(_sqlite, "MOUNTINFO", tmp_path / "absent")
    assert _sqlite.filesystem_type(tmp_path) is None


def test_the_real_mount_table_reads(tmp_path: Path) -> None:
    if not _sqlite.MOUNTINFO.exists():
        pytest.skip("no /proc/self/mountinfo here")
    assert _sqlite.filesystem_type(tmp_path) not in (None, "")


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://batch:{SECRET}%zz@127.0.0.1:1/jobs",  # libpq quotes the bad token
        f"postgresql://batch:{SECRET}@[::1/jobs",  # libpq quotes the whole URI
        f"postgresql://batch@127.0.0.1:1/jobs?password={SECRET}&sslmode=bogus",
    ],
    ids=["bad-percent-encoding", "bad-host", "password-parameter"],
)
def test_a_postgres_dsn_that_cannot_connect_never_shows_its_password(dsn: str) -> None:
    with pytest.raises(batch.JournalError, match="cannot connect to the PostgreSQL journal") as got:
        batch.open_journal(dsn)
    assert SECRET not in str(got.value) and SECRET not in repr(got.value)


def _alias(tmp_path: Path, how: str) -> Path:
    """Another name of ``tmp_path/real/j.db``."""
    real = tmp_path / "real"
    if how == "file-symlink":
        (tmp_path / "link.db").symlink_to(real / "j.db")
        return tmp_path / "link.db"
    if how == "chained-symlinks":
        (tmp_path / "one.db").symlink_to(real / "j.db")
        (tmp_path / "two.db").symlink_to(tmp_path / "one.db")
        return tmp_path / "two.db"
    if how == "folder-symlink":
        (tmp_path / "linked").symlink_to(real)
        return tmp_path / "linked" / "j.db"
    return tmp_path / "real" / ".." / "real" / "j.db"  # dot-dot


@pytest.mark.parametrize("how", ["file-symlink", "chained-symlinks", "folder-symlink", "dot-dot"])
@pytest.mark.parametrize("first", ["solo", "worker"])
def test_a_second_run_through_another_name_of_the_journal_is_refused(
    local_fal: LocalFal, client: Client, tmp_path: Path, how: str, first: str
) -> None:
    from fal_typed.batch._journal import BatchInfo

    (tmp_path / "real").mkdir()
    journal = tmp_path / "real" / "j.db"
    held = batch.SQLiteJournal(journal)
    held.open(BatchInfo("default", "fal-ai/flux/dev", None), first)  # type: ignore[arg-type]
    try:
        # Through a symbolic link it took a lock of its own: both runs took over every row.
        with pytest.raises(batch.JournalBusyError):
            batch.run(
                flux_dev, rows(2), journal=_alias(tmp_path, how), client=client, settle=False
            ).wait()
    finally:
        held.close()
    assert not accepted_by_prompt(local_fal)


@pytest.mark.parametrize("first", ["solo", "worker"])
def test_a_run_through_a_hard_link_to_a_journal_in_use_is_refused(
    local_fal: LocalFal, client: Client, tmp_path: Path, first: str
) -> None:
    from fal_typed.batch._journal import BatchInfo

    journal = tmp_path / "j.db"
    held = batch.SQLiteJournal(journal)
    held.open(BatchInfo("default", "fal-ai/flux/dev", None), first)  # type: ignore[arg-type]
    try:
        os.link(journal, tmp_path / "other.db")
        # Its lock was beside its own name: both runs took over every row and sent it.
        for mode in ("solo", "worker"):
            with pytest.raises(batch.JournalError, match="2 names"):
                batch.run(
                    flux_dev,
                    rows(2),
                    journal=tmp_path / "other.db",
                    client=client,
                    settle=False,
                    worker=mode == "worker",
                ).wait()
    finally:
        held.close()
    assert not accepted_by_prompt(local_fal)


def test_a_run_killed_through_one_name_is_not_resumed_through_another(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    """SQLite keeps a journal's last commits in a write-ahead log beside the name it was opened
    by: a run killed through ``j.db`` leaves them in ``j.db-wal``, which a run through a hard
    link never reads, so it took the rows sent for unsent and sent them again. Such a run is
    refused; once the other name is gone, the first name resumes, each row sent once."""
    local_fal.configure(processing_time=0.05)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"prompt": f"row {i}"}) + "\n" for i in range(40)))
    journal, other = tmp_path / "j.db", tmp_path / "other.db"

    def command(name: Path) -> list[str]:
        return cli_command(
            "run", "fal-ai/flux/dev", str(source), "--journal", str(name), "--concurrency", "4"
        )

    running = subprocess.Popen(command(journal), env=cli_env(local_fal.base_url))
    try:
        deadline = time.monotonic() + 60
        while len(local_fal.requests_for("submit")) < 8:
            assert time.monotonic() < deadline and running.poll() is None
            time.sleep(0.02)
        running.send_signal(signal.SIGKILL)
    finally:
        running.kill()
        running.wait(30)
    sent = len(local_fal.requests_for("submit"))
    assert (tmp_path / "j.db-wal").stat().st_size > 0  # the kill left commits in the log
    os.link(journal, other)
    refused = subprocess.run(
        command(other), env=cli_env(local_fal.base_url), capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2, refused.stderr
    assert "has 2 names (hard links" in refused.stderr
    assert len(local_fal.requests_for("submit")) == sent
    other.unlink()
    resumed = subprocess.run(
        command(journal),
        env=cli_env(local_fal.base_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert accepted_by_prompt(local_fal) == {f"row {i}": 1 for i in range(40)}
