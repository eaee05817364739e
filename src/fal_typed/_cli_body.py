"""The request body of ``fal-typed call``: gathered from the options, checked before sending.

Every problem is a ``click`` usage error (exit status 2) naming the option at fault, raised before
any request (or upload) is made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

import click

from ._cli_options import FieldOption, LocalFile
from ._cli_spec import EndpointSpec

__all__ = ["collect_body", "fail_values", "input_json", "schema_errors", "with_placeholders"]

_PLACEHOLDER = "https://fal-typed-upload.invalid/"


def input_json(text: str | None) -> dict[str, Any]:
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


def with_placeholders(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each local file replaced by a URL that stands for it during validation."""

    def swap(value: Any) -> Any:
        if isinstance(value, LocalFile):
            return _PLACEHOLDER + value.path.name
        if isinstance(value, list):
            return [swap(v) for v in cast("list[object]", value)]
        return value

    return {k: swap(v) for k, v in body.items()}


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
