"""Status parsing rules no other test held (each kills a mutant that survived, issue 12).

A log line keeps the level and source fal gave it (only missing ones default), a line without a
message reads as empty, and every ProtocolError from a status body names the request it was for.
"""

from __future__ import annotations

import pytest

from fal_typed import InProgress, ProtocolError, Queued
from fal_typed._status import parse_logs, parse_status


def test_a_log_line_keeps_the_level_and_source_fal_sent() -> None:
    logs = parse_logs([{"message": "boom", "level": "ERROR", "source": "SYSTEM"}])
    assert logs is not None
    assert (logs[0].message, logs[0].level, logs[0].source) == ("boom", "ERROR", "SYSTEM")


@pytest.mark.parametrize(
    "entry", [{}, {"level": None, "source": None}, {"level": "", "source": ""}]
)
def test_missing_parts_of_a_log_line_default_to_an_empty_user_info_line(
    entry: dict[str, object],
) -> None:
    status = parse_status({"status": "IN_PROGRESS", "logs": [entry]})
    assert isinstance(status, InProgress) and status.logs is not None
    line = status.logs[0]
    assert (line.message, line.level, line.source, line.timestamp) == ("", "INFO", "USER", None)


@pytest.mark.parametrize("body", [[], "COMPLETED", None, {"status": "FAILED"}, {}])
def test_a_status_body_that_cannot_be_read_names_the_request(body: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_status(body, request_id="r-42")
    assert caught.value.request_id == "r-42"


@pytest.mark.parametrize(
    ("sent", "microsecond"),
    [("2026-05-01T12:00:00.123456789Z", 123456), ("2026-05-01T12:00:00.1234567Z", 123456)],
)
def test_a_timestamp_finer_than_a_microsecond_is_cut_to_one(sent: str, microsecond: int) -> None:
    """Python 3.10's fromisoformat takes 3 or 6 digits only: the rest is cut, not refused."""
    logs = parse_logs([{"message": "m", "timestamp": sent}])
    assert logs is not None and logs[0].timestamp is not None
    assert logs[0].timestamp.microsecond == microsecond


def test_a_status_body_that_is_a_mapping_but_not_a_dict_is_read() -> None:
    """JSON gives a dict (read without an ABC check); any other mapping is read the same."""
    from types import MappingProxyType

    body = MappingProxyType({"status": "IN_QUEUE", "queue_position": 3})
    status = parse_status(body, request_id="r-42")
    assert status == parse_status(dict(body))
    assert isinstance(status, Queued) and status.position == 3


@pytest.mark.parametrize("logs", ["line one", 5, {"message": "m"}])
def test_logs_that_are_not_a_list_read_as_none(logs: object) -> None:
    """Only a JSON array is a list of lines: a string is not one (nor are its characters)."""
    assert parse_logs(logs) is None
    status = parse_status({"status": "IN_PROGRESS", "logs": logs})
    assert isinstance(status, InProgress) and status.logs is None
