"""``notebook.progress`` / ``Progress`` / ``auto_progress`` options, refused where given.

Before: ``max_logs`` took 1.5, "3", -1 and True (failing later inside the display's slicing,
or showing the wrong lines), ``min_interval`` took NaN (never redrawn again) and
``auto_progress("no")`` switched the display on.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import InvalidArgumentError, notebook
from fal_typed.notebook import Progress


@pytest.mark.parametrize("value", [1.5, "3", True, None])
def test_max_logs_must_be_an_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        notebook.progress(max_logs=value)  # type: ignore[arg-type]
    assert caught.value.message == f"max_logs must be an int, got {type(value).__name__}"


@given(st.integers(max_value=-1))
def test_max_logs_must_not_be_negative(value: int) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^max_logs must be >= 0"):
        notebook.progress(max_logs=value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1, "0.2", True])
def test_min_interval_must_be_finite_seconds(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^min_interval must be"):
        Progress(min_interval=value, write=print)  # type: ignore[arg-type]


def test_write_must_be_callable() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^write must be callable, got str"):
        Progress(write="stdout")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["no", 0, None])
def test_auto_progress_takes_a_bool(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^enabled must be True or False"):
        notebook.auto_progress(value)  # type: ignore[arg-type]


def test_valid_options_are_kept() -> None:
    progress = Progress(max_logs=0, min_interval=0, write=print)
    assert progress.max_logs == 0 and progress.min_interval == 0
