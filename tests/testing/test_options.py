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
from fal_typed.testing._platform import PlatformService

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


def _answer_ok(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True}


def _setting(fal: LocalFal, setting: str) -> Callable[[Any], object]:
    """What ``setting`` does with an endpoint id, on ``fal``."""
    appliers: dict[str, Callable[[Any], object]] = {
        "configure": lambda id_: fal.configure(id_, processing_time=0.1),
        "inject": lambda id_: fal.inject(Fault.response(500), endpoint_id=id_),
        "streams.configure": lambda id_: fal.streams.configure(id_, partial_events=1),
        "realtime.configure": lambda id_: fal.realtime.configure(id_, delay=0.1),
    }
    return appliers[setting]


@pytest.mark.parametrize(
    "setting", ["configure", "inject", "streams.configure", "realtime.configure"]
)
def test_a_setting_for_an_endpoint_not_served_is_refused_with_close_ids(setting: str) -> None:
    """A typo in the id (``fal-ai/flux/dv``) was taken, and the behaviour or fault never applied:
    the test meant to see a failure passed against the default behaviour."""
    fal = LocalFal().start()
    try:
        apply = _setting(fal, setting)
        with pytest.raises(InvalidArgumentError) as caught:
            apply("fal-ai/flux/dv")
        message = caught.value.message
        assert message.startswith(
            f"{setting}: this local server serves no endpoint 'fal-ai/flux/dv'"
        )
        assert "did you mean 'fal-ai/flux/dev'" in message
        with pytest.raises(InvalidArgumentError, match="endpoint_id must be a string, got int"):
            apply(3)
        # an endpoint of one's own is served once its handler is registered
        with pytest.raises(InvalidArgumentError, match="register its handler first"):
            apply("acme/mine")
        fal.handler("acme/mine", _answer_ok)
        apply("acme/mine")
        apply("fal-ai/flux/dev")
        # a refused call sets nothing
        if setting == "configure":
            assert (
                fal.behaviour("fal-ai/flux/dv").processing_time
                == fal.behaviour("x/y").processing_time
            )
    finally:
        fal.stop()


PLATFORM_SETTINGS: list[tuple[Callable[[PlatformService], object], str]] = [
    (lambda p: p.set_price("fal-ai/flux/dev", math.nan), "unit_price must be a finite number"),
    (
        lambda p: p.set_price("fal-ai/flux/dev", "0.1"),  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        "unit_price must be a number, got str",
    ),
    (lambda p: p.set_price("fal-ai/flux/dev", -1), "unit_price must be >= 0, got -1"),
    (
        lambda p: p.set_price("fal-ai/flux/dev", 1, units_per_call=0),
        "units_per_call must be > 0",
    ),
    (lambda p: p.set_price("fal-ai/flux/dev", 1, currency=""), "currency must be a non-empty"),
    (lambda p: p.set_price("fal ai", 1), "invalid endpoint id 'fal ai'"),
    (lambda p: p.configure(history_delay=math.nan), "history_delay must be a finite number"),
    (lambda p: p.configure(history_delay=-1), "history_delay must be >= 0 seconds"),
    (
        lambda p: p.configure(webhook_ip_ranges="10.0.0.0/8"),
        "webhook_ip_ranges must be a list of CIDR ranges, got str",
    ),
    (
        lambda p: p.configure(history_delay=1, webhook_ip_ranges=["10.0.0.0/8", "nope"]),
        "webhook_ip_ranges: 'nope' is not a CIDR range",
    ),
]


@pytest.mark.parametrize(("call", "message"), PLATFORM_SETTINGS)
def test_the_platform_service_settings_are_checked_before_any_is_set(
    call: Callable[[PlatformService], object], message: str
) -> None:
    """NaN passed the ``< 0`` checks (a NaN price made every estimate NaN), a string price raised a
    raw TypeError, and a string of ranges became a list of its characters in ``/meta``."""
    with LocalFal() as fal:
        platform = fal.platform
        with pytest.raises(InvalidArgumentError) as caught:
            call(platform)
        assert caught.value.message.startswith(message), caught.value.message
        assert platform.history_delay == 0.0  # a refused configure sets neither option
        assert platform.webhook_ip_ranges == ["127.0.0.1/32", "::1/128"]
        platform.configure(history_delay=0.5, webhook_ip_ranges=["10.0.0.0/8"])
        assert (platform.history_delay, platform.webhook_ip_ranges) == (0.5, ["10.0.0.0/8"])


STREAMING_SETTINGS: list[tuple[Callable[[LocalFal], object], str]] = [
    (lambda fal: fal.streams.configure(interval=math.nan), "interval must be a finite number"),
    (lambda fal: fal.streams.configure(partial_events="3"), "partial_events must be an int"),
    (lambda fal: fal.streams.configure(cut_after=-1), "cut_after must be >= 0"),
    (lambda fal: fal.streams.configure(fail_status=5000), "fail_status must be at most 599"),
    (lambda fal: fal.realtime.configure(delay=math.nan), "delay must be a finite number"),
    (lambda fal: fal.realtime.configure(fail_next=1.5), "fail_next must be an int"),
    (lambda fal: fal.webhooks.configure(timeout=math.nan), "timeout must be a finite number"),
    (lambda fal: fal.webhooks.configure(backoff=math.inf), "backoff must be a finite number"),
    (lambda fal: fal.webhooks.configure(retries="5"), "retries must be an int"),
    (
        lambda fal: fal.webhooks.configure(timestamp_offset=math.nan),
        "timestamp_offset must be a finite number",
    ),
]


@pytest.mark.parametrize(("call", "message"), STREAMING_SETTINGS)
def test_stream_realtime_and_webhook_settings_are_checked(
    call: Callable[[LocalFal], object], message: str
) -> None:
    """NaN passed their ``< 0`` checks (a NaN sleep or timeout in the server), and a string for
    a count raised a bare TypeError, or none at all (realtime had no checks)."""
    with LocalFal() as fal:
        with pytest.raises(InvalidArgumentError) as caught:
            call(fal)
        assert caught.value.message.startswith(message), caught.value.message
        fal.webhooks.configure(timestamp_offset=-600)  # a stale delivery: negative is fine


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
