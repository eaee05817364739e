"""Typed views of parsed JSON: a value as a dict or list, or an empty one if it is not."""

from __future__ import annotations

from typing import Any, cast

__all__ = ["as_dict", "as_list"]


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty dict."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list."""
    if isinstance(value, list):
        items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return items
    return []
