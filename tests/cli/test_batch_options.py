"""``fal-typed batch run``'s numeric options refuse NaN, infinities and values out of range while
the command line is parsed: exit 2 naming the option, before a key is looked for, a journal made
or a request sent. (``--lease inf`` used to pass click's range check, then be refused as
``lease`` by the library, or, without a key, hidden behind "no fal API key"; ``--dry-run`` took
it silently.)"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from .helpers import LocalServer, run_cli

ROW = '{"prompt": "a cat"}\n'

CASES = [
    (
        "--lease",
        "nan",
        "Invalid value for '--lease': must be a finite number of seconds, got 'nan'",
    ),
    (
        "--lease",
        "inf",
        "Invalid value for '--lease': must be a finite number of seconds, got 'inf'",
    ),
    (
        "--lease",
        "-inf",
        "Invalid value for '--lease': must be a finite number of seconds, got '-inf'",
    ),
    (
        "--lease",
        "1e400",
        "Invalid value for '--lease': must be a finite number of seconds, got '1e400'",
    ),
    ("--lease", "2.5", "Invalid value for '--lease': must be >= 3 seconds, got '2.5'"),
    ("--lease", "soon", "Invalid value for '--lease': must be a number of seconds, got 'soon'"),
    (
        "--webhook-timeout",
        "nan",
        "Invalid value for '--webhook-timeout': must be a finite number of seconds, got 'nan'",
    ),
    (
        "--webhook-timeout",
        "inf",
        "Invalid value for '--webhook-timeout': must be a finite number of seconds, got 'inf'",
    ),
    (
        "--webhook-timeout",
        "0",
        "Invalid value for '--webhook-timeout': must be >= 1 seconds, got '0'",
    ),
    (
        "--settle-delay",
        "nan",
        "Invalid value for '--settle-delay': must be a finite number of seconds, got 'nan'",
    ),
    (
        "--settle-delay",
        "inf",
        "Invalid value for '--settle-delay': must be a finite number of seconds, got 'inf'",
    ),
    ("--settle-delay", "-1", "Invalid value for '--settle-delay': must be >= 0 seconds, got '-1'"),
    (
        "--max-cost",
        "nan",
        "Invalid value for '--max-cost': must be a finite number of dollars, got 'nan'",
    ),
    (
        "--max-cost",
        "inf",
        "Invalid value for '--max-cost': must be a finite number of dollars, got 'inf'",
    ),
    ("--max-cost", "-0.01", "Invalid value for '--max-cost': must be >= 0 dollars, got '-0.01'"),
    ("--max-cost", "$5", "Invalid value for '--max-cost': must be a number of dollars, got '$5'"),
    ("--concurrency", "0", "Invalid value for '--concurrency'"),
    ("--concurrency", "nan", "Invalid value for '--concurrency'"),
    ("--concurrency", "inf", "Invalid value for '--concurrency'"),
    ("--concurrency", "10001", "Invalid value for '--concurrency'"),
]

#: Options read as the command starts (not by click): the same exit 2 and nothing made or sent.
READ_AT_START = [
    ("--webhook-listen", "127.0.0.1:\u00b2", "--webhook-listen must be HOST:PORT"),
    ("--webhook-listen", "127.0.0.1:\u0668\u0660", "--webhook-listen must be HOST:PORT"),
    ("--webhook-listen", "127.0.0.1:65536", "--webhook-listen must be HOST:PORT"),
    ("--webhook-listen", "127.0.0.1:" + "9" * 5000, "--webhook-listen must be HOST:PORT"),
    ("--webhook-listen", "8080", "--webhook-listen must be HOST:PORT"),
    ("--retry-failed", "\u00b2", "--retry-failed: '\u00b2' is no kind of failure"),
    ("--retry-failed", "5xx,time out", "--retry-failed: 'time out' is no kind of failure"),
    # A dry run took these silently; the run refused them (after the key was looked for).
    ("--webhook-url", "ftp://example.com/hook", "--webhook-url must be an absolute http(s) URL"),
    ("--webhook-url", "hooks.example.com", "--webhook-url must be an absolute http(s) URL"),
    ("--out", "prompts.jsonl/results", "--out must be a folder: prompts.jsonl is a file"),
    ("--key-field", "", "--key-field must be a non-empty string"),
    ("--batch-name", "", "--batch-name must be a string of 1 to 200 characters"),
    ("--batch-name", "b" * 201, "--batch-name must be a string of 1 to 200 characters"),
    ("--key", "'id:secret'", "--key is wrapped in quotes"),
    ("--key", "id: secret", "--key must not contain whitespace"),
    ("--api-url", "ftp://example.com", "--api-url must be an absolute http/https URL"),
    ("--journal", "mysql://db/jobs", "--journal: the scheme 'mysql' is not supported"),
    ("--format", "xml", "--format must be jsonl or csv"),
]


@pytest.mark.parametrize(
    ("option", "value", "message"), CASES, ids=[f"{o}={v}" for o, v, _ in CASES]
)
def test_a_number_out_of_range_exits_2_naming_the_option_before_anything(
    server: LocalServer, tmp_path: Path, option: str, value: str, message: str
) -> None:
    (tmp_path / "prompts.jsonl").write_text(ROW)
    common = ("batch", "run", "fal-ai/flux/dev", "prompts.jsonl", "--journal", "cats.db")
    for extra in ((), ("--dry-run",)):  # a dry run takes no option it would refuse in a run
        run = run_cli(
            *common, *extra, option, value, cwd=tmp_path, FAL_TYPED_BASE_URL=server.base_url
        )
        assert run.returncode == 2, (run.stdout, run.stderr)
        assert f"Invalid value for '{option}'" in run.stderr
        assert message in run.stderr
        assert "no fal API key" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prompts.jsonl", "served"]
    assert server.fal.requests_for("submit") == []


def test_the_bounds_themselves_are_taken(server: LocalServer, tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text(ROW)
    run = run_cli(
        "batch", "run", "fal-ai/flux/dev", "prompts.jsonl", "--journal", "cats.db", "--dry-run",
        "--lease", "3", "--webhook-timeout", "1", "--settle-delay", "0", "--max-cost", "0",
        "--concurrency", "1", cwd=tmp_path, FAL_TYPED_BASE_URL=server.base_url,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 rows: 1 valid, 0 invalid" in run.stdout


def test_a_real_run_with_numbers_in_range_completes(server: LocalServer, tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text(ROW)
    run = run_cli(
        "batch", "run", "fal-ai/flux/dev", "prompts.jsonl", "--journal", "cats.db", "--quiet",
        "--no-download", "--lease", "3.5", "--webhook-timeout", "1.5", "--settle-delay", "0.5",
        cwd=tmp_path, FAL_TYPED_BASE_URL=server.base_url,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(server.fal.requests_for("submit")) == 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    READ_AT_START,
    ids=[f"{o}={v.encode('unicode_escape').decode()}" for o, v, _ in READ_AT_START],
)
def test_an_option_read_at_start_exits_2_before_anything(
    server: LocalServer, tmp_path: Path, option: str, value: str, message: str
) -> None:
    """A dry run took them silently; a port of non-ASCII digits raised a ValueError from int()."""
    (tmp_path / "prompts.jsonl").write_text(ROW)
    common = ("batch", "run", "fal-ai/flux/dev", "prompts.jsonl", "--journal", "cats.db")
    for extra in ((), ("--dry-run",)):
        run = run_cli(
            *common, *extra, option, value, cwd=tmp_path, FAL_TYPED_BASE_URL=server.base_url
        )
        assert run.returncode == 2, (run.stdout, run.stderr)
        assert message in run.stderr
        assert "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prompts.jsonl", "served"]
    assert server.fal.requests_for("submit") == []


def test_a_dry_run_without_a_key_says_the_run_needs_one(
    server: LocalServer, tmp_path: Path
) -> None:
    """The rows are checked without a key (nothing is sent); the run would stop at its absence,
    so the dry run says so, and still makes nothing."""
    (tmp_path / "prompts.jsonl").write_text(ROW)
    run = run_cli(
        "batch", "run", "fal-ai/flux/dev", "prompts.jsonl", "--journal", "cats.db", "--dry-run",
        cwd=tmp_path, FAL_TYPED_API_URL=server.base_url,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 rows: 1 valid, 0 invalid" in run.stdout
    assert "note: no fal API key: set FAL_KEY" in run.stderr
    assert "the run needs one" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prompts.jsonl", "served"]


def test_a_dry_run_refuses_a_journal_of_another_endpoint_as_the_run_does(
    server: LocalServer, tmp_path: Path
) -> None:
    """The dry run said what the journal holds and exited 0; the run then refused the journal as
    another endpoint's (exit 2)."""
    (tmp_path / "prompts.jsonl").write_text(ROW)
    env = {"FAL_TYPED_BASE_URL": server.base_url}
    first = ("batch", "run", "fal-ai/flux/dev", "prompts.jsonl", "--journal", "cats.db")
    assert run_cli(*first, cwd=tmp_path, **env).returncode == 0
    other = ("batch", "run", "fal-ai/flux/schnell", "prompts.jsonl", "--journal", "cats.db")
    for extra in (("--dry-run",), ()):
        run = run_cli(*other, *extra, cwd=tmp_path, **env)
        assert run.returncode == 2, (extra, run.stdout, run.stderr)
        said = " ".join(run.stderr.split())
        assert "is the journal of a batch on fal-ai/flux/dev, not fal-ai/flux/schnell" in said
    assert len(server.fal.requests_for("submit")) == 1


def test_rows_from_a_closed_or_terminal_stdin_are_refused_saying_how(tmp_path: Path) -> None:
    """'-' with stdin closed (<&-) raised an AttributeError, reported as a bug (exit 70); on a
    terminal it waited, silently, for rows typed by hand."""
    import os
    import pty
    import subprocess

    from .helpers import cli_command, cli_env

    args = cli_command("batch", "run", "fal-ai/flux/dev", "-", "--journal", "j.db", "--dry-run")
    closed = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *args],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert closed.returncode == 2, closed.stderr
    assert "'-' reads the rows from standard input, which is closed here" in closed.stderr
    real_run = [a for a in args if a != "--dry-run"]  # refused before its journal is made
    closed = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *real_run],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert closed.returncode == 2, closed.stderr
    assert "which is closed here" in closed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no j.db, no j.db.lock left
    leader, follower = pty.openpty()
    try:
        terminal = subprocess.run(
            args, stdin=follower, cwd=tmp_path, env=cli_env(), capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(leader)
        os.close(follower)
    assert terminal.returncode == 2, terminal.stderr
    assert "which is a terminal here: pipe the rows in" in terminal.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("mysql://db/jobs",), "Error: JOURNAL: the scheme 'mysql' is not supported"),
        (("cats.db", "--batch-name", ""), "Error: --batch-name must be a string of 1 to 200"),
    ],
)
def test_batch_status_names_what_was_typed(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """``batch status`` wraps the library's checks too: the argument and the option as typed,
    never ``journal`` or ``name`` (the library's keywords)."""
    run = run_cli("batch", "status", *args, cwd=tmp_path)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert message in " ".join(run.stderr.split())
    assert not (tmp_path / "cats.db").exists()


def test_the_command_line_bounds_are_the_librarys() -> None:
    """``--lease``, ``--webhook-timeout`` and ``--concurrency`` take what ``batch.run`` takes:
    the command line keeps its own literals (its ``--help`` loads no runtime) and they must
    not drift from the library's constants."""
    from fal_typed.batch._checks import MAX_CONCURRENCY, MIN_LEASE, MIN_WEBHOOK_TIMEOUT
    from fal_typed.cli._batch import run_command

    hints = typing.get_type_hints(run_command, include_extras=True)
    parsers = {name: hint.__metadata__[0] for name, hint in hints.items() if name != "return"}
    assert parsers["lease"].parser(str(MIN_LEASE)) == MIN_LEASE
    with pytest.raises(Exception, match=">= 3 seconds"):
        parsers["lease"].parser(str(MIN_LEASE - 0.001))
    assert parsers["webhook_timeout"].parser(str(MIN_WEBHOOK_TIMEOUT)) == MIN_WEBHOOK_TIMEOUT
    with pytest.raises(Exception, match=">= 1 seconds"):
        parsers["webhook_timeout"].parser(str(MIN_WEBHOOK_TIMEOUT - 0.001))
    assert (parsers["concurrency"].min, parsers["concurrency"].max) == (1, MAX_CONCURRENCY)


def test_the_endpoint_options_of_call_are_named_as_typed(tmp_path: Path) -> None:
    """``call`` runs the endpoint's own click command inside typer's: the innermost command's
    options are the ones a message names (``--queue-url``, not the library's ``queue_url``)."""
    run = run_cli(
        "call", "fal-ai/flux/dev", "--prompt", "x", "--queue-url", "ftp://example.com", cwd=tmp_path
    )
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Error: --queue-url must be an absolute http/https URL" in " ".join(run.stderr.split())


@pytest.mark.parametrize(
    "message",
    [
        "webhook mode needs the server extra: pip install 'fal-typed[server]'",
        "download of https://x/y.png failed: 404",
        "rows * units_per_call must be at most 10",
        "settle must be True or False",
    ],
)
def test_a_message_whose_first_word_names_no_parameter_is_left_as_it_is(message: str) -> None:
    from fal_typed.cli._batch import _RENAMED  # pyright: ignore[reportPrivateUsage]
    from fal_typed.cli._errors import as_typed

    assert as_typed(message, _RENAMED) == message


def test_a_parameter_a_message_names_is_written_as_typed() -> None:
    from fal_typed.cli._batch import _RENAMED  # pyright: ignore[reportPrivateUsage]
    from fal_typed.cli._errors import as_typed

    assert as_typed("rows must be a list", _RENAMED) == "INPUT must be a list"
    assert as_typed("on_change: 'x' is none of", _RENAMED) == "--changed: 'x' is none of"
    assert as_typed("format=xml is unknown", _RENAMED) == "--format=xml is unknown"


def test_an_unreadable_command_line_context_costs_the_names_not_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Click's or typer's objects changing shape: the library's words stay, no traceback."""
    from fal_typed.cli import _errors

    monkeypatch.setattr(_errors, "_current_context", lambda: object())
    assert _errors.as_typed("out must be a folder") == "out must be a folder"
