"""The glob syntax of the proxy's allow-lists, shared by URL and endpoint patterns.

``*`` matches within one path segment (no ``/``), ``**`` matches anything (``/`` included), every
other character stands for itself (``?`` too: it is the start of a query, not a wildcard). The
same reading as fal's own proxy patterns, so lists written for it keep their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["GlobSet", "has_wildcard"]

_WILDCARD = re.compile(r"(\*\*|\*)")


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern


def _regex(pattern: str) -> str:
    parts = _WILDCARD.split(pattern)
    return "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )


class GlobSet:
    """A set of glob patterns, matched against whole strings."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: tuple[str, ...] = tuple(patterns)
        joined = "|".join(f"(?:{_regex(p)})" for p in self.patterns)
        self._regex = re.compile(joined) if self.patterns else None

    def matches(self, value: str) -> bool:
        return self._regex is not None and self._regex.fullmatch(value) is not None

    def __repr__(self) -> str:
        return f"GlobSet({list(self.patterns)!r})"
