"""``fal-typed call <endpoint-id> --field value ...``: call any endpoint from the command line.

The options are built at run time from the endpoint's input schema (its document in schemas/,
else the generated module's ``Input`` model), so every endpoint gets typed options, choices,
defaults and help without code. Values are checked against the schema before anything is sent:
a bad value exits with status 2 and a message naming the option. Local files given for file
fields are uploaded; the call goes through the queue with its position and logs shown live.

Exit status: 0 success, 1 the call failed, 2 bad usage or values, 130 interrupted.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

import click
import httpx
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.markup import escape

from ._cli_corpus import document_filename
from ._cli_hosts import Hosts
from ._cli_options import (
    FieldOption,
    LocalFile,
    SchemaError,
    build_field_options,
    input_schema,
)
from ._cli_output import print_result, save_files
from ._client import Client
from ._endpoint import Endpoint
from ._errors import FalError, InputValidationError, InvalidArgumentError, MissingCredentialsError
from ._models import InputModel, OutputModel
from ._status import Completed, InProgress, Queued, Status
from .naming import module_name

__all__ = ["HOST_ENV", "EndpointSpec", "build_command", "load_spec"]

#: Environment variables the host options read (the first one points at a local server).
HOST_ENV = {
    "base_url": "FAL_TYPED_BASE_URL",
    "queue_url": "FAL_TYPED_QUEUE_URL",
    "run_url": "FAL_TYPED_RUN_URL",
    "rest_url": "FAL_TYPED_REST_URL",
    "cdn_url": "FAL_TYPED_CDN_URL",
}
_PLACEHOLDER = "https://fal-typed-upload.invalid/"
_INTERRUPTED = 130


class _AnyInput(InputModel):
    """Input of an endpoint without a generated module: the schema check has been done already."""

    model_config = ConfigDict(extra="allow")


class _AnyOutput(OutputModel):
    """Output of an endpoint without a generated module: kept as fal sent it."""


@dataclass(frozen=True)
class EndpointSpec:
    """An endpoint's input schema and where it came from."""

    endpoint_id: str
    root: dict[str, Any]
    """The document ``$ref`` pointers resolve against."""
    schema: dict[str, Any] | None
    """The input object schema; None when the document's is unusable (then only --input-json)."""
    description: str
    problem: str | None = None


def _generated(endpoint_id: str) -> tuple[Endpoint[Any, Any], str] | None:
    """The generated module's endpoint object and description, if the module is installed."""
    try:
        module = importlib.import_module(f"fal_endpoints.{module_name(endpoint_id)}")
    except ImportError:
        return None
    endpoint: Endpoint[Any, Any] | None = getattr(module, "endpoint", None)
    if not isinstance(endpoint, Endpoint):
        return None
    # The module docstring: a title line, then the endpoint's description.
    paragraphs = [p for p in (inspect.getdoc(module) or "").split("\n\n") if p.strip()]
    return endpoint, paragraphs[1] if len(paragraphs) > 1 else f"Call {endpoint_id}."


def _about(document: Mapping[str, Any]) -> str:
    value: Any = document
    for key in ("info", "x-fal-metadata", "about"):
        value = cast("dict[str, Any]", value).get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def load_spec(endpoint_id: str, schemas_dir: Path) -> EndpointSpec:
    """Find the input schema of ``endpoint_id``; ``click.UsageError`` when there is none."""
    try:
        path = schemas_dir / document_filename(endpoint_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if path.is_file():
        try:
            document = json.loads(path.read_bytes())
        except ValueError as exc:
            raise click.UsageError(f"{path} is not valid JSON ({exc})") from None
        root = cast("dict[str, Any]", document) if isinstance(document, dict) else {}
        description = _about(root) or f"Call {endpoint_id}."
        try:
            return EndpointSpec(endpoint_id, root, input_schema(root, endpoint_id), description)
        except SchemaError as exc:
            return EndpointSpec(endpoint_id, root, None, description, problem=str(exc))
    generated = _generated(endpoint_id)
    if generated is not None:
        endpoint, description = generated
        schema = endpoint.Input.model_json_schema(by_alias=True)
        return EndpointSpec(endpoint_id, schema, schema, description)
    raise click.UsageError(
        f"unknown endpoint {endpoint_id!r}: no {path} and no generated module "
        f"fal_endpoints.{module_name(endpoint_id)} (run 'fal-typed fetch {endpoint_id}')"
    )


# -- building the request body ---------------------------------------------------------------


def _input_json(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    source = "--input-json"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {source}: {exc.strerror}", param_hint="'--input-json'"
            ) from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{source} is not valid JSON ({exc})", param_hint="'--input-json'"
        ) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="'--input-json'")
    return cast("dict[str, Any]", value)


def _collect(
    fields: Sequence[FieldOption], values: Mapping[str, Any], base: dict[str, Any]
) -> dict[str, Any]:
    body = dict(base)
    for field in fields:
        assert field.option.name is not None
        value = values.get(field.option.name)
        if value is None or value == ():
            continue
        body[field.field] = list(cast("tuple[Any, ...]", value)) if field.option.multiple else value
    missing = [f.flag for f in fields if f.required and f.field not in body]
    if missing:
        raise click.UsageError(
            f"missing required option{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        )
    return body


def _with_placeholders(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each local file replaced by a URL that stands for it during validation."""

    def swap(value: Any) -> Any:
        if isinstance(value, LocalFile):
            return _PLACEHOLDER + value.path.name
        if isinstance(value, list):
            return [swap(v) for v in cast("list[object]", value)]
        return value

    return {k: swap(v) for k, v in body.items()}


def _schema_errors(
    spec: EndpointSpec, body: Mapping[str, Any]
) -> list[tuple[list[str | int], str]]:
    """``(path, message)`` for each value the input schema rejects (none if it cannot be used)."""
    if spec.schema is None:
        return []
    import jsonschema  # type: ignore[import-untyped]
    import referencing.exceptions
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    validator: Any = jsonschema.Draft202012Validator({**spec.root, **spec.schema})
    try:
        # best_match descends into anyOf/oneOf to the branch the value was meant for.
        errors: list[Any] = [best_match([e]) for e in validator.iter_errors(dict(body))]
        found = [
            (list(cast("Sequence[str | int]", e.absolute_path)), str(e.message)) for e in errors
        ]
    except (jsonschema.SchemaError, referencing.exceptions.Unresolvable):
        return []  # an upstream defect in the schema: fal itself will judge the input
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _fail_values(
    fields: Sequence[FieldOption], problems: Sequence[tuple[Sequence[str | int], str]]
) -> NoReturn:
    flags = {f.field: f.flag for f in fields}
    lines: list[str] = []
    for path, message in problems:
        if not path:
            lines.append(message)
            continue
        head = flags.get(str(path[0]), str(path[0]))
        where = f" (at {'.'.join(str(p) for p in path)})" if len(path) > 1 else ""
        lines.append(f"invalid value for '{head}'{where}: {message}")
    raise click.UsageError("\n".join(lines))


# -- the call --------------------------------------------------------------------------------


class _LiveStatus:
    """Shows the queue position, state changes and log lines on stderr as they arrive."""

    def __init__(self, console: Console, show_logs: bool) -> None:
        self.console = console
        self.show_logs = show_logs
        self.request_id: str | None = None
        self._spinner = console.status("submitting")
        self._last: str | None = None

    def __enter__(self) -> _LiveStatus:
        self._spinner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._spinner.__exit__(None, None, None)

    def enqueued(self, request_id: str) -> None:
        self.request_id = request_id
        self.console.print(f"[dim]request id: {escape(request_id)}[/dim]")
        self._state("queued")

    def _state(self, text: str) -> None:
        if text != self._last:
            self._last = text
            self.console.print(f"[cyan]{escape(text)}[/cyan]")
            self._spinner.update(text)

    def update(self, status: Status) -> None:
        if isinstance(status, Queued):
            self._state(f"in queue, position {status.position}")
            return
        self._state("in progress" if isinstance(status, InProgress) else "completed")
        if self.show_logs:
            for log in status.logs or []:
                self.console.print(
                    f"[dim]{escape(log.level)}[/dim] {escape(log.message)}", highlight=False
                )
        if isinstance(status, Completed) and status.error:
            self.console.print(f"[red]{escape(status.error)}[/red]")


def _client(key: str | None, hosts: Hosts) -> Client:
    return Client(
        key,
        queue_url=hosts.queue_url,
        run_url=hosts.run_url,
        rest_url=hosts.rest_url,
        cdn_url=hosts.cdn_url,
        realtime_url=hosts.realtime_url,
    )


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
    from ._upload import upload

    def swap(value: Any) -> Any:
        if isinstance(value, LocalFile):
            console.print(f"[dim]uploading {escape(str(value.path))}[/dim]")
            return upload(value.path, client=client)
        if isinstance(value, list):
            return [swap(v) for v in cast("list[object]", value)]
        return value

    return {k: swap(v) for k, v in body.items()}


def _save_dir(value: str | None) -> Path | None:
    """The --save directory, created and checked writable before a paid call is made."""
    if value is None:
        return None
    directory = Path(value).expanduser()
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
    body = _collect(fields, values, _input_json(values.pop("input_json")))
    save = _save_dir(values["save"])
    problems = _schema_errors(spec, _with_placeholders(body))
    if problems:
        _fail_values(fields, problems)
    generated = _generated(spec.endpoint_id)
    endpoint = generated[0] if generated else Endpoint(spec.endpoint_id, _AnyInput, _AnyOutput)
    try:
        endpoint.arguments(None, _with_placeholders(body))
        client = _client(values["key"], _hosts(values))
        client.credentials()  # a missing key is a usage error, found before anything is sent
    except MissingCredentialsError:
        raise click.UsageError(
            "no fal API key: set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or pass --key"
        ) from None
    except InputValidationError as exc:
        _fail_values(
            fields,
            [
                (list(cast("Sequence[str | int]", e.get("loc", ()))), str(e.get("msg")))
                for e in exc.errors
            ],
        )
    except InvalidArgumentError as exc:
        raise click.UsageError(str(exc)) from None
    live = _LiveStatus(err, show_logs=values["logs"])
    try:
        with live:
            arguments = endpoint.arguments(None, _upload_files(body, client, err))
            result: BaseModel = endpoint.subscribe(
                arguments,
                with_logs=values["logs"],
                on_enqueue=live.enqueued,
                on_queue_update=live.update,
                client_timeout=values["timeout"],
                client=client,
            )
        data = result.model_dump(mode="json", by_alias=True, exclude_unset=True)
        print_result(data, table=values["table"], console=Console())
        if save is not None:
            for path in save_files(data, save, client.http):
                err.print(f"saved {escape(str(path))}", highlight=False)
    except KeyboardInterrupt:
        _cancel(endpoint, live.request_id, client, err)
        raise SystemExit(_INTERRUPTED) from None
    except FalError as exc:
        raise click.ClickException(client.redact(str(exc))) from None
    except (httpx.HTTPError, OSError) as exc:  # saving the output files
        raise click.ClickException(f"could not save the output files: {exc}") from None
    finally:
        client.close()


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
            metavar="JSON|@FILE",
            help="Input fields as a JSON object (or @file.json); options given beside it win.",
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
            ["--timeout"],
            type=click.FloatRange(0, min_open=True),
            help="Give up (and cancel) after this many seconds.",
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
