"""The retry table's rules cell by cell, and the classifiers that feed it (issue 12's survivors).

test_retry_table.py drives every cell over sockets and checks the documented rule; these pin
what it leaves open: the error each cell raises, the rows built for each kind of request, and
the edges of the answer and transport-error classifiers.
"""

from __future__ import annotations

import email.utils
import socket
import time

import httpx
import pytest

from fal_typed import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    PossiblyAcceptedError,
    PossiblyAcceptedTimeoutError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from fal_typed._retry import (
    RETRY_TABLE,
    Backoff,
    Decision,
    Kind,
    Outcome,
    _cell,  # pyright: ignore[reportPrivateUsage]
    _error_of,  # pyright: ignore[reportPrivateUsage]
    _row,  # pyright: ignore[reportPrivateUsage]
    is_gateway_answer,
    is_name_resolution_error,
    observe_error,
    observe_response,
    parse_retry_after,
)

NGINX = "<html><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></html>"

#: The error a cell raises when it gives up, written out independently of the code.
ERROR_OF: dict[Outcome, type[FalError]] = {
    Outcome.CONNECT_FAILED: FalConnectionError,
    Outcome.DNS_FAILURE: FalConnectionError,
    Outcome.NOT_WRITTEN: FalConnectionError,
    Outcome.RESET_BEFORE_SENT: FalConnectionError,
    Outcome.RESET_AFTER_SENT: FalConnectionError,
    Outcome.READ_TIMEOUT: FalConnectionError,
    Outcome.RATE_LIMITED_RETRY_AFTER: RateLimitError,
    Outcome.RATE_LIMITED: RateLimitError,
    Outcome.RETRY_STATUS: FalHTTPError,
    Outcome.INGRESS_502: ServerError,
    Outcome.INGRESS_503: ServerError,
    Outcome.INGRESS_504: ServerError,
    Outcome.FAL_5XX: ServerError,
    Outcome.FAL_5XX_NAMED: ServerError,
    Outcome.CLIENT_4XX: FalHTTPError,
    Outcome.START_TIMEOUT: ServerError,
    Outcome.DEADLINE_AFTER_SENT: FalTimeoutError,
}
MAYBE_RECEIVED = {
    Outcome.RESET_BEFORE_SENT,
    Outcome.RESET_AFTER_SENT,
    Outcome.READ_TIMEOUT,
    Outcome.INGRESS_502,
    Outcome.INGRESS_504,
}
#: kind -> (not idempotent, starts paid work, a fal 5xx retried, queued): the flags of each row.
FLAGS: dict[Kind, tuple[bool, bool, bool]] = {
    Kind.SUBMIT: (True, True, False),
    Kind.RUN: (True, True, False),
    Kind.STREAM: (True, True, False),
    Kind.STATUS: (False, False, False),
    Kind.STATUS_STREAM: (False, False, False),
    Kind.RESULT: (False, False, False),
    Kind.CANCEL: (False, False, False),
    Kind.UPLOAD_TOKEN: (False, False, False),
    Kind.UPLOAD_INITIATE: (True, False, True),
    Kind.UPLOAD_PART: (False, False, True),
    Kind.UPLOAD_COMPLETE: (True, False, True),
    Kind.UPLOAD_SINGLE: (False, False, True),
    Kind.STORAGE_INITIATE: (False, False, False),
    Kind.DOWNLOAD: (False, False, True),
    Kind.REALTIME_TOKEN: (False, False, False),
    Kind.OTHER_IDEMPOTENT: (False, False, False),
    Kind.OTHER_POST: (True, False, False),
}


def expected(
    outcome: Outcome,
    *,
    not_idempotent: bool,
    paid: bool,
    retry_fal_5xx: bool,
) -> Decision:
    if outcome is Outcome.FAL_5XX_NAMED:  # a ServerError as any fal 5xx, carrying the id
        return Decision(retry_fal_5xx, ServerError)
    if outcome is Outcome.DEADLINE_AFTER_SENT:
        return Decision(False, PossiblyAcceptedTimeoutError if paid else FalTimeoutError)
    if outcome is Outcome.DNS_FAILURE:
        return Decision(False, FalConnectionError)
    if outcome in (Outcome.CLIENT_4XX, Outcome.START_TIMEOUT):
        return Decision(False, ERROR_OF[outcome])
    if outcome is Outcome.FAL_5XX:
        return Decision(retry_fal_5xx, ServerError)
    if not_idempotent and outcome in MAYBE_RECEIVED:
        return Decision(False, PossiblyAcceptedError)
    return Decision(True, ERROR_OF[outcome])


@pytest.mark.parametrize("outcome", list(Outcome), ids=[o.name for o in Outcome])
def test_each_outcome_gives_up_with_its_own_error(outcome: Outcome) -> None:
    assert _error_of(outcome) is ERROR_OF[outcome]


@pytest.mark.parametrize(("not_idempotent", "paid", "retry_fal_5xx"), sorted(set(FLAGS.values())))
def test_each_row_decides_every_outcome_as_documented(
    not_idempotent: bool, paid: bool, retry_fal_5xx: bool
) -> None:
    row = _row(not_idempotent=not_idempotent, paid=paid, retry_fal_5xx=retry_fal_5xx)
    assert set(row) == set(Outcome)
    for outcome in Outcome:
        want = expected(
            outcome,
            not_idempotent=not_idempotent,
            paid=paid,
            retry_fal_5xx=retry_fal_5xx,
        )
        assert row[outcome] == want, outcome


def test_a_row_retries_no_fal_5xx_unless_asked() -> None:
    assert _row(not_idempotent=False)[Outcome.FAL_5XX] == Decision(False, ServerError)


def test_a_fal_5xx_naming_a_request_is_a_server_error_even_to_a_submit() -> None:
    """fal names its request id on nearly every answer: a submit's named 5xx was
    PossiblyAcceptedError (a FalConnectionError that ``except ServerError`` missed)."""
    named = Outcome.FAL_5XX_NAMED
    assert RETRY_TABLE[Kind.SUBMIT][named] == Decision(False, ServerError)


def test_a_row_starts_no_paid_work_unless_asked() -> None:
    # RETRY_TABLE is built at import, before any mutant runs: the default is read here.
    cut = Outcome.DEADLINE_AFTER_SENT
    assert _row(not_idempotent=True)[cut] == Decision(False, FalTimeoutError)
    assert _row(not_idempotent=False)[cut] == Decision(False, FalTimeoutError)


@pytest.mark.parametrize("kind", list(Kind), ids=[k.name for k in Kind])
def test_each_kind_has_the_row_of_its_flags(kind: Kind) -> None:
    not_idempotent, paid, retry_fal_5xx = FLAGS[kind]
    for outcome in Outcome:
        want = expected(
            outcome,
            not_idempotent=not_idempotent,
            paid=paid,
            retry_fal_5xx=retry_fal_5xx,
        )
        assert RETRY_TABLE[kind][outcome] == want, (kind, outcome)


def test_a_decision_reads_as_what_happens() -> None:
    assert str(Decision(True, ServerError)) == "retried, ServerError"
    assert str(Decision(False, PossiblyAcceptedError)) == "not retried, PossiblyAcceptedError"


@pytest.mark.parametrize(
    "message",
    [
        "[Errno -2] Name or service not known",
        "[Errno -3] Temporary failure in name resolution",
        "nodename nor servname provided, or not known",
        "[Errno -5] No address associated with hostname",
        "NAME OR SERVICE NOT KNOWN",
    ],
)
def test_each_resolver_message_is_a_dns_failure_without_a_cause(message: str) -> None:
    assert is_name_resolution_error(httpx.ConnectError(message))
    assert observe_error(httpx.ConnectError(message)) is Outcome.DNS_FAILURE


def test_a_resolver_message_on_another_error_is_not_a_dns_failure() -> None:
    assert not is_name_resolution_error(httpx.ReadError("Name or service not known"))
    assert not is_name_resolution_error(httpx.ConnectError("[Errno 111] Connection refused"))


def test_a_gaierror_is_found_as_an_implicit_context_deep_in_the_chain() -> None:
    outer = httpx.ConnectError("connect failed")
    middle = OSError("wrapped")
    middle.__context__ = socket.gaierror(-2, "lookup")
    outer.__context__ = middle
    assert is_name_resolution_error(outer)


def test_a_cyclic_cause_chain_ends_the_search() -> None:
    first, second = httpx.ConnectError("refused"), OSError("refused")
    first.__cause__, second.__cause__ = second, first
    assert not is_name_resolution_error(first)


def answer(status: int, text: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


@pytest.mark.parametrize(
    ("resp", "gateway"),
    [
        (answer(502, '{"detail": "upstream"}'), False),  # fal's JSON error body
        (answer(503, "[1, 2]"), True),
        (answer(504, "not json {"), True),
        (answer(504, '"text"'), True),
        (answer(500, NGINX), False),
        (answer(505, NGINX), False),
        (answer(502, NGINX, **{"x-fal-request-id": "r"}), False),
    ],
)
def test_a_gateway_answer_has_no_fal_id_and_no_fal_json(
    resp: httpx.Response, gateway: bool
) -> None:
    assert is_gateway_answer(resp) is gateway


@pytest.mark.parametrize(
    ("content_type", "gateway"),
    [("text/html", True), ("application/json", False), ("Application/JSON; charset=utf-8", False)],
)
def test_an_unread_streamed_answer_is_judged_by_its_type(content_type: str, gateway: bool) -> None:
    resp = httpx.Response(
        502, headers={"content-type": content_type}, stream=httpx.ByteStream(b"{}")
    )
    assert is_gateway_answer(resp) is gateway


def test_an_unread_streamed_answer_without_a_type_is_a_gateway_page() -> None:
    resp = httpx.Response(503, stream=httpx.ByteStream(b"x"))
    assert is_gateway_answer(resp)


@pytest.mark.parametrize(
    ("resp", "outcome"),
    [
        (answer(399), None),
        (answer(400, "{}"), Outcome.CLIENT_4XX),
        (answer(499, "{}"), Outcome.CLIENT_4XX),
        (answer(500, "{}"), Outcome.FAL_5XX),
        (answer(501, "{}"), Outcome.FAL_5XX),
        (answer(500, '{"request_id": "req-1"}'), Outcome.FAL_5XX_NAMED),
        (answer(503, '{"error": {"message": "m", "request_id": "req-1"}}'), Outcome.FAL_5XX_NAMED),
    ],
)
def test_the_first_error_status_of_each_class_is_classified(
    resp: httpx.Response, outcome: Outcome | None
) -> None:
    assert observe_response(resp) is outcome


def test_a_success_is_never_retried() -> None:
    assert not RetryPolicy().should_retry_response(answer(200, "{}"))
    assert not RetryPolicy().should_retry_response(answer(200, "{}"), idempotent=False)


def test_an_http_date_retry_after_counts_from_the_real_clock_by_default() -> None:
    in_an_hour = email.utils.formatdate(time.time() + 3600, usegmt=True)
    seconds = parse_retry_after(in_an_hour)
    assert seconds is not None and 3000 < seconds <= 3600


def test_a_jitter_of_one_is_allowed() -> None:
    assert RetryPolicy(jitter=1.0).jitter == 1.0


@pytest.mark.parametrize("outcome", [Outcome.INGRESS_502, Outcome.INGRESS_503, Outcome.INGRESS_504])
def test_ingress_retries_turned_off_give_up_with_a_server_error(outcome: Outcome) -> None:
    decision = RetryPolicy(retry_ingress_errors=False).decision(Kind.OTHER_IDEMPOTENT, outcome)
    assert decision == Decision(False, ServerError)


def test_a_wait_that_ends_exactly_at_the_budget_is_still_allowed() -> None:
    policy = RetryPolicy(base_delay=1.0, jitter=0.0, max_elapsed=1.0)
    backoff = Backoff(policy, clock=lambda: 50.0)
    assert backoff.wait(Outcome.CONNECT_FAILED, None) == 1.0
    assert backoff.wait(Outcome.CONNECT_FAILED, None) is None  # 2s would end past it


def test_a_cell_names_the_error_without_its_fal_prefix_and_error_suffix() -> None:
    assert _cell(Decision(True, ServerError)) == "retry: Server"
    assert _cell(Decision(False, FalHTTPError)) == "**once**: HTTP"
    assert _cell(Decision(False, FalError)) == "**once**: Fal"  # nothing left: the base name
