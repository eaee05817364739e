"""The queue host over real sockets with raw httpx: PROTOCOL.md section 1, path by path."""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest

from fal_typed.testing import Failure, LocalFal

from .conftest import AUTH, FLUX, submit, wait_completed, wait_status

STATUS_KEYS = {
    "status",
    "request_id",
    "response_url",
    "status_url",
    "cancel_url",
    "queue_position",
    "logs",
    "metrics",
    "error",
    "error_type",
}


def test_submit_returns_ids_app_root_urls_and_request_id_header(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    response = http.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "a cat"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "request_id",
        "gateway_request_id",
        "response_url",
        "status_url",
        "cancel_url",
        "queue_position",
    }
    request_id = body["request_id"]
    assert response.headers["x-fal-request-id"] == request_id
    base = f"{local_fal.queue_url}/fal-ai/flux/requests/{request_id}"  # app root, no /response
    assert body["response_url"] == base
    assert body["status_url"] == base + "/status"
    assert body["cancel_url"] == base + "/cancel"
    assert body["queue_position"] == 0


def test_status_is_202_while_waiting_and_200_once_completed(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(hold="queue")
    submitted = submit(http, local_fal)
    waiting = http.get(submitted["status_url"])
    assert waiting.status_code == 202
    assert waiting.headers["x-fal-request-id"] == submitted["request_id"]
    body = waiting.json()
    assert set(body) == STATUS_KEYS  # every key Python clients index is always present
    assert body["status"] == "IN_QUEUE"
    assert body["queue_position"] == 0
    assert body["logs"] is None
    assert body["error"] is None

    assert local_fal.release() == 1
    done = wait_completed(http, submitted["status_url"])
    assert set(done) == STATUS_KEYS
    assert done["queue_position"] is None
    assert isinstance(done["metrics"]["inference_time"], float)
    assert done["error"] is None and done["error_type"] is None


def test_queue_position_counts_down_from_the_submitted_position(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(queue_position=3, queue_step=0.01, hold="queue")
    submitted = submit(http, local_fal)
    assert submitted["queue_position"] == 3
    seen: list[int] = []
    while not seen or seen[-1] != 0:
        body = http.get(submitted["status_url"]).json()
        assert body["status"] == "IN_QUEUE"
        seen.append(body["queue_position"])
    assert seen == sorted(seen, reverse=True)
    assert set(seen) <= {0, 1, 2, 3}
    # Held at the head of the queue until released.
    assert http.get(submitted["status_url"]).json()["queue_position"] == 0
    local_fal.release(submitted["request_id"])
    wait_completed(http, submitted["status_url"])


@pytest.mark.parametrize(
    ("value", "with_logs"),
    [("1", True), ("true", True), ("True", True), ("0", False), ("false", False)],
)
def test_logs_parameter_accepts_the_four_client_spellings(
    local_fal: LocalFal, http: httpx.Client, value: str, with_logs: bool
) -> None:
    local_fal.configure(logs=["loading"])
    submitted = submit(http, local_fal)
    wait_completed(http, submitted["status_url"])
    logs = http.get(submitted["status_url"], params={"logs": value}).json()["logs"]
    if with_logs:
        assert [entry["message"] for entry in logs] == ["loading"]
    else:
        assert logs is None


def test_logs_parameter_rejects_other_values(local_fal: LocalFal, http: httpx.Client) -> None:
    submitted = submit(http, local_fal)
    response = http.get(submitted["status_url"], params={"logs": "yes"})
    assert response.status_code == 400
    assert "logs" in response.json()["detail"]


def test_polled_logs_are_cumulative_and_shaped_like_fal(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(
        processing_time=0.2, logs=["one", {"message": "two", "level": "WARN"}, "three"]
    )
    submitted = submit(http, local_fal)
    snapshots: list[list[str]] = []
    while True:
        body = http.get(submitted["status_url"], params={"logs": 1}).json()
        snapshots.append([entry["message"] for entry in body["logs"]])
        if body["status"] == "COMPLETED":
            break
    for earlier, later in itertools.pairwise(snapshots):
        assert later[: len(earlier)] == earlier  # each poll extends the previous one
    assert snapshots[-1] == ["one", "two", "three"]
    final = http.get(submitted["status_url"], params={"logs": 1}).json()["logs"]
    assert [e["level"] for e in final] == ["INFO", "WARN", "INFO"]
    for entry in final:
        assert entry["source"] == "USER"
        assert entry["timestamp"].endswith("Z")


def test_held_in_progress_request_reports_its_logs(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.configure(logs=["a", "b"], hold="progress")
    submitted = submit(http, local_fal)
    body = wait_status(http, submitted["status_url"], "IN_PROGRESS")
    wait_for = [e["message"] for e in body["logs"]]
    while wait_for != ["a", "b"]:
        wait_for = [
            e["message"]
            for e in http.get(submitted["status_url"], params={"logs": 1}).json()["logs"]
        ]
    assert http.get(submitted["status_url"]).status_code == 202
    local_fal.release()
    wait_completed(http, submitted["status_url"])


def test_result_before_completion_is_400(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.configure(hold="queue")
    submitted = submit(http, local_fal)
    response = http.get(submitted["response_url"])
    assert response.status_code == 400
    assert response.json() == {"detail": "Request is still in progress"}


def test_result_is_the_bare_output_with_the_request_id_header(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(http, local_fal, body={"prompt": "a red fox", "num_images": 2})
    wait_completed(http, submitted["status_url"])
    response = http.get(submitted["response_url"])
    assert response.status_code == 200
    assert response.headers["x-fal-request-id"] == submitted["request_id"]
    output = response.json()
    assert output["prompt"] == "a red fox"  # echoed input
    assert len(output["images"]) == 2  # num_images honoured
    schema = local_fal.state.catalog.get(FLUX)
    assert schema is not None
    assert schema.validator.details(schema.output_schema, output) == []


@pytest.mark.parametrize("suffix", ["/status", "/status/stream", "", "/response"])
def test_unknown_request_id_is_404_not_found(
    local_fal: LocalFal, http: httpx.Client, suffix: str
) -> None:
    response = http.get(f"{local_fal.queue_url}/fal-ai/flux/requests/{uuid.uuid4()}{suffix}")
    assert response.status_code == 404
    assert response.json() == {"status": "NOT_FOUND"}


def test_cancel_of_unknown_request_is_404(local_fal: LocalFal, http: httpx.Client) -> None:
    response = http.put(f"{local_fal.queue_url}/fal-ai/flux/requests/{uuid.uuid4()}/cancel")
    assert response.status_code == 404
    assert response.json() == {"status": "NOT_FOUND"}


def test_app_root_and_full_id_forms_with_and_without_response(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(http, local_fal)
    rid = submitted["request_id"]
    wait_completed(http, submitted["status_url"])
    expected = http.get(submitted["response_url"]).json()
    for root in ("fal-ai/flux", "fal-ai/flux/dev"):
        base = f"{local_fal.queue_url}/{root}/requests/{rid}"
        assert http.get(base + "/status").status_code == 200
        assert http.get(base).json() == expected
        assert http.get(base + "/response").json() == expected
    # Another app's root does not find the request.
    assert (
        http.get(f"{local_fal.queue_url}/fal-ai/flux-pro/requests/{rid}/status").status_code == 404
    )


def test_submit_path_resolves_the_longest_known_endpoint_id(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    # Both fal-ai/veo3/fast and fal-ai/veo3/fast/image-to-video are endpoints.
    assert {"fal-ai/veo3/fast", "fal-ai/veo3/fast/image-to-video"} <= set(local_fal.endpoint_ids)
    submit(
        http,
        local_fal,
        "fal-ai/veo3/fast/image-to-video",
        body={"prompt": "p", "image_url": "https://x/y.png"},
    )
    submit(http, local_fal, "fal-ai/flux/dev/some/extra/path")
    endpoints = [entry.endpoint_id for entry in local_fal.requests_for("submit")]
    assert endpoints == ["fal-ai/veo3/fast/image-to-video", FLUX]


@pytest.mark.parametrize("host", ["queue", "run"])
def test_unknown_endpoint_is_404(local_fal: LocalFal, http: httpx.Client, host: str) -> None:
    base = local_fal.queue_url if host == "queue" else local_fal.run_url
    response = http.post(f"{base}/fal-ai/no-such-model", json={})
    assert response.status_code == 404
    assert "fal-ai/no-such-model" in response.json()["detail"]


@pytest.mark.parametrize("header", [None, "", "Key", "Basic abc", "Token xyz"])
def test_missing_or_malformed_authorization_is_401(local_fal: LocalFal, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, url in (
        ("POST", f"{local_fal.queue_url}/{FLUX}"),
        ("GET", f"{local_fal.queue_url}/fal-ai/flux/requests/{uuid.uuid4()}/status"),
        ("POST", f"{local_fal.run_url}/{FLUX}"),
    ):
        response = httpx.request(method, url, json={"prompt": "x"}, headers=headers)
        assert response.status_code == 401, (method, url)
        assert "detail" in response.json()
    assert local_fal.requests_for("submit")[0].status_code == 401


def test_any_non_empty_key_is_accepted_by_default(local_fal: LocalFal) -> None:
    for header in ("Key whatever", "Key id:secret", "Bearer some.jwt.token"):
        response = httpx.post(
            f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers={"Authorization": header}
        )
        assert response.status_code == 200, header


def test_a_configured_key_is_the_only_one_accepted_and_never_echoed() -> None:
    secret = "only-this-key:s3cr3t-value"
    with LocalFal(key=secret) as fal:
        url = f"{fal.queue_url}/{FLUX}"
        wrong = httpx.post(
            url, json={"prompt": "x"}, headers={"Authorization": "Key only-this-key:wrong"}
        )
        assert wrong.status_code == 401
        assert wrong.json() == {"detail": "invalid key credentials"}
        assert "s3cr3t" not in wrong.text
        bearer = httpx.post(
            url, json={"prompt": "x"}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert bearer.status_code == 401
        assert (
            httpx.post(
                url, json={"prompt": "x"}, headers={"Authorization": f"Key {secret}"}
            ).status_code
            == 200
        )
        assert all("s3cr3t" not in repr(entry) + str(entry.headers) for entry in fal.requests)


def test_cancel_a_queued_request(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.configure(hold="queue")
    submitted = submit(http, local_fal)
    response = http.put(submitted["cancel_url"])
    assert response.status_code == 202
    assert response.json() == {"status": "CANCELLATION_REQUESTED"}
    done = wait_completed(http, submitted["status_url"])
    assert done["error_type"] == "client_cancelled"
    assert done["error"]
    result = http.get(submitted["response_url"])
    assert result.status_code == 499
    assert result.json()["error_type"] == "client_cancelled"
    again = http.put(submitted["cancel_url"])
    assert again.status_code == 400
    assert again.json() == {"status": "ALREADY_COMPLETED"}


def test_cancel_a_running_request(local_fal: LocalFal, http: httpx.Client) -> None:
    local_fal.configure(hold="progress")
    submitted = submit(http, local_fal)
    wait_status(http, submitted["status_url"], "IN_PROGRESS")
    assert http.put(submitted["cancel_url"]).status_code == 202
    assert wait_completed(http, submitted["status_url"])["error_type"] == "client_cancelled"


def test_a_running_request_may_complete_despite_a_cancel(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(hold="progress", honour_cancel=False)
    submitted = submit(http, local_fal)
    wait_status(http, submitted["status_url"], "IN_PROGRESS")
    assert http.put(submitted["cancel_url"]).status_code == 202
    local_fal.release()
    assert wait_completed(http, submitted["status_url"])["error"] is None
    assert http.get(submitted["response_url"]).status_code == 200


def test_cancel_after_completion_is_400_already_completed(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(http, local_fal)
    wait_completed(http, submitted["status_url"])
    response = http.put(submitted["cancel_url"])
    assert response.status_code == 400
    assert response.json() == {"status": "ALREADY_COMPLETED"}


def test_configured_failure_is_completed_with_error_and_the_result_returns_it(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(
        FLUX, failure=Failure(503, "No runner available", error_type="runner_scheduling_failure")
    )
    submitted = submit(http, local_fal)
    done = wait_completed(http, submitted["status_url"])
    assert done["status"] == "COMPLETED"  # fal has no FAILED status
    assert done["error"] == "No runner available"
    assert done["error_type"] == "runner_scheduling_failure"
    result = http.get(submitted["response_url"])
    assert result.status_code == 503
    assert result.json() == {
        "detail": "No runner available",
        "error_type": "runner_scheduling_failure",
    }
    assert result.headers["x-fal-error-type"] == "runner_scheduling_failure"
    assert result.headers["x-fal-request-id"] == submitted["request_id"]
    # Other endpoints are unaffected.
    other = submit(http, local_fal, "fal-ai/flux/schnell")
    assert wait_completed(http, other["status_url"])["error"] is None


def test_invalid_input_is_accepted_and_fails_with_422_at_the_result(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(
        http, local_fal, body={"prompt": 42, "num_images": 9, "output_format": "gif"}
    )
    done = wait_completed(http, submitted["status_url"])
    assert done["error"]
    assert done["error_type"]
    result = http.get(submitted["response_url"])
    assert result.status_code == 422
    detail = result.json()["detail"]
    by_field = {tuple(entry["loc"]): entry for entry in detail}
    assert by_field[("body", "prompt")]["type"] == "string_type"
    assert by_field[("body", "num_images")]["type"] == "less_than_equal"
    assert by_field[("body", "num_images")]["ctx"] == {"le": 4}
    assert by_field[("body", "output_format")]["type"] == "enum"
    for entry in detail:
        assert {"loc", "msg", "type"} <= set(entry)


def test_missing_required_field_is_reported_with_its_path(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    submitted = submit(http, local_fal, body={"seed": 1})
    wait_completed(http, submitted["status_url"])
    detail = http.get(submitted["response_url"]).json()["detail"]
    assert detail == [
        {
            "loc": ["body", "prompt"],
            "msg": "Field required",
            "type": "missing",
            "input": {"seed": 1},
        }
    ]


def test_malformed_json_fails_with_json_invalid(local_fal: LocalFal, http: httpx.Client) -> None:
    response = http.post(
        f"{local_fal.queue_url}/{FLUX}",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    submitted = response.json()
    wait_completed(http, submitted["status_url"])
    result = http.get(submitted["response_url"])
    assert result.status_code == 422
    assert result.json()["detail"][0]["type"] == "json_invalid"


def test_start_timeout_expiring_in_the_queue_is_a_user_timeout(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(hold="queue")
    submitted = submit(http, local_fal, headers={"X-Fal-Request-Timeout": "0.05"})
    done = wait_completed(http, submitted["status_url"])
    assert done["error_type"] == "request_timeout"
    result = http.get(submitted["response_url"])
    assert result.status_code == 504
    assert result.headers["x-fal-request-timeout-type"] == "user"


@pytest.mark.parametrize(
    ("headers", "params", "needle"),
    [
        ({"X-Fal-Request-Timeout": "soon"}, {}, "X-Fal-Request-Timeout"),
        ({"X-Fal-Request-Timeout": "-1"}, {}, "X-Fal-Request-Timeout"),
        ({"X-Fal-Queue-Priority": "high"}, {}, "X-Fal-Queue-Priority"),
        ({}, {"fal_webhook": "ftp://example.com/hook"}, "fal_webhook"),
        ({}, {"fal_webhook": "http://[oops/hook"}, "fal_webhook"),  # urlsplit: ValueError
        ({}, {"fal_max_queue_length": "-3"}, "fal_max_queue_length"),
        ({}, {"fal_max_queue_length": "\u00b2"}, "fal_max_queue_length"),  # isdigit(), not int()
        ({}, {"fal_max_queue_length": "9" * 5000}, "fal_max_queue_length"),  # past int()'s limit
    ],
)
def test_bad_submit_options_are_400_naming_the_option(
    local_fal: LocalFal,
    http: httpx.Client,
    headers: dict[str, str],
    params: dict[str, str],
    needle: str,
) -> None:
    response = http.post(
        f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers=headers, params=params
    )
    assert response.status_code == 400
    assert needle in response.json()["detail"]
    assert local_fal.request_status("anything") is None


def test_priority_and_webhook_are_accepted(local_fal: LocalFal, http: httpx.Client) -> None:
    params = {"fal_webhook": "http://127.0.0.1:9/hook?a=1&b=2"}
    submitted = submit(http, local_fal, headers={"X-Fal-Queue-Priority": "low"}, params=params)
    entry = local_fal.requests_for("submit")[0]
    assert entry.query["fal_webhook"] == "http://127.0.0.1:9/hook?a=1&b=2"
    assert entry.headers["x-fal-queue-priority"] == "low"
    assert local_fal.request_status(submitted["request_id"]) is not None


def test_fal_max_queue_length_refuses_when_too_many_wait(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.configure(hold="queue")
    for _ in range(2):
        submit(http, local_fal)
    response = http.post(
        f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}, params={"fal_max_queue_length": "2"}
    )
    assert response.status_code == 429
    assert submit(http, local_fal, params={"fal_max_queue_length": "3"})["request_id"]


def test_namespaced_handler_endpoint_uses_its_three_segment_root(
    local_fal: LocalFal, http: httpx.Client
) -> None:
    local_fal.handler("workflows/acme/upscale", lambda body: {"echo": body})
    submitted = submit(http, local_fal, "workflows/acme/upscale/v2", body={"x": 1})
    assert submitted["status_url"].startswith(
        f"{local_fal.queue_url}/workflows/acme/upscale/requests/"
    )
    wait_completed(http, submitted["status_url"])
    assert http.get(submitted["response_url"]).json() == {"echo": {"x": 1}}


def test_requests_are_independent_of_the_auth_header_used(local_fal: LocalFal) -> None:
    first = httpx.post(f"{local_fal.queue_url}/{FLUX}", json={"prompt": "x"}, headers=AUTH).json()
    other = {"Authorization": "Key someone-else"}
    assert httpx.get(first["status_url"], headers=other).status_code in (200, 202)
