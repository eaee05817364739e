"""Numbers given on the command line (seconds, dollars), refused while the options are parsed
when they are NaN, infinite or out of range: exit 2 naming the option, before a command starts.

Kept apart from ``_options`` (which loads the file-input rules) so that building the
application for ``--help`` loads nothing more."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

__all__ = ["finite_number", "number_parser"]


def finite_number(
    value: object, *, minimum: float = 0, inclusive: bool = False, unit: str = "seconds"
) -> float:
    """``value`` as a finite number above ``minimum`` (or at least it, when ``inclusive``), else
    a ValueError saying so. A range check alone lets NaN through (no comparison holds for it)
    and infinity (above every minimum)."""
    try:
        number = float(cast("Any", value))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a number of {unit}") from None
    if not math.isfinite(number) or number < minimum or (number == minimum and not inclusive):
        bound = f", at least {minimum:g}" if inclusive else f" above {minimum:g}"
        raise ValueError(f"{value!r} is not a finite number of {unit}{bound}")
    return number


def number_parser(
    *, minimum: float = 0, inclusive: bool = False, unit: str = "seconds"
) -> Callable[[object], float]:
    """A typer ``parser=`` for :func:`finite_number`: what it refuses is click's "Invalid value
    for '--option'", exit 2 with the option named, before the command runs."""
    import typer

    def parse(value: object) -> float:
        try:
            return finite_number(value, minimum=minimum, inclusive=inclusive, unit=unit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse
