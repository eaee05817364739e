"""The shared checks of numeric, bool and callable options (``fal_typed._checks``), and the
options of :class:`fal_typed.Limits` that go through them.

Every check refuses a value of the wrong kind (a bool is never a count or a number of seconds,
a float never a byte count) and every out-of-range number, NaN and the infinities included, as
:class:`~fal_typed.InvalidArgumentError` naming the option and the value's kind.
"""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import InvalidArgumentError, Limits
from fal_typed._checks import check_bool, check_callable, check_count, check_seconds

_NOT_NUMBERS = [True, False, "5", b"5", None, [1], 1j]
_NOT_FINITE = [math.nan, -math.nan, math.inf, -math.inf, 10**400]


def _name(value: object) -> str:
    return f"{value!r:.12}"


@pytest.mark.parametrize("value", _NOT_NUMBERS)
def test_check_seconds_refuses_what_is_not_a_number(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_seconds("wait", value)
    assert caught.value.message == f"wait must be a number of seconds, got {type(value).__name__}"


@pytest.mark.parametrize("value", _NOT_FINITE, ids=_name)
def test_check_seconds_refuses_nan_and_infinities(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^wait must be a finite number of seconds"):
        check_seconds("wait", value)


def test_check_seconds_bounds() -> None:
    assert check_seconds("wait", 0) == 0.0
    with pytest.raises(
        InvalidArgumentError, match=r"^wait must be > 0 seconds, got 0 \(error_type"
    ):
        check_seconds("wait", 0, positive=True)
    with pytest.raises(
        InvalidArgumentError, match=r"^wait must be >= 0 seconds, got -0.5 \(error_type"
    ):
        check_seconds("wait", -0.5)
    with pytest.raises(
        InvalidArgumentError, match=r"^wait must be at most 600 seconds, got 601 \(error_type"
    ):
        check_seconds("wait", 601, maximum=600)
    assert check_seconds("wait", 600, maximum=600) == 600.0


@given(st.floats(min_value=0, allow_infinity=False) | st.integers(min_value=0, max_value=10**300))
def test_check_seconds_keeps_every_finite_number_as_a_float(value: float) -> None:
    seconds = check_seconds("wait", value)
    assert type(seconds) is float and seconds == float(value)


@given(st.floats(max_value=0, exclude_max=True) | st.sampled_from(_NOT_FINITE))
def test_check_seconds_refuses_every_negative_or_non_finite_number(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^wait must be"):
        check_seconds("wait", value)


@pytest.mark.parametrize("value", [1.0, 1.5, math.nan, True, "5", None])
def test_check_count_refuses_what_is_not_an_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_count("size", value)
    assert caught.value.message == f"size must be an int, got {type(value).__name__}"


def test_check_count_bounds() -> None:
    assert check_count("size", 1) == 1
    assert check_count("size", 0, minimum=0) == 0
    with pytest.raises(InvalidArgumentError, match=r"^size must be >= 1, got 0 \(error_type"):
        check_count("size", 0)
    with pytest.raises(InvalidArgumentError, match=r"^size must be at most 9, got 10 \(error_type"):
        check_count("size", 10, maximum=9)
    with pytest.raises(
        InvalidArgumentError, match=r"^size must be >= 1, got an integer of 401 bits \(error_type"
    ):
        check_count("size", -(2**400))


@pytest.mark.parametrize("value", [0, 1, "no", None, "True"])
def test_check_bool_refuses_what_is_not_a_bool(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_bool("flag", value)
    assert caught.value.message == f"flag must be True or False, got {type(value).__name__}"
    assert check_bool("flag", True) is True


def test_check_callable() -> None:
    check_callable("hook", print)
    check_callable("hook", None)
    with pytest.raises(InvalidArgumentError) as caught:
        check_callable("hook", "print")
    assert caught.value.message == "hook must be callable, got str"
    with pytest.raises(
        InvalidArgumentError, match=r"^hook must be callable, got NoneType \(error_type"
    ):
        check_callable("hook", None, optional=False)


# -- Limits ---------------------------------------------------------------------------------------

_INT_FIELDS = [f.name for f in fields(Limits) if f.type in ("int", int)]
_FLOAT_FIELDS = [f.name for f in fields(Limits) if f.type in ("float", float)]


def test_limits_has_both_kinds_of_field() -> None:
    assert "max_response_bytes" in _INT_FIELDS and "answer_timeout" in _FLOAT_FIELDS
    assert len(_INT_FIELDS) + len(_FLOAT_FIELDS) == len(fields(Limits))


@pytest.mark.parametrize("name", _INT_FIELDS)
@pytest.mark.parametrize("value", [1.5, 1.0, 64.0 * 1024])
def test_limits_refuses_a_float_for_a_count(name: str, value: float) -> None:
    """A byte or object count is an int: 1.5 bytes was accepted and compared as if it were one."""
    with pytest.raises(InvalidArgumentError) as caught:
        Limits(**{name: value})  # type: ignore[arg-type]
    assert caught.value.message == f"Limits.{name} must be an int, got float"


@pytest.mark.parametrize("name", _INT_FIELDS)
@pytest.mark.parametrize("value", [True, "9", None])
def test_limits_refuses_other_kinds_for_a_count(name: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^Limits.{name} must be an int, got "):
        Limits(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", _INT_FIELDS)
@given(value=st.integers(max_value=0))
def test_limits_refuses_a_count_below_one(name: str, value: int) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^Limits.{name} must be >= 1, got "):
        Limits(**{name: value})


@pytest.mark.parametrize("name", _FLOAT_FIELDS)
@pytest.mark.parametrize("value", [*_NOT_FINITE, 0, -1.0], ids=_name)
def test_limits_refuses_a_number_that_is_not_finite_and_positive(name: str, value: float) -> None:
    """10**400 seconds passed (it is no infinity to ``==``) and overflowed the deadline later."""
    with pytest.raises(InvalidArgumentError, match=rf"^Limits.{name} must be "):
        Limits(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", _FLOAT_FIELDS)
@pytest.mark.parametrize("value", [True, "9", None])
def test_limits_refuses_other_kinds_for_a_number(name: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^Limits.{name} must be a number"):
        Limits(**{name: value})  # type: ignore[arg-type]


@given(
    count=st.integers(min_value=1, max_value=2**70),
    number=st.floats(min_value=1e-9, max_value=1e300) | st.integers(min_value=1, max_value=10**12),
)
def test_limits_keeps_valid_values_as_given(count: int, number: float) -> None:
    kwargs: dict[str, object] = {name: count for name in _INT_FIELDS}
    kwargs.update({name: number for name in _FLOAT_FIELDS})
    limits = Limits(**kwargs)  # type: ignore[arg-type]
    assert all(getattr(limits, name) == value for name, value in kwargs.items())
