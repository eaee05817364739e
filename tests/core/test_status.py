"""Status parsing, and the waiter's rules: one update per change, only new log lines."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from fal_typed import Client, Completed, InProgress, Log, ProtocolError, Queued
from fal_typed._status import parse_status
from fal_typed._wait import _Waiter  # pyright: ignore[reportPrivateUsage]


def log(message: str) -> dict[str, Any]:
    return {
        "message": message,
        "level": "INFO",
        "source": "USER",
        "timestamp": "2026-05-01T12:00:00.5Z",
    }


def test_parse_each_status() -> None:
    assert parse_status({"status": "IN_QUEUE", "queue_position": 3, "logs": None}) == Queued(
        position=3
    )
    running = parse_status({"status": "IN_PROGRESS", "logs": [log("a")]})
    assert running == InProgress(
        logs=[Log("a", "INFO", "USER", datetime(2026, 5, 1, 12, 0, 0, 500000, tzinfo=timezone.utc))]
    )
    assert parse_status({"status": "IN_PROGRESS", "logs": None}) == InProgress(logs=None)
    done = parse_status(
        {
            "status": "COMPLETED",
            "logs": [],
            "metrics": {"inference_time": 1.5},
            "error": None,
            "error_type": None,
        }
    )
    assert done == Completed(logs=[], metrics={"inference_time": 1.5})
    assert not isinstance(done, Completed) or not done.failed


UTC = timezone.utc


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        ("2026-05-01T12:00:00.5Z", datetime(2026, 5, 1, 12, 0, 0, 500000, UTC)),
        ("2026-05-01T12:00:00.123456789Z", datetime(2026, 5, 1, 12, 0, 0, 123456, UTC)),
        ("2026-05-01T12:00:00Z", datetime(2026, 5, 1, 12, tzinfo=UTC)),
        ("2026-05-01T14:00:00.25+02:00", datetime(2026, 5, 1, 12, 0, 0, 250000, UTC)),
        ("2026-05-01T14:00:00+0200", datetime(2026, 5, 1, 12, tzinfo=UTC)),
        ("2026-05-01 12:00:00.123", datetime(2026, 5, 1, 12, 0, 0, 123000)),  # naive stays naive
        ("2026-13-01T12:00:00Z", None),
        ("yesterday", None),
        ("", None),
        (1714564800, None),
    ],
)
def test_log_timestamps_parse_on_every_supported_python(sent: object, parsed: object) -> None:
    """Python 3.10's fromisoformat rejects "Z" and fractions of other than 3 or 6 digits."""
    status = parse_status({"status": "IN_PROGRESS", "logs": [{**log("a"), "timestamp": sent}]})
    assert isinstance(status, InProgress) and status.logs is not None
    assert status.logs[0].timestamp == parsed


def test_completed_with_error_is_a_failure_not_an_exception() -> None:
    failed = parse_status(
        {"status": "COMPLETED", "logs": None, "error": "Invalid input", "error_type": "validation"}
    )
    assert isinstance(failed, Completed) and failed.failed
    assert (failed.error, failed.error_type, failed.metrics) == ("Invalid input", "validation", {})


def test_lenient_parts() -> None:
    # Legacy apps omit metrics; odd log entries and timestamps are tolerated.
    odd = parse_status(
        {
            "status": "IN_PROGRESS",
            "logs": [log("ok"), "junk", {"message": "x", "timestamp": "never"}],
        }
    )
    assert isinstance(odd, InProgress) and odd.logs is not None
    assert [entry.message for entry in odd.logs] == ["ok", "x"]
    assert odd.logs[1].timestamp is None
    assert parse_status({"status": "IN_QUEUE"}) == Queued(position=0)


@pytest.mark.parametrize("body", [{"status": "FAILED"}, {"status": None}, [], "COMPLETED"])
def test_unknown_statuses_are_protocol_errors(body: object) -> None:
    with pytest.raises(ProtocolError):
        parse_status(body, request_id="r-1")


def waiter() -> _Waiter:
    return _Waiter(
        Client(key="waiter-key-123"), "fal-ai/flux/dev", "r-1", with_logs=True, deadline=None
    )


def status(kind: str, *messages: str, **extra: Any) -> Any:
    return parse_status({"status": kind, "logs": [log(m) for m in messages], **extra})


def messages(update: Any) -> list[str]:
    return [entry.message for entry in update.logs]


def test_polled_logs_are_cumulative_and_only_new_lines_are_emitted() -> None:
    w = waiter()
    assert messages(w.accept(status("IN_PROGRESS", "a"), "poll")) == ["a"]
    assert w.accept(status("IN_PROGRESS", "a"), "poll") is None  # nothing changed
    assert messages(w.accept(status("IN_PROGRESS", "a", "b", "c"), "poll")) == ["b", "c"]
    final = w.accept(status("COMPLETED", "a", "b", "c", "d"), "poll")
    assert isinstance(final, Completed) and messages(final) == ["d"]


def test_streamed_logs_are_deltas_and_a_reopened_stream_may_repeat_them() -> None:
    w = waiter()
    assert messages(w.accept(status("IN_PROGRESS", "a"), "stream")) == ["a"]
    assert messages(w.accept(status("IN_PROGRESS", "b"), "stream")) == ["b"]
    w.dropped("test")
    # The reopened stream starts with everything so far: the repeated prefix is dropped.
    assert messages(w.accept(status("IN_PROGRESS", "a", "b", "c"), "stream")) == ["c"]
    assert messages(w.accept(status("IN_PROGRESS", "d"), "stream")) == ["d"]
    w.dropped("test")
    # Or it starts with only new lines: nothing is dropped.
    assert messages(w.accept(status("IN_PROGRESS", "e"), "stream")) == ["e"]


def test_a_poll_between_stream_connections_does_not_repeat_lines() -> None:
    w = waiter()
    w.accept(status("IN_PROGRESS", "a"), "stream")
    w.dropped("test")
    assert messages(w.accept(status("IN_PROGRESS", "a", "b"), "poll")) == ["b"]
    assert messages(w.accept(status("IN_PROGRESS", "c"), "stream")) == ["c"]


def test_queue_position_changes_are_emitted_once_each() -> None:
    w = waiter()
    assert w.accept(Queued(2), "poll") == Queued(2)
    assert w.accept(Queued(2), "poll") is None
    assert w.accept(Queued(1), "stream") == Queued(1)


def test_repeated_stream_breaks_fall_back_to_polling() -> None:
    from fal_typed._wait import MAX_STREAM_DROPS

    w = waiter()
    for _ in range(MAX_STREAM_DROPS - 1):
        w.dropped("reset")
        assert w.streaming
    w.dropped("reset")
    assert not w.streaming
    assert w.pause() == w.client.poll_interval


def test_an_event_resets_the_break_count() -> None:
    w = waiter()
    w.dropped("reset")
    w.dropped("reset")
    assert w.pause() > 0  # backing off after the second break in a row
    w.accept(Queued(0), "stream")
    assert w.drops == 0 and w.pause() == 0


def test_a_stream_repeating_itself_does_not_reset_the_backoff() -> None:
    w = waiter()
    w.accept(Queued(0), "stream")
    w.dropped("closed")
    assert w.accept(Queued(0), "stream") is None  # same status again, then closed again
    w.dropped("closed")
    assert w.drops == 2 and w.pause() > 0


def test_statuses_print_like_fal_log_lines() -> None:
    at = datetime(2025, 1, 2, 12, 0, 1, tzinfo=timezone.utc)
    assert repr(Log("loading weights", timestamp=at)) == "[INFO 12:00:01] loading weights"
    assert repr(Log("oops", level="ERROR")) == "[ERROR] oops"
    assert repr(Queued(position=3)) == "Queued(position=3)"
    assert repr(InProgress()) == repr(InProgress(logs=[])) == "InProgress"
    assert repr(InProgress(logs=[Log("loading weights", timestamp=at)])) == (
        "InProgress: [INFO 12:00:01] loading weights"
    )
    assert str(InProgress(logs=[Log("a"), Log("b", level="WARN")])) == (
        "InProgress: [INFO] a\n            [WARN] b"
    )
    assert repr(Completed()) == "Completed"
    assert repr(Completed(metrics={"inference_time": 1.0234})) == "Completed(inference_time=1.02s)"
    failed = Completed(error="No runner", error_type="runner_scheduling_failure", logs=[Log("x")])
    assert repr(failed) == (
        "Completed(error='No runner', error_type='runner_scheduling_failure'): [INFO] x"
    )
    parsed = parse_status(
        {"status": "IN_PROGRESS", "logs": [{"message": "m", "timestamp": "2025-01-02T12:00:01Z"}]}
    )
    assert "datetime" not in repr(parsed) and repr(parsed) == "InProgress: [INFO 12:00:01] m"
