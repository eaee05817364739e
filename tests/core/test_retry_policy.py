"""RetryPolicy as a pure function: what is retryable, backoff shape, Retry-After parsing."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from fal_typed import InvalidArgumentError, RetryPolicy
from fal_typed._retry import is_user_timeout, parse_retry_after

NGINX = "<html><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></html>"


def response(status: int, text: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


@pytest.mark.parametrize(
    ("resp", "retried"),
    [
        (response(408), True),
        (response(409), True),
        (response(429, '{"detail":"too many"}'), True),
        (response(502, NGINX), True),
        (response(503, NGINX), True),
        (response(504, NGINX), True),
        (response(502, NGINX, **{"x-fal-request-id": "r"}), False),  # from fal itself: final
        (response(503, '{"detail":"runner_scheduling_failure"}'), False),
        (
            response(504, NGINX, **{"x-fal-request-timeout-type": "user"}),
            False,
        ),  # caller's start_timeout
        (response(500, NGINX), False),
        (response(400), False),
        (response(401), False),
        (response(422), False),
    ],
)
def test_which_responses_are_retried(resp: httpx.Response, retried: bool) -> None:
    assert RetryPolicy().should_retry_response(resp) is retried


def test_user_timeout_helper() -> None:
    assert is_user_timeout(response(504, "", **{"X-Fal-Request-Timeout-Type": "user"}))
    assert not is_user_timeout(response(503, "", **{"X-Fal-Request-Timeout-Type": "user"}))


def test_ingress_retries_can_be_turned_off_and_statuses_configured() -> None:
    policy = RetryPolicy(retry_ingress_errors=False, retry_statuses=frozenset({429, 418}))
    assert not policy.should_retry_response(response(502, NGINX))
    assert policy.should_retry_response(response(418))
    assert not policy.should_retry_response(response(408))
    # A 5xx is the table's to decide (and never resent for a paid POST).
    default = RetryPolicy()
    for idempotent in (True, False):
        assert policy.should_retry_response(
            response(500), idempotent=idempotent
        ) == default.should_retry_response(response(500), idempotent=idempotent)
    assert not policy.should_retry_response(response(500), idempotent=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"retry_statuses": frozenset({429, 504})},
            "retry_statuses holds refusals (4xx) only, got 504",
        ),
        ({"retry_statuses": {500}}, "retry_statuses holds refusals (4xx) only, got 500"),
        ({"retry_statuses": "429"}, "retry_statuses must be a set of HTTP statuses, got str"),
        ({"retry_statuses": 429}, "retry_statuses must be a set of HTTP statuses, got int"),
        ({"retry_statuses": {True}}, "retry_statuses must hold ints, got bool True"),
        ({"retry_statuses": {"429"}}, "retry_statuses must hold ints, got str '429'"),
        ({"max_attempts": 2.5}, "max_attempts must be an int, got float"),
        ({"max_attempts": True}, "max_attempts must be an int, got bool"),
        ({"max_attempts": 0}, "max_attempts must be >= 1, got 0"),
        ({"max_delay": "5"}, "max_delay must be a number of seconds, got str"),
        ({"base_delay": float("nan")}, "base_delay must be a finite number of seconds, got nan"),
        ({"base_delay": -0.5}, "base_delay must be >= 0 seconds, got -0.5"),
        ({"jitter": float("nan")}, "jitter must be a finite number, got nan"),
        ({"jitter": 1.5}, "jitter must be at most 1, got 1.5"),
        ({"jitter": -0.1}, "jitter must be >= 0, got -0.1"),
        ({"max_elapsed": True}, "max_elapsed must be a number of seconds, got bool"),
        # An infinite delay was taken: it waited for ever, or raised OverflowError from
        # time.sleep once max_elapsed was infinite too.
        ({"base_delay": float("inf")}, "base_delay must be a finite number of seconds, got inf"),
        ({"max_delay": float("inf")}, "max_delay must be a finite number of seconds, got inf"),
        ({"max_elapsed": float("-inf")}, "max_elapsed must be a finite number of seconds"),
        ({"max_elapsed": float("nan")}, "max_elapsed must be a finite number of seconds"),
        ({"max_retry_after": float("inf")}, "max_retry_after must be a finite number"),
        ({"retry_ingress_errors": "no"}, "retry_ingress_errors must be True or False, got str"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_policy_is_checked_when_built(options: dict[str, object], message: str) -> None:
    """Policies come from configuration: a wrong kind or range fails when built, never as a
    raw error at the first failure of a call; a 5xx never widens what a paid POST resends."""
    with pytest.raises(InvalidArgumentError) as caught:
        RetryPolicy(**options)  # type: ignore[arg-type]
    assert caught.value.message.startswith(message)


def test_an_infinite_budget_means_no_bound_but_the_attempts() -> None:
    """max_elapsed=math.inf ("no time bound") was refused with the delays; only a delay is
    waited, so only a delay must be finite. Its waits stay the policy's finite ones."""
    from fal_typed._retry import Backoff, Outcome

    policy = RetryPolicy(max_elapsed=float("inf"), base_delay=0.1, max_delay=0.4, jitter=0)
    clock = iter([0.0, 1e12])  # the budget is never past, however late
    backoff = Backoff(policy, clock=lambda: next(clock))
    assert backoff.wait(Outcome.RETRY_STATUS, None) == 0.1


def test_retry_statuses_may_be_any_collection_and_is_kept_as_a_frozenset() -> None:
    assert RetryPolicy(retry_statuses=[429, 408]).retry_statuses == frozenset({408, 429})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "idempotent", "retried"),
    [
        (httpx.ConnectError("refused"), False, True),
        (httpx.ConnectTimeout("slow connect"), False, True),
        (httpx.PoolTimeout("pool"), False, True),
        (httpx.WriteError("broken pipe"), False, True),
        (httpx.ReadError("reset"), False, False),  # after the body was sent: maybe accepted
        (httpx.ReadTimeout("slow"), False, False),
        (httpx.RemoteProtocolError("disconnected"), False, False),
        (httpx.ReadError("reset"), True, True),
        (httpx.ReadTimeout("slow"), True, True),
        (httpx.RemoteProtocolError("disconnected"), True, True),
        (httpx.UnsupportedProtocol("ftp"), True, False),
        (httpx.LocalProtocolError("bad header"), True, False),
    ],
)
def test_which_transport_errors_are_retried(
    exc: httpx.TransportError, idempotent: bool, retried: bool
) -> None:
    assert RetryPolicy.should_retry_error(exc, idempotent=idempotent) is retried


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, jitter=0.5)
    assert [policy.delay(n, rand=lambda: 0.5) for n in (1, 2, 3, 4, 5, 6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert policy.delay(1, rand=lambda: 0.0) == pytest.approx(0.05)
    assert policy.delay(1, rand=lambda: 1.0) == pytest.approx(0.15)
    assert RetryPolicy(jitter=0).delay(3, rand=lambda: 0.9) == pytest.approx(0.4)


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=5.0)
    assert policy.delay(1, retry_after=2.5) == 2.5
    assert policy.delay(7, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=3600) == 5.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_010, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_delay": -1},
        {"max_delay": -0.1},
        {"jitter": 1.5},
        {"max_retry_after": -1},
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_disabled_policy_sends_once() -> None:
    assert RetryPolicy.disabled().max_attempts == 1


def test_a_name_that_does_not_resolve_is_seen_through_httpx_wrapping() -> None:
    import socket

    from fal_typed._retry import Outcome, observe_error

    inner = socket.gaierror(-2, "Name or service not known")
    wrapped = httpx.ConnectError("[Errno -2] Name or service not known")
    wrapped.__cause__ = inner
    assert observe_error(wrapped) is Outcome.DNS_FAILURE
    assert observe_error(httpx.ConnectError("[Errno 111] Connection refused")) is (
        Outcome.CONNECT_FAILED
    )
    assert not RetryPolicy.should_retry_error(wrapped, idempotent=True)


@pytest.mark.parametrize(
    ("resp", "outcome"),
    [
        (response(502, NGINX), "INGRESS_502"),
        (response(504, "upstream timed out"), "INGRESS_504"),  # any gateway page, not only nginx
        (
            response(503, '{"detail":"No runner","error_type":"runner_scheduling_failure"}'),
            "FAL_5XX",
        ),
        (response(502, NGINX, **{"x-fal-request-id": "r"}), "FAL_5XX_NAMED"),
        (response(500, '{"detail":"boom","request_id":"r"}'), "FAL_5XX_NAMED"),
        (response(504, "{}", **{"x-fal-request-timeout-type": "user"}), "START_TIMEOUT"),
        (response(429, "{}", **{"retry-after": "2"}), "RATE_LIMITED_RETRY_AFTER"),
        (response(429, "{}"), "RATE_LIMITED"),
        (response(409, "{}"), "RETRY_STATUS"),
        (response(422, "{}"), "CLIENT_4XX"),
    ],
)
def test_answers_are_classified_as_the_table_names_them(resp: httpx.Response, outcome: str) -> None:
    from fal_typed._retry import observe_response

    observed = observe_response(resp)
    assert observed is not None and observed.name == outcome


def test_a_gateway_502_or_504_is_retried_for_a_get_never_for_a_post() -> None:
    for status in (502, 504):
        assert RetryPolicy().should_retry_response(response(status, NGINX), idempotent=True)
        assert not RetryPolicy().should_retry_response(response(status, NGINX), idempotent=False)
    assert RetryPolicy().should_retry_response(response(503, NGINX), idempotent=False)
