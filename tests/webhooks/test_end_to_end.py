"""End to end over real sockets: submit to the local fal server with a webhook URL, receive the
signed delivery in a uvicorn/Starlette receiver, verify it, and get the typed Output."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field

from fal_typed import Client, Endpoint, FalValidationError, InputModel, OutputModel
from fal_typed import webhooks as wh
from fal_typed.testing import Failure, LocalFal
from fal_typed.testing._webhooks import WebhookDispatcher

from .helpers import Receiver, jwks_of, serve

ENDPOINT_ID = "fal-ai/flux/dev"


class FluxInput(InputModel):
    prompt: str
    seed: int | None = None


class FluxImage(OutputModel):
    url: str
    content_type: str | None = None


class FluxOutput(OutputModel):
    images: list[FluxImage]
    seed: int
    prompt: str
    has_nsfw_concepts: list[bool] = Field(default_factory=list)


FLUX = Endpoint(ENDPOINT_ID, FluxInput, FluxOutput)


@pytest.fixture
def dispatcher(local_fal: LocalFal) -> WebhookDispatcher:
    return local_fal.webhooks


@pytest.fixture
def verifier(local_fal_client: Client) -> wh.WebhookVerifier:
    """Trusts the local server's keys: the JWKS URL comes from the client's rest_url."""
    return wh.WebhookVerifier(client=local_fal_client, refresh_cooldown=0)


@pytest.fixture
def receiver(verifier: wh.WebhookVerifier) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(FluxOutput, verifier)
    with serve(receiver.app) as base:
        # A query string with characters that must be URL-encoded inside fal_webhook.
        yield receiver, f"{base}/hook?source=fal&tag=a%20b&next=/x?y=1"


def _submit(client: Client, url: str, prompt: str = "a lighthouse at dusk") -> str:
    return FLUX.submit(
        FLUX.arguments(None, {"prompt": prompt, "seed": 11}), webhook_url=url, client=client
    ).request_id


def test_delivery_is_verified_and_equals_the_result_fetched_by_id(
    local_fal: LocalFal,
    local_fal_client: Client,
    dispatcher: WebhookDispatcher,
    receiver: tuple[Receiver, str],
) -> None:
    app, url = receiver
    request_id = _submit(local_fal_client, url)
    [attempt] = dispatcher.wait_for(request_id)
    assert attempt.ok and attempt.url == url
    [result] = app.handled
    assert result.ok and result.request_id == request_id
    assert isinstance(result.payload, FluxOutput)
    assert result.payload == FLUX.result(request_id, client=local_fal_client)
    assert result.payload.images and result.payload.images[0].url.startswith(local_fal.cdn_url)
    # fal_webhook travelled URL-encoded: the server decoded exactly the URL we gave.
    [submit] = local_fal.requests_for("submit", request_id=request_id)
    assert submit.query["fal_webhook"] == url


async def test_async_submit_and_subscribe_deliver_too(
    local_fal_client: Client, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    handle = await FLUX.submit_async({"prompt": "async"}, webhook_url=url, client=local_fal_client)
    output = await FLUX.subscribe_async(
        {"prompt": "subscribed"}, webhook_url=url, client=local_fal_client
    )
    handled = await asyncio.to_thread(app.wait_handled, 2)
    by_id = {r.request_id: r.unwrap() for r in handled}
    assert len(by_id) == 2
    assert by_id[handle.request_id] == await FLUX.result_async(
        handle.request_id, client=local_fal_client
    )
    assert output in by_id.values()


def test_error_delivery_parses_with_its_422(
    local_fal: LocalFal,
    local_fal_client: Client,
    dispatcher: WebhookDispatcher,
    receiver: tuple[Receiver, str],
) -> None:
    detail = [
        {
            "loc": ["body", "prompt"],
            "msg": "prompt is not allowed",
            "type": "content_policy_violation",
        }
    ]
    local_fal.configure(ENDPOINT_ID, failure=Failure(422, detail))
    app, url = receiver
    request_id = _submit(local_fal_client, url)
    dispatcher.wait_for(request_id)
    [result] = app.handled
    assert result.status == "ERROR" and result.payload is None
    assert result.error == "Invalid status code: 422" and result.status_code == 422
    assert result.raw_payload == {"detail": detail}
    error = result.exception()
    assert isinstance(error, FalValidationError) and error.fields == ["prompt"]
    with pytest.raises(FalValidationError) as fetched:
        FLUX.result(request_id, client=local_fal_client)
    assert fetched.value.errors == error.errors and fetched.value.request_id == error.request_id


def test_server_retries_until_the_receiver_acknowledges(
    local_fal_client: Client, dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    app.fail_next = 2
    request_id = _submit(local_fal_client, url)
    attempts = dispatcher.wait_for(request_id)
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert [r.request_id for r in app.handled] == [request_id]


def test_delivered_twice_is_handled_once(
    local_fal_client: Client, dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    dispatcher.configure(deliver_twice=True)
    request_id = _submit(local_fal_client, url)
    assert [a.status_code for a in dispatcher.wait_for(request_id)] == [200, 200]
    assert len(app.handled) == 1


def test_replayed_delivery_is_deduplicated(
    local_fal_client: Client, dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    request_id = _submit(local_fal_client, url)
    [attempt] = dispatcher.wait_for(request_id)
    replay = httpx.post(attempt.url, content=attempt.body, headers=attempt.headers)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert len(app.handled) == 1


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"timestamp_offset": -301}, wh.StaleTimestampError),
        ({"timestamp_offset": 400}, wh.FutureTimestampError),
        ({"corrupt_signature": True}, wh.InvalidSignatureError),
    ],
    ids=["late", "future", "corrupted"],
)
def test_bad_deliveries_from_the_server_are_rejected(
    local_fal_client: Client,
    dispatcher: WebhookDispatcher,
    receiver: tuple[Receiver, str],
    verifier: wh.WebhookVerifier,
    settings: dict[str, Any],
    error: type[Exception],
) -> None:
    app, url = receiver
    dispatcher.configure(retries=1, **settings)
    request_id = _submit(local_fal_client, url)
    attempts = dispatcher.wait_for(request_id)
    assert [a.status_code for a in attempts] == [401, 401]  # rejected, and retried by the server
    assert app.handled == []
    with pytest.raises(error):
        verifier.verify(attempts[0].body, attempts[0].headers)


def test_wrong_key_is_rejected(local_fal_client: Client, dispatcher: WebhookDispatcher) -> None:
    stranger = wh.WebhookVerifier(jwks=jwks_of(Ed25519PrivateKey.generate()))
    receiver = Receiver(FluxOutput, stranger)
    with serve(receiver.app) as base:
        dispatcher.configure(retries=0)
        request_id = _submit(local_fal_client, f"{base}/hook")
        [attempt] = dispatcher.wait_for(request_id)
    assert attempt.status_code == 401 and receiver.handled == []
    with pytest.raises(wh.InvalidSignatureError):
        stranger.verify(attempt.body, attempt.headers)


def test_missing_headers_are_rejected(
    local_fal_client: Client, dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    request_id = _submit(local_fal_client, url)
    [attempt] = dispatcher.wait_for(request_id)
    stripped = {k: v for k, v in attempt.headers.items() if k != wh.USER_ID_HEADER}
    response = httpx.post(url, content=attempt.body, headers=stripped)
    assert (
        response.status_code == 401 and response.json()["error_type"] == "webhook_missing_headers"
    )
    assert len(app.handled) == 1  # only the genuine delivery


def test_server_key_rotation_is_followed_by_the_verifier(
    local_fal_client: Client, dispatcher: WebhookDispatcher, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    first = _submit(local_fal_client, url)
    dispatcher.wait_for(first)
    dispatcher.rotate_key()
    second = _submit(local_fal_client, url)
    assert [a.status_code for a in dispatcher.wait_for(second)] == [200]
    assert [r.request_id for r in app.handled] == [first, second]


def test_jwks_is_served_under_the_rest_prefix(
    local_fal: LocalFal, dispatcher: WebhookDispatcher
) -> None:
    response = httpx.get(f"{local_fal.rest_url}/.well-known/jwks.json")
    assert response.status_code == 200 and response.json() == dispatcher.jwks()
    [key] = response.json()["keys"]
    assert (key["kty"], key["crv"]) == ("OKP", "Ed25519")


def test_parse_helper_with_a_delivery_taken_off_the_wire(
    local_fal_client: Client,
    dispatcher: WebhookDispatcher,
    receiver: tuple[Receiver, str],
    verifier: wh.WebhookVerifier,
) -> None:
    _, url = receiver
    request_id = _submit(local_fal_client, url)
    [attempt] = dispatcher.wait_for(request_id)
    result = wh.parse(attempt.body, attempt.headers, FluxOutput, verifier=verifier)
    assert result.unwrap() == FLUX.result(request_id, client=local_fal_client)


def test_webhooks_property_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalFal().webhooks
