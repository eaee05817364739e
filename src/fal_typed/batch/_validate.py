"""The validation pass: every row checked against the endpoint's ``Input`` before anything is sent.

Each row becomes a :class:`Checked`: its identity (slot, key, hash), its input in journal form, or
the problems that make it invalid (by field, as :class:`InputValidationError` names them).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel

from .._endpoint import Endpoint
from .._errors import FalError, InputValidationError
from ._keys import RowIdentity, canonical_json, identity, input_hash, to_journal_form
from ._rows import RawRow, Rows, RowSource, field_types, iter_rows, local_files

__all__ = ["Checked", "RowProblem", "ValidationReport", "check_rows"]


@dataclass(frozen=True)
class RowProblem:
    """Why one row cannot be sent: its key, where it came from, and each bad field."""

    key: str
    where: str
    fields: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.key} ({self.where}): {self.message}"


@dataclass(frozen=True)
class Checked:
    """A row after validation: ``input`` (journal form) when valid, else ``problem``."""

    position: int
    where: str
    identity: RowIdentity
    input: dict[str, Any] | None
    problem: RowProblem | None = None


@dataclass
class ValidationReport:
    """What the validation pass found: how many rows, and every bad one."""

    rows: int = 0
    valid: int = 0
    problems: list[RowProblem] = field(default_factory=list[RowProblem])

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"{self.rows} rows, {self.valid} valid, {len(self.problems)} invalid"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _raw_hash(fields: Any) -> str:
    if isinstance(fields, BaseModel):
        fields = fields.model_dump(mode="python")
    text = canonical_json(fields) if _jsonable(fields) else repr(fields)
    # An invalid row may hold a lone surrogate (JSON's "\ud800"): hashed as it is, not refused.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _is_unicode(value: object) -> bool:
    """Whether ``value`` (a key, as the journal keeps it) is text UTF-8 can hold: a lone
    surrogate (JSON's ``"\ud800"``) cannot be stored, nor shown."""
    text = value if isinstance(value, str) else canonical_json(value) if _jsonable(value) else ""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str) -> str:
    """A message as the journal and the terminal can hold it (lone surrogates escaped)."""
    return text.encode("utf-8", "backslashreplace").decode()


def _jsonable(value: Any) -> bool:
    try:
        canonical_json(value)
    except (TypeError, ValueError):
        return False
    return True


def _split_key(
    fields: Mapping[str, Any] | BaseModel, key_field: str | None, input_fields: frozenset[str]
) -> tuple[Mapping[str, Any] | BaseModel, object | None, str | None]:
    """The fields to validate, the key value, and a problem when the key field is missing."""
    if key_field is None:
        return fields, None, None
    if isinstance(fields, BaseModel):
        value = getattr(fields, key_field, None)
        return fields, value, None if value is not None else f"no {key_field!r} (the key field)"
    value = fields.get(key_field)
    if value is None or value == "":
        return fields, None, f"no {key_field!r} (the key field)"
    if not _is_unicode(value):
        return (
            fields,
            None,
            f"{key_field!r} (the key field) is not valid Unicode (a lone surrogate)",
        )
    if key_field not in input_fields:
        fields = {k: v for k, v in fields.items() if k != key_field}
    return fields, value, None


def check_rows(
    endpoint: Endpoint[Any, Any], rows: Rows, *, key_field: str | None = None
) -> Iterator[Checked]:
    """Validate every row of ``rows`` in order (streamed)."""
    schema = endpoint.Input.model_json_schema(by_alias=True)
    types = field_types(schema)
    input_fields = frozenset(types)
    source = RowSource(rows) if isinstance(rows, (str, os.PathLike)) else rows
    base = source.base_dir if isinstance(source, RowSource) else None
    for raw in iter_rows(cast("Rows", source), schema):
        yield _check(endpoint, raw, key_field, input_fields, types, base)


def _check(
    endpoint: Endpoint[Any, Any],
    raw: RawRow,
    key_field: str | None,
    input_fields: frozenset[str],
    types: Any,
    base: Any,
) -> Checked:
    def bad(
        message: str, bad_fields: tuple[str, ...] = (), key_value: object | None = None
    ) -> Checked:
        ident = identity(raw.position, key_value, _raw_hash(raw.fields))
        shown = tuple(_shown(name) for name in bad_fields)
        return Checked(
            raw.position,
            raw.where,
            ident,
            None,
            RowProblem(ident.key, raw.where, shown, _shown(message)),
        )

    if raw.fields is None:
        return bad(raw.problem or "unreadable row")
    fields, key_value, missing = _split_key(raw.fields, key_field, input_fields)
    if missing is not None:
        return bad(missing, (key_field or "",))
    try:
        if base is not None and isinstance(fields, Mapping):
            fields = local_files(fields, types, base)
        body = endpoint.arguments(fields)
        journal_input = to_journal_form(body)
    except InputValidationError as exc:
        messages = "; ".join(
            f"{name}: {error.get('msg', 'invalid')}"
            for name, error in zip(exc.fields, exc.errors, strict=False)
        )
        return bad(messages, tuple(exc.fields), key_value)
    except (FalError, ValueError, TypeError) as exc:
        return bad(str(exc), (), key_value)
    ident = identity(raw.position, key_value, input_hash(journal_input))
    return Checked(raw.position, raw.where, ident, journal_input)
