"""The numeric, bool and callable options of ``fal_typed.testing``, refused where they are given.

Before: ``Failure("500")``, ``Fault.response("500")``, ``Fault.delay("1")``, ``Fault.drop("1")``,
``Behaviour(queue_step="1")`` and ``LocalFal(port="80")`` raised a raw TypeError from a
comparison; ``LocalFal(key=5)`` an AttributeError; ``Behaviour(logs=5)`` a TypeError from
``len``. Accepted and failing (or misbehaving) later: ``Failure(500.0)`` and
``Fault.response(500.5)`` (a float status the ASGI server cannot send), ``Fault.drop(1.5)``,
``Fault.rate_limited(nan)`` (a ``Retry-After: nan`` header), ``Behaviour(queue_position=1.5)``,
``Behaviour(queue_step=True)``, ``Behaviour(honour_cancel="no")`` (read as True),
``LocalFal(port=1.5, max_requests=True, startup_timeout=nan)`` (a NaN startup never times
out), ``LocalFal(host=5)``, and ``inject(times=1.5)`` / ``inject("not a fault")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import InvalidArgumentError
from fal_typed.testing import Behaviour, Failure, Fault, LocalFal

_NOT_FINITE = [math.nan, math.inf, -math.inf, 10**400]


def _name(value: object) -> str:
    return f"{value!r:.12}"


def _refused(call: Callable[[], object], option: str) -> str:
    with pytest.raises(InvalidArgumentError) as caught:
        call()
    assert caught.value.message.startswith(f"{option} must be"), caught.value.message
    return caught.value.message


# -- status codes ---------------------------------------------------------------------------------

_STATUS_MAKERS: dict[str, Callable[[Any], object]] = {
    "Failure": Failure,
    "Fault.response": Fault.response,
    "Fault.server_error": Fault.server_error,
    "Fault.ingress": Fault.ingress,
}


@pytest.mark.parametrize("maker", list(_STATUS_MAKERS))
@pytest.mark.parametrize("value", ["500", 500.0, 502.5, True, None])
def test_a_status_code_must_be_an_int(maker: str, value: object) -> None:
    message = _refused(lambda: _STATUS_MAKERS[maker](value), "status_code")
    assert message == f"status_code must be an int, got {type(value).__name__}"


@pytest.mark.parametrize(
    ("maker", "value"),
    [
        ("Failure", 399),
        ("Failure", 600),
        ("Fault.response", 99),
        ("Fault.response", 600),
        ("Fault.server_error", 499),
        ("Fault.ingress", 500),
    ],
)
def test_a_status_code_out_of_range_is_refused(maker: str, value: int) -> None:
    with pytest.raises(InvalidArgumentError, match="status"):
        _STATUS_MAKERS[maker](value)


def test_valid_status_codes_are_kept() -> None:
    assert Failure(422).status_code == 422
    assert Fault.response(200).status_code == 200
    assert Fault.server_error(500).status_code == 500
    assert Fault.ingress(504).status_code == 504


# -- seconds and counts of faults -----------------------------------------------------------------


@pytest.mark.parametrize("value", [*_NOT_FINITE, -1, "1", True, None], ids=_name)
def test_a_delay_must_be_finite_seconds(value: object) -> None:
    _refused(lambda: Fault.delay(value), "seconds")  # type: ignore[arg-type]


@given(st.floats(min_value=600, exclude_min=True, allow_infinity=False))
def test_a_delay_past_ten_minutes_is_refused(value: float) -> None:
    _refused(lambda: Fault.delay(value), "seconds")


@pytest.mark.parametrize("value", [*_NOT_FINITE, -1, "1", True], ids=_name)
def test_retry_after_must_be_finite_seconds(value: object) -> None:
    _refused(lambda: Fault.rate_limited(value), "retry_after")  # type: ignore[arg-type]


def test_valid_fault_seconds_are_kept() -> None:
    assert Fault.delay(0).seconds == 0
    assert Fault.delay(600).seconds == 600
    assert ("retry-after", "2.5") in Fault.rate_limited(2.5).headers
    assert all(name != "retry-after" for name, _ in Fault.rate_limited(None).headers)


@pytest.mark.parametrize("value", [1.5, "1", True, None, -1])
def test_after_chunks_must_be_a_count(value: object) -> None:
    _refused(lambda: Fault.drop(value), "after_chunks")  # type: ignore[arg-type]


# -- Behaviour ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["queue_step", "processing_time"])
@given(
    value=st.sampled_from([*_NOT_FINITE, "1", True, None])
    | st.floats(max_value=0, exclude_max=True)
)
def test_behaviour_seconds_must_be_finite_and_not_negative(name: str, value: object) -> None:
    _refused(lambda: Behaviour(**{name: value}), name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("queue_position", 1.5),
        ("queue_position", "1"),
        ("queue_position", True),
        ("queue_position", -1),
        ("max_concurrent_per_key", 1.5),
        ("max_concurrent_per_key", "2"),
        ("max_concurrent_per_key", True),
        ("max_concurrent_per_key", 0),
        ("honour_cancel", "no"),
        ("honour_cancel", 0),
        ("logs", 5),
        ("logs", "one line"),
        ("failure", 5),
    ],
)
def test_behaviour_fields_of_the_wrong_kind_are_refused(name: str, value: object) -> None:
    _refused(lambda: Behaviour(**{name: value}), name)  # type: ignore[arg-type]


def test_configure_refuses_a_bad_value_naming_it() -> None:
    with LocalFal() as fal:
        _refused(lambda: fal.configure(processing_time="0.1"), "processing_time")
        _refused(lambda: fal.configure("fal-ai/flux/dev", honour_cancel="no"), "honour_cancel")


def test_valid_behaviours_are_kept() -> None:
    behaviour = Behaviour(
        queue_position=3,
        queue_step=0.5,
        processing_time=2,
        logs=["a"],
        honour_cancel=False,
        max_concurrent_per_key=1,
    )
    assert behaviour.queue_time == 2.0 and behaviour.logs == ("a",)


# -- LocalFal -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("port", "80"),
        ("port", 1.5),
        ("port", True),
        ("port", 65536),
        ("port", -1),
        ("max_requests", 1.5),
        ("max_requests", "5"),
        ("max_requests", True),
        ("max_requests", 0),
        ("startup_timeout", math.nan),
        ("startup_timeout", math.inf),
        ("startup_timeout", -1),
        ("startup_timeout", 0),
        ("startup_timeout", "5"),
        ("key", 5),
        ("host", 5),
        ("host", ""),
    ],
)
def test_local_fal_options_are_checked_before_it_starts(option: str, value: object) -> None:
    _refused(lambda: LocalFal(**{option: value}), option)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("times", 1.5),
        ("times", True),
        ("times", "1"),
        ("times", 0),
        ("probability", math.nan),
        ("probability", "0.5"),
        ("probability", True),
        ("probability", 0),
        ("probability", 1.5),
    ],
)
def test_inject_options_are_checked(option: str, value: object) -> None:
    fal = LocalFal()
    _refused(lambda: fal.inject(Fault.reset(), **{option: value}), option)  # type: ignore[arg-type]


def test_inject_refuses_what_is_not_a_fault() -> None:
    fal = LocalFal()
    message = _refused(lambda: fal.inject("reset"), "fault")  # type: ignore[arg-type]
    assert message == "fault must be a fal_typed.testing.Fault, got str"


def test_inject_keeps_valid_rules() -> None:
    fal = LocalFal()
    assert fal.inject(Fault.reset(), times=None, probability=0.25).probability == 0.25
    assert fal.inject(Fault.reset(), times=2).times == 2


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ("/etc/hostname", NotADirectoryError, "schemas directory /etc/hostname is a file"),
        ("", InvalidArgumentError, "schemas_dir must not be empty (for the working directory"),
        (" ", InvalidArgumentError, "schemas_dir must not be empty"),
        (5, InvalidArgumentError, "schemas_dir must be a directory path, got int"),
        (b"/tmp", InvalidArgumentError, "schemas_dir must be a directory path, got bytes"),
    ],
)
def test_a_schemas_dir_that_is_no_directory_is_said_as_what_it_is(
    given: object, error: type[Exception], message: str
) -> None:
    """A file was 'not found'; an empty path served the working directory's documents; a
    number raised a raw TypeError from pathlib."""
    with pytest.raises(error) as caught:
        LocalFal(given)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
