"""Numbers given on the command line (seconds, dollars), refused while the options are parsed
when they are NaN, infinite or out of range: exit 2 naming the option, before a command starts.

The rule is the library's (:func:`fal_typed._checks.number_problem`), so an option and the
argument it becomes refuse the same values; only the reading of the text is here. Kept apart
from ``_options`` (which loads the file-input rules) so that building the application for
``--help`` loads nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from .._checks import number_problem

__all__ = ["finite_number", "number_parser"]


def finite_number(
    value: object, *, minimum: float = 0, positive: bool = False, unit: str = "seconds"
) -> float:
    """``value`` (the option's text) as a finite number of at least ``minimum`` (above 0 when
    ``positive``), else a ValueError whose message (``must be ...``, the text as typed) follows
    click's ``Invalid value for '--option':``."""
    try:
        number = float(cast("Any", value))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"must be a number{f' of {unit}' if unit else ''}, got {value!r}"
        ) from None
    problem = number_problem(
        number, minimum=minimum, positive=positive, unit=unit, shown=repr(value)
    )
    if problem is not None:
        raise ValueError(problem[1])
    return number


def number_parser(
    *, minimum: float = 0, positive: bool = False, unit: str = "seconds"
) -> Callable[[object], float]:
    """A typer ``parser=`` for :func:`finite_number`: what it refuses is click's "Invalid value
    for '--option'", exit 2 with the option named, before the command runs."""
    import typer

    def parse(value: object) -> float:
        try:
            return finite_number(value, minimum=minimum, positive=positive, unit=unit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse
