"""Checks of the webhooks' numeric options: finite numbers, not bools, named in the error.

Every comparison with a NaN is False, so an unchecked ``tolerance=nan`` switched the timestamp
window off (and ``inf`` does the same openly); a NaN ttl or cooldown never expires. So every
number an option of :mod:`fal_typed.webhooks` takes is checked here, where it is given.
A bool is an int to Python but never a number of seconds: it is refused as the wrong type.
The rules and messages are :mod:`fal_typed._checks`'; this package raises them as the
``TypeError`` (wrong kind) and ``ValueError`` (out of range) its API documents.
"""

from __future__ import annotations

from typing import cast

from .._checks import count_problem, seconds_problem

__all__ = ["count", "seconds"]


def seconds(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a float: a finite number of seconds, >= 0 (> 0 when ``positive``).

    Raises ``TypeError`` for anything but an int or a float (bools included), ``ValueError``
    for NaN, an infinity or a number out of range; the message names the option ``name``.
    """
    problem = seconds_problem(name, value, positive=positive)
    if problem is not None:
        kind, message = problem
        raise kind(message)
    return float(cast("float", value))


def count(name: str, value: object, *, minimum: int = 1) -> int:
    """``value``: an int (not a bool) of at least ``minimum``; the message names ``name``."""
    problem = count_problem(name, value, minimum=minimum)
    if problem is not None:
        kind, message = problem
        raise kind(message)
    return cast("int", value)
