"""Batches: one endpoint over many inputs, resumable after any crash, each row submitted once.

::

    from fal_typed import batch
    from fal_endpoints import flux_dev

    rows = batch.read("prompts.csv")                  # or JSONL, or any iterable of dicts/Inputs
    job = batch.run(flux_dev, rows, journal="cats.db", concurrency=64, out="out/")
    for row in job:                                   # as they finish
        print(row.key, row.request_id, row.output or row.error)
    print(job.summary())                              # counts by state

The journal (SQLite file, or ``postgresql://...`` for workers on many machines) commits each
row's state before the action it allows, so running the same call again resumes: completed rows
are skipped, submitted rows awaited by request id, and rows whose submit may or may not have
reached fal are reported as ambiguous, never re-sent unless asked. docs/batch.md has the rules.

The parts: ``_rows`` (reading), ``_validate`` (the validation pass), ``_keys`` (row identity),
``_states`` (the state machine), ``_journal`` / ``_sqlite`` / ``_postgres`` (the journal),
``_committer`` (group commit), ``_limiter`` (adaptive concurrency), ``_runner`` (the work),
``_downloads``, ``_results``, ``_report``, ``_progress``, ``_webhook``, ``_job`` (the public jobs).
"""

from __future__ import annotations

import inspect
import os
import types
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from .._checks import check_bool, check_callable, check_count, check_seconds
from .._client import Client, given_or_default
from .._endpoint import Endpoint
from .._errors import InvalidArgumentError
from ..webhooks import WebhookVerifier
from ._checks import (
    MAX_CONCURRENCY,
    MIN_LEASE,
    MIN_WEBHOOK_TIMEOUT,
    check_batch_name,
    check_listen,
    check_optional_text,
    check_out,
    check_retry_kinds,
    check_webhook,
    journal_location,
)
from ._errors import InputFileError
from ._job import AsyncJob, Job, JobRun
from ._journal import (
    Journal,
    JournalBusyError,
    JournalError,
    JournalMismatchError,
    JournalRow,
    NoBatchError,
)
from ._postgres import PostgresJournal, is_postgres_dsn
from ._progress import Progress, progress_for
from ._rows import Rows, RowSource, check_rows_value, read
from ._runner import (
    BatchError,
    BatchValidationError,
    CostLimitError,
    InputChangedError,
    InputRemovedError,
    Plan,
    Reconciler,
    RowResult,
    Runner,
    Settings,
    Summary,
    WebhookMode,
)
from ._settle import DEFAULT_SETTLE_DELAY, HistorySettler
from ._sqlite import SQLiteJournal
from ._states import STATES, ErrorInfo, RowState
from ._validate import RowProblem, ValidationReport, check_rows
from ._webhook import WebhookReceiver

__all__ = [
    "STATES",
    "AsyncJob",
    "BatchError",
    "BatchStatus",
    "BatchValidationError",
    "CostLimitError",
    "ErrorInfo",
    "InputChangedError",
    "InputFileError",
    "InputRemovedError",
    "Job",
    "Journal",
    "JournalBusyError",
    "JournalError",
    "JournalMismatchError",
    "JournalRow",
    "NoBatchError",
    "Plan",
    "PostgresJournal",
    "Reconciler",
    "RowProblem",
    "RowResult",
    "RowSource",
    "RowState",
    "SQLiteJournal",
    "Summary",
    "ValidationReport",
    "check_run",
    "open_journal",
    "read",
    "run",
    "run_async",
    "status",
    "validate",
]

EndpointLike = Endpoint[Any, Any] | types.ModuleType | str
JournalLike = Journal | str | os.PathLike[str]


def _endpoint(value: EndpointLike) -> Endpoint[Any, Any]:
    """An endpoint object from an endpoint, a generated module or an endpoint id."""
    if isinstance(value, Endpoint):
        return value
    if isinstance(value, types.ModuleType):
        found = getattr(value, "endpoint", None)
        if isinstance(found, Endpoint):
            return found  # pyright: ignore[reportUnknownVariableType]
        raise InvalidArgumentError(f"endpoint: {value.__name__} is not a generated endpoint module")
    if isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        from .._registry import endpoint

        return endpoint(value)
    raise InvalidArgumentError(
        "endpoint must be an Endpoint, a generated module or an endpoint id, got "
        f"{type(value).__name__}"
    )


def open_journal(journal: JournalLike, *, name: str = "default") -> Journal:
    """A journal from a SQLite file path or a ``postgresql://`` DSN (a :class:`Journal` as is).

    Any other ``scheme://`` (``mysql://``, ``postgresql+psycopg://``) is refused rather than
    taken for a file name: see :func:`._checks.journal_location`."""
    location = journal_location(journal)
    check_batch_name(name)
    if isinstance(location, Journal):
        return location
    if is_postgres_dsn(location):
        return PostgresJournal(location, name=name)
    return SQLiteJournal(location, name=name)


def validate(
    endpoint: EndpointLike, rows: Rows, *, key_field: str | None = None
) -> ValidationReport:
    """Check every row against the endpoint's ``Input`` (nothing is sent, no journal is written):
    how many rows, and each bad one by key and field."""
    target = _endpoint(endpoint)
    rows = check_rows_value(rows)
    check_optional_text("key_field", key_field)
    report = ValidationReport()
    for checked in check_rows(target, rows, key_field=key_field):
        report.rows += 1
        if checked.problem is None:
            report.valid += 1
        else:
            report.problems.append(checked.problem)
    return report


@dataclass(frozen=True)
class _Options:
    """The arguments of :func:`run` and :func:`run_async`, checked once. Nothing is opened
    yet (the journal is opened by :meth:`start`), so checking them alone (the command line's
    ``--dry-run``) leaves no trace."""

    endpoint: Endpoint[Any, Any]
    location: Journal | str
    settings: Settings
    client: Client
    progress: Progress
    before_send: Callable[[Plan], object] | None
    reconcile: Reconciler | HistorySettler | None
    receiver: WebhookReceiver | None
    webhook_url: str | None
    webhook_timeout: float
    rows: Rows | None = None

    def start(self) -> tuple[JobRun, Journal]:
        """Open the journal; the run (not started yet) and the journal it works on."""
        journal = open_journal(self.location, name=self.settings.batch_name)
        owned = not isinstance(self.location, Journal)
        return self._run(journal, owned), journal

    def _run(self, journal: Journal, owned: bool) -> JobRun:
        def make_runner(
            client: Client,
            on_row: Callable[[RowResult], Awaitable[None]],
            webhook: WebhookMode | None,
        ) -> Runner:
            from dataclasses import replace

            return Runner(
                self.endpoint,
                journal,
                replace(self.settings, webhook=webhook),
                client=client,
                progress=self.progress,
                on_row=on_row,
                before_send=self.before_send,
                reconcile=self.reconcile,
            )

        return JobRun(
            make_runner,
            self.client,
            self.settings.concurrency,
            self.rows,
            receiver=self.receiver,
            webhook_url=self.webhook_url,
            webhook_timeout=self.webhook_timeout,
            close_journal=journal if owned else None,
        )


def _options(
    endpoint: EndpointLike,
    rows: Rows | None,
    *,
    journal: JournalLike,
    concurrency: int,
    out: str | os.PathLike[str] | None,
    download: bool,
    report: bool,
    key_field: str | None,
    skip_invalid: bool,
    on_change: Literal["refuse", "keep"],
    retry_failed: Iterable[str] | str,
    resend_ambiguous: bool,
    worker: bool,
    lease: float,
    adaptive: bool,
    webhook: bool | str,
    webhook_listen: tuple[str, int],
    webhook_timeout: float,
    webhook_verifier: WebhookVerifier | None,
    batch_name: str,
    client: Client | None,
    progress: Literal["auto", "rich", "plain", "quiet"] | Progress,
    before_send: Callable[[Plan], object] | None,
    reconcile: Reconciler | None,
    settle: bool,
    settle_delay: float,
    max_cost: float | None,
) -> _Options:
    # Every option is checked before the journal is opened or the receiver built: a wrong one
    # found later would leave a half-loaded journal, or rows marked failed for our mistake.
    target = _endpoint(endpoint)
    if rows is not None:
        rows = check_rows_value(rows)
    location = journal_location(journal)
    concurrency = check_count("concurrency", concurrency, maximum=MAX_CONCURRENCY)
    lease = check_seconds("lease", lease, minimum=MIN_LEASE)
    if max_cost is not None:
        max_cost = check_seconds("max_cost", max_cost, unit="dollars")
    settle_delay = check_seconds("settle_delay", settle_delay)
    webhook_timeout = check_seconds("webhook_timeout", webhook_timeout, minimum=MIN_WEBHOOK_TIMEOUT)
    if on_change not in ("refuse", "keep"):
        raise InvalidArgumentError(f"on_change must be 'refuse' or 'keep', got {on_change!r}")
    kinds = check_retry_kinds(retry_failed)
    for flag, value in (
        ("download", download),
        ("report", report),
        ("skip_invalid", skip_invalid),
        ("resend_ambiguous", resend_ambiguous),
        ("worker", worker),
        ("adaptive", adaptive),
        ("settle", settle),
    ):
        check_bool(flag, value)
    key_field = check_optional_text("key_field", key_field)
    batch_name = check_batch_name(batch_name)
    folder = check_out(out)
    webhook = check_webhook(webhook)
    listen = check_listen(webhook_listen)
    if webhook_verifier is not None and not isinstance(webhook_verifier, WebhookVerifier):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(
            f"webhook_verifier must be a WebhookVerifier, got {type(webhook_verifier).__name__}"
        )
    if webhook is not False:
        _check_webhook_extra()
    display = _progress(progress)
    check_callable("before_send", before_send)
    check_callable("reconcile", reconcile)
    client = given_or_default(client)
    receiver: WebhookReceiver | None = None
    webhook_url: str | None = None
    if webhook is not False:
        receiver = WebhookReceiver(
            target.Output,
            host=listen[0],
            port=listen[1],
            verifier=webhook_verifier or WebhookVerifier(client=client),
        )
        webhook_url = webhook if isinstance(webhook, str) else None
    settings = Settings(
        concurrency=concurrency,
        adaptive=adaptive,
        key_field=key_field,
        skip_invalid=skip_invalid,
        on_change=on_change,
        retry_failed=kinds,
        resend_ambiguous=resend_ambiguous,
        worker=worker,
        lease=lease,
        out=folder,
        download=download,
        report=report,
        batch_name=batch_name,
        max_cost=max_cost,
    )
    settler: Reconciler | HistorySettler | None = reconcile
    if settler is None and settle:
        settler = HistorySettler(client, settle_delay=settle_delay)
    return _Options(
        target,
        location,
        settings,
        client,
        display,
        before_send,
        settler,
        receiver,
        webhook_url,
        webhook_timeout,
        rows,
    )


_PROGRESS_KINDS: tuple[Literal["auto", "rich", "plain", "quiet"], ...] = (
    "auto",
    "rich",
    "plain",
    "quiet",
)


def _progress(progress: object) -> Progress:
    """The display ``progress`` names, or the object given if it has a display's methods."""
    if isinstance(progress, str):
        for kind in _PROGRESS_KINDS:
            if progress == kind:
                return progress_for(kind)
        raise InvalidArgumentError(
            f"progress must be 'auto', 'rich', 'plain', 'quiet' or a Progress, got {progress!r}"
        )
    if all(callable(getattr(progress, m, None)) for m in ("start", "update", "stop", "message")):
        return cast("Progress", progress)
    raise InvalidArgumentError(
        f"progress must be 'auto', 'rich', 'plain', 'quiet' or a Progress, got "
        f"{type(progress).__name__}"
    )


def _check_webhook_extra() -> None:
    """Webhook mode serves with uvicorn (the ``server`` extra): missing, say so before a row is
    loaded rather than when the receiver starts."""
    import importlib.util

    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("starlette") is None:
        raise InvalidArgumentError(
            "webhook mode needs the server extra: pip install 'fal-typed[batch,server]'"
        )


def run(
    endpoint: EndpointLike,
    rows: Rows | None,
    *,
    journal: JournalLike,
    concurrency: int = 32,
    out: str | os.PathLike[str] | None = None,
    download: bool = True,
    report: bool = True,
    key_field: str | None = None,
    skip_invalid: bool = False,
    on_change: Literal["refuse", "keep"] = "refuse",
    retry_failed: Iterable[str] | str = (),
    resend_ambiguous: bool = False,
    worker: bool = False,
    lease: float = 60.0,
    adaptive: bool = True,
    webhook: bool | str = False,
    webhook_listen: tuple[str, int] = ("127.0.0.1", 0),
    webhook_timeout: float = 600.0,
    webhook_verifier: WebhookVerifier | None = None,
    batch_name: str = "default",
    client: Client | None = None,
    progress: Literal["auto", "rich", "plain", "quiet"] | Progress = "quiet",
    before_send: Callable[[Plan], object] | None = None,
    reconcile: Reconciler | None = None,
    settle: bool = True,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    max_cost: float | None = None,
) -> Job:
    """Run ``endpoint`` over ``rows``; returns a :class:`Job` (started when iterated or waited).

    ``endpoint``: an :class:`Endpoint`, a generated module (``flux_dev``) or an endpoint id.
    ``rows``: a JSONL/CSV path or :func:`read` result, or an iterable of mappings or ``Input``
    instances (None: only rows already in the journal, e.g. a worker joining a batch).
    ``journal``: a SQLite file path, a ``postgresql://`` DSN, or a :class:`Journal` (any other
    scheme is refused, never taken for a file name).
    ``out``: the folder for ``results.jsonl``, ``index.html`` and downloaded files (``files/``;
    ``download=False`` keeps only the URLs). ``concurrency``: requests in flight at most (the
    limiter adapts below it on 429s unless ``adaptive=False``). ``key_field``: the field (or CSV
    column) naming each row; else rows are keyed by position and input hash.
    ``skip_invalid``: send the valid rows when some are invalid (else nothing is sent).
    ``on_change``: rows already sent whose input changed ``refuse`` the run, or are ``keep``-t as
    sent. ``retry_failed``: error kinds to send again (``"all"``, ``"5xx"``, a kind such as
    ``"request_timeout"``). ``resend_ambiguous``: send again rows that fal may have accepted.
    ``worker`` / ``lease``: share the journal with other workers (PostgreSQL across machines).
    ``webhook``: results come by webhook to a receiver on ``webhook_listen`` (True), or to this
    public URL routed to it; rows without a delivery after ``webhook_timeout`` are checked by id.
    ``max_cost``: before anything is sent, the cost of the rows to send is estimated from fal's
    pricing (``Plan.estimate``, ``Summary.estimate``) and the run refused with
    :class:`CostLimitError` (naming estimate and maximum) when it is above this.
    ``settle``: rows a previous run left ambiguous (cut off between submit and answer) are first
    looked for in fal's request history: found, their request is adopted and awaited (never sent
    again); absent ``settle_delay`` seconds after they were sent, they are sent; rows that cannot
    be settled stay ambiguous (``Summary.settled`` says why). ``reconcile``: your own way to
    settle them instead (see :class:`Reconciler`).
    ``before_send`` gets the :class:`Plan` before the first request (raise to refuse).

    Every option is checked before anything starts: a wrong kind or range raises
    :class:`~fal_typed.InvalidArgumentError` naming it.
    """
    options = _options(
        endpoint,
        rows,
        journal=journal,
        concurrency=concurrency,
        out=out,
        download=download,
        report=report,
        key_field=key_field,
        skip_invalid=skip_invalid,
        on_change=on_change,
        retry_failed=retry_failed,
        resend_ambiguous=resend_ambiguous,
        worker=worker,
        lease=lease,
        adaptive=adaptive,
        webhook=webhook,
        webhook_listen=webhook_listen,
        webhook_timeout=webhook_timeout,
        webhook_verifier=webhook_verifier,
        batch_name=batch_name,
        client=client,
        progress=progress,
        before_send=before_send,
        reconcile=reconcile,
        settle=settle,
        settle_delay=settle_delay,
        max_cost=max_cost,
    )
    return Job(*options.start())


def run_async(
    endpoint: EndpointLike,
    rows: Rows | None,
    *,
    journal: JournalLike,
    concurrency: int = 32,
    out: str | os.PathLike[str] | None = None,
    download: bool = True,
    report: bool = True,
    key_field: str | None = None,
    skip_invalid: bool = False,
    on_change: Literal["refuse", "keep"] = "refuse",
    retry_failed: Iterable[str] | str = (),
    resend_ambiguous: bool = False,
    worker: bool = False,
    lease: float = 60.0,
    adaptive: bool = True,
    webhook: bool | str = False,
    webhook_listen: tuple[str, int] = ("127.0.0.1", 0),
    webhook_timeout: float = 600.0,
    webhook_verifier: WebhookVerifier | None = None,
    batch_name: str = "default",
    client: Client | None = None,
    progress: Literal["auto", "rich", "plain", "quiet"] | Progress = "quiet",
    before_send: Callable[[Plan], object] | None = None,
    reconcile: Reconciler | None = None,
    settle: bool = True,
    settle_delay: float = DEFAULT_SETTLE_DELAY,
    max_cost: float | None = None,
) -> AsyncJob:
    """Async twin of :func:`run`: ``async for row in job`` or ``await job.wait()``."""
    options = _options(
        endpoint,
        rows,
        journal=journal,
        concurrency=concurrency,
        out=out,
        download=download,
        report=report,
        key_field=key_field,
        skip_invalid=skip_invalid,
        on_change=on_change,
        retry_failed=retry_failed,
        resend_ambiguous=resend_ambiguous,
        worker=worker,
        lease=lease,
        adaptive=adaptive,
        webhook=webhook,
        webhook_listen=webhook_listen,
        webhook_timeout=webhook_timeout,
        webhook_verifier=webhook_verifier,
        batch_name=batch_name,
        client=client,
        progress=progress,
        before_send=before_send,
        reconcile=reconcile,
        settle=settle,
        settle_delay=settle_delay,
        max_cost=max_cost,
    )
    return AsyncJob(*options.start())


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch stands, read from its journal without running it."""

    endpoint_id: str
    counts: dict[str, int]
    failed_kinds: dict[str, int]
    ambiguous: list[JournalRow]
    workers: list[tuple[str, int, float]]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def check_run(endpoint: EndpointLike, rows: Rows | None, **options: Any) -> None:
    """Check the arguments of :func:`run` / :func:`run_async` (``options`` are their keywords,
    with their defaults) as a run checks them, opening nothing: no journal, no receiver, no
    request. The command line's ``--dry-run`` checks its options so, and a run given the same
    ones raises nothing more about them.

    Raises :class:`~fal_typed.InvalidArgumentError` naming the option that is wrong, or a
    keyword :func:`run` does not take."""
    try:
        given = inspect.signature(run).bind(endpoint, rows, **options)
    except TypeError as exc:
        raise InvalidArgumentError(f"check_run: {exc}") from None
    given.apply_defaults()
    _options(*given.args, **given.kwargs)


def status(journal: JournalLike, *, name: str = "default") -> BatchStatus:
    """Read a batch's journal: rows per state, failures by kind, the ambiguous rows, and the
    workers holding leases. Takes no lock: safe while the batch runs.

    A SQLite journal must exist: reading one that does not would create it."""
    location = journal_location(journal)
    check_batch_name(name)
    if isinstance(location, str) and not is_postgres_dsn(location):
        _existing_journal_file(location)
    store = open_journal(location, name=name)
    try:
        if isinstance(store, (SQLiteJournal, PostgresJournal)):
            info = store.read_info()
        else:  # pragma: no cover - a user's own Journal
            if store.info is None:
                raise JournalError("this journal has not been opened")
            info = store.info
        return BatchStatus(
            endpoint_id=info.endpoint_id,
            counts=store.counts(),
            failed_kinds=store.failed_kinds(),
            ambiguous=list(store.rows(["ambiguous"])),
            workers=store.workers(),
        )
    finally:
        if not isinstance(journal, Journal):
            store.close()


def _existing_journal_file(location: str) -> None:
    """Refuse a SQLite journal path that is no file, naming what it is instead."""
    path = Path(location)
    if path.is_dir():
        raise JournalError(f"{location} is a folder, not a journal file")
    if not path.exists():
        raise JournalError(f"{location} does not exist: no batch journal there")
