"""Faults injected by the local server over real sockets: 429, ingress 502/503/504, connection
resets, status streams dropped mid-wait or refused. Calls still return the right result, and a
submit is never sent twice once fal may have accepted it."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest
from fal_endpoints import flux_dev

from fal_typed import (
    AuthenticationError,
    Client,
    Completed,
    FalConnectionError,
    InProgress,
    PossiblyAcceptedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Status,
)
from fal_typed._errors import error_for_response
from fal_typed.testing import Fault, LocalFal

from .conftest import accepted_submits

ID = "fal-ai/flux/dev"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.rate_limited(retry_after=0.05),
        Fault.ingress(502),
        Fault.ingress(503),
        Fault.ingress(504),
    ],
    ids=["429", "ingress-502", "ingress-503", "ingress-504"],
)
@pytest.mark.parametrize("on", ["submit", "status_stream", "result"])
def test_retryable_faults_still_return_the_result_with_one_submit(
    local_fal: LocalFal, client: Client, fault: Fault, on: str
) -> None:
    if on == "submit" and fault.status_code in (502, 504):
        pytest.skip("a gateway 502/504 to a submit is ambiguous: see the next test")
    if on == "status_stream":  # still running when the stream comes back, so both faults hit
        local_fal.configure(ID, processing_time=0.5)
    rule = local_fal.inject(fault, on=on, times=2)
    out = flux_dev.subscribe(prompt="a cat", client=client)
    assert out.images
    assert rule.hits == 2
    assert len(accepted_submits(local_fal)) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_502_or_504_to_a_submit_is_not_resent(
    local_fal: LocalFal, client: Client, status: int
) -> None:
    """It can come after the queue accepted the job: resending could queue (and bill) it twice."""
    rule = local_fal.inject(Fault.ingress(status), on="submit", times=2)
    with pytest.raises(PossiblyAcceptedError) as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    assert rule.hits == 1
    assert info.value.status_code == status
    assert info.value.endpoint_id == ID
    assert info.value.payload_sha256 is not None


def test_retry_after_is_honoured(
    local_fal: LocalFal, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    real_sleep = __import__("time").sleep

    def record(seconds: float) -> None:
        slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr("fal_typed._client.time.sleep", record)
    local_fal.inject(Fault.rate_limited(retry_after=0.25), on="submit")
    flux_dev.subscribe(prompt="a cat", client=client)
    assert slept == [0.25]


def test_a_reset_status_or_result_request_is_retried(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=0.05)
    resets = [local_fal.inject(Fault.reset(), on=op) for op in ("status_stream", "result")]
    out = flux_dev.subscribe(prompt="a cat", client=client)
    assert out.images
    assert [r.hits for r in resets] == [1, 1]
    assert len(accepted_submits(local_fal)) == 1


@pytest.mark.parametrize(
    "after_handler", [False, True], ids=["reset-before-handling", "reset-after-accepting"]
)
def test_a_submit_reset_after_sending_is_reported_not_resent(
    local_fal: LocalFal, client: Client, after_handler: bool
) -> None:
    local_fal.inject(Fault.reset(after_handler=after_handler), on="submit")
    with pytest.raises(PossiblyAcceptedError, match="may have accepted it"):
        flux_dev.subscribe(prompt="a cat", client=client)
    assert len(local_fal.requests_for("submit")) == 1  # sent exactly once
    assert len(accepted_submits(local_fal)) == 0  # the accepted one (if any) lost its response


def test_a_refused_submit_is_retried_until_the_policy_gives_up() -> None:
    # Nothing listens there: every attempt is refused before anything is sent, so retrying is safe.
    dead = Client(
        key="k-123456",
        queue_url="http://127.0.0.1:9/queue",
        retry=RetryPolicy(max_attempts=3, base_delay=0),
    )
    with pytest.raises(FalConnectionError, match="after 3 attempts"):
        flux_dev.submit(prompt="a cat", client=dead)


def _unreachable_host() -> str:
    """``127.0.0.1:<port>`` where nothing listens: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def _failing_over_client(local_fal: LocalFal, *, backup: bool = True) -> Client:
    dead, live = _unreachable_host(), httpx.URL(local_fal.base_url).netloc.decode()
    return local_fal.client(
        queue_url=f"http://{dead}/queue",
        run_url=f"http://{dead}/run",
        backup_hosts={dead: live} if backup else {},
        retry=RetryPolicy(max_attempts=1),  # the backup's try is not a retry
        poll_interval=0.02,
    )


def test_a_host_that_refuses_connections_fails_over_to_its_backup(
    local_fal: LocalFal, caplog: pytest.LogCaptureFixture
) -> None:
    with _failing_over_client(local_fal) as client, caplog.at_level(logging.WARNING, "fal_typed"):
        queued = flux_dev.subscribe(prompt="a cat", client=client)
        direct = flux_dev.run(prompt="a dog", client=client)
    assert queued.prompt == "a cat" and direct.prompt == "a dog"
    assert len(accepted_submits(local_fal)) == 1  # the refused submit never reached fal
    assert "trying its backup" in caplog.text


async def test_a_host_that_refuses_connections_fails_over_to_its_backup_async(
    local_fal: LocalFal,
) -> None:
    async with _failing_over_client(local_fal) as client:
        queued = await flux_dev.subscribe_async(prompt="a cat", client=client)
    assert queued.prompt == "a cat" and len(accepted_submits(local_fal)) == 1


def test_without_a_backup_a_refused_connection_is_an_error(local_fal: LocalFal) -> None:
    client = _failing_over_client(local_fal, backup=False)
    with client, pytest.raises(FalConnectionError, match="ConnectError"):
        flux_dev.submit(prompt="a cat", client=client)
    assert local_fal.requests_for("submit") == []


def test_a_status_stream_dropped_mid_wait_is_resumed(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(
        ID, queue_position=1, queue_step=0.05, processing_time=0.8, logs=["a", "b", "c", "d"]
    )
    drop = local_fal.inject(Fault.drop(after_chunks=2), on="status_stream", times=2)
    updates: list[Status] = []
    out = flux_dev.subscribe(
        prompt="a cat", with_logs=True, on_queue_update=updates.append, client=client
    )
    assert out.images
    streams = local_fal.requests_for("status_stream")
    # Each drop is followed by a poll and a new stream (unless that poll already saw COMPLETED).
    assert drop.hits >= 1 and len(streams) >= 2 and len(streams) >= drop.hits
    lines = [
        log.message
        for u in updates
        if isinstance(u, (InProgress, Completed))
        for log in u.logs or []
    ]
    assert lines == ["a", "b", "c", "d"]  # nothing lost, nothing repeated
    assert isinstance(updates[-1], Completed)
    assert len(accepted_submits(local_fal)) == 1


def test_a_refused_status_stream_falls_back_to_polling(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=0.1, logs=["x", "y"])
    local_fal.inject(Fault.response(404, {"detail": "Not Found"}), on="status_stream", times=None)
    updates: list[Status] = []
    out = flux_dev.subscribe(
        prompt="a cat", with_logs=True, on_queue_update=updates.append, client=client
    )
    assert out.images
    assert len(local_fal.requests_for("status_stream")) == 1  # tried once, then polled
    assert local_fal.requests_for("status")
    lines = [
        log.message
        for u in updates
        if isinstance(u, (InProgress, Completed))
        for log in u.logs or []
    ]
    assert lines == ["x", "y"]
    assert len(local_fal.requests_for("result")) == 1


def test_a_stream_that_keeps_breaking_settles_for_polling(
    local_fal: LocalFal, client: Client
) -> None:
    local_fal.configure(ID, processing_time=1.0)  # outlasts the reconnect backoff
    local_fal.inject(Fault.drop(after_chunks=0), on="status_stream", times=None)
    assert flux_dev.subscribe(prompt="a cat", client=client).images
    from fal_typed._wait import MAX_STREAM_DROPS

    assert len(local_fal.requests_for("status_stream")) == MAX_STREAM_DROPS


def test_user_timeout_504_is_final(local_fal: LocalFal, client: Client) -> None:
    local_fal.inject(Fault.user_timeout(), on="submit")
    with pytest.raises(ServerError) as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    assert info.value.status_code == 504 and info.value.error_type == "request_timeout"
    assert len(local_fal.requests_for("submit")) == 1


def test_fal_5xx_naming_a_request_id_to_a_submit_is_a_server_error_with_that_id(
    local_fal: LocalFal, client: Client
) -> None:
    """fal stamps its request id on nearly every 5xx, most of which queued nothing: it was a
    PossiblyAcceptedError (a FalConnectionError: ``except ServerError`` missed it, fal's
    error_type was lost). A ServerError with fal's type and the id, saying once to follow it by
    that id before sending again; sent once."""
    local_fal.inject(Fault.server_error(503), on="submit")
    with pytest.raises(ServerError) as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    error = info.value
    (entry,) = local_fal.requests_for("submit")  # sent once
    assert entry.status_code == 503
    assert not isinstance(error, PossiblyAcceptedError)
    assert error.status_code == 503 and error.request_id is not None
    assert error.error_type == "runner_scheduling_failure"
    assert "Runner scheduling failure" in error.message
    assert error.message.count(error.request_id) == 1
    assert error.message.count("may have been queued") == 1


def test_the_request_id_an_answer_names_is_checked_once_for_every_reader() -> None:
    """One rule reads an answer's request id (header, then the body's top, then its ``error``
    object), checked: a 4xx's malformed body id was kept unchecked on the error."""
    assert error_for_response(400, {"detail": "bad", "request_id": "../x"}, {}).request_id is None
    assert error_for_response(500, {"request_id": "r-1"}, {}).request_id == "r-1"
    both = error_for_response(500, {"request_id": "r-2"}, {"X-Fal-Request-Id": "r-1"})
    assert both.request_id == "r-1"
    nested = {"error": {"message": "m", "request_id": "r-3"}}
    assert error_for_response(503, nested, {"x-fal-request-id": "bad id"}).request_id == "r-3"


def test_fal_5xx_to_a_direct_run_is_final(local_fal: LocalFal, client: Client) -> None:
    """A direct run has no queue to find it in: its 5xx is its end, a ServerError with the id."""
    local_fal.inject(Fault.server_error(503), on="run")
    with pytest.raises(ServerError) as info:
        flux_dev.run(prompt="a cat", client=client)
    assert info.value.error_type == "runner_scheduling_failure"
    assert info.value.request_id is not None
    assert len(local_fal.requests_for("run")) == 1


def test_rate_limit_that_never_ends_raises_after_the_policy(local_fal: LocalFal) -> None:
    local_fal.inject(Fault.rate_limited(retry_after=0), on="submit", times=None)
    with (
        local_fal.client(retry=RetryPolicy(max_attempts=3, base_delay=0.01)) as client,
        pytest.raises(RateLimitError) as info,
    ):
        flux_dev.submit(prompt="a cat", client=client)
    assert info.value.error_type == "concurrent_requests_limit"
    assert len(local_fal.requests_for("submit")) == 3
    assert accepted_submits(local_fal) == []


def test_auth_failure_on_the_status_stream_is_raised(local_fal: LocalFal, client: Client) -> None:
    local_fal.inject(Fault.response(401, {"detail": "invalid key credentials"}), on="status_stream")
    with pytest.raises(AuthenticationError) as info:
        flux_dev.subscribe(prompt="a cat", client=client)
    assert info.value.request_id == accepted_submits(local_fal)[0].request_id


def test_the_key_never_leaks_over_real_sockets(
    local_fal: LocalFal, caplog: pytest.LogCaptureFixture
) -> None:
    key = "leak-test-id:leak-test-secret-0a1b2c3d"
    with local_fal.client(key=key, retry=RetryPolicy(max_attempts=3, base_delay=0.01)) as client:
        caplog.set_level(logging.DEBUG)
        local_fal.inject(Fault.rate_limited(retry_after=0), on="submit")
        local_fal.inject(
            Fault.response(401, {"detail": f"invalid key credentials: {key}"}),
            on="result",
        )
        with pytest.raises(AuthenticationError) as info:
            flux_dev.subscribe(prompt="a cat", client=client)
        error = info.value
        secret = key.split(":")[1]
        for text in (str(error), repr(error), repr(error.body), repr(error.headers), repr(client)):
            assert secret not in text
        assert all(secret not in record.getMessage() for record in caplog.records)
        assert any("retrying POST" in record.getMessage() for record in caplog.records)
