"""``fal-typed price`` and ``fal-typed usage``: fal's Platform API from the command line.

``price ENDPOINT...`` prints each endpoint's unit price (``--calls N`` adds what N calls are
estimated to cost); ``usage`` prints what was spent over a period, by endpoint. Both take the
key from ``--key`` or the environment (``FAL_KEY``), and talk to api.fal.ai unless
``--base-url`` names a local server (or ``--api-url`` another Platform API). The table (or
``--json``) goes to stdout, messages to stderr.

Exit status (``_errors``): 0 success, 1 fal refused, 2 bad usage (nothing sent), 3 fal could
not be reached, 4 the key was refused.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from .._auth import check_key
from .._errors import FalError, InvalidArgumentError
from .._hosts import DEFAULT_API_URL, Hosts
from .._local import key_for
from ._errors import as_typed, describe, exit_status
from ._streams import json_text

if TYPE_CHECKING:  # the client (httpx) loads when a command runs, not for --help
    from .._client import Client

__all__ = ["platform_client", "price", "usage_command"]

BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="FAL_TYPED_BASE_URL", help="A local fal server standing for the Platform API."
    ),
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="FAL_TYPED_API_URL", help=f"Platform API base URL [default: {DEFAULT_API_URL}]."
    ),
]
KeyOption = Annotated[
    str | None, typer.Option(help="fal API key [default: FAL_KEY from the environment].")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$")
_SPAN_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _fail(message: str, code: int) -> typer.Exit:
    Console(stderr=True).print(
        f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True
    )
    return typer.Exit(code)


def _failed(exc: FalError) -> typer.Exit:
    """fal's error with the status of its kind: a bad argument (2, nothing was sent), a key
    missing (2) or refused (4), fal unreachable (3), fal's own refusal (1)."""
    return _fail(describe(exc), exit_status(exc))


def platform_client(key: str | None, base_url: str | None, api_url: str | None) -> Client:
    """The client of the Platform API the options name (bad values exit with status 2)."""
    from .._client import Client

    try:
        hosts = Hosts.local(base_url) if base_url else Hosts()
        key = key_for(key, base_url)
        return Client(
            None if key is None else check_key(key, "--key"), api_url=api_url or hosts.api_url
        )
    except ValueError as exc:  # InvalidArgumentError is one; it never echoes the key
        raise _fail(as_typed(str(exc)), 2) from None


def _write_json(data: Any) -> None:
    sys.stdout.write(json_text(data, sys.stdout) + "\n")
    sys.stdout.flush()


def price(
    endpoint_ids: Annotated[
        list[str], typer.Argument(help="Endpoint ids, e.g. fal-ai/flux/dev.", show_default=False)
    ],
    calls: Annotated[
        int | None,
        typer.Option(min=1, help="Also estimate what this many calls of each endpoint cost."),
    ] = None,
    as_json: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_url: ApiUrlOption = None,
    key: KeyOption = None,
) -> None:
    """Print the unit price of endpoints (and, with --calls, what that many calls cost)."""
    from ..platform import estimate_cost, format_cost, prices  # its models load on first use

    _checked_ids(endpoint_ids, "ENDPOINT_IDS")
    with platform_client(key, base_url, api_url) as client:
        try:
            found = prices(endpoint_ids, client=client)
            estimates = {i: estimate_cost(i, calls, client=client) for i in found} if calls else {}
        except FalError as exc:
            raise _failed(exc) from None
    if as_json:
        rows: list[dict[str, Any]] = []
        for endpoint_id, unit in found.items():
            row: dict[str, Any] = unit.model_dump(mode="json")
            if endpoint_id in estimates:
                estimate = estimates[endpoint_id]
                row["estimate"] = {"calls": estimate.calls, "total_cost": estimate.total_cost}
            rows.append(row)
        _write_json(rows)
        return
    from rich.table import Table  # for the table only, not for every --help
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    table.add_column("endpoint", overflow="fold")
    table.add_column("unit price", justify="right", no_wrap=True)
    table.add_column("per", no_wrap=True)
    if calls:
        table.add_column(f"{calls} call{'s' if calls != 1 else ''}", justify="right", no_wrap=True)
    for endpoint_id, unit in found.items():
        cells = [
            Text(endpoint_id),
            Text(format_cost(unit.unit_price, unit.currency)),
            Text(unit.unit),
        ]
        if calls:
            estimate = estimates[endpoint_id]
            cells.append(Text(format_cost(estimate.total_cost, estimate.currency)))
        table.add_row(*cells)
    Console(soft_wrap=True).print(table)


def _checked_ids(ids: list[str], option: str) -> None:
    """Endpoint ids given on the command line: none blank (named as the user typed them)."""
    for endpoint_id in ids:
        if not endpoint_id.strip():
            raise _fail(
                f"{option} takes endpoint ids such as fal-ai/flux/dev, got {endpoint_id!r}", 2
            )


def _since(value: str) -> datetime:
    match = _SPAN.match(value)
    if match is None:
        raise _fail(f"--since takes a span like 24h, 7d or 2w, got {value!r}", 2)
    amount, unit = float(match.group(1)), _SPAN_UNITS[match.group(2)]
    try:
        if amount <= 0:
            raise ValueError(amount)
        return datetime.now(timezone.utc) - timedelta(**{unit: amount})
    except (ValueError, OverflowError):  # 0d, or a span reaching before the year 1
        raise _fail(
            f"--since takes a span above 0 and within the calendar, got {value!r}", 2
        ) from None


def usage_command(
    since: Annotated[
        str, typer.Option(help="The period up to now: 24h, 7d, 2w... (unless --start).")
    ] = "30d",
    start: Annotated[
        str | None, typer.Option(help="Start date or date-time (ISO 8601), instead of --since.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="End date or date-time (ISO 8601, exclusive) [default: now].")
    ] = None,
    endpoint: Annotated[
        list[str] | None,
        typer.Option("--endpoint", help="Only this endpoint (repeatable).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_url: ApiUrlOption = None,
    key: KeyOption = None,
) -> None:
    """Print what was spent over a period, by endpoint (fal asks for an admin key)."""
    from ..platform import format_cost, usage  # its models load on first use
    from ..platform._arguments import moment

    try:  # checked under the options' names, before any request
        begin = moment("--start", start) if start is not None else _since(since)
        stop = moment("--end", end) if end is not None else None
    except InvalidArgumentError as exc:
        raise _fail(as_typed(str(exc)), 2) from None
    _checked_ids(endpoint or [], "--endpoint")
    with platform_client(key, base_url, api_url) as client:
        try:
            report = usage(start=begin, end=stop, endpoint_ids=endpoint or None, client=client)
        except FalError as exc:
            raise _failed(exc) from None
    if as_json:
        _write_json(
            {
                "start": report.start.isoformat(),
                "end": report.end.isoformat(),
                "lines": [line.__dict__ for line in report.lines],
                "totals": report.totals,
            }
        )
        return
    console = Console(soft_wrap=True)
    period = f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
    if not report.lines:
        console.print(f"No usage from {period}.", highlight=False)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, title=f"Usage from {period}", title_justify="left")
    table.add_column("endpoint", overflow="fold")
    table.add_column("quantity", justify="right", no_wrap=True)
    table.add_column("unit price", justify="right", no_wrap=True)
    table.add_column("cost", justify="right", no_wrap=True)
    for line in report.lines:
        table.add_row(
            Text(line.endpoint_id),
            Text(f"{line.quantity:g} {line.unit}"),
            Text(format_cost(line.unit_price, line.currency)),
            Text(format_cost(line.cost, line.currency)),
        )
    for currency, total in report.totals.items():
        table.add_row(Text("total", style="bold"), "", "", Text(format_cost(total, currency)))
    console.print(table)
