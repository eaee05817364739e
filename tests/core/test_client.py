"""Client.request / arequest over mock transports: retries, the no-duplicate-submit rule, errors,
deadlines and the lifecycle of the httpx clients. (The same paths run over real sockets in
test_queue_*.py against the local fal server.)"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import respx

from fal_typed import (
    Client,
    FalConnectionError,
    FalTimeoutError,
    FalValidationError,
    InvalidArgumentError,
    NotFoundError,
    PossiblyAcceptedError,
    RateLimitError,
    RequestCancelledError,
    RetryPolicy,
    ServerError,
)
from fal_typed._deadline import Deadline

URL = "https://queue.fal.run/fal-ai/flux/dev"
NGINX = "<html><body><center>502 Bad Gateway</center><hr><center>nginx</center></body></html>"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry sleeps instead of sleeping (sync and async).

    The patch is process-wide (``time.sleep``/``asyncio.sleep``), so only this thread's sleeps
    are recorded: other threads (a local server in the same worker) keep sleeping for real.
    """
    recorded: list[float] = []
    owner = threading.get_ident()
    real_sleep, real_async_sleep = time.sleep, asyncio.sleep

    def fake_sleep(seconds: float) -> None:
        if threading.get_ident() == owner:
            recorded.append(seconds)
        else:
            real_sleep(seconds)

    async def fake_async_sleep(seconds: float) -> None:
        if threading.get_ident() == owner:
            recorded.append(seconds)
        else:
            await real_async_sleep(seconds)

    monkeypatch.setattr("fal_typed._client.time.sleep", fake_sleep)
    monkeypatch.setattr("asyncio.sleep", fake_async_sleep)  # what _client imports at the call
    return recorded


@pytest.fixture
def client() -> Iterator[Client]:
    """A client of fal's hosts without the failover to their backups: the retry rules alone
    (the failover has tests of its own)."""
    with Client(key="test-key-id:test-key-secret", backup_hosts={}) as c:
        yield c


def test_429_then_ingress_5xx_then_success_is_retried_honouring_retry_after(
    client: Client, sleeps: list[float]
) -> None:
    with respx.mock() as mock:
        route = mock.get(URL).mock(
            side_effect=[
                httpx.Response(429, json={"detail": "busy"}, headers={"Retry-After": "1.5"}),
                httpx.Response(502, text=NGINX),
                httpx.Response(503, text=NGINX),
                httpx.Response(504, text=NGINX),
                httpx.Response(200, json={"request_id": "r"}),
            ]
        )
        response = client.request("GET", URL)
    assert response.json() == {"request_id": "r"}
    assert route.call_count == 5
    assert sleeps[0] == 1.5  # Retry-After honoured
    assert len(sleeps) == 4


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (502, NGINX, {"x-fal-request-id": "r1"}, ServerError),
        (503, {"detail": "No runner", "error_type": "runner_scheduling_failure"}, {}, ServerError),
        (
            504,
            {"detail": "Request timed out", "error_type": "request_timeout"},
            {"X-Fal-Request-Timeout-Type": "user"},
            ServerError,
        ),
        (500, {"detail": "boom"}, {}, ServerError),
        (404, {"status": "NOT_FOUND"}, {}, NotFoundError),
        (499, {"detail": "cancelled", "error_type": "client_cancelled"}, {}, RequestCancelledError),
    ],
)
def test_final_errors_are_not_retried(
    client: Client,
    sleeps: list[float],
    status: int,
    body: object,
    headers: dict[str, str],
    error: type[Exception],
) -> None:
    with respx.mock() as mock:
        kwargs = {"json": body} if isinstance(body, dict) else {"text": body}
        route = mock.post(URL).respond(status, headers=headers, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(error) as info:
            client.request("POST", URL, json={})
    assert route.call_count == 1
    assert sleeps == []
    assert info.value.status_code == status  # type: ignore[attr-defined]


def test_429_after_retries_are_used_up_is_a_rate_limit_error(sleeps: list[float]) -> None:
    client = Client(key="k-123456", retry=RetryPolicy(max_attempts=3))
    with respx.mock() as mock:
        route = mock.get(URL).respond(
            429, json={"detail": "limit", "error_type": "concurrent_requests_limit"}
        )
        with pytest.raises(RateLimitError) as info:
            client.request("GET", URL)
    assert route.call_count == 3
    assert info.value.error_type == "concurrent_requests_limit"


def test_validation_error_carries_field_paths(client: Client) -> None:
    detail = [
        {"loc": ["body", "prompt"], "msg": "field required", "type": "missing"},
        {"loc": ["body", "image_size", "width"], "msg": "too big", "type": "less_than_equal"},
    ]
    with respx.mock() as mock:
        mock.post(URL).respond(422, json={"detail": detail}, headers={"x-fal-request-id": "req-9"})
        with pytest.raises(FalValidationError) as info:
            client.request("POST", URL, json={})
    assert info.value.fields == ["prompt", "image_size.width"]
    assert info.value.request_id == "req-9"
    assert "prompt: field required" in str(info.value)


@pytest.mark.parametrize(
    "exc", [httpx.ReadError("reset"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("gone")]
)
def test_a_post_that_fails_after_sending_is_not_resent(
    client: Client, sleeps: list[float], exc: httpx.TransportError
) -> None:
    with respx.mock() as mock:
        route = mock.post(URL).mock(side_effect=exc)
        with pytest.raises(PossiblyAcceptedError, match="may have accepted it"):
            client.request("POST", URL, json={})
    assert route.call_count == 1


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), httpx.WriteError("pipe")]
)
def test_a_post_that_never_reached_fal_is_resent(
    client: Client, sleeps: list[float], exc: httpx.TransportError
) -> None:
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[exc, exc, httpx.Response(200, json={"request_id": "r"})]
        )
        assert client.request("POST", URL, json={}).status_code == 200
    assert route.call_count == 3


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("t")])
async def test_a_host_that_cannot_be_reached_is_tried_once_on_its_backup(
    sleeps: list[float], exc: httpx.TransportError
) -> None:
    client = Client(key="k-123456", retry=RetryPolicy(max_attempts=2))
    backup = "https://queue.falrun.com/fal-ai/flux/dev"
    with respx.mock() as mock:
        primary = mock.post(URL).mock(side_effect=exc)
        fallback = mock.post(backup).mock(return_value=httpx.Response(200, json={"ok": 1}))
        assert client.request("POST", URL, json={}).json() == {"ok": 1}
        assert (await client.arequest("POST", URL, json={})).json() == {"ok": 1}
        assert (primary.call_count, fallback.call_count, sleeps) == (2, 2, [])  # at once

        fallback.mock(side_effect=exc)  # both down: the backup's try was extra, then retries
        with pytest.raises(FalConnectionError, match="after 2 attempts"):
            client.request("POST", URL, json={})
        assert (primary.call_count, fallback.call_count) == (4, 3)
        timeout = primary.calls[0].request.extensions["timeout"]
        assert timeout["connect"] == 5.0 and timeout["read"] == 120.0  # fails over sooner


def test_a_failed_read_is_not_a_reason_to_fail_over(sleeps: list[float]) -> None:
    failing_over = Client(key="k-123456", retry=RetryPolicy.disabled())
    with respx.mock(assert_all_called=False) as mock:
        mock.post(URL).mock(side_effect=httpx.ReadError("reset"))
        backup = mock.post("https://queue.falrun.com/fal-ai/flux/dev")
        with pytest.raises(PossiblyAcceptedError):
            failing_over.request("POST", URL, json={})
        assert backup.call_count == 0  # fal may have the request: never sent elsewhere


def test_idempotent_requests_are_resent_after_a_reset(client: Client, sleeps: list[float]) -> None:
    with respx.mock() as mock:
        route = mock.get(URL).mock(
            side_effect=[httpx.ReadError("reset"), httpx.Response(200, json={})]
        )
        client.request("GET", URL)
        put = mock.put(URL).mock(
            side_effect=[httpx.RemoteProtocolError("x"), httpx.Response(202, json={})]
        )
        client.request("PUT", URL)
    assert route.call_count == 2 and put.call_count == 2


def test_caller_can_mark_a_post_idempotent(client: Client, sleeps: list[float]) -> None:
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[httpx.ReadError("reset"), httpx.Response(200, json={})]
        )
        client.request("POST", URL, content=b"bytes", idempotent=True)
    assert route.call_count == 2


def test_streamed_content_is_never_resent(client: Client, sleeps: list[float]) -> None:
    def body() -> Iterator[bytes]:
        yield b"chunk"

    with respx.mock() as mock:
        route = mock.put(URL).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(FalConnectionError):
            client.request("PUT", URL, content=body())
    assert route.call_count == 1


def test_retries_exhausted_raise_a_connection_error_naming_the_attempts(
    sleeps: list[float],
) -> None:
    client = Client(key="k-123456", retry=RetryPolicy(max_attempts=4), backup_hosts={})
    with respx.mock() as mock:
        route = mock.get(URL).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(FalConnectionError, match="after 4 attempts"):
            client.request("GET", URL)
    assert route.call_count == 4
    assert len(sleeps) == 3


def test_disabled_policy_sends_once(sleeps: list[float]) -> None:
    client = Client(key="k-123456", retry=RetryPolicy.disabled(), backup_hosts={})
    with respx.mock() as mock:
        route = mock.get(URL).respond(429)
        with pytest.raises(RateLimitError):
            client.request("GET", URL)
    assert route.call_count == 1


def test_deadline_stops_retrying() -> None:
    client = Client(key="k-123456", retry=RetryPolicy(max_attempts=10, base_delay=5, jitter=0))
    with respx.mock() as mock:
        route = mock.get(URL).respond(429)
        with pytest.raises(FalTimeoutError) as info:
            client.request("GET", URL, deadline=Deadline(0.5))
    assert route.call_count == 1  # the 5 s backoff would overrun the 0.5 s budget
    assert info.value.timeout == 0.5


async def test_async_request_retries_the_same_way(client: Client, sleeps: list[float]) -> None:
    with respx.mock() as mock:
        route = mock.post(URL).mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "0.5"}),
                httpx.ConnectError("refused"),
                httpx.Response(200, json={"ok": True}),
            ]
        )
        response = await client.arequest("POST", URL, json={})
        assert response.json() == {"ok": True}
        assert route.call_count == 3
        failing = mock.post(URL + "/x").mock(side_effect=httpx.ReadError("reset"))
        with pytest.raises(PossiblyAcceptedError):
            await client.arequest("POST", URL + "/x", json={})
        assert failing.call_count == 1
    assert sleeps[0] == 0.5


def test_user_supplied_clients_are_used_and_never_closed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    ahttp = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = Client(key="k-123456", http_client=http, async_http_client=ahttp)
    assert client.http is http
    client.request("GET", URL)

    async def go() -> None:
        assert client.async_http is ahttp
        await client.arequest("GET", URL)
        await client.aclose()

    asyncio.run(go())
    client.close()
    assert not http.is_closed and not ahttp.is_closed
    assert seen == ["Key k-123456", "Key k-123456"]
    http.close()
    asyncio.run(ahttp.aclose())


def test_own_clients_are_lazy_and_closed() -> None:
    client = Client(key="k-123456")
    assert client._http is None  # pyright: ignore[reportPrivateUsage]
    http = client.http
    assert client.http is http
    client.close()
    assert http.is_closed
    assert client.http is not http and not client.http.is_closed  # recreated on next use
    client.close()


def test_async_client_is_per_event_loop_and_survives_asyncio_run() -> None:
    client = Client(key="k-123456")
    seen: list[httpx.AsyncClient] = []

    async def grab() -> None:
        first = client.async_http
        assert client.async_http is first  # one per loop
        seen.append(first)

    asyncio.run(grab())
    asyncio.run(grab())
    assert seen[0] is not seen[1]

    async def close() -> None:
        current = client.async_http
        await client.aclose()
        assert current.is_closed

    asyncio.run(close())


def test_async_http_outside_a_loop_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="running event loop"):
        _ = Client(key="k-123456").async_http


@pytest.mark.parametrize(
    "kwargs",
    [
        {"queue_url": "queue.fal.run"},
        {"run_url": "ftp://fal.run"},
        {"realtime_url": "https://fal.run"},
        {"rest_url": "https://rest.fal.ai?x=1"},
        {"timeout": -1},
        {"poll_interval": 0},
        {"backup_hosts": ["fal.run"]},
        {"backup_hosts": {"fal.run": ""}},
        {"backup_hosts": {"fal.run": "falrun.com:port"}},  # put in a URL only at a failover
    ],
)
def test_bad_configuration_is_rejected_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        Client(key="k-123456", **kwargs)  # type: ignore[arg-type]


def test_base_urls_are_normalised() -> None:
    client = Client(
        key="k-123456",
        queue_url="http://127.0.0.1:8000/queue/",
        realtime_url="ws://127.0.0.1:8000/run",
    )
    assert client.queue_url == "http://127.0.0.1:8000/queue"
    assert client.realtime_url == "ws://127.0.0.1:8000/run"


def test_client_side_errors_carry_an_error_type(sleeps: list[float]) -> None:
    client = Client(key="k-123456", retry=RetryPolicy.disabled(), backup_hosts={})
    with respx.mock() as mock:
        mock.get(URL).mock(side_effect=httpx.ConnectError("refused"))
        mock.post(URL).mock(side_effect=httpx.ReadError("reset"))
        with pytest.raises(FalConnectionError) as refused:
            client.request("GET", URL)
        with pytest.raises(PossiblyAcceptedError) as reset:
            client.request("POST", URL, json={})
    assert refused.value.error_type == "connection_error"
    assert reset.value.error_type == "possibly_accepted"
    with pytest.raises(InvalidArgumentError) as bad:
        Client(key="")
    assert bad.value.error_type == "invalid_argument"
