"""docs/guarantees.md prints the retry table the code decides from, exactly."""

from __future__ import annotations

from pathlib import Path

from fal_typed._retry import RETRY_TABLE, Kind, Outcome, markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "guarantees.md"
START = (
    "<!-- retry-table: generated from fal_typed._retry.markdown_table(); do not edit by hand -->"
)
END = "<!-- /retry-table -->"


def test_the_documented_table_is_the_code_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == markdown_table(), (
        "docs/guarantees.md and fal_typed._retry.RETRY_TABLE differ: paste markdown_table() "
        "between the retry-table markers"
    )


def test_the_table_has_every_kind_and_every_outcome() -> None:
    assert set(RETRY_TABLE) == set(Kind)
    assert all(set(row) == set(Outcome) for row in RETRY_TABLE.values())
    lines = markdown_table().splitlines()
    assert len(lines) == 2 + len(Kind)
    assert all(line.count("|") == len(Outcome) + 2 for line in lines)
