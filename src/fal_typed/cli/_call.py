"""``fal-typed call <endpoint-id> --field value ...``: call any endpoint from the command line.

The options are built at run time from the endpoint's input schema (its document in schemas/,
else the generated module's ``Input`` model), so every endpoint gets typed options, choices,
defaults and help without code. Values are checked against the schema before anything is sent:
a bad value exits with status 2 and a message naming the option. Local files given for file
fields are uploaded; the call goes through the queue with its position and logs shown live, or
(``--via run`` / ``--via stream``) through the run host or the endpoint's stream.

Exit status (``_errors``): 0 success, 1 the call failed, 2 bad usage or values, 3 fal could not
be reached, 4 the key was refused, 130 interrupted.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import click
import httpx
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from .._auth import check_key
from .._client import Client
from .._endpoint import Endpoint
from .._errors import FalError, InputValidationError, InvalidArgumentError, MissingCredentialsError
from .._hosts import Hosts
from .._local import hosts_client, key_for
from .._untyped import untyped
from .._urls import request_url
from ..files._local import folder_problem
from ._body import (
    collect_body,
    fail_values,
    input_json,
    nested_local_files,
    replace_files,
    schema_errors,
    with_placeholders,
)
from ._env import HOST_ENV
from ._errors import FAILED, CallFailed, as_typed, describe
from ._live import LiveStatus
from ._options import FieldOption, LocalFile, Seconds, build_field_options
from ._output import print_result, save_files
from ._spec import EndpointSpec, generated_endpoint

__all__ = ["HOST_ENV", "build_command"]

_INTERRUPTED = 130


def _hosts(options: Mapping[str, Any]) -> Hosts:
    base = options.get("base_url")
    try:
        hosts = Hosts.local(base) if base else Hosts()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--base-url'") from None
    overrides = {
        k: v for k in ("queue_url", "run_url", "rest_url", "cdn_url") if (v := options.get(k))
    }
    if overrides:
        from dataclasses import replace

        hosts = replace(hosts, **overrides)
    return hosts


def _upload_files(body: dict[str, Any], client: Client, console: Console) -> dict[str, Any]:
    from ..files._upload import upload

    def upload_one(file: LocalFile) -> str:
        console.print(f"[dim]uploading {escape(str(file.path))}[/dim]")
        return upload(file.path, client=client)

    return cast("dict[str, Any]", replace_files(body, upload_one))


def _save_dir(value: str | None) -> Path | None:
    """The --save directory, created and checked writable before a paid call is made."""
    if value is None:
        return None
    directory = Path(value).expanduser()
    problem = folder_problem(directory)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--save'")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot create {value}: {exc.strerror}", param_hint="'--save'"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{value} is not writable", param_hint="'--save'")
    return directory


def _execute(spec: EndpointSpec, fields: Sequence[FieldOption], values: dict[str, Any]) -> None:
    err = Console(stderr=True)
    body = collect_body(fields, values, input_json(values.pop("input_json")))
    body = nested_local_files(fields, body)
    save = _save_dir(values["save"])
    problems = schema_errors(spec, with_placeholders(body))
    if problems:
        fail_values(fields, problems)
    generated = generated_endpoint(spec.endpoint_id)
    # Without a generated module: open models (the schema check above has been done).
    endpoint = generated[0] if generated else untyped(spec.endpoint_id)
    try:
        endpoint.arguments(None, with_placeholders(body))
        given = None if values["key"] is None else check_key(values["key"], "--key")
        client = hosts_client(_hosts(values), key_for(given, values.get("base_url")))
        client.credentials()  # a missing key is a usage error, found before anything is sent
    except MissingCredentialsError as exc:
        raise click.UsageError(describe(exc)) from None
    except InputValidationError as exc:
        fail_values(
            fields,
            [
                (list(cast("Sequence[str | int]", e.get("loc", ()))), str(e.get("msg")))
                for e in exc.errors
            ],
        )
    except InvalidArgumentError as exc:
        raise click.UsageError(as_typed(str(exc))) from None
    live = LiveStatus(err, show_logs=values["logs"])
    try:
        with live:
            arguments = endpoint.arguments(None, _upload_files(body, client, err))
            result = _call(endpoint, arguments, values, client, live)
        data = result.model_dump(mode="json", by_alias=True, exclude_unset=True)
        _print_or_keep(data, values["table"], spec.endpoint_id, live.request_id, client, err)
        if save is not None:
            for path in save_files(data, save, client):
                err.print(f"saved {escape(str(path))}", highlight=False)
    except KeyboardInterrupt:
        _cancel(endpoint, live.request_id, client, err)
        raise SystemExit(_INTERRUPTED) from None
    except FalError as exc:
        raise CallFailed(exc, client.redact(describe(exc))) from None
    except (httpx.HTTPError, OSError) as exc:  # saving the output files
        raise click.ClickException(f"could not save the output files: {exc}") from None
    finally:
        client.close()


def _print_or_keep(
    data: Any,
    table: bool,
    endpoint_id: str,
    request_id: str | None,
    client: Client,
    err: Console,
) -> None:
    """Print the result; when stdout refuses it (a closed pipe, a full disk), it is still paid
    for: keep it in a file and say on stderr where, with its request id and where fal keeps
    it, then fail (exit status 1)."""
    try:
        if sys.stdout is None:  # started with no stdout (`>&-`): rich would write nowhere
            raise OSError(errno.EBADF, "stdout is closed")
        print_result(data, table=table, console=Console())
    except (OSError, ValueError) as exc:  # ValueError: a closed stream; UnicodeError is one
        _silence_stdout()
        kept = _keep(data)
        lines = [f"Error: the result could not be printed ({exc})."]
        lines.append(
            f"It was saved in {kept}." if kept else "It could not be saved in a file either."
        )
        if request_id is not None:
            url = request_url(client.queue_url, endpoint_id, request_id)
            lines.append(
                f"Request {request_id} completed: fal keeps its result for a while at {url} "
                f"(GET, with your key), or in Python: fal_typed.untyped({endpoint_id!r})"
                f".result({request_id!r})."
            )
        else:
            lines.append(
                "This call went through no queue (--via run/stream): it has no request id."
            )
        err.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(FAILED) from None


def _silence_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush of what could not be
    written cannot fail again on the way out (Python's advice for a closed pipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a replaced stream)
        pass


def _keep(data: Any) -> str | None:
    """Write a result that could not be printed to a new file in the temporary directory."""
    try:
        descriptor, path = tempfile.mkstemp(prefix="fal-typed-result-", suffix=".json")
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError:
        return None
    return path


def _call(
    endpoint: Endpoint[Any, Any],
    arguments: Mapping[str, Any],
    values: Mapping[str, Any],
    client: Client,
    live: LiveStatus,
) -> BaseModel:
    """One call the ``--via`` way: through the queue (live status), the run host, or a stream
    whose partial events are shown as they arrive."""
    timeout: float | None = values["timeout"]
    if values["via"] == "run":
        live.running()
        output: BaseModel = endpoint.run(arguments, timeout=timeout, client=client)
        return output
    if values["via"] == "stream":
        live.running()
        with endpoint.stream(arguments, timeout=timeout, client=client) as events:
            for event in events:
                live.event(event)
            final: BaseModel = events.result()
            return final
    queued: BaseModel = endpoint.subscribe(
        arguments,
        with_logs=values["logs"],
        on_enqueue=live.enqueued,
        on_queue_update=live.update,
        client_timeout=timeout,
        client=client,
    )
    return queued


def _cancel(
    endpoint: Endpoint[Any, Any], request_id: str | None, client: Client, console: Console
) -> None:
    if request_id is None:
        console.print("interrupted")
        return
    try:
        endpoint.cancel(request_id, client=client)
        console.print(f"interrupted: cancelled request {escape(request_id)}")
    except (FalError, KeyboardInterrupt):
        console.print(f"interrupted: request {escape(request_id)} may still run")


# -- the click command -----------------------------------------------------------------------


class _EndpointCommand(click.Command):
    """Lists the endpoint's fields and the call options under separate headings."""

    def __init__(self, *, field_count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.field_count = field_count

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = self.get_params(ctx)
        sections = (
            ("Input fields", params[: self.field_count]),
            ("Call options", params[self.field_count :]),
        )
        for title, group in sections:
            records = [r for p in group if (r := p.get_help_record(ctx)) is not None]
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


def _call_params() -> list[click.Parameter]:
    return [
        click.Option(
            ["--input-json"],
            metavar="JSON|@FILE|-",
            help="Input fields as a JSON object (or @file.json, or - for stdin); options given "
            "beside it win.",
        ),
        click.Option(
            ["--save"],
            type=click.Path(file_okay=False),
            help="Save the output files into this directory.",
        ),
        click.Option(
            ["--table"], is_flag=True, help="Print the result as a table instead of JSON."
        ),
        click.Option(
            ["--logs/--no-logs"],
            default=True,
            show_default=True,
            help="Show the model's log lines.",
        ),
        click.Option(
            ["--via"],
            type=click.Choice(["queue", "run", "stream"]),
            default="queue",
            show_default=True,
            help="Through the queue (position and logs shown), the run host directly, or the "
            "endpoint's stream (partial events shown as they arrive).",
        ),
        click.Option(
            ["--timeout"],
            type=Seconds(),
            help="Give up (and cancel a queued request) after this many seconds.",
        ),
        click.Option(
            ["--key"], help="fal API key (default: FAL_KEY, or FAL_KEY_ID and FAL_KEY_SECRET)."
        ),
        click.Option(
            ["--base-url"],
            envvar=HOST_ENV["base_url"],
            help=f"A local fal server (fal-typed serve) standing for every host [env: {HOST_ENV['base_url']}].",
        ),
        *(
            click.Option(
                [f"--{name.replace('_', '-')}"],
                envvar=env,
                help=f"Override the {name[:-4]} host [env: {env}].",
            )
            for name, env in HOST_ENV.items()
            if name != "base_url"
        ),
    ]


def build_command(spec: EndpointSpec) -> click.Command:
    """The click command for one endpoint: its fields as options, then the call options."""
    call_params = _call_params()
    reserved = {opt for p in call_params for opt in (*p.opts, *p.secondary_opts)} | {
        "--help",
        "--schemas",
    }
    fields = (
        build_field_options(spec.root, spec.schema, reserved=reserved)
        if spec.schema is not None
        else []
    )
    help_text = spec.description
    if spec.problem:
        help_text += f"\n\nThe input schema cannot be read ({spec.problem}): give the input with --input-json."

    def callback(**values: Any) -> None:
        _execute(spec, fields, values)

    return _EndpointCommand(
        name=spec.endpoint_id,
        params=[*(f.option for f in fields), *call_params],
        callback=callback,
        help=help_text,
        field_count=len(fields),
        context_settings={"max_content_width": 100},
    )
