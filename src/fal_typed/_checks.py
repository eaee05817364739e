"""The shared checks of option values: numbers of seconds, counts, bools and callables.

Each raises :class:`~fal_typed.InvalidArgumentError` naming the option and what is wrong with
the value (its kind, or the bound it misses), where the option is given, before anything is
sent or started. A bool is an int to Python but never a count or a number of seconds; NaN
compares False to every bound, so a bare ``value < 0`` lets it through. This module imports
nothing heavy: :class:`~fal_typed.Limits` and the other light option classes use it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any, cast

from ._errors import InvalidArgumentError

__all__ = [
    "check_bool",
    "check_callable",
    "check_count",
    "check_items",
    "check_seconds",
    "count_problem",
    "declared_length",
    "number_problem",
    "path_text",
    "seconds_problem",
    "shown_number",
]


def path_text(value: str | os.PathLike[Any]) -> str | None:
    """The text of a path, or None for a bytes path (``os.PathLike[bytes]``), which no folder,
    journal or schemas directory here takes."""
    text: object = os.fspath(value)
    return text if isinstance(text, str) else None


def shown_number(value: object) -> str:
    """``value`` for a message: an int too long for ``repr``'s digit limit (4,300 digits, past
    which ``repr`` raises) or past 64 bits is described by its size."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


Problem = tuple[type[TypeError] | type[ValueError], str]
"""What is wrong with a value: ``TypeError`` (the wrong kind) or ``ValueError`` (out of range),
and the message."""


def number_problem(
    value: object,
    *,
    whole: bool = False,
    positive: bool = False,
    minimum: float = 0,
    maximum: float | None = None,
    unit: str = "seconds",
    shown: str | None = None,
) -> Problem | None:
    """The one rule for a number an option takes: what is wrong with ``value``, its message
    starting ``must be`` (the caller puts the option's name, or the command line its own
    ``Invalid value for '--option':``, in front), None when it is fine.

    A bool is an int to Python but never a count or a number of seconds; a ``whole`` number is
    an int, never a float (1.5 bytes is no count). Every comparison with NaN is False, so a
    bare ``value < 0`` lets it through (and a NaN wait never ends): it is refused as not finite,
    as are the infinities and an int past float's range. The bounds: at least ``minimum``,
    above 0 as well when ``positive``, at most ``maximum``. ``unit`` names what is counted
    (``""`` for a bare number, a ratio say); ``shown`` is the value as the user gave it (the
    text of a command-line option), else :func:`shown_number`.
    """
    got = shown_number(value) if shown is None else shown
    of, space = (f" of {unit}", f" {unit}") if unit else ("", "")
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        kind = "an int" if whole else f"a number{of}"
        return TypeError, f"must be {kind}, got {type(value).__name__ if shown is None else got}"
    number: float = value  # a whole number compared exactly, however large
    if not whole:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    if not whole and not math.isfinite(number):
        return ValueError, f"must be a finite number{of}, got {got}"
    if positive and minimum <= 0 and number <= 0:
        return ValueError, f"must be > 0{space}, got {got}"
    if number < minimum:
        return ValueError, f"must be >= {_bound(minimum)}{space}, got {got}"
    if maximum is not None and number > maximum:
        return ValueError, f"must be at most {_bound(maximum)}{space}, got {got}"
    return None


def _bound(number: float) -> str:
    """A bound in a message: a whole one in digits (2592000, not 2.592e+06), else as ``g``."""
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:g}"


def _named(name: str, problem: Problem | None) -> Problem | None:
    return None if problem is None else (problem[0], f"{name} {problem[1]}")


def seconds_problem(name: str, value: object, *, positive: bool = False) -> Problem | None:
    """What is wrong with ``value`` as a finite number of seconds (not a bool), >= 0 (> 0 when
    ``positive``): :func:`number_problem`'s rule, the message naming ``name``."""
    return _named(name, number_problem(value, positive=positive))


def check_seconds(
    name: str,
    value: object,
    *,
    positive: bool = False,
    minimum: float = 0,
    maximum: float | None = None,
    unit: str = "seconds",
) -> float:
    """``value`` as a float, or :class:`InvalidArgumentError` saying what
    :func:`number_problem` finds wrong with it, naming ``name``."""
    found = number_problem(value, positive=positive, minimum=minimum, maximum=maximum, unit=unit)
    if found is not None:
        raise InvalidArgumentError(f"{name} {found[1]}")
    return float(cast("float", value))


def count_problem(
    name: str, value: object, *, minimum: int = 1, maximum: int | None = None
) -> Problem | None:
    """What is wrong with ``value`` as an int (not a bool, not a float: 1.5 bytes is no count)
    from ``minimum`` to ``maximum``, as :func:`seconds_problem` says it; None when it is fine."""
    found = number_problem(value, whole=True, minimum=minimum, maximum=maximum, unit="")
    return _named(name, found)


def check_count(name: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value``, or :class:`InvalidArgumentError` saying what :func:`count_problem` finds."""
    problem = count_problem(name, value, minimum=minimum, maximum=maximum)
    if problem is not None:
        raise InvalidArgumentError(problem[1])
    return cast("int", value)


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


_MAX_LENGTH_DIGITS = 18  # a longer Content-Length is past every limit (and int() stops at 4,300)


def declared_length(values: Iterable[str]) -> int | None:
    """The one body length a peer declared in its ``Content-Length`` values, or None when it
    declared none, several different ones, or one that is not a plain decimal: ``str.isdigit``
    takes ``\xb2`` (superscript two, as a latin-1 header reads) for a digit where ``int``
    refuses it, and a lax server in front may let ``1, 1`` or ``-1`` through. A body of no
    declared length is counted as it arrives."""
    found = {value.strip() for value in values}
    if len(found) != 1:
        return None
    value = found.pop()
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_LENGTH_DIGITS):
        return None
    return int(value)
