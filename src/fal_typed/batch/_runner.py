"""The batch runner: validate, load, then work the journal's rows until none is left.

1. Every row is validated and loaded into the journal (``pending``, or ``invalid``) before
   anything is sent. Invalid rows stop the run unless ``skip_invalid``; rows whose input changed
   since they were sent stop it unless ``on_change="keep"``.
2. Rows are claimed from the journal a window at a time (never the whole batch in memory), each
   worked by its own task: ``submitting`` committed, then the POST; ``submitted`` with the request
   id, then the wait; the output committed, then the downloads; ``completed`` with the paths.
   Rows found ``submitted`` are awaited by request id; rows found ``submitting`` were cut off
   mid-submit and become ``ambiguous``; nothing is ever sent twice unless the caller asks.
3. At the end ``results.jsonl`` and ``index.html`` are rewritten from the journal.

Everything the journal does happens on the :class:`Committer`'s thread, with group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import inspect
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from .._client import Client
from .._endpoint import Endpoint
from .._errors import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    NotFoundError,
    OutputValidationError,
    PossiblyAcceptedError,
    RateLimitError,
)
from .._handle import parse_output
from .._queue import fetch_result_async, get_status_async, submit_async
from .._retry import parse_retry_after
from .._status import Completed
from .._wait import iter_status_async
from ..files._arguments import extract_uploads, resolve_uploads_async
from ._committer import Committer
from ._downloads import Downloader
from ._errors import BatchError
from ._journal import (
    BatchInfo,
    ClaimRequest,
    Journal,
    JournalBusyError,
    JournalError,
    JournalMismatchError,
    JournalRow,
    LoadConflict,
    LoadRecord,
    NoBatchError,
    Transition,
)
from ._keys import from_journal_form, has_files
from ._limiter import AdaptiveLimiter
from ._progress import Progress, QuietProgress, Snapshot
from ._report import write_report
from ._results import ResultsFile
from ._rows import Rows
from ._settle import HistorySettler, Resolved, SettleReport
from ._states import STATES, ErrorInfo, RowState, error_info, fetch_fault
from ._validate import RowProblem, ValidationReport, check_rows

if TYPE_CHECKING:
    from ..platform._costs import Estimate

__all__ = [
    "BatchError",
    "BatchValidationError",
    "CostLimitError",
    "InputChangedError",
    "InputRemovedError",
    "Plan",
    "Reconciler",
    "RowResult",
    "Runner",
    "Settings",
    "Summary",
]

_LOAD_CHUNK = 500
_TICK = 0.25
_REFETCH_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0)
"""Waits before fetching a result again after a fetch fault (see :func:`fetch_fault`); then
the row is left ``submitted`` for the next run."""


class Undelivered(enum.Enum):
    """What a webhook delivery hands the runner when fal said the request succeeded but left its
    output out (``payload_error``: it could not serialise it): fetch it by id."""

    UNDELIVERED = "undelivered"


UNDELIVERED: Final = Undelivered.UNDELIVERED


class _Again(enum.Enum):
    """A submit fal refused with a 429: provably not accepted, sent again after the pause."""

    RATE_LIMITED = "rate_limited"


class _Unfetched(Exception):
    """Following a request failed in a way that says nothing about the request itself."""

    def __init__(self, error: FalError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Following:
    """What is known of a request being followed: its ``COMPLETED`` status, once seen."""

    completed: Completed | None = None


@contextlib.contextmanager
def _fetch_faults() -> Generator[_Following, None, None]:
    """Around following a submitted request (its status, its result), by status stream or by
    id after a webhook: a failure to *fetch* (:func:`fetch_fault`: the request may have
    succeeded, and been paid for) becomes :class:`_Unfetched`, which keeps the row awaited; the
    request's own failure passes as it is. Tell it the ``COMPLETED`` status once seen."""
    following = _Following()
    try:
        yield following
    except FalError as exc:
        if fetch_fault(exc, following.completed):
            raise _Unfetched(exc) from exc
        raise


class BatchValidationError(BatchError):
    """Rows failed validation (``report.problems`` names each by key and field); nothing was sent."""

    def __init__(self, report: ValidationReport) -> None:
        shown = "\n".join(f"  {p}" for p in report.problems[:20])
        more = len(report.problems) - 20
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(report.problems)} of {report.rows} rows are invalid; nothing was sent "
            f"(skip_invalid / --skip-invalid sends the others):\n{shown}{tail}"
        )
        self.report = report


class CostLimitError(BatchError):
    """The batch's estimated cost is above the ``max_cost`` set (or could not be estimated);
    nothing was sent."""

    def __init__(self, message: str, estimate: Estimate | None, max_cost: float) -> None:
        super().__init__(message)
        self.estimate: Estimate | None = estimate
        self.max_cost: float = max_cost


class InputChangedError(BatchError):
    """Rows already sent have a different input now: resuming would mix two batches."""

    def __init__(self, conflicts: Sequence[LoadConflict]) -> None:
        shown = ", ".join(f"{c.key} ({c.state})" for c in conflicts[:20])
        more = f" and {len(conflicts) - 20} more" if len(conflicts) > 20 else ""
        super().__init__(
            f"{len(conflicts)} rows changed since this journal sent them: {shown}{more}. "
            "Use a new journal for the new input, or on_change='keep' / --changed keep to keep "
            "the journal's rows as they were sent"
        )
        self.conflicts: list[LoadConflict] = list(conflicts)


class InputRemovedError(BatchError):
    """Rows the journal holds, never sent, are not in the input given now: they would be sent
    (and paid for) though the input no longer holds them."""

    def __init__(self, count: int, keys: Sequence[str], *, keyed: bool = True) -> None:
        more = f" and {count - len(keys)} more" if count > len(keys) else ""
        rows = "1 row" if count == 1 else f"{count} rows"
        positions = (
            ""
            if keyed
            else " (without --key-field / key_field a row's key is its position in the input: "
            "rows inserted or removed above it shift the keys of those below)"
        )
        super().__init__(
            f"{rows} of this journal, never sent, {'is' if count == 1 else 'are'} not in the "
            f"input given: {', '.join(keys)}{more}{positions}. They would be sent (and paid "
            "for) all the same. Give the input that holds them; or on_change='keep' / "
            "--changed keep to send them as the journal holds them; or a new journal for the "
            "new input (which sends every row again, paying again for rows this journal "
            "already completed)"
        )
        self.count: int = count
        self.keys: list[str] = list(keys)


@dataclass(frozen=True)
class WebhookMode:
    """Submit with ``webhook_url``; ``receive(request_id)`` resolves when a delivery arrives.

    Rows whose delivery has not arrived after ``timeout`` seconds are checked by request id."""

    url: str
    timeout: float = 600.0


@dataclass(frozen=True)
class Settings:
    """How a batch runs (see :func:`fal_typed.batch.run` for each one)."""

    concurrency: int = 32
    adaptive: bool = True
    key_field: str | None = None
    skip_invalid: bool = False
    on_change: Literal["refuse", "keep"] = "refuse"
    retry_failed: frozenset[str] = frozenset()
    resend_ambiguous: bool = False
    worker: bool = False
    lease: float = 60.0
    out: Path | None = None
    download: bool = True
    report: bool = True
    webhook: WebhookMode | None = None
    batch_name: str = "default"
    max_cost: float | None = None
    """Refuse to send anything when the estimated cost of the rows to send is above this."""


@dataclass(frozen=True)
class Plan:
    """What a run is about to do, known before the first request: rows to send, rows to await,
    rows already done. ``before_send`` hooks (e.g. a cost estimate) get it and may refuse."""

    to_send: int
    to_resend: int
    to_await: int
    to_download: int
    done: int
    invalid: int
    ambiguous: int
    failed: int
    estimate: Estimate | None = None
    """The estimated cost of the rows to send (when ``max_cost`` is set), from fal's pricing."""
    max_cost: float | None = None

    @property
    def calls(self) -> int:
        """Requests this run will send (if none fails)."""
        return self.to_send + self.to_resend


class Reconciler(Protocol):
    """Settles ambiguous rows before a run (e.g. from fal's request history): the request id each
    was accepted under, or None if fal never accepted it; rows left out stay ambiguous."""

    def __call__(
        self, endpoint_id: str, rows: Sequence[JournalRow]
    ) -> Awaitable[Mapping[str, str | None]] | Mapping[str, str | None]: ...


@dataclass
class RowResult:
    """One row that reached a final state during this run."""

    key: str
    position: int
    state: RowState
    request_id: str | None
    input: dict[str, Any] | None
    output: Any
    """The typed ``Output`` of the endpoint (None unless completed)."""
    data: Any
    """fal's output JSON as returned (kept even when it does not fit ``Output``)."""
    error: ErrorInfo | None
    files: list[Path]


@dataclass
class Summary:
    """Where a batch stands after a run."""

    counts: dict[str, int]
    finished: int
    elapsed: float
    ambiguous: list[str] = field(default_factory=list[str])
    failed_kinds: dict[str, int] = field(default_factory=dict[str, int])
    invalid: list[RowProblem] = field(default_factory=list[RowProblem])
    changed: list[LoadConflict] = field(default_factory=list[LoadConflict])
    downloads_pending: int = 0
    rate_limited: int = 0
    commits: int = 0
    """Journal transactions this run committed (each holds many rows' changes)."""
    journal_seconds: float = 0.0
    """Time the journal's thread spent writing and reading."""
    results: Path | None = None
    report: Path | None = None
    stopped: bool = False
    estimate: Estimate | None = None
    """The estimated cost of what this run was to send (when ``max_cost`` was set)."""
    settled: SettleReport | None = None
    """What settling ambiguous rows against fal's request history did (None: nothing to do)."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def complete(self) -> bool:
        """Every row completed (none failed, ambiguous, invalid or unfinished)."""
        return self.counts.get("completed", 0) == self.total

    def __str__(self) -> str:
        counts = ", ".join(f"{s} {self.counts[s]}" for s in STATES if self.counts.get(s))
        lines = [
            f"{self.total} rows: {counts or 'none'} ({self.finished} finished in {self.elapsed:.1f}s)"
        ]
        if self.failed_kinds:
            kinds = ", ".join(f"{k} {n}" for k, n in self.failed_kinds.items())
            lines.append(f"failed by kind: {kinds} (retry with --retry-failed KINDS)")
        if self.estimate is not None:
            lines.append(f"estimated cost: {self.estimate}")
        settled = self.settled
        if settled is not None and (settled.adopted or settled.absent):
            lines.append(
                f"settled from fal's request history: {settled.adopted} adopted (not re-sent), "
                f"{settled.absent} never reached fal (sent once)"
            )
        if settled is not None and settled.problem:
            lines.append(f"not settled: {settled.problem}")
        if self.ambiguous:
            shown = ", ".join(self.ambiguous[:50])
            more = f" and {len(self.ambiguous) - 50} more" if len(self.ambiguous) > 50 else ""
            lines.append(
                f"ambiguous (may have been accepted by fal, never re-sent unasked): {shown}{more}"
            )
        if self.downloads_pending:
            lines.append(f"{self.downloads_pending} rows' files are not downloaded yet: run again")
        if self.results is not None:
            lines.append(f"results: {self.results}")
        if self.report is not None:
            lines.append(f"report: {self.report}")
        return "\n".join(lines)


OnRow = Callable[[RowResult], "object | Awaitable[object]"]


def _said(exc: BaseException) -> str:
    return exc.message if isinstance(exc, FalError) else repr(exc)


def _unlimited_429(client: Client) -> Client:
    """``client`` whose submits hand 429s back to the batch (its limiter backs off for all rows)
    instead of retrying each one on its own; it shares the client's connections."""
    twin = dataclasses.replace(client.retry, retry_statuses=client.retry.retry_statuses - {429})
    copy = object.__new__(Client)
    copy.__dict__.update(client.__dict__)
    copy.retry = twin
    return copy


class Runner:
    """One run of one batch (see the module docstring)."""

    def __init__(
        self,
        endpoint: Endpoint[Any, Any],
        journal: Journal,
        settings: Settings,
        *,
        client: Client,
        progress: Progress | None = None,
        on_row: OnRow | None = None,
        before_send: Callable[[Plan], object] | None = None,
        reconcile: Reconciler | HistorySettler | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.journal = journal
        self.settings = settings
        self.client = client
        self.submit_client: Client = _unlimited_429(client)
        self.progress: Progress = progress or QuietProgress()
        self.on_row = on_row
        self.before_send = before_send
        self.reconcile = reconcile
        self.run_id: str = uuid.uuid4().hex
        self.owner: str = f"{uuid.uuid4().hex[:12]}"
        self.committer: Committer = Committer(journal, self.run_id)
        self.limiter: AdaptiveLimiter = AdaptiveLimiter(
            settings.concurrency, adaptive=settings.adaptive
        )
        self.counts: Counter[str] = Counter()
        self.finished: int = 0
        self.started: float = time.monotonic()
        self.stopping: bool = False
        self.invalid: list[RowProblem] = []
        self.changed: list[LoadConflict] = []
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._posting: set[asyncio.Task[None]] = set()
        self._webhooks: dict[str, asyncio.Future[Any]] = {}
        self._named: dict[str, FalError] = {}
        """Requests named by a submit's error answer: maybe never queued (no delivery comes
        for those), so followed by status from the start, as a resumed row's are."""
        # The slots this run's load gave (what a row no longer in the input is told by: each
        # run's own, as workers loading one input together overwrite each other's loaded_by).
        self._loaded: set[str] = set()
        self._followed: set[str] = set()
        """Requests whose row has its outcome (by delivery or by status): a delivery of one of
        them that comes later is not kept waiting for a row that will never take it."""
        self._results = ResultsFile(settings.out) if settings.out is not None else None
        self._downloader: Downloader | None = None
        self._wake = asyncio.Event()
        self.estimate: Estimate | None = None
        self.settled: SettleReport | None = None
        self.journal_failure: JournalError | None = None
        """The journal's error that stopped this run (a disk full, a database gone)."""

    # -- the run ----------------------------------------------------------------------------------

    async def run(self, rows: Rows | None) -> Summary:
        """Validate and load ``rows`` (None: only the rows already in the journal), then work."""
        self.committer.start()
        info = BatchInfo(
            self.settings.batch_name, self.endpoint.endpoint_id, self.settings.key_field
        )
        try:
            await self.committer.call(
                lambda: self.journal.open(info, "worker" if self.settings.worker else "solo")
            )
            try:
                return await self._opened(rows)
            except JournalError as exc:
                if isinstance(exc, (JournalBusyError, JournalMismatchError, NoBatchError)):
                    raise
                # The journal failed (a disk full, an I/O error, a database gone), whenever it
                # did: loading, settling, claiming rows, a row's commit, the summary.
                raise JournalError(
                    f"the batch stopped: {exc.message}. Rows in flight keep the state the "
                    "journal last recorded; once it works again, the same command resumes "
                    "(rows cut off mid-submit are settled from fal's request history)"
                ) from exc
        finally:
            with contextlib.suppress(Exception):
                await self.committer.call(lambda: self.journal.release(self.owner))
            if self._results is not None:
                self._results.close()
            await self.committer.stop()

    async def _opened(self, rows: Rows | None) -> Summary:
        """The run once the journal is open and locked."""
        if rows is not None:
            await self._load(rows)
        await self._reconcile()
        self.counts = Counter(await self.committer.call(self.journal.counts))
        plan = self._plan()
        if self.settings.max_cost is not None and plan.calls > 0:
            self.estimate = await self._estimate(plan.calls, self.settings.max_cost)
            plan = dataclasses.replace(
                plan, estimate=self.estimate, max_cost=self.settings.max_cost
            )
            self.progress.message(f"batch: estimated cost {self.estimate}")
        if self.before_send is not None:
            outcome = self.before_send(plan)
            if inspect.isawaitable(outcome):
                await outcome
        self._check_cost(plan)
        if self.settings.out is not None and self.settings.download:
            self._downloader = Downloader(self.settings.out, self.client)
        self.started = time.monotonic()
        self.progress.start(self._snapshot())
        try:
            await self._work()
        finally:
            self.progress.stop(self._snapshot())
        if self.journal_failure is not None:
            raise self.journal_failure
        return await self._finish()

    def stop(self) -> None:
        """Stop gracefully: send nothing new, let submits on the wire get their answer, stop
        waiting (rows stay ``submitted``: the next run awaits them by request id)."""
        self.stopping = True
        for task in list(self._tasks):
            if task not in self._posting:
                task.cancel()
        self._wake.set()

    # -- 1. validation and loading ---------------------------------------------------------------

    async def _load(self, rows: Rows) -> None:
        report = ValidationReport()
        chunk: list[LoadRecord] = []
        duplicates: list[LoadConflict] = []

        async def flush() -> None:
            if not chunk:
                return
            records = list(chunk)
            chunk.clear()
            conflicts = await self.committer.call(lambda: self.journal.load(records, self.run_id))
            for conflict in conflicts:
                if conflict.reason == "duplicate":
                    duplicates.append(conflict)
                else:
                    self.changed.append(conflict)

        for checked in check_rows(self.endpoint, rows, key_field=self.settings.key_field):
            report.rows += 1
            ident = checked.identity
            self._loaded.add(ident.slot)
            if checked.problem is not None:
                report.problems.append(checked.problem)
                error = ErrorInfo("invalid_input", checked.problem.message)
                chunk.append(
                    LoadRecord(
                        ident.slot, ident.key, checked.position, ident.hash, None, "invalid", error
                    )
                )
            else:
                report.valid += 1
                chunk.append(
                    LoadRecord(
                        ident.slot,
                        ident.key,
                        checked.position,
                        ident.hash,
                        checked.input,
                        "pending",
                    )
                )
            if len(chunk) >= _LOAD_CHUNK:
                await flush()
        await flush()
        for dup in duplicates:
            report.valid -= 1
            report.problems.append(
                RowProblem(
                    dup.key,
                    f"row {dup.position}",
                    (self.settings.key_field or "",),
                    f"key {dup.key!r} appears more than once (row {dup.position})",
                )
            )
        self.invalid = report.problems
        if report.problems and not self.settings.skip_invalid:
            raise BatchValidationError(report)
        if self.changed and self.settings.on_change == "refuse":
            raise InputChangedError(self.changed)
        if self.settings.on_change == "refuse":
            loaded = self._loaded
            count, keys = await self.committer.call(lambda: self.journal.not_loaded(loaded))
            if count:
                raise InputRemovedError(count, keys, keyed=self.settings.key_field is not None)

    async def _estimate(self, calls: int, max_cost: float) -> Estimate:
        from ..platform._costs import estimate_cost_async, format_cost

        try:
            return await estimate_cost_async(self.endpoint.endpoint_id, calls, client=self.client)
        except FalError as exc:
            raise CostLimitError(
                f"the cost of {calls} calls of {self.endpoint.endpoint_id} could not be "
                f"estimated ({exc}), so max_cost {format_cost(max_cost)} cannot be checked; "
                "nothing was sent",
                None,
                max_cost,
            ) from exc

    def _check_cost(self, plan: Plan) -> None:
        from ..platform._costs import format_cost

        estimate, max_cost = plan.estimate, plan.max_cost
        if estimate is None or max_cost is None or estimate.total_cost <= max_cost:
            return
        raise CostLimitError(
            f"estimated cost {format_cost(estimate.total_cost, estimate.currency)} ({estimate}) "
            f"is above max_cost {format_cost(max_cost, estimate.currency)}; nothing was sent",
            estimate,
            max_cost,
        )

    async def _reconcile(self) -> None:
        if self.reconcile is None:
            return
        take_over = not self.settings.worker
        await self.committer.call(lambda: self.journal.cut_off(take_over=take_over))
        ambiguous = await self.committer.call(lambda: list(self.journal.rows(["ambiguous"])))
        if not ambiguous:
            return
        # The rows' times are the journal's clock (a PostgreSQL server's), a reconciler's (the
        # history settler's wait, a custom one's own window) this machine's: read on one clock.
        # A journal clock behind this one by more than the settle delay made every row's wait
        # look over at once, and rows fal had accepted but not indexed yet were found absent
        # and sent again; a custom Reconciler got the journal's times unshifted.
        offset = time.time() - await self.committer.call(self.journal.clock)
        ambiguous = [
            dataclasses.replace(
                row,
                sent_at=None if row.sent_at is None else row.sent_at + offset,
                updated_at=None if row.updated_at is None else row.updated_at + offset,
            )
            for row in ambiguous
        ]
        if isinstance(self.reconcile, HistorySettler):
            await self._settle(self.reconcile, ambiguous)
            return
        found = self.reconcile(self.endpoint.endpoint_id, ambiguous)
        settled = await found if inspect.isawaitable(found) else found
        for row in ambiguous:
            if row.slot in settled:
                resolve = functools.partial(
                    self.journal.resolve_ambiguous, row.slot, settled[row.slot]
                )
                await self.committer.call(resolve)

    async def _settle(self, settler: HistorySettler, rows: list[JournalRow]) -> None:
        async def known() -> set[str]:
            return await self.committer.call(self.journal.request_ids)

        async def resolve(row: JournalRow, request_id: str | None) -> Resolved:
            # Committed before anything is sent: an adopted row is awaited by id, never sent.
            done = await self.committer.call(
                functools.partial(self.journal.resolve_ambiguous, row.slot, request_id)
            )
            if done:
                return "done"
            state = await self.committer.call(functools.partial(self.journal.state_of, row.slot))
            return "refused" if state == "ambiguous" else "gone"

        def waiting(count: int, seconds: float) -> None:
            self.progress.message(
                f"batch: {count} ambiguous rows not in fal's request history yet; "
                f"absent for sure in {seconds:.0f}s"
            )

        self.progress.message(f"batch: settling {len(rows)} ambiguous rows from fal's history")

        async def still_ambiguous() -> set[str]:
            found = await self.committer.call(lambda: list(self.journal.rows(["ambiguous"])))
            return {row.slot for row in found}

        self.settled = await settler.settle(
            self.endpoint.endpoint_id,
            rows,
            known,
            resolve,
            still_ambiguous=still_ambiguous,
            on_wait=waiting,
        )

    def _plan(self) -> Plan:
        c = self.counts
        resend = c.get("ambiguous", 0) if self.settings.resend_ambiguous else 0
        return Plan(
            to_send=c.get("pending", 0),
            to_resend=resend + (c.get("failed", 0) if self.settings.retry_failed else 0),
            to_await=c.get("submitted", 0) + c.get("submitting", 0),
            to_download=c.get("downloading", 0),
            done=c.get("completed", 0),
            invalid=c.get("invalid", 0),
            ambiguous=c.get("ambiguous", 0),
            failed=c.get("failed", 0),
        )

    # -- 2. the work loop ------------------------------------------------------------------------

    def _window(self) -> int:
        return self.settings.concurrency + max(4, self.settings.concurrency // 4)

    async def _work(self) -> None:
        renewer = asyncio.create_task(self._renew_leases())
        request = ClaimRequest(
            owner=self.owner,
            run_id=self.run_id,
            limit=0,
            lease=self.settings.lease,
            take_over=not self.settings.worker,
            resend_ambiguous=self.settings.resend_ambiguous,
            retry_kinds=self.settings.retry_failed,
        )
        last_tick = 0.0
        try:
            while not self.stopping:
                free = self._window() - len(self._tasks)
                claimed: list[JournalRow] = []
                # Claims come in chunks: each one is a committed write.
                if free >= max(1, self._window() // 4) or (free > 0 and not self._tasks):
                    wanted = dataclasses.replace(request, limit=free)
                    try:
                        claimed = await self.committer.call(
                            functools.partial(self.journal.claim, wanted)
                        )
                    except JournalError as exc:  # rows in flight finish as a row's failure
                        self._journal_failed(exc)
                        break
                    for row in claimed:
                        task = asyncio.create_task(self._work_row(row))
                        self._tasks[task] = row.slot
                        task.add_done_callback(self._task_done)
                if not self._tasks and not claimed:
                    try:
                        others = await self._others_working()
                    except JournalError as exc:
                        self._journal_failed(exc)
                        break
                    if not others:
                        break
                    await self._sleep(min(self.settings.lease / 3, 5.0))
                    continue
                now = time.monotonic()
                if now - last_tick >= _TICK:
                    last_tick = now
                    self.progress.update(self._snapshot())
                if free <= 0 or not claimed or len(claimed) < free:
                    self._wake.clear()
                    await self._sleep(_TICK)
        finally:
            renewer.cancel()
            if self.stopping and self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            elif self._tasks:  # cancelled from outside: do not leave tasks behind
                for task in self._tasks:
                    if task not in self._posting:
                        task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._posting.discard(task)
        self._wake.set()
        error = None if task.cancelled() else task.exception()
        if isinstance(error, JournalError):
            self._journal_failed(error)
        elif error is not None:
            self.progress.message(f"batch: a row failed unexpectedly: {error!r}")

    def _journal_failed(self, error: JournalError) -> None:
        """The journal failed (a row's commit, a claim, a look at the other workers): nothing
        may be sent that it cannot record, so stop (submits on the wire get their answer); the
        run then ends with this error and how to resume."""
        if self.journal_failure is None:
            self.journal_failure = error
            self.progress.message(f"batch: stopping: {error.message}")
        self.stop()

    async def _others_working(self) -> bool:
        """Whether another worker holds unfinished rows (worker mode): wait for them to finish,
        or for their leases to lapse, then take them over."""
        if not self.settings.worker:
            return False
        holders = await self.committer.call(self.journal.workers)
        return any(owner != self.owner for owner, _, _ in holders)

    async def _renew_leases(self) -> None:
        interval = max(0.5, self.settings.lease / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.committer.call(
                    lambda: self.journal.renew(self.owner, self.settings.lease)
                )
            except JournalError as exc:
                self.progress.message(f"batch: could not renew the leases: {exc}")

    # -- one row ---------------------------------------------------------------------------------

    def _count(self, before: str, after: str) -> None:
        self.counts[before] -= 1
        self.counts[after] += 1

    async def _commit(self, row: JournalRow, transition: Transition) -> bool:
        ok = await self.committer.apply(transition)
        if ok:
            self._count(row.state, transition.to_state)
            row.state = transition.to_state
        return ok

    async def _work_row(self, row: JournalRow) -> None:
        if row.state == "submitting":
            # Cut off between "submitting" and the answer (a crash, or a worker whose lease lapsed):
            # the POST may have reached fal, so it is never re-sent unasked.
            error = ErrorInfo(
                "possibly_accepted",
                "the run stopped between sending this row and getting its request id; "
                "fal may have accepted it",
            )
            moved = Transition(
                row.slot, "ambiguous", ("submitting",), token=row.token, values={"error": error}
            )
            if await self._commit(row, moved):
                row.error = error
                await self._emit(row)
            return
        request_id = row.request_id if row.state == "submitted" else None
        resumed = request_id is not None  # sent by an earlier run (or adopted from the history)
        if row.state in ("pending", "ambiguous", "failed"):
            request_id = await self._send(row)
            if request_id is None:
                return
        elif row.state == "submitted" and request_id is not None:
            self.limiter.hold()
        if row.state == "submitted" and request_id is not None:
            data = await self._await(row, request_id, resumed=resumed)
            if data is None:
                return
        if row.state == "downloading":
            await self._download(row)

    async def _send(self, row: JournalRow) -> str | None:
        """Submit the row (after ``submitting`` is committed); its request id, or None when the
        row ended (failed, ambiguous) or is no longer this worker's.

        Each attempt holds one concurrency slot, given back in one place whatever ends it (an
        answer, a refusal, a journal failure, a cancel), except when the request id is returned:
        the slot then goes with the request to :meth:`_await`, which gives it back."""
        arguments = (
            from_journal_form(row.input or {}) if has_files(row.input) else (row.input or {})
        )
        while True:
            if self.stopping:
                return None
            await self.limiter.acquire()
            sent: str | _Again | None = None
            try:
                sent = await self._attempt(row, arguments)
            finally:
                if not isinstance(sent, str):
                    self.limiter.release()
            if sent is not _Again.RATE_LIMITED:
                return sent

    async def _attempt(self, row: JournalRow, arguments: dict[str, Any]) -> str | _Again | None:
        """One submit of the row, holding a slot :meth:`_send` took (and gives back)."""
        if self.stopping:
            return None
        token = uuid.uuid4().hex
        body: dict[str, Any] = dict(arguments)
        if has_files(row.input):
            try:
                extracted, uploads = extract_uploads(arguments)
                body = await resolve_uploads_async(extracted, uploads, self.client)
            except FalError as exc:
                failed = Transition(
                    row.slot,
                    "failed",
                    (row.state,),
                    owner=self.owner,
                    values={"error": error_info(exc)},
                )
                await self._fail(row, failed, exc)
                return None
        task = asyncio.current_task()
        if task is not None:
            self._posting.add(task)
        try:
            marked = await self._commit(
                row,
                Transition(
                    row.slot,
                    "submitting",
                    (row.state,),
                    owner=self.owner,
                    values={"token": token, "attempt": True, "sent": True, "error": None},
                ),
            )
            if not marked:  # the lease is gone: another worker has this row now
                return None
            row.token = token
            try:
                submission = await submit_async(
                    self.submit_client,
                    self.endpoint.endpoint_id,
                    body,
                    webhook_url=self.settings.webhook.url if self.settings.webhook else None,
                )
            except RateLimitError as exc:
                self.limiter.rate_limited(parse_retry_after(exc.headers.get("retry-after")))
                back = Transition(row.slot, "pending", ("submitting",), token=token)
                await self._commit(row, back)
                return _Again.RATE_LIMITED
            except PossiblyAcceptedError as exc:
                if exc.request_id is not None:
                    return await self._follow_named(row, token, exc, exc.request_id)
                error = error_info(exc)
                moved = Transition(
                    row.slot, "ambiguous", ("submitting",), token=token, values={"error": error}
                )
                await self._fail(row, moved, exc)
                return None
            except FalError as exc:
                if isinstance(exc, FalHTTPError) and exc.request_id is not None:
                    return await self._follow_named(row, token, exc, exc.request_id)
                moved = Transition(
                    row.slot,
                    "failed",
                    ("submitting",),
                    token=token,
                    values={"error": error_info(exc)},
                )
                await self._fail(row, moved, exc)
                return None
            return await self._accepted(row, token, submission.request_id)
        finally:
            if task is not None:
                self._posting.discard(task)

    async def _follow_named(
        self, row: JournalRow, token: str, exc: FalError, request_id: str
    ) -> str | None:
        """A submit that failed (a 5xx, a refusal, an answer cut after its head) naming a
        request id: fal may have queued it and be running it, paid for, so the row is followed
        by that id as any submitted row (failed with the id dropped, the paid result was lost
        and --retry-failed paid again). The submit's error is kept: if fal has no such request,
        the row fails with it, so --retry-failed resends it by the submit's kind."""
        self.progress.message(
            f"batch: the submit of {row.key} failed ({exc.message}), but fal named request "
            f"{request_id}: following it by that id, not sending again"
        )
        self._named[request_id] = exc
        return await self._accepted(row, token, request_id)

    async def _accepted(self, row: JournalRow, token: str, request_id: str) -> str | None:
        """Commit the request id fal named for the row's submit; the id if the row now waits
        for it (see :meth:`_record`)."""
        row.request_id = request_id
        try:
            recorded = await self._record(row, token, request_id)
        except BaseException as exc:
            # The row stays "submitting" (settled from fal's history next time); the id
            # fal gave is said here, so it is never lost.
            self.progress.message(
                f"batch: fal accepted row {row.key} as request {request_id}, but the "
                f"journal could not record it ({_said(exc)}); the next run settles it from "
                "fal's request history, never sending it again"
            )
            raise
        if not recorded or self.stopping:
            return None
        return request_id

    async def _record(self, row: JournalRow, token: str, request_id: str) -> bool:
        """Commit the request id fal gave this row's submit; whether the row now waits for it.

        Late (this worker stalled past its lease), the row may have been taken over: while it
        is ambiguous the id is recorded as usual; settled back to ``pending`` meanwhile (found
        absent before fal's index showed this request) and not sent again yet, it adopts the
        id, so it is not sent a second time; sent again already, the id is said, never dropped
        silently."""
        on_time = Transition(
            row.slot,
            "submitted",
            ("submitting", "ambiguous"),
            token=token,
            values={"request_id": request_id},
        )
        if await self._commit(row, on_time):
            return True
        late = Transition(
            row.slot, "submitted", ("pending",), values={"request_id": request_id, "token": token}
        )
        if await self._commit(row, late):
            return True
        self.progress.message(
            f"batch: fal accepted row {row.key} as request {request_id} after another worker "
            "had taken the row over and sent it again: check that request (fal's request "
            "history), it may have run twice"
        )
        return False

    async def _fail(self, row: JournalRow, transition: Transition, exc: BaseException) -> None:
        if await self._commit(row, transition):
            row.error = error_info(exc)
            await self._emit(row)

    async def _await(self, row: JournalRow, request_id: str, *, resumed: bool = False) -> Any:
        """Wait for the request's result and commit it; the output JSON, or None if it failed."""
        # The request holds its concurrency slot until fal has answered it, and not a moment
        # longer: what follows (commits, downloads of a paid result's files) is no request to
        # fal, and a slot kept through a slow download would hold every other row back.
        data: Any = None
        problem: FalError | _Unfetched | None = None
        succeeded = False
        try:
            data = await self._result(request_id, resumed=resumed)
            succeeded = True
        except (_Unfetched, FalError) as exc:
            problem = exc
        finally:
            self.limiter.release(succeeded=succeeded)
        if problem is not None:
            await self._unanswered(row, request_id, problem)
            return None
        self._named.pop(request_id, None)
        row.output = data
        if self._downloader is not None:
            fetched = Transition(
                row.slot,
                "downloading",
                ("submitted",),
                request_id=request_id,
                values={"output": data},
            )
            await self._commit(row, fetched)
        else:
            done = Transition(
                row.slot,
                "completed",
                ("submitted",),
                request_id=request_id,
                values={"output": data, "error": None},
            )
            if await self._commit(row, done):
                await self._emit(row)
        return data

    async def _unanswered(
        self, row: JournalRow, request_id: str, exc: FalError | _Unfetched
    ) -> None:
        """Commit what became of a request that gave no output fitting ``Output``."""
        if isinstance(exc, OutputValidationError):  # paid for: kept, though it does not fit
            row.output = exc.data
            if self._downloader is None:
                failed = Transition(
                    row.slot,
                    "failed",
                    ("submitted",),
                    request_id=request_id,
                    values={"output": exc.data, "error": error_info(exc)},
                )
                await self._fail(row, failed, exc)
                return
            # Its files were paid for too, and fal's URLs expire: saved as any result's
            # (the output committed first), the row then ends failed, its files kept.
            error = error_info(exc)
            fetched = Transition(
                row.slot,
                "downloading",
                ("submitted",),
                request_id=request_id,
                values={"output": exc.data, "error": error},
            )
            if await self._commit(row, fetched):
                row.error = error
                await self._download(row)
            return
        if isinstance(exc, _Unfetched):
            # The request may have succeeded: it stays awaited by id (never failed, which
            # would lose a paid result and let --retry-failed pay for it again).
            error = error_info(exc.error)
            kept = Transition(
                row.slot,
                "submitted",
                ("submitted",),
                request_id=request_id,
                values={"error": error},
            )
            if await self._commit(row, kept):
                row.error = error
            self.progress.message(
                f"batch: the result of {row.key} ({request_id}) could not be fetched "
                f"({error.message}); it stays submitted and the next run fetches it"
            )
            return
        submit_error = self._named.pop(request_id, None)
        if submit_error is not None and isinstance(exc, NotFoundError):
            # fal has no such request: the submit's own failure (a 5xx...) is the row's, so
            # --retry-failed sends it again by that kind (recorded http_404, it never was).
            info = error_info(submit_error)
            note = f"; fal has no request {request_id} (404 following it): it was never queued"
            error = ErrorInfo(info.kind, (info.message + note)[:2000], info.status)
            failed = Transition(
                row.slot, "failed", ("submitted",), request_id=request_id, values={"error": error}
            )
            if await self._commit(row, failed):
                row.error = error
                await self._emit(row)
            return
        failed = Transition(
            row.slot,
            "failed",
            ("submitted",),
            request_id=request_id,
            values={"error": error_info(exc)},
        )
        await self._fail(row, failed, exc)

    async def _result(self, request_id: str, *, resumed: bool = False) -> Any:
        """The output JSON of ``request_id`` (validated against ``Output``), by webhook when one
        is expected, else by following its status; transport failures are waited out."""
        delay = 1.0
        refetches = iter(_REFETCH_DELAYS)
        webhook = self.settings.webhook
        while True:
            try:
                if webhook is not None:
                    # Once: a delivery consumed (or its timeout passed) comes no more, so the
                    # fetches after a failed one go by id, not after another whole timeout.
                    waiting, webhook = webhook, None
                    data = await self._by_webhook(
                        request_id,
                        waiting.timeout,
                        ask_first=resumed or request_id in self._named,
                    )
                else:
                    data = await self._by_status(request_id)
                parse_output(self.endpoint.Output, data, request_id)
                return data
            except PossiblyAcceptedError:
                raise
            except _Unfetched as unfetched:
                wait = next(refetches, None)
                if wait is None:
                    raise
                self.progress.message(
                    f"batch: fetching {request_id} failed: {unfetched.error}; again in {wait:g}s"
                )
                await asyncio.sleep(wait)
            except FalConnectionError as exc:  # fal unreachable: the request is still there
                self.progress.message(
                    f"batch: waiting for {request_id}: {exc}; retrying in {delay:.0f}s"
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _by_status(self, request_id: str) -> Any:
        endpoint_id = self.endpoint.endpoint_id
        with _fetch_faults() as following:
            async for status in iter_status_async(self.client, endpoint_id, request_id):
                if isinstance(status, Completed):
                    following.completed = status
            return await fetch_result_async(
                self.client, endpoint_id, request_id, completed=following.completed
            )

    def _delivery(self, request_id: str) -> asyncio.Future[Any]:
        """The future a delivery of ``request_id`` resolves (a done one: it came already)."""
        future = self._webhooks.get(request_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._webhooks[request_id] = future
        return future

    async def _delivered(self, request_id: str, outcome: Any) -> Any:
        """The output a delivery handed over (see :meth:`deliver`)."""
        if outcome is UNDELIVERED:
            # fal said the request succeeded but could not put its output in the delivery
            # (payload_error): it was paid for, so it is fetched by id.
            with _fetch_faults():
                return await fetch_result_async(self.client, self.endpoint.endpoint_id, request_id)
        if isinstance(outcome, BaseException):
            raise outcome  # the request's own failure, as fal delivered it
        return outcome

    async def _followed_or_delivered(self, request_id: str) -> Any:
        """The output of a request an earlier run (or another worker) sent: its delivery went to
        that run's receiver, gone now, so it is followed by status to its end, as without a
        webhook; a delivery that reaches this run's receiver meanwhile (fal retries one) is
        taken instead. Whichever comes first is the one outcome: the row settles once."""
        delivery = self._delivery(request_id)
        follow = asyncio.ensure_future(self._by_status(request_id))
        try:
            await asyncio.wait({follow, delivery}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not follow.done():
                follow.cancel()
                with contextlib.suppress(BaseException):
                    await follow
        self._settled(request_id)
        if delivery.done():
            return await self._delivered(request_id, delivery.result())
        return follow.result()

    async def _by_webhook(self, request_id: str, timeout: float, *, ask_first: bool) -> Any:
        """The output by this run's webhook receiver, asking fal by id after each ``timeout``
        without a delivery (deliveries can be lost). With ``ask_first`` (a request an earlier run
        sent, whose delivery went to that run's receiver), followed by status from the start
        (:meth:`_followed_or_delivered`): it waited the whole timeout for a delivery that could
        not come when the request was still running as the run began."""
        if ask_first:
            return await self._followed_or_delivered(request_id)
        endpoint_id = self.endpoint.endpoint_id
        ask = False
        while True:
            if ask:
                with _fetch_faults() as following:
                    status = await get_status_async(self.client, endpoint_id, request_id)
                    if isinstance(status, Completed):
                        following.completed = status
                        self._settled(request_id)
                        return await fetch_result_async(
                            self.client, endpoint_id, request_id, completed=status
                        )
            # A done future is a delivery that came before the row waited.
            future = self._delivery(request_id)
            try:
                outcome = await asyncio.wait_for(asyncio.shield(future), timeout)
            except asyncio.TimeoutError:
                ask = True
                continue
            self._settled(request_id)
            return await self._delivered(request_id, outcome)

    def _settled(self, request_id: str) -> None:
        """The request has its outcome (delivered, or completed by status): its delivery is
        dropped, and any later one (fal retries deliveries) is ignored, never kept for ever."""
        self._webhooks.pop(request_id, None)
        self._followed.add(request_id)

    def deliver(self, request_id: str, outcome: Any) -> None:
        """A verified webhook delivery: the output JSON, the request's error, or
        :data:`UNDELIVERED` (succeeded, its output left out of the delivery). Kept for its row
        when none waits for it yet (a delivery can come before the submit's answer is
        committed): the row takes it when it starts waiting."""
        if request_id in self._followed:
            return  # its row has its outcome already (delivered, or by status): settled once
        future = self._delivery(request_id)
        if not future.done():
            future.set_result(outcome)

    async def _download(self, row: JournalRow) -> None:
        # A result that did not fit Output keeps that error through its downloads, and ends
        # failed (with its files), not completed.
        invalid = row.error is not None and row.error.kind == "output_validation"
        final: RowState = "failed" if invalid else "completed"
        if self._downloader is None:
            done = Transition(row.slot, final, ("downloading",), request_id=row.request_id)
            if await self._commit(row, done):
                await self._emit(row)
            return
        try:
            files = await self._downloader.save(row.key, row.output)
        except (FalError, OSError) as exc:
            error = ErrorInfo("download", f"{type(exc).__name__}: {exc}")
            kept = Transition(
                row.slot,
                "downloading",
                ("downloading",),
                request_id=row.request_id,
                values={} if invalid else {"error": error},
            )
            await self._commit(row, kept)
            self.progress.message(
                f"batch: files of {row.key} not saved ({error.message}); the next run retries"
            )
            return
        row.files = files
        done = Transition(
            row.slot,
            final,
            ("downloading",),
            request_id=row.request_id,
            values={"files": files} if invalid else {"files": files, "error": None},
        )
        if await self._commit(row, done):
            if not invalid:
                row.error = None
            await self._emit(row)

    async def _emit(self, row: JournalRow) -> None:
        self.finished += 1
        if self._results is not None:
            self._results.append(row)
        if self.on_row is None:
            return
        output = None
        if row.state == "completed" and row.output is not None:
            with contextlib.suppress(OutputValidationError):
                output = parse_output(self.endpoint.Output, row.output, row.request_id)
        root = self.settings.out
        result = RowResult(
            key=row.key,
            position=row.position,
            state=row.state,
            request_id=row.request_id,
            input=row.input,
            output=output,
            data=row.output,
            error=row.error,
            files=[root / f for f in row.files] if root is not None else [],
        )
        outcome = self.on_row(result)
        if inspect.isawaitable(outcome):
            await outcome

    # -- 3. the end ------------------------------------------------------------------------------

    def _snapshot(self) -> Snapshot:
        return Snapshot(
            counts={s: n for s, n in self.counts.items() if n > 0},
            finished=self.finished,
            elapsed=time.monotonic() - self.started,
            limit=self.limiter.limit,
            ceiling=self.limiter.ceiling,
            in_flight=self.limiter.in_flight,
            paused_for=self.limiter.paused_for,
            rate_limited=self.limiter.rate_limited_count,
        )

    async def _finish(self) -> Summary:
        journal = self.journal
        counts = await self.committer.call(journal.counts)
        self.counts = Counter(counts)
        ambiguous = await self.committer.call(lambda: [r.key for r in journal.rows(["ambiguous"])])
        kinds = await self.committer.call(journal.failed_kinds)
        summary = Summary(
            counts=dict(counts),
            finished=self.finished,
            elapsed=time.monotonic() - self.started,
            ambiguous=ambiguous,
            failed_kinds=kinds,
            invalid=self.invalid,
            changed=self.changed,
            downloads_pending=counts.get("downloading", 0),
            rate_limited=self.limiter.rate_limited_count,
            commits=self.committer.commits,
            journal_seconds=self.committer.busy_seconds,
            stopped=self.stopping,
            estimate=self.estimate,
            settled=self.settled,
        )
        out = self.settings.out
        if out is not None:
            results = self._results or ResultsFile(out)
            await self.committer.call(lambda: results.rewrite(journal.rows()))
            summary.results = results.path
            if self.settings.report:
                title = f"{self.endpoint.endpoint_id}: batch {self.settings.batch_name}"
                summary.report = await self.committer.call(
                    lambda: write_report(out, title, counts, journal.rows())
                )
        return summary
