"""Every public option of ``batch.run`` / ``run_async`` / ``validate`` / ``read`` / ``status`` is
checked for kind and range before anything starts: no journal file is made, no row is read, no
request is sent, and the error (``InvalidArgumentError``: a ``FalError`` and a ``ValueError``)
names the option.

Found late, these cost a half-started batch: ``webhook="not a url"`` marked every row failed,
``lease=nan`` ran and did nothing, ``concurrency=1.5`` reached SQLite, a missing input file
raised ``FileNotFoundError`` mid-run.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fal_endpoints import flux_dev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fal_typed import Client, FalError, InvalidArgumentError, batch
from fal_typed.batch._checks import check_retry_kinds
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt, cli, rows

Value = Any
"""An option's value, or a function of the test's folder that makes it."""


def _file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("x")
    return tmp / "a-file"


def _under_file(tmp: Path) -> Path:
    return _file(tmp) / "sub"


BAD_RUN_OPTIONS: list[tuple[str, Value, str]] = [
    ("concurrency", 0, "concurrency must be >= 1, got 0"),
    ("concurrency", 10_001, "concurrency must be at most 10000, got 10001"),
    ("concurrency", 1.5, "concurrency must be an int, got float"),
    ("concurrency", True, "concurrency must be an int, got bool"),
    ("concurrency", "8", "concurrency must be an int, got str"),
    ("concurrency", math.nan, "concurrency must be an int, got float"),
    ("lease", math.nan, "lease must be a finite number of seconds, got nan"),
    ("lease", math.inf, "lease must be a finite number of seconds, got inf"),
    ("lease", 2.9, "lease must be >= 3 seconds, got 2.9"),
    ("lease", True, "lease must be a number of seconds, got bool"),
    ("lease", "60", "lease must be a number of seconds, got str"),
    ("max_cost", "5", "max_cost must be a number of dollars, got str"),
    ("max_cost", math.nan, "max_cost must be a finite number of dollars, got nan"),
    ("max_cost", math.inf, "max_cost must be a finite number of dollars"),
    ("max_cost", -0.01, "max_cost must be >= 0 dollars, got -0.01"),
    ("max_cost", False, "max_cost must be a number of dollars, got bool"),
    ("settle_delay", math.nan, "settle_delay must be a finite number of seconds"),
    ("settle_delay", -1, "settle_delay must be >= 0 seconds, got -1"),
    ("settle_delay", "120", "settle_delay must be a number of seconds"),
    ("webhook_timeout", 0, "webhook_timeout must be >= 1 seconds, got 0"),
    ("webhook_timeout", 0.5, "webhook_timeout must be >= 1 seconds, got 0.5"),
    ("webhook_timeout", math.inf, "webhook_timeout must be a finite number of seconds"),
    ("webhook_timeout", None, "webhook_timeout must be a number of seconds, got NoneType"),
    ("on_change", "ignore", "on_change must be 'refuse' or 'keep', got 'ignore'"),
    ("retry_failed", 5, "retry_failed must be a string or an iterable of strings, got int"),
    ("retry_failed", [5], "retry_failed must hold strings \\(error kinds\\), got int"),
    ("retry_failed", b"all", "retry_failed must be a string or an iterable of strings, got bytes"),
    ("retry_failed", "²", "retry_failed: '²' is no kind of failure"),
    ("retry_failed", "5xx,٣٠٠", "retry_failed: '٣٠٠' is no kind of failure"),
    ("retry_failed", "50", "retry_failed: '50' is no kind of failure"),
    ("retry_failed", "5XX", "retry_failed: '5XX' is no kind of failure"),
    ("retry_failed", "6xx", "retry_failed: '6xx' is no kind of failure"),
    ("retry_failed", "time out", "retry_failed: 'time out' is no kind of failure"),
    ("retry_failed", ["all", "_x"], "retry_failed: '_x' is no kind of failure"),
    ("download", "no", "download must be True or False, got str"),
    ("report", 0, "report must be True or False, got int"),
    ("skip_invalid", None, "skip_invalid must be True or False, got NoneType"),
    ("resend_ambiguous", 1, "resend_ambiguous must be True or False, got int"),
    ("worker", "yes", "worker must be True or False, got str"),
    ("adaptive", 0, "adaptive must be True or False, got int"),
    ("settle", "false", "settle must be True or False, got str"),
    ("key_field", "", "key_field must be a non-empty string or None, got ''"),
    ("key_field", 3, "key_field must be a non-empty string or None, got 3"),
    ("batch_name", "", "batch_name must be a string of 1 to 200 characters, got ''"),
    ("batch_name", "x" * 201, "batch_name must be a string of 1 to 200 characters"),
    ("batch_name", 7, "batch_name must be a string of 1 to 200 characters, got int"),
    ("out", _file, "out must be a folder: .*a-file is a file"),
    ("out", _under_file, "out must be a folder: .*a-file is a file, so .*sub cannot be made"),
    ("out", 3, "out must be a folder path, got int"),
    ("out", "", "out must be a non-empty str path"),
    ("webhook", "not a url", "webhook must not contain spaces"),
    ("webhook", "ftp://host/hook", "webhook must be an absolute http\\(s\\) URL"),
    ("webhook", "hook.example.com/x", "webhook must be an absolute http\\(s\\) URL"),
    ("webhook", None, "webhook must be True, False or an http\\(s\\) URL, got NoneType"),
    ("webhook_listen", "x", "webhook_listen must be a \\(host, port\\) pair"),
    ("webhook_listen", ("127.0.0.1",), "webhook_listen must be a \\(host, port\\) pair"),
    ("webhook_listen", ("127.0.0.1", 70_000), "webhook_listen must be .* 0 to 65535"),
    ("webhook_listen", ("127.0.0.1", "80"), "webhook_listen must be a \\(host, port\\) pair"),
    ("webhook_listen", ("127.0.0.1", True), "webhook_listen must be a \\(host, port\\) pair"),
    ("webhook_listen", ("", 80), "webhook_listen must be a \\(host, port\\) pair"),
    ("webhook_verifier", "v", "webhook_verifier must be a WebhookVerifier, got str"),
    ("progress", "loud", "progress must be 'auto', 'rich', 'plain', 'quiet' or a Progress"),
    ("progress", 3, "progress must be .* or a Progress, got int"),
    ("before_send", 3, "before_send must be callable, got int"),
    ("reconcile", "x", "reconcile must be callable, got str"),
    ("client", "c", "client must be a fal_typed.Client, got str"),
]


def _value(value: Value, tmp: Path) -> Any:
    return value(tmp) if callable(value) else value


def _refused(call: Callable[[], object], match: str) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError, match=match) as caught:
        call()
    assert isinstance(caught.value, FalError) and isinstance(caught.value, ValueError)
    return caught.value


@pytest.mark.parametrize(
    ("option", "value", "message"),
    BAD_RUN_OPTIONS,
    ids=[f"{o}={v.__name__ if callable(v) else repr(v)[:20]}" for o, v, _ in BAD_RUN_OPTIONS],
)
@pytest.mark.parametrize("entry", ["run", "run_async"])
def test_a_bad_option_is_refused_before_anything_starts(
    local_fal: LocalFal,
    client: Client,
    tmp_path: Path,
    entry: str,
    option: str,
    value: Value,
    message: str,
) -> None:
    journal = tmp_path / "j.db"
    options: dict[str, Any] = {
        "journal": journal,
        "client": client,
        option: _value(value, tmp_path),
    }
    function = batch.run if entry == "run" else batch.run_async
    _refused(lambda: function(flux_dev, rows(2), **options), f"^{message}")
    assert not journal.exists()  # no journal was made
    assert local_fal.requests_for("submit") == []


BAD_ROWS: list[tuple[Value, str]] = [
    (5, "rows must be a JSONL or CSV file, or an iterable .*, got int"),
    (b"rows.jsonl", "rows must be a JSONL or CSV file, or an iterable .*, got bytes"),
    ({"prompt": "one row"}, "rows must be an iterable of mappings .* not a single row"),
    ("missing.jsonl", "the input file missing.jsonl does not exist"),
    (lambda tmp: tmp, "the input file .* is a folder, not a JSONL or CSV file"),
    (lambda tmp: _file(tmp), "cannot tell the format of .*a-file from its name"),
]


@pytest.mark.parametrize(("value", "message"), BAD_ROWS)
def test_bad_rows_are_refused_by_run_and_validate(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Value, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    rows_value = _value(value, tmp_path)
    _refused(lambda: batch.run(flux_dev, rows_value, journal="j.db", client=client), message)
    _refused(lambda: batch.validate(flux_dev, rows_value), message)
    assert not (tmp_path / "j.db").exists()


def test_a_file_read_and_then_removed_is_refused_when_the_run_starts(
    client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "a"}\n')
    source = batch.read(path)
    path.unlink()
    _refused(
        lambda: batch.run(flux_dev, source, journal=tmp_path / "j.db", client=client),
        "the input file .*p.jsonl does not exist",
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: batch.validate(flux_dev, None), "^rows must be a JSONL or CSV file"),  # type: ignore[arg-type]
        (lambda: batch.validate(flux_dev, [], key_field=3), "^key_field must be"),  # type: ignore[arg-type]
        (lambda: batch.validate(3, []), "^endpoint must be an Endpoint"),  # type: ignore[arg-type]
        (lambda: batch.run(3, [], journal="x.db"), "^endpoint must be an Endpoint"),  # type: ignore[arg-type]
        (lambda: batch.run(batch, [], journal="x.db"), "^endpoint: fal_typed.batch is not a"),  # type: ignore[arg-type]
        (lambda: batch.read(3), "^the input file must be a path"),  # type: ignore[arg-type]
        (lambda: batch.read(b"x.jsonl"), "^the input file must be a path"),  # type: ignore[arg-type]
        (lambda: batch.read(""), "^the input file must not be an empty path"),
        (lambda: batch.read("missing.csv"), "^the input file missing.csv does not exist"),
        (lambda: batch.read("-", format="xml"), "^format must be 'jsonl' or 'csv', got 'xml'"),  # type: ignore[arg-type]
        (lambda: batch.status("j.db", name=""), "^batch_name must be a string of 1 to 200"),
        (lambda: batch.status(None), "^journal must be a SQLite file path"),  # type: ignore[arg-type]
        (lambda: batch.open_journal("j.db", name=5), "^batch_name must be a string"),  # type: ignore[arg-type]
    ],
    ids=[
        "validate-rows-none",
        "validate-key-field",
        "validate-endpoint",
        "run-endpoint",
        "run-module-without-endpoint",
        "read-int",
        "read-bytes",
        "read-empty",
        "read-missing",
        "read-format",
        "status-name",
        "status-none",
        "open-journal-name",
    ],
)
def test_validate_read_and_status_check_their_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: Callable[[], object], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _refused(call, message)
    assert list(tmp_path.iterdir()) == []


# -- numbers: accepted exactly in range, whatever is given ---------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)

RANGES: dict[str, Callable[[Any], bool]] = {
    "concurrency": lambda v: type(v) is int and 1 <= v <= 10_000,
    "lease": lambda v: _real(v) and v >= 3,
    "max_cost": lambda v: v is None or (_real(v) and v >= 0),
    "settle_delay": lambda v: _real(v) and v >= 0,
    "webhook_timeout": lambda v: _real(v) and v >= 1,
}


def _real(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


@pytest.mark.parametrize("option", sorted(RANGES))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=NUMBERS)
def test_numeric_options_are_accepted_exactly_in_range(
    client: Client, option: str, value: Any
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        journal = Path(folder) / "j.db"

        def start() -> batch.Job:
            return batch.run(flux_dev, [], journal=journal, client=client, **{option: value})

        if RANGES[option](value):
            start().journal.close()  # built, not started
        else:
            _refused(start, f"^{option} must be")
            assert not journal.exists()


# -- what a refusal spares -----------------------------------------------------------------------


def test_a_bad_webhook_url_marks_no_row_failed(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    """It used to start the run and fail every row with ``invalid_argument``, which stayed
    failed on the next run."""
    journal = tmp_path / "j.db"
    _refused(
        lambda: batch.run(flux_dev, rows(2), journal=journal, webhook="not a url", client=client),
        "^webhook must",
    )
    summary = batch.run(flux_dev, rows(2), journal=journal, client=client).wait()
    assert summary.counts == {"completed": 2}
    assert accepted_by_prompt(local_fal) == {"row 0": 1, "row 1": 1}


def test_the_command_line_refuses_a_bad_webhook_url_before_a_journal_is_made(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "a cat"}\n')
    done = cli(
        ["run", "fal-ai/flux/dev", "p.jsonl", "--journal", "j.db", "--webhook-url", "not a url"],
        base_url=local_fal.base_url,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2 and "--webhook-url must not contain spaces" in done.stderr
    assert not (tmp_path / "j.db").exists()
    assert local_fal.requests_for("submit") == []


# -- the edges of each range, and what is accepted -----------------------------------------------


class BytesPath:
    """A path-like whose path is bytes (as ``os.DirEntry`` from a bytes ``scandir``)."""

    def __fspath__(self) -> bytes:
        return b"results"


def _plan_hook(plan: object) -> None:
    del plan


ACCEPTED_AT_THE_EDGES: list[tuple[str, Value]] = [
    ("concurrency", 1),
    ("concurrency", 10_000),
    ("batch_name", "x"),
    ("batch_name", "x" * 200),
    ("webhook_listen", ("127.0.0.1", 0)),
    ("webhook_listen", ("127.0.0.1", 65_535)),
    ("before_send", _plan_hook),
    ("reconcile", _plan_hook),
    ("retry_failed", "all"),
]


@pytest.mark.parametrize(("option", "value"), ACCEPTED_AT_THE_EDGES)
def test_an_option_at_the_edge_of_its_range_is_accepted(
    client: Client, tmp_path: Path, option: str, value: Value
) -> None:
    job = batch.run(flux_dev, [], journal=tmp_path / "j.db", client=client, **{option: value})
    job.journal.close()  # built, not started


REFUSED_EXACTLY: list[tuple[str, Value, str] | Any] = [
    ("concurrency", 10_001, "concurrency must be at most 10000, got 10001"),
    # ints no message could print (a raw ValueError) or no float holds (a raw OverflowError)
    pytest.param(  # (an id of its own: pytest cannot print the value either)
        "concurrency", 10**5000, "concurrency must be at most 10000, got an integer of 16610 bits",
        id="concurrency-5000-digits",
    ),
    ("lease", 10**400, "lease must be a finite number of seconds, got an integer of 1329 bits"),
    ("max_cost", 10**400, "max_cost must be a finite number of dollars, got an integer of 1329 bits"),
    ("batch_name", "x" * 201, f"batch_name must be a string of 1 to 200 characters, got {'x' * 201!r}"),
    ("webhook", 5, "webhook must be True, False or an http(s) URL, got int"),
    ("webhook_listen", ("127.0.0.1", 65_536), "webhook_listen must be a (host, port) pair with a port from 0 to 65535, got ('127.0.0.1', 65536)"),
    ("webhook_listen", ("127.0.0.1", -1), "webhook_listen must be a (host, port) pair with a port from 0 to 65535, got ('127.0.0.1', -1)"),
    ("out", BytesPath(), "out must be a non-empty str path"),
]  # fmt: skip


@pytest.mark.parametrize(("option", "value", "message"), REFUSED_EXACTLY)
def test_an_option_just_past_its_range_is_refused_naming_it(
    client: Client, tmp_path: Path, option: str, value: Value, message: str
) -> None:
    journal = tmp_path / "j.db"
    options: dict[str, Any] = {option: value}
    with pytest.raises(InvalidArgumentError) as caught:
        batch.run(flux_dev, [], journal=journal, client=client, **options)
    assert caught.value.message == message
    assert not journal.exists()


def test_retry_failed_is_split_at_commas_into_kinds() -> None:
    """One string of kinds ("5xx, timeout"), or several strings, each split at its commas;
    blanks and empty parts dropped."""
    assert check_retry_kinds(" 5xx, timeout,,") == {"5xx", "timeout"}
    assert check_retry_kinds(["all", "rate_limit,server"]) == {"all", "rate_limit", "server"}
    assert check_retry_kinds(()) == frozenset()
    assert check_retry_kinds("504, 4xx, runner_scheduling_failure") == {
        "504",
        "4xx",
        "runner_scheduling_failure",
    }


def test_an_out_folder_on_a_missing_drive_is_refused(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose anchor is missing (a Windows drive that is not there; simulated here,
    where "/" always exists) cannot be made: it was accepted, and the run would have failed at
    its first download, its journal loaded."""
    journal = tmp_path / "j.db"
    anchor = Path(tmp_path.anchor)
    out = str(anchor / "results")
    real_stat = Path.stat
    missing = {anchor, anchor / "results"}

    def stat(self: Path, *, follow_symlinks: bool = True) -> os.stat_result:
        if self in missing:
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return real_stat(self, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(Path, "stat", stat)
    with pytest.raises(InvalidArgumentError) as caught:
        batch.run(flux_dev, [], journal=journal, out=out, client=client)
    monkeypatch.undo()
    assert (
        caught.value.message
        == f"out must be a folder: {anchor} does not exist, so {out} cannot be made"
    )
    assert not journal.exists()
