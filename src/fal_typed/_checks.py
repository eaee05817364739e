"""The shared checks of option values: numbers of seconds, counts, bools and callables.

Each raises :class:`~fal_typed.InvalidArgumentError` naming the option and what is wrong with
the value (its kind, or the bound it misses), where the option is given, before anything is
sent or started. A bool is an int to Python but never a count or a number of seconds; NaN
compares False to every bound, so a bare ``value < 0`` lets it through. This module imports
nothing heavy: :class:`~fal_typed.Limits` and the other light option classes use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ._errors import InvalidArgumentError

__all__ = ["check_bool", "check_callable", "check_count", "check_items", "check_seconds"]


def _shown(value: float) -> str:
    """``value`` for a message (an int too long for ``repr``'s digit limit is described)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


def check_seconds(
    name: str,
    value: object,
    *,
    positive: bool = False,
    maximum: float | None = None,
    unit: str = "seconds",
) -> float:
    """``value`` as a float: a finite number of seconds (not a bool), >= 0 (> 0 when
    ``positive``), at most ``maximum`` when given. ``unit`` names what is counted in the
    messages (``""`` for a bare number, a ratio say).

    Every comparison with NaN is False, so a bare ``value < 0`` check lets NaN through (and a
    NaN wait never ends); an int past float's range is refused as not finite.
    """
    of, space = (f" of {unit}", f" {unit}") if unit else ("", "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{name} must be a number{of}, got {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise InvalidArgumentError(f"{name} must be a finite number{of}, got {_shown(value)}")
    if positive and seconds <= 0:
        raise InvalidArgumentError(f"{name} must be > 0{space}, got {_shown(value)}")
    if seconds < 0:
        raise InvalidArgumentError(f"{name} must be >= 0{space}, got {_shown(value)}")
    if maximum is not None and seconds > maximum:
        raise InvalidArgumentError(
            f"{name} must be at most {maximum:g}{space}, got {_shown(value)}"
        )
    return seconds


def check_count(name: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value``: an int (not a bool, not a float: 1.5 bytes is no count) from ``minimum`` to
    ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {_shown(value)}")
    if maximum is not None and value > maximum:
        raise InvalidArgumentError(f"{name} must be at most {maximum}, got {_shown(value)}")
    return value


def check_bool(name: str, value: object) -> bool:
    """``value`` if a bool: ``"no"`` or ``0`` would read as the opposite of what was meant."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def check_callable(name: str, value: object, *, optional: bool = True) -> None:
    """Refuse a hook that cannot be called (``None`` too unless ``optional``): called only once
    something has started, it would fail there, far from where it was given."""
    if (value is not None or not optional) and not callable(value):
        raise InvalidArgumentError(f"{name} must be callable, got {type(value).__name__}")


def check_items(name: str, value: object, what: str) -> list[object]:
    """The items of a list option (any iterable but a string): one string would be read as a
    list of its characters (``bytes`` as a list of ints), and a number is no list at all."""
    if isinstance(value, (str, bytes, bytearray)):
        raise InvalidArgumentError(f"{name} must be a list of {what}, not one string")
    if not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be a list of {what}, got {type(value).__name__}")
    return list(value)  # pyright: ignore[reportUnknownArgumentType]
