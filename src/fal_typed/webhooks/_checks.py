"""Checks of the webhooks' numeric options: finite numbers, not bools, named in the error.

Every comparison with a NaN is False, so an unchecked ``tolerance=nan`` switched the timestamp
window off (and ``inf`` does the same openly); a NaN ttl or cooldown never expires. So every
number an option of :mod:`fal_typed.webhooks` takes is checked here, where it is given.
A bool is an int to Python but never a number of seconds: it is refused as the wrong type.
"""

from __future__ import annotations

import math

__all__ = ["count", "seconds"]


def _shown(value: int | float) -> str:
    """``value`` for a message (an int too long for ``repr``'s digit limit is described)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


def seconds(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a float: a finite number of seconds, >= 0 (> 0 when ``positive``).

    Raises ``TypeError`` for anything but an int or a float (bools included), ``ValueError``
    for NaN, an infinity or a number out of range; the message names the option ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int past float's range
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number of seconds, got {_shown(value)}")
    if positive and number <= 0:
        raise ValueError(f"{name} must be > 0 seconds, got {_shown(value)}")
    if number < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {_shown(value)}")
    return number


def count(name: str, value: object, *, minimum: int = 1) -> int:
    """``value``: an int (not a bool) of at least ``minimum``; the message names ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {_shown(value)}")
    return value
