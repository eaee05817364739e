"""Injected faults, as clients see them over real sockets, and the request log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fal_typed.testing import Fault, FaultRule, LocalFal
from fal_typed.testing._faults import FaultBook

from .conftest import FLUX, submit, wait_completed


def test_rate_limit_for_the_next_n_requests_then_normal(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    rule = local_fal.inject(Fault.rate_limited(retry_after=2.5), on="submit", times=2)
    url = f"{local_fal.queue_url}/{FLUX}"
    for _ in range(2):
        response = http.post(url, json={"prompt": "x"})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "2.5"
        assert response.headers["x-fal-error-type"] == "concurrent_requests_limit"
        assert "x-fal-request-id" not in response.headers
        assert response.json()["error_type"] == "concurrent_requests_limit"
    assert http.post(url, json={"prompt": "x"}).status_code == 200
    assert rule.hits == 2
    assert rule.remaining == 0
    accepted = [e for e in local_fal.requests_for("submit") if e.status_code == 200]
    assert len(accepted) == 1  # faults never reach the queue


@pytest.mark.parametrize("code", [502, 503, 504])
def test_ingress_errors_are_nginx_pages_without_a_request_id(
    local_fal: LocalFal, http: httpx.Client, code: int
) -> None:
    local_fal.inject(Fault.ingress(code), on="submit")
    response = http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"})
    assert response.status_code == code
    assert "nginx" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "x-fal-request-id" not in response.headers


@pytest.mark.parametrize("code", [502, 503, 504])
def test_a_gateway_page_after_the_queue_accepted_the_submit(
    local_fal: LocalFal, http: httpx.Client, code: int
) -> None:
    local_fal.inject(Fault.ingress(code, after_accept=True), on="submit")
    response = http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "accepted"})
    assert response.status_code == code
    assert "nginx" in response.text
    assert "x-fal-request-id" not in response.headers
    entry = local_fal.requests_for("submit")[0]
    assert entry.fault == f"ingress {code} after accept"
    assert entry.status_code == code
    assert entry.json() == {"prompt": "accepted"}
    assert entry.request_id is not None  # queued: only fal's answer was replaced
    assert local_fal.request_status(entry.request_id) is not None
    assert len(local_fal.state.queue) == 1


def test_a_plain_ingress_page_never_reaches_the_queue(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.inject(Fault.ingress(504), on="submit")
    assert http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}).status_code == 504
    entry = local_fal.requests_for("submit")[0]
    assert (entry.fault, entry.request_id) == ("ingress 504", None)
    assert len(local_fal.state.queue) == 0


def test_any_answer_can_come_after_the_request_was_handled(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    ran: list[str] = []

    def handle(body: dict[str, Any]) -> dict[str, Any]:
        ran.append(body["prompt"])
        return {"images": [], "timings": {}, "seed": 1, "has_nsfw_concepts": [], "prompt": "x"}

    local_fal.handler(FLUX, handle)
    local_fal.inject(Fault.server_error(500, "internal_error").after_accept(), on="run")
    response = http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "executed"})
    assert response.status_code == 500
    assert response.json()["error_type"] == "internal_error"
    assert local_fal.requests_for("run")[0].fault == "500 internal_error after accept"
    assert ran == ["executed"]  # the run was executed; only its answer was replaced


@pytest.mark.parametrize("build", [Fault.reset, lambda: Fault.drop(1), lambda: Fault.delay(0)])
def test_only_answers_can_come_after_acceptance(build: object) -> None:
    with pytest.raises(ValueError, match="only an answer"):
        build().after_accept()  # type: ignore[operator]


def test_fal_server_errors_carry_a_request_id(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.inject(Fault.server_error(502, "runner_disconnected"), on="submit")
    response = http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"})
    assert response.status_code == 502
    assert response.headers["x-fal-request-id"]
    assert response.headers["x-fal-error-type"] == "runner_disconnected"
    assert len(local_fal.state.queue) == 0  # it never reached the queue


def test_user_timeout_504_carries_the_timeout_type_and_a_request_id(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.inject(Fault.user_timeout(), on="run")
    response = http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"})
    assert response.status_code == 504
    assert response.headers["x-fal-request-timeout-type"] == "user"
    assert response.headers["x-fal-request-id"]
    assert response.json() == {"detail": "Request timed out", "error_type": "request_timeout"}


def test_flat_server_error(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.inject(Fault.server_error(503, "runner_scheduling_failure"), on="status")
    submitted = submit(http, local_fal)
    response = http.get(submitted["status_url"])
    assert response.status_code == 503
    assert response.headers["x-fal-request-id"] == submitted["request_id"]  # the one it is about
    assert response.headers["x-fal-error-type"] == "runner_scheduling_failure"
    assert response.json()["error_type"] == "runner_scheduling_failure"
    assert http.get(submitted["status_url"]).status_code in (200, 202)


def test_custom_response(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.inject(
        Fault.response(418, {"detail": "teapot"}, headers={"X-Extra": "1"}), on="result"
    )
    submitted = submit(http, local_fal)
    wait_completed(http, submitted["status_url"])
    response = http.get(submitted["response_url"])
    assert (response.status_code, response.json(), response.headers["x-extra"]) == (
        418,
        {"detail": "teapot"},
        "1",
    )


def test_connection_reset_before_the_request_is_handled(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.inject(Fault.reset(), on="submit")
    with pytest.raises(httpx.TransportError):
        http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"})
    entry = local_fal.requests_for("submit")[0]
    assert entry.fault == "reset"
    assert entry.request_id is None  # nothing was queued
    assert entry.status_code is None
    assert entry.body_size == 0  # the server never read the request
    # The next request is served normally (on a new connection).
    assert submit(http, local_fal)["request_id"]


def test_connection_reset_after_the_submit_was_accepted(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.inject(Fault.reset(after_handler=True), on="submit")
    with pytest.raises(httpx.TransportError):
        http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"})
    entry = local_fal.requests_for("submit")[0]
    assert entry.fault == "reset after handler"
    assert entry.request_id is not None  # accepted: the response was what got lost
    assert local_fal.request_status(entry.request_id) is not None


def test_a_plain_response_can_be_cut_after_its_headers(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.inject(Fault.drop(after_chunks=0), on="run")
    with pytest.raises(httpx.TransportError):
        http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"})


def test_delay_then_normal_handling(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.inject(Fault.delay(0.01), on="submit")
    assert submit(http, local_fal)["request_id"]
    assert local_fal.requests_for("submit")[0].fault == "delay 0.01s"


def test_rules_filter_by_endpoint_path_and_method(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.inject(
        Fault.response(500, {"detail": "x"}), endpoint_id="fal-ai/flux/schnell", times=None
    )
    local_fal.inject(
        Fault.response(501, {"detail": "y"}),
        path="/run/fal-ai/flux-pro*",
        method="POST",
        times=None,
    )
    assert http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}).status_code == 200
    for _ in range(2):
        assert (
            http.post(
                f"{local_fal.queue_url}/fal-ai/flux/schnell", json={"prompt": "x"}
            ).status_code
            == 500
        )
    assert (
        http.post(f"{local_fal.run_url}/fal-ai/flux-pro/v1.1", json={"prompt": "x"}).status_code
        == 501
    )
    assert http.post(f"{local_fal.run_url}/{FLUX}", json={"prompt": "x"}).status_code == 200
    local_fal.reset()
    assert (
        http.post(f"{local_fal.queue_url}/fal-ai/flux/schnell", json={"prompt": "x"}).status_code
        == 200
    )


def test_request_endpoint_filter_matches_status_calls_by_request_id(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    flux = submit(http, local_fal)
    schnell = submit(http, local_fal, "fal-ai/flux/schnell")
    local_fal.inject(Fault.ingress(502), on="status", endpoint_id="fal-ai/flux/schnell", times=None)
    assert http.get(flux["status_url"]).status_code in (200, 202)  # same app root, other endpoint
    assert http.get(schnell["status_url"]).status_code == 502


@pytest.mark.parametrize(
    "build",
    [
        lambda: Fault.ingress(500),
        lambda: Fault.server_error(404),
        lambda: Fault.response(99),
        lambda: Fault.drop(-1),
        lambda: Fault.delay(601),
        lambda: Fault.rate_limited(-1),
    ],
)
def test_invalid_faults_are_rejected_when_built(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_a_rule_with_a_probability_hits_some_requests_and_spares_the_rest(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    sometimes = local_fal.inject(Fault.ingress(503), on="submit", times=None, probability=0.3)
    fallback = local_fal.inject(Fault.ingress(502), on="submit", times=None)
    codes = [
        http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}).status_code
        for _ in range(40)
    ]
    assert sometimes.hits == codes.count(503)
    assert fallback.hits == codes.count(502) == 40 - sometimes.hits  # spared: the next rule
    assert 0 < sometimes.hits < 40


def test_a_seeded_book_draws_the_same_faults_again() -> None:
    def draws(book: FaultBook) -> list[bool]:
        book.add(FaultRule(Fault.reset(), operation="submit", times=None, probability=0.5))
        return [book.take("POST", "/x", "queue.submit", None) is not None for _ in range(64)]

    seeded = FaultBook()
    seeded.seed(7)
    again = FaultBook()
    again.seed(7)
    other = FaultBook()
    other.seed(8)
    first = draws(seeded)
    assert first == draws(again)
    assert first != draws(other)
    assert 0 < sum(first) < 64


@pytest.mark.parametrize("probability", [0.0, -0.5, 1.5])
def test_a_probability_must_be_a_chance(local_fal: LocalFal, probability: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        local_fal.inject(Fault.reset(), on="submit", probability=probability)


def test_times_must_be_positive(local_fal: LocalFal) -> None:
    with pytest.raises(ValueError, match="times"):
        local_fal.inject(Fault.reset(), on="submit", times=0)


def test_the_request_log_redacts_credentials_and_keeps_bodies(local_fal: LocalFal) -> None:
    secret = "abc123:very-secret-key-value"
    headers = {"Authorization": f"Key {secret}", "X-Fal-Cdn-Token": "cdn-secret-token"}
    httpx.post(
        f"{local_fal.queue_url}/{FLUX}",
        json={"prompt": "a cat"},
        headers=headers,
        params={"fal_jwt_token": "jwt-secret"},
    )
    entry = local_fal.requests_for("submit", endpoint_id=FLUX, method="post")[0]
    assert entry.headers["authorization"] == "Key <redacted>"
    assert entry.headers["x-fal-cdn-token"] == "<redacted>"
    assert entry.query["fal_jwt_token"] == "<redacted>"
    assert entry.json() == {"prompt": "a cat"}
    assert entry.body_size == len(entry.body)
    everything = (
        repr(local_fal.requests)
        + str([e.headers for e in local_fal.requests])
        + str([e.query for e in local_fal.requests])
    )
    for leaked in ("very-secret-key-value", "cdn-secret-token", "jwt-secret"):
        assert leaked not in everything


def test_requests_can_be_counted_per_operation(local_fal: LocalFal, http: httpx.Client) -> None:
    submitted = submit(http, local_fal)
    wait_completed(http, submitted["status_url"])
    http.get(submitted["response_url"])
    assert len(local_fal.requests_for("submit")) == 1
    assert len(local_fal.requests_for("queue.result", request_id=submitted["request_id"])) == 1
    assert {e.operation for e in local_fal.requests} == {
        "queue.submit",
        "queue.status",
        "queue.result",
    }
    local_fal.reset()
    assert local_fal.requests == []


def test_a_rule_added_to_the_book_has_its_operation_read_once_and_checked() -> None:
    """``FaultBook.add`` is the one place a rule's operation is read: an alias becomes the route
    name, a name that is no string is refused (it could never match), and one that names no
    route of the known ones is refused with the names there are."""
    book = FaultBook()
    assert book.add(FaultRule(Fault.reset(), operation="submit")).operation == "queue.submit"
    with pytest.raises(ValueError, match="on must be a route name, got int"):
        book.add(FaultRule(Fault.reset(), operation=123))  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="names no route"):
        book.add(FaultRule(Fault.reset(), operation="sumbit"), {"queue.submit", "run"})
    assert [rule.operation for rule in book.rules] == ["queue.submit"]
