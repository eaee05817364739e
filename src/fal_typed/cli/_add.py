"""``fal-typed add ID...``: typed modules for endpoints not installed, into your own project.

See :mod:`fal_typed.catalog._add` for the steps. The report goes to stderr; stdout gets the
import line of each module added, so ``fal-typed add ID | ...`` can use it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .._hosts import DEFAULT_OPENAPI_URL, Hosts
from ..catalog._settings import FetchSettings
from ._errors import FAILED, USAGE, as_typed

if TYPE_CHECKING:
    from ..catalog._add import AddReport

__all__ = ["OpenapiUrlOption", "add"]


def _on_sys_path(target: Path) -> bool:
    here = target.resolve()
    return any(Path(entry or os.getcwd()).resolve() == here for entry in sys.path)


def _print_report(report: AddReport, target: Path, console: Console) -> None:
    for added in report.added:
        verb = "updated" if added.replaced else "added"
        console.print(
            f"{verb} {escape(added.endpoint_id)} as fal_endpoints.{added.module} "
            f"({escape(str(added.path))})",
            highlight=False,
            soft_wrap=True,
        )
        print(f"from fal_endpoints import {added.module}")
    for endpoint_id, reason in report.failed.items():
        console.print(
            f"[red]failed[/red] {escape(endpoint_id)}: {escape(reason)}",
            highlight=False,
            soft_wrap=True,
        )
    if report.added and not _on_sys_path(target):
        console.print(
            f"note: {escape(str(target))} must be on sys.path to import them: run Python from "
            "there, or add it to PYTHONPATH",
            highlight=False,
            soft_wrap=True,
        )


OpenapiUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="FAL_TYPED_OPENAPI_URL",
        help=f"Per-endpoint document URL [default: {DEFAULT_OPENAPI_URL}].",
        show_default=False,
    ),
]


def add(
    ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Endpoint ids, e.g. fal-ai/flux/dev.")
    ],
    to: Annotated[
        Path,
        typer.Option(
            "--to",
            file_okay=False,
            help="The project folder that gets fal_endpoints/<module>/ (must be on sys.path).",
        ),
    ] = Path("."),
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="FAL_TYPED_BASE_URL", help="A local fal server standing for fal's document URL."
        ),
    ] = None,
    openapi_url: OpenapiUrlOption = None,
) -> None:
    """Generate typed modules for endpoints into your project: fal_endpoints.<module>.

    Fetches each endpoint's OpenAPI document from fal, runs the generator (installed with
    pip install "fal-typed[codegen]") and writes fal_endpoints/<module>/ under --to, beside
    the installed endpoints (fal_endpoints is a namespace package). Run it again to refresh a
    module. The local server (LocalFal(), fal-typed serve) serves what it adds.
    """
    from ..catalog._add import GeneratorUnavailableError, add_endpoints  # httpx, asyncio: here

    err = Console(stderr=True)
    try:
        hosts = Hosts.local(base_url) if base_url else Hosts()
        report = add_endpoints(
            ids,
            to,
            openapi_url=openapi_url or hosts.openapi_url,
            settings=FetchSettings(concurrency=4),
        )
    except (ValueError, GeneratorUnavailableError) as exc:
        err.print(
            f"[red]Error:[/red] {escape(as_typed(str(exc)))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(USAGE) from None
    _print_report(report, to, err)
    if not report.ok:
        raise typer.Exit(FAILED)
