"""One rule for the numbers options take (``fal_typed._checks.number_problem``), wherever they
are taken: batch, the Platform helpers, upload settings, the webhook receivers, the command
line. Each used to keep a copy of its own, and the copies had drifted: a huge int made one
raise ``repr``'s own "Exceeds the limit" error instead of naming the option, and the messages
said the same thing five ways."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from fal_typed import batch
from fal_typed.cli._numbers import finite_number
from fal_typed.files import UploadSettings
from fal_typed.platform._arguments import number
from fal_typed.webhooks import webhook_endpoint


class Output(BaseModel):
    text: str


def _batch(tmp_path: Path) -> Callable[[object], object]:
    return lambda value: batch.check_run(
        "fal-ai/flux/dev", None, journal=str(tmp_path / "j.db"), settle_delay=value
    )


def _takers(tmp_path: Path) -> dict[str, tuple[str, Callable[[object], object]]]:
    """Each place's option, and a call giving it ``value``."""

    async def handler(result: object) -> None: ...

    return {
        "batch": ("settle_delay", _batch(tmp_path)),
        "platform": (
            "units_per_call",
            lambda value: number("units_per_call", value, positive=False),
        ),
        "uploads": (
            "UploadSettings.retry_backoff",
            lambda value: UploadSettings(retry_backoff=value),  # type: ignore[arg-type]
        ),
        "uploads count": (
            "UploadSettings.part_size",
            lambda value: UploadSettings(part_size=value),  # type: ignore[arg-type]
        ),
        "webhooks": (
            "max_body_bytes",
            lambda value: webhook_endpoint(Output, handler, max_body_bytes=value),  # type: ignore[arg-type]
        ),
    }


PLACES = ["batch", "platform", "uploads", "uploads count", "webhooks"]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (True, r"must be (a number|an int)\b.*, got bool"),
        (math.nan, r"must be (a finite number|an int)\b.*, got (nan|float)"),
        (-(10**5000), r"must be .*, got (an integer of 16610 bits|int)"),
        (-1, r"must be >= [01]\b.*, got -1"),
    ],
    ids=["bool", "nan", "huge", "negative"],
)
def test_every_place_refuses_the_same_values_in_the_same_words(
    tmp_path: Path, place: str, value: object, says: str
) -> None:
    name, take = _takers(tmp_path)[place]
    with pytest.raises((TypeError, ValueError)) as caught:
        take(value)
    message = str(caught.value)
    assert message.startswith(f"{name} must be "), message
    assert re.search(says, message), message
    assert "Exceeds the limit" not in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nan", "must be a finite number of seconds, got 'nan'"),
        ("1e400", "must be a finite number of seconds, got '1e400'"),
        ("-1", "must be >= 0 seconds, got '-1'"),
        ("soon", "must be a number of seconds, got 'soon'"),
    ],
)
def test_the_command_line_reads_the_text_then_applies_the_same_rule(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        finite_number(text)
    assert str(caught.value) == says
