"""The typer application of ``fal-typed`` (its commands); ``fal_typed.cli.main`` runs it.

Commands import what they run inside their bodies, so building the application (which
``--help`` does) loads typer, click and rich but not the runtime (httpx, pydantic, asyncio).
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape

from .._auth import check_key
from .._hosts import DEFAULT_API_URL, Hosts
from ..catalog._settings import FetchSettings
from ._add import OpenapiUrlOption, add
from ._batch import batch_app
from ._diff import diff, print_fetch_changelog, print_regeneration_changelog
from ._errors import CallFailed, as_typed
from ._fetch import (
    FetchRequest,
    existing_ids,
    format_size,
    parse_size,
    render_report,
    timed_fetch,
)
from ._list import matching, print_listing
from ._numbers import number_parser
from ._price import price, usage_command

__all__ = ["app"]

app: typer.Typer = typer.Typer(
    name="fal-typed",
    help="Typed fal.ai clients: find, call and add endpoints, serve fal locally, refresh "
    "schemas.\n\nExit status: 0 success, 1 failed, 2 bad usage (nothing sent), 3 fal "
    "unreachable, 4 key refused, 70 a bug (--debug shows the traceback), 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold an API key
    rich_markup_mode=None,
)

app.add_typer(batch_app, name="batch")

SchemasOption = Annotated[
    Path,
    typer.Option(
        "--schemas",
        envvar="FAL_TYPED_SCHEMAS",
        file_okay=False,
        help="The directory of endpoint documents.",
    ),
]
_DEFAULT_SCHEMAS = Path("schemas")
_INTERRUPTED = 130
_FETCH = FetchSettings()  # the defaults the fetch options show


def _size_option(help_text: str, default: int) -> Any:
    """An option taking a size with its unit (``8MiB``, ``500KB``, bytes)."""
    return typer.Option(
        parser=parse_size,
        metavar="SIZE",
        show_default=False,
        help=f"{help_text} [default: {format_size(default)}]",
    )


def _stderr() -> Console:
    return Console(stderr=True)


def _usage(message: str) -> typer.Exit:
    _stderr().print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@app.command()
def fetch(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Endpoint ids to fetch.", show_default=False)
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Fetch fal's whole catalog (active endpoints).")
    ] = False,
    category: Annotated[
        str | None, typer.Option(help="Fetch the catalog's endpoints of this category only.")
    ] = None,
    schemas: SchemasOption = _DEFAULT_SCHEMAS,
    keep_removed: Annotated[
        bool,
        typer.Option(
            "--keep-removed", help="Keep documents the catalog no longer lists (default: delete)."
        ),
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="FAL_TYPED_BASE_URL", help="A local fal server standing for both URLs below."
        ),
    ] = None,
    openapi_url: OpenapiUrlOption = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            envvar="FAL_TYPED_API_URL", help=f"Platform API base URL [default: {DEFAULT_API_URL}]."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Requests in flight at once.")
    ] = 8,
    attempts: Annotated[
        int, typer.Option(min=1, max=20, help="Attempts per request (429, 5xx).")
    ] = 6,
    key: Annotated[
        str | None,
        typer.Option(help="fal API key for the platform API (optional: higher rate limits)."),
    ] = None,
    response_timeout: Annotated[
        float,
        typer.Option(
            parser=number_parser(minimum=0.001),
            metavar="SECONDS",
            help="Seconds one answer (a document, a catalog page) may take, first to last byte.",
        ),
    ] = _FETCH.response_timeout,
    max_document_size: Annotated[
        int,
        _size_option("Largest document accepted (8MiB, 500KB, bytes).", _FETCH.max_document_bytes),
    ] = _FETCH.max_document_bytes,
    max_page_size: Annotated[
        int, _size_option("Largest catalog page accepted.", _FETCH.max_page_bytes)
    ] = _FETCH.max_page_bytes,
    max_depth: Annotated[
        int, typer.Option(min=1, help="Deepest nesting of objects and arrays in a document.")
    ] = _FETCH.max_depth,
    max_pages: Annotated[
        int, typer.Option(min=1, help="Most catalog pages one listing follows.")
    ] = _FETCH.max_pages,
    max_documents: Annotated[
        int, typer.Option(min=1, help="Most catalog records one listing handles.")
    ] = _FETCH.max_documents,
) -> None:
    """Download endpoint documents into the schemas directory.

    With ids: those endpoints. With --all or --category: fal's catalog, page by page. With
    neither: refresh every document already there. Writes are atomic and only when a document
    changed; the report lists endpoints added, changed and removed.
    """
    if ids and (all_ or category):
        raise _usage("give endpoint ids or --all/--category, not both")
    try:
        hosts = Hosts.local(base_url) if base_url else Hosts()
        key = None if key is None else check_key(key, "--key")
    except ValueError as exc:  # InvalidArgumentError is one; it never echoes the key
        raise _usage(as_typed(str(exc))) from None
    catalog = all_ or category is not None
    targets = list(ids or ([] if catalog else existing_ids(schemas)))
    if not catalog and not targets:
        raise _usage(f"nothing to fetch: {schemas} holds no documents; give endpoint ids or --all")
    request = FetchRequest(
        schemas_dir=schemas,
        ids=targets,
        catalog=catalog,
        category=category,
        openapi_url=openapi_url or hosts.openapi_url,
        api_url=api_url or hosts.api_url,
        prune=not keep_removed,
        settings=FetchSettings(
            concurrency=concurrency,
            attempts=attempts,
            response_timeout=response_timeout,
            max_document_bytes=max_document_size,
            max_page_bytes=max_page_size,
            max_depth=max_depth,
            max_pages=max_pages,
            max_documents=max_documents,
        ),
        key=key,
    )
    console = _stderr()
    from ..catalog._changelog import Snapshot

    before = Snapshot.take(schemas)
    try:
        report, elapsed = timed_fetch(request, console)
    except ValueError as exc:
        raise _usage(as_typed(str(exc))) from None
    except KeyboardInterrupt:
        console.print("interrupted: every document written so far is complete")
        raise typer.Exit(_INTERRUPTED) from None
    except OSError as exc:
        console.print(f"[red]Error:[/red] cannot use {escape(str(schemas))}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    render_report(report, pruned=not keep_removed, elapsed=elapsed, console=console)
    print_fetch_changelog(before, console)
    if not report.ok:
        raise typer.Exit(1)


def _project_root() -> Path | None:
    """The nearest directory (from the working directory up) holding the ``codegen`` package."""
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / "codegen" / "__main__.py").is_file():
            return directory
    return None


app.command("diff")(diff)

#: ``--schemas DIR`` of the commands that read a folder of endpoint documents (generate, serve).
_SchemasDir = Annotated[
    Path | None,
    typer.Option(
        "--schemas",
        envvar="FAL_TYPED_SCHEMAS",
        file_okay=False,
        help="The directory of endpoint documents [default: the checkout's schemas/].",
    ),
]


@app.command()
def generate(
    schemas: _SchemasDir = None,
    out: Annotated[
        Path | None,
        typer.Option(
            file_okay=False, help="Where fal_endpoints/ goes [default: the checkout's generated/]."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild every module, not only changed ones.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if the bindings are stale.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print errors and the summary only.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes.")
    ] = None,
) -> None:
    """Regenerate the bindings from the schemas directory and print what changed.

    Runs the generator (python -m codegen) of the fal-typed checkout this is run in. Only
    modules whose document changed are rewritten; the summary ends with what the new bindings
    change for code (each document against the committed text the old bindings came from).
    """
    root = _project_root()
    if root is None:
        raise _usage("no codegen/ package here or above: run this inside a fal-typed checkout")
    args: list[str] = []
    for flag, path in (("--schemas", schemas), ("--out", out)):
        if path is not None:
            args += [flag, str(path.resolve())]
    args += [
        flag for flag, on in (("--force", force), ("--check", check), ("--quiet", quiet)) if on
    ]
    if jobs is not None:
        args += ["--jobs", str(jobs)]
    out_dir = out.resolve() if out is not None else root / "generated"
    from ..catalog._generated import built_from

    before = built_from(out_dir)
    completed = subprocess.run([sys.executable, "-m", "codegen", *args], cwd=root, check=False)
    print_regeneration_changelog(schemas or root / "schemas", out_dir, before, Console())
    raise typer.Exit(completed.returncode)


@app.command()
def serve(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    schemas: _SchemasDir = None,
    key: Annotated[
        str | None, typer.Option(help="Accept only this API key (default: any non-empty key).")
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option(
            metavar="REV",
            help="Serve the schemas directory as committed at this git revision.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the local fal-compatible server in the foreground, for offline development.

    It serves every endpoint in the schemas directory (queue, run, streaming, realtime, storage,
    webhooks) and fal's schema URLs, so call and fetch work against it. Ctrl+C stops it.
    """
    from ._serve import run_server

    try:
        run_server(schemas, host=host, port=port, key=key, console=Console(), revision=revision)
    except ValueError as exc:
        raise _usage(as_typed(str(exc))) from None
    except OSError as exc:
        if _bad_address(exc):  # the --host given is wrong, not the machine: a usage error
            reason = exc.strerror or str(exc)
            raise _usage(f"--host {host} is not an address of this machine ({reason})") from None
        _stderr().print(
            f"[red]Error:[/red] cannot serve on {escape(host)}:{port}: {escape(str(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _bad_address(exc: OSError) -> bool:
    """An address that does not resolve, or that no interface of this machine has."""
    return isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL


@app.command("list")
def list_(
    search: Annotated[
        list[str] | None,
        typer.Argument(
            help="Words the id, module, title, category or description must contain.",
            show_default=False,
        ),
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    schemas: Annotated[
        Path | None,
        typer.Option(
            "--schemas",
            envvar="FAL_TYPED_SCHEMAS",
            file_okay=False,
            help="List a directory of endpoint documents instead of the installed endpoints.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """List the installed endpoints: module name, id, category and a one-line description.

    Words narrow the list (every word must match; the best matches come first): fal-typed list
    flux dev. Works from any directory: it reads the installed endpoint packages (wheels, a
    checkout, fal-typed add), never imports them.
    """
    if schemas is not None and not schemas.is_dir():
        raise _usage(f"{schemas} is not a directory (see --schemas)")
    found, note = matching(schemas, category, search or [])
    print_listing(found, as_json=as_json, out=sys.stdout)
    if note is not None:  # an empty listing: say why, as a typo looked like an empty category
        _stderr().print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)


@app.command(
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    add_help_option=False,
)
def call(
    ctx: typer.Context,
    endpoint_id: Annotated[str | None, typer.Argument(show_default=False)] = None,
    schemas: SchemasOption = _DEFAULT_SCHEMAS,
) -> None:
    """Call an endpoint: fal-typed call ENDPOINT_ID --field value ... (ENDPOINT_ID --help lists its fields)."""
    if endpoint_id is None or endpoint_id.startswith("-"):
        console = _stderr()
        console.print(
            "Usage: fal-typed call ENDPOINT_ID [FIELD OPTIONS] [CALL OPTIONS]\n\n"
            "  Call an endpoint with options built from its input schema.\n"
            "  'fal-typed call ENDPOINT_ID --help' lists its fields and the call options.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(0 if endpoint_id in ("--help", "-h") else 2)
    from ._call import build_command  # the runtime: imported for a call, not for --help
    from ._spec import load_spec

    try:
        command = build_command(load_spec(endpoint_id, schemas))
        status = command.main(
            ctx.args, prog_name=f"fal-typed call {endpoint_id}", standalone_mode=False
        )
    except click.ClickException as exc:
        # To the stream itself: click would write UTF-8 to one that says ASCII (_streams).
        exc.show(file=sys.stderr)
        raise typer.Exit(exc.status if isinstance(exc, CallFailed) else exc.exit_code) from None
    except click.Abort:
        raise typer.Exit(_INTERRUPTED) from None
    if isinstance(status, int) and status:
        raise typer.Exit(status)


app.command()(price)
app.command("usage")(usage_command)
app.command("add")(add)


@app.callback()
def _options(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an error (also FAL_TYPED_DEBUG=1)."),
    ] = False,
) -> None:
    """The options of every command (``main`` reads ``--debug`` wherever it is given)."""
