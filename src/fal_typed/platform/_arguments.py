"""The arguments of ``fal_typed.platform``'s helpers, checked before any request.

A wrong argument is an :class:`~fal_typed.InvalidArgumentError` naming it, never a raw
``TypeError`` from deep inside, and never a request that silently answers another question: a
string iterated into its characters (a spend report of endpoints ``f``, ``a``, ``l``...), a
period of the wrong length, a doubtful request looked for at the wrong time. One rule for ids
across the package: a single string is one id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Final, cast

from .._checks import check_seconds
from .._errors import InvalidArgumentError

__all__ = [
    "MAX_SECONDS",
    "before",
    "endpoint_id",
    "endpoint_ids",
    "instant",
    "json_object",
    "moment",
    "number",
    "request_ids",
    "seconds",
]

#: The longest wait, delay or window a helper takes: 30 days (fal keeps history for less).
MAX_SECONDS: Final = 30 * 86400.0


def endpoint_id(value: object, name: str = "endpoint_id") -> str:
    """One endpoint id: a non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty endpoint id, got {value!r}")
    return value.strip()


def _strings(value: object, name: str, what: str) -> list[object]:
    if isinstance(value, str):
        return [value]  # one id, never its characters
    kind = type(value).__name__
    if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgumentError(
            f"{name} must be {what} (a string) or a list of them, got {kind}"
        )
    return list(cast("Iterable[object]", value))


def endpoint_ids(value: object, name: str = "endpoint_ids") -> list[str]:
    """One id (a string) or an iterable of ids: the ids, stripped, without repeats, in order."""
    ids = [endpoint_id(item, name) for item in _strings(value, name, "an endpoint id")]
    return list(dict.fromkeys(ids))


def request_ids(value: object, name: str) -> frozenset[str]:
    """One request id (a string) or an iterable of them."""
    items = _strings(value, name, "a request id")
    for item in items:
        if not isinstance(item, str) or not item:
            raise InvalidArgumentError(f"{name} must hold request ids (strings), got {item!r}")
    return frozenset(cast("list[str]", items))


def number(name: str, value: object, *, positive: bool = True, unit: str = "") -> float:
    """A finite real number (never a bool), above 0 (``positive``) or at least 0: the runtime's
    rule (:func:`fal_typed._checks.check_seconds`)."""
    return check_seconds(name, value, positive=positive, unit=unit)


def seconds(name: str, value: object, *, positive: bool = True) -> float:
    """A number of seconds (above 0, or at least 0), at most :data:`MAX_SECONDS`."""
    return check_seconds(name, value, positive=positive, maximum=MAX_SECONDS)


def instant(name: str, value: object) -> datetime:
    """A moment given as a timezone-aware datetime or as Unix seconds (what
    :class:`~fal_typed.PossiblyAcceptedError` carries), as an aware datetime. A naive datetime
    is refused: read as local time or as UTC, it could move the search for a paid request by
    hours, and a request missed there is sent (and billed) again."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InvalidArgumentError(
                f"{name} is a naive datetime ({value.isoformat()}): give a timezone-aware one "
                "(datetime.now(timezone.utc)) or Unix seconds (time.time())"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(
            f"{name} must be a timezone-aware datetime or Unix seconds, got {type(value).__name__}"
        )
    try:
        if not math.isfinite(value):
            raise ValueError(value)
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):  # NaN, infinite, beyond the year 9999
        raise InvalidArgumentError(
            f"{name} must be a finite number of Unix seconds, got {value!r}"
        ) from None


def _iso_8601(text: str) -> datetime:
    """ISO 8601 text as a datetime. Python takes any character after a date as the separator
    of a time, so a date followed by an offset ("2025-02-01+05:00") would be read as 05:00
    instead of that date's midnight at +05:00: text without a "T" (or a space) is a date alone.
    A final "Z" is rewritten for Python 3.10, whose parser does not take it."""
    if not any(separator in text for separator in "Tt "):
        return datetime.combine(date.fromisoformat(text), time())
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


def moment(name: str, value: object) -> datetime:
    """A period's bound: a datetime, a date (its midnight) or ISO 8601 text; without an offset
    it is UTC (fal's usage is counted in UTC)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = _iso_8601(text)
        except ValueError:
            raise InvalidArgumentError(
                f"{name} must be an ISO 8601 date or date-time, got {text!r}"
            ) from None
    if not isinstance(value, date):
        raise InvalidArgumentError(
            f"{name} must be a datetime, a date or ISO 8601 text, got {type(value).__name__}"
        )
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.utcoffset() is not None else value.replace(tzinfo=timezone.utc)


def before(moment: datetime, days: float, name: str = "days") -> datetime:
    """``days`` days before ``moment``, refused when that is before the year 1."""
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        raise InvalidArgumentError(
            f"{name}={days:g} reaches back before the year 1: give fewer days"
        ) from None


def json_object(value: object, name: str) -> Mapping[str, Any]:
    """A mapping (the JSON object a request's body is)."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"{name} must be the JSON object that was sent (a dict), got {type(value).__name__}"
        )
    return cast("Mapping[str, Any]", value)
