"""The local server's delivery side on its own: signing, JWKS, retries, twice, late, corrupted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette

from fal_typed import OutputModel
from fal_typed import webhooks as wh
from fal_typed.testing._webhooks import (
    DeliveryAttempt,
    WebhookDispatcher,
    WebhookSettings,
    delivery_body,
)

from .helpers import Receiver, serve


class TextOutput(OutputModel):
    text: str


@pytest.fixture
async def dispatcher() -> AsyncIterator[WebhookDispatcher]:
    dispatcher = WebhookDispatcher(WebhookSettings(backoff=0.01, max_backoff=0.02))
    yield dispatcher
    await dispatcher.aclose()


@pytest.fixture
def jwks_url(dispatcher: WebhookDispatcher) -> Iterator[str]:
    with serve(Starlette(routes=dispatcher.routes())) as base:
        yield f"{base}/.well-known/jwks.json"


@pytest.fixture
def receiver(jwks_url: str) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(TextOutput, wh.WebhookVerifier(jwks_url, refresh_cooldown=0))
    with serve(receiver.app) as base:
        yield receiver, f"{base}/hook"


async def _deliver(
    dispatcher: WebhookDispatcher,
    url: str,
    request_id: str,
    status_code: int = 200,
    payload: object = None,
) -> list[DeliveryAttempt]:
    dispatcher.schedule(
        url,
        request_id=request_id,
        gateway_request_id=None,
        status_code=status_code,
        payload=payload if payload is not None else {"text": "done"},
    )
    return await asyncio.to_thread(dispatcher.wait_for, request_id, timeout=10)


def test_delivery_body_matches_fal() -> None:
    assert delivery_body(
        request_id="r", gateway_request_id=None, status_code=200, payload={"a": 1}
    ) == {
        "request_id": "r",
        "gateway_request_id": "r",
        "status": "OK",
        "payload": {"a": 1},
    }
    assert delivery_body(
        request_id="r", gateway_request_id="g", status_code=422, payload={"detail": []}
    ) == {
        "request_id": "r",
        "gateway_request_id": "g",
        "status": "ERROR",
        "error": "Invalid status code: 422",
        "payload": {"detail": []},
    }
    odd = delivery_body(
        request_id="r", gateway_request_id=None, status_code=200, payload={"x": float("nan")}
    )
    assert odd["payload"] is None and "not JSON serializable" in odd["payload_error"]


async def test_signed_delivery_verifies_against_the_served_jwks(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    [attempt] = await _deliver(dispatcher, url, "r-1")
    assert attempt.ok and attempt.status_code == 200
    [result] = app.handled
    assert result.payload == TextOutput(text="done") and result.user_id == "local-fal-user"
    assert abs(result.timestamp - time.time()) < 60


async def test_non_2xx_is_retried_with_backoff_until_acknowledged(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    app.fail_next = 3
    attempts = await _deliver(dispatcher, url, "r-2")
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert len(app.handled) == 1


async def test_retries_are_bounded(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    dispatcher.configure(retries=2)
    app.fail_next = 10
    attempts = await _deliver(dispatcher, url, "r-3")
    assert [a.status_code for a in attempts] == [500, 500, 500]


async def test_a_redirect_fails_the_delivery_without_retries(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    app.answer_next = 307
    attempts = await _deliver(dispatcher, url, "r-redirect")
    assert [a.status_code for a in attempts] == [307]
    assert app.handled == []


async def test_unreachable_receiver_is_retried_then_given_up(dispatcher: WebhookDispatcher) -> None:
    dispatcher.configure(retries=1)
    attempts = await _deliver(dispatcher, "http://127.0.0.1:9/hook", "r-4")
    assert [a.status_code for a in attempts] == [None, None]
    assert all(a.error and "ConnectError" in a.error for a in attempts)
    bad = await _deliver(dispatcher, "not a url", "r-5")
    assert bad[-1].status_code is None and bad[-1].error


async def test_deliver_twice_is_deduplicated_by_the_receiver(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    dispatcher.configure(deliver_twice=True)
    attempts = await _deliver(dispatcher, url, "r-6")
    assert [a.status_code for a in attempts] == [200, 200]
    assert len(app.handled) == 1


@pytest.mark.parametrize(
    ("offset", "error"), [(-600, wh.StaleTimestampError), (600, wh.FutureTimestampError)]
)
async def test_late_and_early_deliveries_are_rejected(
    dispatcher: WebhookDispatcher,
    receiver: tuple[Receiver, str],
    offset: float,
    error: type[Exception],
) -> None:
    app, url = receiver
    dispatcher.configure(retries=0, timestamp_offset=offset)
    [attempt] = await _deliver(dispatcher, url, "r-7")
    assert attempt.status_code == 401 and app.handled == []
    with pytest.raises(error):
        wh.verify(attempt.body, attempt.headers, jwks=dispatcher.jwks())


async def test_corrupted_signature_is_rejected(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    dispatcher.configure(retries=0, corrupt_signature=True)
    [attempt] = await _deliver(dispatcher, url, "r-8")
    assert attempt.status_code == 401 and app.handled == []
    body, headers = attempt.body, attempt.headers
    with pytest.raises(wh.InvalidSignatureError):
        wh.verify(body, headers, jwks=dispatcher.jwks())


async def test_key_rotation_is_picked_up_by_a_caching_verifier(
    dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    await _deliver(dispatcher, url, "r-9")
    dispatcher.rotate_key()
    [attempt] = await _deliver(dispatcher, url, "r-10")
    assert attempt.ok and [r.request_id for r in app.handled] == ["r-9", "r-10"]


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="retries"):
        WebhookSettings(retries=-1)
    with pytest.raises(TypeError):
        WebhookDispatcher().configure(no_such_setting=1)


def test_deliveries_never_leave_the_machine() -> None:
    """A webhook_url off the machine is refused without any network I/O (and without retries)."""
    from fal_typed.testing._webhooks import is_loopback_url

    assert is_loopback_url("http://127.0.0.1:8000/hook")
    assert is_loopback_url("http://127.8.9.10/hook")
    assert is_loopback_url("http://[::1]:9/hook")
    assert is_loopback_url("http://localhost/hook")
    assert not is_loopback_url("https://example.com/hook")
    assert not is_loopback_url("http://10.0.0.1/hook")
    assert not is_loopback_url("http://192.168.1.2/hook")
    assert not is_loopback_url("not a url")
