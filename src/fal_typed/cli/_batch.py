"""``fal-typed batch``: run one endpoint over a JSONL or CSV file, resumably; see where it stands.

::

    fal-typed batch run fal-ai/flux/dev prompts.jsonl --journal cats.db --out out/ --concurrency 64
    fal-typed batch run ...same command...     # after a crash: resumes, never submits a row twice
    fal-typed batch status cats.db             # where it stands, without running it
    fal-typed batch run ... --journal postgresql://host/db --worker   # on each of many machines
    fal-typed batch run ... --max-cost 25      # prints the estimate; above $25 nothing is sent

Exit status of ``run``: 0 every row completed, 1 some rows failed, are ambiguous, invalid (with
--skip-invalid) or unfinished, 2 bad usage, invalid rows or an estimated cost above
--max-cost (nothing sent), or a journal that failed during the run (its disk full, its database
gone: the run stopped sending), 130 interrupted.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import typer
from rich.console import Console
from rich.markup import escape

from ._env import HOST_ENV
from ._errors import as_typed, describe
from ._numbers import number_parser

if TYPE_CHECKING:
    from ..batch import BatchStatus, Summary

__all__ = ["batch_app"]

batch_app: typer.Typer = typer.Typer(
    name="batch",
    help="Run an endpoint over many inputs, resumably (each row is submitted once).",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)

_INTERRUPTED = 130


def _err() -> Console:
    return Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _err().print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


#: The library's names for what ``batch run`` / ``status`` call otherwise (the rest are the
#: commands' own parameter names, found by :func:`as_typed`).
_RENAMED: Final = {
    "rows": "INPUT",
    "format": "--format",
    "on_change": "--changed",
    "webhook": "--webhook-url",
    "name": "--batch-name",
}


def _library(exc: BaseException) -> str:
    """A library error's message, the option it names written as the user typed it."""
    from .._errors import FalError

    text = describe(exc) if isinstance(exc, FalError) else str(exc)
    return as_typed(text, _RENAMED)


def _format(value: str | None) -> Literal["jsonl", "csv"] | None:
    if value in (None, "jsonl", "csv"):
        return "csv" if value == "csv" else "jsonl" if value == "jsonl" else None
    raise _fail(f"--format must be jsonl or csv, got {value!r}")


def _listen(value: str) -> tuple[str, int]:
    """``--webhook-listen HOST:PORT``: the port in ASCII digits, read by ``declared_length``'s
    rule (``str.isdigit`` takes ``"²"``, and ``int`` refuses it and 5,000 digits), then checked
    as the library checks ``webhook_listen``."""
    from .._checks import declared_length
    from .._errors import InvalidArgumentError
    from ..batch._checks import check_listen

    host, sep, port = value.rpartition(":")
    number = declared_length((port,)) if sep else None
    try:
        if number is None:
            raise InvalidArgumentError("no port")
        return check_listen((host.strip("[]") or "127.0.0.1", number))
    except InvalidArgumentError:
        raise _fail(
            f"--webhook-listen must be HOST:PORT (a port from 0 to 65535), got {value!r}"
        ) from None


@batch_app.command("run")
def run_command(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint, e.g. fal-ai/flux/dev.")],
    input: Annotated[
        str | None,
        typer.Argument(
            help="JSONL or CSV file of rows ('-': JSONL on stdin). May be left out by a --worker "
            "joining a batch whose rows are already in the journal.",
            show_default=False,
        ),
    ] = None,
    journal: Annotated[
        str, typer.Option("--journal", help="SQLite file, or postgresql://... for many workers.")
    ] = "",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", file_okay=False, help="Folder for results.jsonl, index.html and files/."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=10_000, help="Requests in flight at most.")
    ] = 32,
    key_field: Annotated[
        str | None,
        typer.Option(help="Field (or CSV column) naming each row [default: position + hash]."),
    ] = None,
    input_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv [default: by the extension].")
    ] = None,
    worker: Annotated[
        bool, typer.Option("--worker", help="Share the journal with other workers.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every row and say what a run would do.")
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send the valid rows when some are invalid.")
    ] = False,
    retry_failed: Annotated[
        str | None,
        typer.Option(
            metavar="KINDS",
            help="Send failed rows again: comma-separated error kinds, 4xx/5xx/a status, or all.",
        ),
    ] = None,
    resend_ambiguous: Annotated[
        bool,
        typer.Option(
            "--resend-ambiguous",
            help="Send again the rows fal may have accepted already (may run them twice).",
        ),
    ] = False,
    changed: Annotated[
        str,
        typer.Option(
            help="Rows sent before whose input changed: refuse the run, or keep them as sent."
        ),
    ] = "refuse",
    no_download: Annotated[
        bool, typer.Option("--no-download", help="Keep output URLs; download no files.")
    ] = False,
    fixed: Annotated[
        bool, typer.Option("--fixed-concurrency", help="Do not adapt the concurrency on 429s.")
    ] = False,
    lease: Annotated[
        float,
        typer.Option(
            parser=number_parser(minimum=3),
            metavar="SECONDS",
            help="Seconds a worker's claim on rows lasts unrenewed (at least 3).",
        ),
    ] = 60.0,
    batch_name: Annotated[
        str, typer.Option(help="Tells batches sharing one database apart.")
    ] = "default",
    webhook_listen: Annotated[
        str | None,
        typer.Option(metavar="HOST:PORT", help="Webhook mode: receive results on this address."),
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Public URL fal posts results to (routed to --webhook-listen)."),
    ] = None,
    webhook_timeout: Annotated[
        float,
        typer.Option(
            parser=number_parser(minimum=1),
            metavar="SECONDS",
            help="Check a row by request id after this long without delivery (at least 1).",
        ),
    ] = 600.0,
    max_cost: Annotated[
        float | None,
        typer.Option(
            parser=number_parser(unit="dollars"),
            metavar="USD",
            help="Estimate the cost of the rows to send from fal's pricing first, print it, and "
            "send nothing if it is above this.",
        ),
    ] = None,
    settle_delay: Annotated[
        float,
        typer.Option(
            parser=number_parser(),
            metavar="SECONDS",
            help="Ambiguous rows are looked for in fal's request history; absent this long after "
            "they were sent, they were never accepted and are sent again.",
        ),
    ] = 120.0,
    no_settle: Annotated[
        bool,
        typer.Option(
            "--no-settle", help="Do not settle ambiguous rows from fal's request history."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    key: Annotated[
        str | None, typer.Option(help="fal API key (default: FAL_KEY, or FAL_KEY_ID/SECRET).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(envvar=HOST_ENV["base_url"], help="A local fal server for every host."),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            envvar="FAL_TYPED_API_URL",
            help="fal's Platform API (pricing, request history) [default: api.fal.ai, or the "
            "local server of --base-url].",
        ),
    ] = None,
) -> None:
    """Run ENDPOINT_ID over every row of INPUT, resumably.

    Every row is validated before anything is sent. Each row's state is committed to the journal
    before the action it allows, so running the same command again resumes: completed rows are
    skipped, submitted rows awaited by request id, rows a crash cut off between submit and
    answer settled from fal's request history (adopted if fal has them, sent again only if it
    has not), rows that cannot be settled listed as ambiguous (sent again only with
    --resend-ambiguous), failed rows retried only with --retry-failed. With --max-cost the
    estimated cost is printed, and nothing is sent if it is above the maximum.
    """
    from .. import batch
    from .._errors import FalError, MissingCredentialsError
    from .._options import check_webhook_url
    from .._registry import UnknownEndpointError

    if not journal:
        raise _fail("--journal is required (a SQLite file, or postgresql://...)")
    if changed not in ("refuse", "keep"):
        raise _fail(f"--changed must be refuse or keep, got {changed!r}")
    if input is None and not worker:
        raise _fail("INPUT is required (only a --worker may join a batch without it)")
    # Every option is read before the dry run, which would take a bad one silently, and before
    # the key, whose absence would hide it.
    listen = _listen(webhook_listen) if webhook_listen else ("127.0.0.1", 0)
    try:
        if webhook_url is not None:  # named as the command line gives it, not as 'webhook'
            check_webhook_url(webhook_url, "--webhook-url")
        endpoint = batch._endpoint(endpoint_id)  # pyright: ignore[reportPrivateUsage]
        rows = None if input is None else batch.read(input, format=_format(input_format))
    except (UnknownEndpointError, ValueError) as exc:
        raise _fail(_library(exc)) from None
    if rows is not None and str(rows.path) != "-" and not rows.path.is_file():
        raise _fail(f"{input} is not a file")
    if rows is not None and str(rows.path) == "-":
        from ..batch._rows import stdin_bytes

        try:  # closed or a terminal: said now, before the run makes its journal
            stdin_bytes()
        except batch.InputFileError as exc:
            raise _fail(str(exc)) from None
    client = _client(key, base_url, api_url)
    # One set of options for the check and the run: a dry run that passes has checked every
    # one the run is given (the library checks them all before anything is opened or sent).
    options: dict[str, Any] = {
        "journal": journal,
        "concurrency": concurrency,
        "out": out,
        "download": not no_download,
        "report": True,
        "key_field": key_field,
        "skip_invalid": skip_invalid,
        "on_change": "keep" if changed == "keep" else "refuse",
        "retry_failed": retry_failed or (),
        "resend_ambiguous": resend_ambiguous,
        "worker": worker,
        "lease": lease,
        "adaptive": not fixed,
        "webhook": (webhook_url or True) if webhook_listen or webhook_url else False,
        "webhook_listen": listen,
        "webhook_timeout": webhook_timeout,
        "webhook_verifier": None,
        "batch_name": batch_name,
        "client": client,
        "progress": "quiet" if quiet else "auto",
        "before_send": _show_estimate,
        "reconcile": None,
        "settle": not no_settle,
        "settle_delay": settle_delay,
        "max_cost": max_cost,
    }
    try:
        batch.check_run(endpoint, rows, **options)
    except (FalError, ValueError) as exc:
        raise _fail(_library(exc)) from None
    if dry_run:
        _dry_run(endpoint, rows, key_field, journal, batch_name, client)
        return
    try:
        client.credentials()
    except MissingCredentialsError as exc:
        raise _fail(describe(exc)) from None
    try:
        job = batch.run_async(endpoint, rows, **options)
    except (FalError, ValueError) as exc:
        raise _fail(_library(exc)) from None
    summary = _run_job(job, quiet=quiet)
    raise typer.Exit(0 if summary.complete else 1)


def _show_estimate(plan: Any) -> None:
    """Print the estimated cost before anything is sent (the run stops next if it is too much)."""
    from ..platform import format_cost

    if plan.estimate is None:
        return
    verdict = ""
    if plan.max_cost is not None:
        over = plan.estimate.total_cost > plan.max_cost
        verdict = f" ({'above' if over else 'within'} --max-cost {format_cost(plan.max_cost)})"
    _err().print(f"estimated cost: {plan.estimate}{verdict}", markup=False, highlight=False)


def _client(key: str | None, base_url: str | None, api_url: str | None) -> Any:
    """The client of the options: a local server (``--base-url`` or ``$FAL_TYPED_BASE_URL``) is
    sent the local key when no key is given, as by every other command."""
    from dataclasses import replace

    from .._auth import check_key
    from .._hosts import Hosts
    from .._local import hosts_client, key_for

    try:
        hosts = Hosts.local(base_url) if base_url else Hosts()
        if api_url:
            hosts = replace(hosts, api_url=api_url)
        given = None if key is None else check_key(key, "--key")
        return hosts_client(hosts, key_for(given, base_url))
    except ValueError as exc:  # InvalidArgumentError is one; it never echoes the key
        raise _fail(_library(exc)) from None


def _run_job(job: Any, *, quiet: bool) -> Summary:
    import asyncio

    from .. import batch
    from .._errors import FalError

    err = _err()

    async def main() -> Summary:
        loop = asyncio.get_running_loop()
        interrupts = 0
        task = asyncio.current_task()

        def interrupted() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                err.print(
                    "stopping: nothing new is sent; submits on the wire get their answer "
                    "(Ctrl+C again to stop at once)",
                    highlight=False,
                )
                job.stop()
            elif task is not None:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupted)
        try:
            summary: Summary = await job.wait()
            return summary
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        result = asyncio.run(main())
    except asyncio.CancelledError:
        err.print(
            "interrupted: the journal holds every row's state; run the same command to resume"
        )
        raise typer.Exit(_INTERRUPTED) from None
    except (batch.BatchError, batch.JournalError) as exc:
        # Invalid rows, a changed input, the cost, an unreadable input file (nothing was sent),
        # the journal (unusable, or failed during the run: it stopped sending): the user's to fix.
        raise _fail(str(exc)) from None
    except FalError as exc:
        raise _fail(describe(exc), 1) from None
    summary: Summary = result
    if not quiet or not summary.complete:
        err.print(str(summary), markup=False, highlight=False, soft_wrap=True)
    if summary.stopped:
        raise typer.Exit(_INTERRUPTED)
    return summary


def _dry_run(
    endpoint: Any, rows: Any, key_field: str | None, journal: str, batch_name: str, client: Any
) -> None:
    from .. import batch
    from .._errors import MissingCredentialsError
    from ..batch._postgres import is_postgres_dsn

    if rows is None:
        raise _fail("--dry-run needs INPUT")
    out = Console()
    try:
        report = batch.validate(endpoint, rows, key_field=key_field)
    except (batch.InputFileError, ValueError) as exc:
        raise _fail(_library(exc)) from None
    for problem in report.problems:
        out.print(f"invalid {problem}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"{report.rows} rows: {report.valid} valid, {len(report.problems)} invalid",
        highlight=False,
    )
    if is_postgres_dsn(journal) or Path(journal).exists():
        try:
            state = batch.status(journal, name=batch_name)
        except batch.NoBatchError:
            pass  # the run would start the batch there
        except batch.JournalError as exc:  # not a journal: the run would stop there too
            raise _fail(str(exc)) from None
        else:
            if state.endpoint_id != endpoint.endpoint_id:  # the run refuses it too
                raise _fail(
                    f"{journal} is the journal of a batch on {state.endpoint_id}, not "
                    f"{endpoint.endpoint_id}: use another journal (or --batch-name)"
                )
            counts = ", ".join(f"{s} {n}" for s, n in state.counts.items())
            out.print(f"the journal already holds {state.total} rows: {counts}", highlight=False)
    try:
        client.credentials()
    except MissingCredentialsError as exc:  # the rows can be checked without one; a run cannot
        _err().print(
            f"note: {describe(exc)}: the run needs one",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(0 if report.ok else 2)


@batch_app.command("status")
def status_command(
    journal: Annotated[str, typer.Argument(help="The journal: SQLite file or postgresql://...")],
    batch_name: Annotated[str, typer.Option(help="The batch in a shared database.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print where a batch stands (rows per state, failures by kind, ambiguous rows, workers),
    without running it."""
    from .. import batch

    try:
        state = batch.status(journal, name=batch_name)
    except (batch.JournalError, ValueError) as exc:  # not a journal, no file, a bad location
        raise _fail(_library(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(_status_json(state), indent=2) + "\n")
        return
    out = Console()
    out.print(f"batch {batch_name} on {state.endpoint_id}: {state.total} rows", highlight=False)
    for name in batch.STATES:
        if state.counts.get(name):
            out.print(f"  {name:<12} {state.counts[name]}", highlight=False)
    if state.failed_kinds:
        kinds = ", ".join(f"{k} {n}" for k, n in state.failed_kinds.items())
        out.print(f"failed by kind: {kinds}", highlight=False)
    for row in state.ambiguous:
        out.print(
            f"ambiguous: {row.key} (may have been accepted by fal; the next run looks for it in "
            "fal's request history, --resend-ambiguous sends it again)",
            markup=False,
            highlight=False,
        )
    for owner, held, left in state.workers:
        life = f"lease {left:.0f}s left" if left > 0 else f"lease lapsed {-left:.0f}s ago"
        out.print(f"worker {owner}: {held} rows, {life}", highlight=False)


def _status_json(state: BatchStatus) -> dict[str, Any]:
    return {
        "endpoint_id": state.endpoint_id,
        "total": state.total,
        "counts": state.counts,
        "failed_kinds": state.failed_kinds,
        "ambiguous": [
            {"key": r.key, "position": r.position, "sent_at": r.sent_at} for r in state.ambiguous
        ],
        "workers": [{"owner": o, "rows": n, "lease_left": left} for o, n, left in state.workers],
    }
