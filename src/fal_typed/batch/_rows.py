"""Reading a batch's rows: JSONL or CSV files, or any iterable of mappings or ``Input`` instances.

Rows are streamed: a file is read line by line, an iterable is consumed once, so a batch of a
million rows never sits in memory. CSV cells are text; they are converted by the endpoint's
input schema (``"4"`` to ``4`` for an integer field, ``"true"`` for a boolean, JSON for object
and array fields, an empty cell leaves the field to its default). A file field whose value is
not a URL names a local file, relative to the input file's folder, uploaded when the row is sent.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias, cast

from pydantic import BaseModel

from .._errors import InvalidArgumentError
from ._errors import InputFileError

__all__ = ["RawRow", "RowSource", "Rows", "field_types", "read"]

Format: TypeAlias = Literal["jsonl", "csv"]

_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class RawRow:
    """One row as read, before validation: its 0-based position and its fields (or why it
    could not be read: ``problem``, e.g. a line that is not JSON). ``where`` says where it came
    from for messages (``prompts.jsonl:12``)."""

    position: int
    where: str
    fields: Mapping[str, Any] | BaseModel | None
    problem: str | None = None


def stdin_bytes() -> IO[bytes]:
    """Standard input's bytes, for rows given as ``-``. Closed (``<&-``: ``sys.stdin`` is None)
    it raised an AttributeError, reported as a bug; a terminal waited, silently, for rows typed
    by hand: both are refused saying how rows are given."""
    stream = sys.stdin
    how = "pipe the rows in (cat rows.jsonl | fal-typed batch run ID -) or give the file's path"
    if stream is None or getattr(stream, "buffer", None) is None:
        raise InputFileError(f"'-' reads the rows from standard input, which is closed here: {how}")
    if stream.isatty():
        raise InputFileError(
            f"'-' reads the rows from standard input, which is a terminal here: {how}"
        )
    return cast("IO[bytes]", stream.buffer)


class RowSource:
    """A JSONL or CSV file (or ``-`` for standard input), read lazily row by row."""

    def __init__(self, path: str | os.PathLike[str], *, format: Format | None = None) -> None:
        self.path: Path = _input_path(path)
        if format is not None and format not in ("jsonl", "csv"):
            raise InvalidArgumentError(f"format must be 'jsonl' or 'csv', got {format!r}")
        self.format: Format = format or _guess_format(self.path)

    def __repr__(self) -> str:
        return f"RowSource({str(self.path)!r}, format={self.format!r})"

    @property
    def name(self) -> str:
        """The file as messages name it."""
        return "standard input" if str(self.path) == "-" else str(self.path)

    @property
    def base_dir(self) -> Path:
        """Where relative local file names in the rows are looked for."""
        return Path.cwd() if str(self.path) == "-" else self.path.resolve().parent

    def open(self) -> IO[str]:
        if str(self.path) == "-":
            # A byte-order mark is fine here as in a file (PowerShell's pipes write one).
            return io.TextIOWrapper(stdin_bytes(), encoding="utf-8-sig", newline="")
        try:
            return self.path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InputFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def rows(self, schema: Mapping[str, Any] | None = None) -> Iterator[RawRow]:
        """Every row in order; CSV cells converted by ``schema`` (an input JSON schema).

        A file that is not UTF-8 or not CSV raises :class:`InputFileError` naming the file and
        where (line, byte offset), not the decoder's error: it is the user's file, not our bug."""
        name = "<stdin>" if str(self.path) == "-" else self.path.name
        with self.open() as handle:
            try:
                if self.format == "jsonl":
                    yield from _jsonl_rows(handle, name)
                else:
                    yield from _csv_rows(handle, name, field_types(schema or {}), self.name)
            except UnicodeDecodeError as exc:
                raise InputFileError(self._not_utf8(exc)) from None
            except OSError as exc:
                raise InputFileError(f"cannot read {self.name}: {exc.strerror or exc}") from None

    def _not_utf8(self, exc: UnicodeDecodeError) -> str:
        """Where the first byte that is not UTF-8 is (the decoder's own offset is within the
        chunk it was decoding, so the file is scanned again from its start)."""
        bad = exc.object[exc.start : exc.start + 1].hex()
        found = None if str(self.path) == "-" else _first_non_utf8(self.path)
        where = "" if found is None else f" at line {found[0]} (byte offset {found[1]})"
        if found is not None:
            bad = found[2]
        return (
            f"{self.name} is not UTF-8: byte 0x{bad}{where} cannot be decoded; save the file as "
            "UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        )


def _first_non_utf8(path: Path) -> tuple[int, int, str] | None:
    """Line number, byte offset and hex of the first byte of ``path`` that is not UTF-8 (lines
    split at newline bytes, never part of a longer UTF-8 sequence, so each decodes alone)."""
    offset = 0
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return number, offset + exc.start, line[exc.start : exc.start + 1].hex()
                offset += len(line)
    except OSError:
        return None
    return None


def _input_path(path: object) -> Path:
    """An input file's path: a string or path naming an existing file, or ``-`` (stdin)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"the input file must be a path (str or os.PathLike), got {type(path).__name__}"
        )
    text = os.fspath(cast("str | os.PathLike[str]", path))
    if not isinstance(text, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError("the input file must be a str path, not bytes")
    if not text:
        raise InvalidArgumentError("the input file must not be an empty path")
    if text == "-":
        return Path(text)
    found = Path(text)
    if found.is_dir():
        raise InvalidArgumentError(f"the input file {text} is a folder, not a JSONL or CSV file")
    if not found.exists():
        raise InvalidArgumentError(f"the input file {text} does not exist")
    return found


Rows: TypeAlias = "RowSource | str | os.PathLike[str] | Iterable[Mapping[str, Any] | BaseModel]"
"""What a batch runs over: a file (path or :class:`RowSource`) or an iterable of rows."""


def read(path: str | os.PathLike[str], *, format: Format | None = None) -> RowSource:
    """The rows of a JSONL or CSV file (by its extension, or ``format``), read as the batch goes.

    A path to no file, or a format that is neither, is refused here (InvalidArgumentError)."""
    return RowSource(path, format=format)


def iter_rows(rows: Rows, schema: Mapping[str, Any] | None = None) -> Iterator[RawRow]:
    """The :class:`RawRow` of anything :data:`Rows` accepts."""
    if isinstance(rows, (str, os.PathLike)):
        rows = RowSource(rows)
    if isinstance(rows, RowSource):
        yield from rows.rows(schema)
        return
    for position, item in enumerate(rows):
        where = f"row {position}"
        if isinstance(item, (Mapping, BaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
            yield RawRow(position, where, item)
        else:
            problem = f"expected a mapping or an Input instance, got {type(item).__name__}"
            yield RawRow(position, where, None, problem)


def check_rows_value(rows: object) -> Rows:
    """``rows`` as a run reads them, refused before it starts when :data:`Rows` does not accept
    them: a path to no file, not iterable, or one mapping (its keys would be read as rows)."""
    if isinstance(rows, RowSource):
        return RowSource(rows.path, format=rows.format)  # the file may be gone since read()
    if isinstance(rows, (str, os.PathLike)):
        return RowSource(cast("str | os.PathLike[str]", rows))
    if isinstance(rows, (Mapping, BaseModel)):
        raise InvalidArgumentError(
            "rows must be an iterable of mappings or Input instances (or a file), not a single row"
        )
    if isinstance(rows, (bytes, bytearray)) or not isinstance(rows, Iterable):
        raise InvalidArgumentError(
            "rows must be a JSONL or CSV file, or an iterable of mappings or Input instances, "
            f"got {type(rows).__name__}"
        )
    return cast("Iterable[Mapping[str, Any] | BaseModel]", rows)


def _guess_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson") or str(path) == "-":
        return "jsonl"
    raise InvalidArgumentError(
        f"cannot tell the format of {path} from its name: give format='jsonl' or 'csv'"
    )


def _jsonl_rows(handle: IO[str], name: str) -> Iterator[RawRow]:
    position = 0
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            value = json.loads(line)
        except ValueError as exc:
            yield RawRow(position, where, None, f"not JSON: {exc}")
        else:
            if isinstance(value, dict):
                yield RawRow(position, where, cast("dict[str, Any]", value))
            else:
                yield RawRow(position, where, None, "a row must be a JSON object")
        position += 1


# -- CSV: cells converted by the schema's types ---------------------------------------------


@dataclass(frozen=True)
class FieldType:
    """The JSON types a field accepts (``types``), and whether it holds files."""

    types: frozenset[str]
    is_file: bool = False


def _resolve(root: Mapping[str, Any], node: Any) -> dict[str, Any]:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        ref = cast("dict[str, Any]", node)["$ref"]
        target: Any = root
        for part in str(ref).lstrip("#/").split("/"):
            target = (
                cast("dict[str, Any]", target).get(part, {}) if isinstance(target, dict) else {}
            )
        node, seen = target, seen + 1
    return cast("dict[str, Any]", node) if isinstance(node, dict) else {}


def _types(root: Mapping[str, Any], node: Any, depth: int = 0) -> tuple[set[str], bool]:
    schema = _resolve(root, node)
    types: set[str] = set()
    is_file = schema.get("format") == "uri"
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and depth < 8:
            for option in cast("list[object]", options):
                sub, sub_file = _types(root, option, depth + 1)
                types |= sub
                is_file = is_file or sub_file
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types |= {t for t in cast("list[object]", declared) if isinstance(t, str)}
    if "enum" in schema and not types:
        types |= {type(v).__name__ for v in cast("list[Any]", schema["enum"])}
    if "properties" in schema:
        types.add("object")
    if types == {"array"} and depth < 8:
        _, is_file = _types(root, schema.get("items"), depth + 1)
    return types, is_file


def field_types(schema: Mapping[str, Any]) -> dict[str, FieldType]:
    """The JSON types of each top-level property of an input JSON schema."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    result: dict[str, FieldType] = {}
    for name, node in cast("dict[str, Any]", properties).items():
        types, is_file = _types(schema, node)
        result[name] = FieldType(frozenset(types), is_file)
    return result


_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "n", "off"})


def convert_cell(text: str, field: FieldType | None) -> Any:
    """A CSV cell as the value its field's type wants (the text itself when nothing fits, so
    validation reports it against the field)."""
    if field is None:
        return text
    types = field.types
    stripped = text.strip()
    if "null" in types and stripped.lower() == "null":
        return None
    if stripped[:1] in ("{", "[") and types & {"object", "array"}:
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    if "integer" in types and re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    if "number" in types:
        try:
            return float(stripped)
        except ValueError:
            pass
    if "boolean" in types and stripped.lower() in _TRUE | _FALSE:
        return stripped.lower() in _TRUE
    if types & {"object", "array"} and "string" not in types:
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def _csv_rows(
    handle: IO[str], name: str, types: Mapping[str, FieldType], file: str
) -> Iterator[RawRow]:
    reader = csv.DictReader(handle)
    position = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over csv's field size limit
            # The DictReader's own line_num is set only after a row is read whole.
            line = reader.reader.line_num
            raise InputFileError(f"{file} is not valid CSV at line {line}: {exc}") from None
        where = f"{name}:{reader.line_num}"
        extra = record.get(None)  # pyright: ignore[reportCallIssue, reportArgumentType]
        if extra:
            yield RawRow(position, where, None, f"{len(extra)} more cells than columns")
        else:
            fields = {
                column: convert_cell(cell, types.get(column))
                for column, cell in record.items()
                if column is not None and cell is not None and cell != ""
            }
            yield RawRow(position, where, fields)
        position += 1


def local_files(
    fields: Mapping[str, Any], types: Mapping[str, FieldType], base: Path
) -> dict[str, Any]:
    """``fields`` with each file field's non-URL string turned into the ``Path`` it names
    (relative to ``base``), so it is uploaded; a missing file raises ``ValueError``."""

    def as_path(value: Any, name: str) -> Any:
        if isinstance(value, list):
            return [as_path(v, name) for v in cast("list[object]", value)]
        if not isinstance(value, str) or _URL_LIKE.match(value):
            return value
        path = (base / Path(value).expanduser()).resolve()
        if not path.is_file():
            raise ValueError(f"{name}: {value!r} is neither a URL nor an existing file")
        return path

    return {
        name: as_path(value, name) if (t := types.get(name)) is not None and t.is_file else value
        for name, value in fields.items()
    }
