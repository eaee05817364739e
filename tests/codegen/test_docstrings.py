"""The docstrings of the calls, on 50 endpoints of the committed package: for every input field
its type, allowed values, range, file note, and required or default, as the document states
them (read here from the raw document, not from the generator), and the call options.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from typing import Any

import pytest
from codegen_helpers import Endpoint, corpus, every_nth, planned, raw_input_properties

SAMPLE = every_nth(corpus(), 50)
SUBSCRIBE_OPTIONS = (
    "extra_body", "with_logs", "on_enqueue", "on_queue_update", "webhook_url", "priority",
    "hint", "start_timeout", "client_timeout", "headers", "client",
)  # fmt: skip
_TYPE_WORDS = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}
_KINDS = ("required", "default", "allowed values", "range", "file", "type")


def args_by_field(doc: str) -> dict[str, str]:
    """The ``Args:`` entries of a Google-style docstring: field -> its text (all its lines)."""
    section = doc.split("\nArgs:\n", 1)[1].split("\n\nCall options:\n", 1)[0]
    entries: dict[str, str] = {}
    for entry in re.split(r"\n(?=    \S)", section):
        name, _, text = entry.strip().partition(": ")
        entries[name] = " ".join(text.split())
    return entries


def value(raw: Any) -> str:
    """A value as the docstrings write it: strings in double quotes, the rest as Python."""
    return json.dumps(raw, ensure_ascii=False) if isinstance(raw, str) else repr(raw)


def plain(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a field that may also be null, without the null branch."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        rest = [b for b in branches if b != {"type": "null"}]
        if len(rest) == 1:
            return {**rest[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
    return schema


def facts(endpoint: Endpoint) -> list[tuple[str, str, str]]:
    """``(kind, field keyword, text its docstring entry must hold)`` for each fact the raw
    document states about a field: required, default, allowed values, range, file, type."""
    found: list[tuple[str, str, str]] = []
    raw = raw_input_properties(endpoint)
    for field in planned(endpoint).fields:
        schema, key = plain(raw.get(field.name, {})), field.keyword
        if field.required:
            found.append(("required", key, "required."))
        default = schema.get("default")
        # (A default contradicting its own schema is dropped by the generator, with a warning.)
        shown = field.default not in (None, "None", "NOT_GIVEN")
        if not field.required and isinstance(default, (str, int, float, bool)) and shown:
            found.append(("default", key, f"default {value(default)}."))
        enum = schema.get("enum")
        if isinstance(enum, list) and 0 < len(enum) <= 12:
            found += [("allowed values", key, value(v)) for v in enum if v is not None]
        elif isinstance(enum, list) and len(enum) > 12:
            found.append(("allowed values", key, f"one of {len(enum):,} values"))
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            found.append(("range", key, f"{low!r} to {high!r}"))
        elif isinstance(high, (int, float)):
            found.append(("range", key, f"at most {high!r}"))
        if isinstance(schema.get("maxLength"), int) and not field.file:
            found.append(("range", key, f"{schema['maxLength']} characters"))
        if field.file:
            found.append(
                ("file", key, "a local file (pathlib.Path, bytes, file object, PIL image)")
            )
        elif schema.get("type") in _TYPE_WORDS and not enum:
            found.append(("type", key, _TYPE_WORDS[schema["type"]]))
    return found


@pytest.mark.parametrize("endpoint", SAMPLE, ids=lambda e: e.module)
def test_every_field_is_documented_with_what_the_document_says(endpoint: Endpoint) -> None:
    doc = inspect.getdoc(endpoint.load().subscribe) or ""
    entries = args_by_field(doc)
    assert list(entries) == [field.keyword for field in planned(endpoint).fields]
    missing = [(kind, key, text) for kind, key, text in facts(endpoint) if text not in entries[key]]
    assert not missing, [(kind, key, text, entries[key]) for kind, key, text in missing]
    assert "\nCall options:\n" in doc
    assert all(f"\n    {option}: " in doc for option in SUBSCRIBE_OPTIONS)


def test_the_sample_holds_every_kind_of_fact_many_times() -> None:
    kinds = Counter(kind for endpoint in SAMPLE for kind, _, _ in facts(endpoint))
    assert all(kinds[kind] >= 20 for kind in _KINDS), kinds
