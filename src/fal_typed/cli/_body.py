"""The request body of ``fal-typed call``: gathered from the options, checked before sending.

Every problem is a ``click`` usage error (exit status 2) naming the option at fault, raised before
any request (or upload) is made. ``--input-json @FILE`` reads a regular file or a pipe
(``@/dev/stdin``) of at most :data:`MAX_INPUT_JSON_BYTES`; a device (``@/dev/zero``), a directory
or a ``/proc`` pseudo-file is refused before a byte is read, and a pipe no further than the limit.
``--input-json -`` reads stdin the same way (a terminal is refused, not waited on).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

import click

from ..files._errors import FileInputError
from ..files._local import check_local_file
from ._options import FieldOption, LocalFile, file_value
from ._spec import EndpointSpec

__all__ = [
    "MAX_INPUT_JSON_BYTES",
    "collect_body",
    "fail_values",
    "input_json",
    "nested_local_files",
    "read_input_file",
    "replace_files",
    "schema_errors",
    "with_placeholders",
]

_PLACEHOLDER = "https://fal-typed-upload.invalid/"

MAX_INPUT_JSON_BYTES = 64 * 1024 * 1024
"""The largest ``--input-json @FILE`` read (inline files travel as URLs, not in the JSON)."""

_HINT = "'--input-json'"


def read_input_file(source: str) -> str:
    """The text of ``@source``: a regular file or a pipe, read no further than the limit."""
    path = Path(source).expanduser()
    try:
        check_local_file(path, field=None, max_bytes=MAX_INPUT_JSON_BYTES, allow_pipes=True)
        # Non-blocking open: a FIFO without a writer cannot hold the command in open(); then
        # blocking reads, so a pipe's writer is waited for and its end is the end of the input.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileInputError as exc:
        raise click.BadParameter(exc.message, param_hint=_HINT) from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {source}: {exc.strerror}", param_hint=_HINT
        ) from None
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as handle:
        return _bounded_text(handle.read, source)


def _read_stdin() -> str:
    """``--input-json -``: the JSON piped in, read no further than the limit. A terminal is
    refused, not waited on: nobody is typing the JSON there."""
    stream = sys.stdin
    if stream is None:  # started with <&-: there is no stdin at all
        raise click.BadParameter(
            "'-' reads the JSON from stdin, which is closed here: pipe it in "
            "(... | fal-typed call ID --input-json -) or give @FILE",
            param_hint=_HINT,
        )
    if stream.isatty():
        raise click.BadParameter(
            "'-' reads the JSON from stdin, which is a terminal here: pipe it in "
            "(... | fal-typed call ID --input-json -) or give @FILE",
            param_hint=_HINT,
        )
    try:
        read = stream.buffer.read
    except AttributeError:  # a text stream with no bytes under it
        raise click.BadParameter("cannot read stdin: it has no bytes", param_hint=_HINT) from None
    return _bounded_text(read, "stdin")


def _bounded_text(read: Callable[[int], bytes], source: str) -> str:
    """The UTF-8 text ``read`` gives, read no further than the limit (one byte past it says the
    input is too large). A byte-order mark is dropped: Windows tools (PowerShell's
    ``Out-File -Encoding utf8``, Notepad) write one, and JSON refuses it ("Unexpected UTF-8
    BOM")."""
    try:
        data = read(MAX_INPUT_JSON_BYTES + 1)
    except (OSError, ValueError) as exc:  # an I/O error, or a closed stream
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.BadParameter(f"cannot read {source}: {reason}", param_hint=_HINT) from None
    if len(data) > MAX_INPUT_JSON_BYTES:
        raise click.BadParameter(
            f"{source} is more than the limit of {MAX_INPUT_JSON_BYTES} bytes", param_hint=_HINT
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{source} is not UTF-8 text ({exc})", param_hint=_HINT) from None


def input_json(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    source = "--input-json"
    if text in ("-", "@-"):
        source = "stdin"
        text = _read_stdin()
    elif text.startswith("@"):
        source = text[1:]
        text = read_input_file(source)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{source} is not valid JSON ({exc})", param_hint=_HINT) from None
    except RecursionError:
        raise click.BadParameter(f"{source} is nested too deeply", param_hint=_HINT) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=_HINT)
    return cast("dict[str, Any]", value)


def collect_body(
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


def nested_local_files(fields: Sequence[FieldOption], body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with the file fields given as JSON (inside objects, or in ``--input-json``) that
    name a local file made :class:`LocalFile` s, to be uploaded like the file options.

    A file field is named ``url``, ``*_url`` (a string) or ``*_urls`` (a list of strings), as in
    the generated models; a string in one that is not a URL must be an existing file.
    """
    problems: list[tuple[list[str | int], str]] = []

    def local(value: object, where: list[str | int]) -> object:
        try:
            return file_value(value)
        except ValueError as exc:
            problems.append((where, str(exc)))
            return value

    def walk(value: object, where: list[str | int]) -> object:
        if isinstance(value, dict):
            items = cast("dict[str, object]", value).items()
            return {key: field(key, item, [*where, key]) for key, item in items}
        if isinstance(value, list):
            return [walk(item, [*where, i]) for i, item in enumerate(cast("list[object]", value))]
        return value

    def field(key: str, value: object, where: list[str | int]) -> object:
        if key == "url" or key.endswith("_url"):
            return local(value, where)
        if key.endswith("_urls") and isinstance(value, list):
            items = cast("list[object]", value)
            return [local(item, [*where, i]) for i, item in enumerate(items)]
        return walk(value, where)

    found = {key: field(key, value, [key]) for key, value in body.items()}
    if problems:
        fail_values(fields, problems)
    return found


def with_placeholders(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each local file replaced by a URL that stands for it during validation."""
    return cast("dict[str, Any]", replace_files(body, lambda file: _PLACEHOLDER + file.path.name))


def replace_files(value: object, replace: Callable[[LocalFile], str]) -> object:
    """``value`` with each :class:`LocalFile` in it (at any depth) replaced by ``replace(file)``."""
    if isinstance(value, LocalFile):
        return replace(value)
    if isinstance(value, dict):
        items = cast("dict[object, object]", value).items()
        return {key: replace_files(item, replace) for key, item in items}
    if isinstance(value, list):
        return [replace_files(item, replace) for item in cast("list[object]", value)]
    return value


def schema_errors(spec: EndpointSpec, body: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
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


def fail_values(
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
