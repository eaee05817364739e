"""Parsing verified deliveries into typed results: OK, ERROR (422 and others), payload_error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fal_typed import FalError, FalValidationError, OutputModel, OutputValidationError, ServerError
from fal_typed import webhooks as wh
from fal_typed.webhooks._signature import sign_delivery

from .helpers import jwks_of, make_delivery

NOW = 1_760_000_000


class Image(OutputModel):
    url: str
    width: int | None = None


class ImagesOutput(OutputModel):
    images: list[Image]
    seed: int


def _signed(
    key: Ed25519PrivateKey, document: Any, request_id: str = "req-1"
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(document).encode()
    return body, sign_delivery(key, request_id=request_id, user_id="u", timestamp=NOW, body=body)


@pytest.fixture
def verifier(signing_key: Ed25519PrivateKey) -> wh.WebhookVerifier:
    return wh.WebhookVerifier(jwks=jwks_of(signing_key))


def test_ok_delivery_parses_into_the_output_model(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    payload = {
        "images": [{"url": "https://x/a.png", "width": 8, "new_field": True}],
        "seed": 196619188014358660,
    }
    body, headers = make_delivery(signing_key, payload, request_id="req-1", timestamp=NOW)
    result = wh.parse(body, headers, ImagesOutput, verifier=verifier, now=NOW)
    assert result.ok and result.status == "OK"
    assert isinstance(result.payload, ImagesOutput)
    assert result.payload.images[0].width == 8 and result.payload.seed == 196619188014358660
    assert result.payload.images[0].model_extra == {"new_field": True}  # forward compatible
    assert (result.request_id, result.gateway_request_id, result.user_id, result.timestamp) == (
        "req-1",
        "req-1",
        "user-42",
        NOW,
    )
    assert result.raw_payload == payload and result.delivery["payload"] == payload
    assert result.error is None and result.payload_error is None
    assert result.exception() is None and result.unwrap() is result.payload
    assert "delivery" not in repr(result)


def test_error_delivery_for_a_422_carries_the_typed_validation_error(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    detail = {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]}
    body, headers = _signed(
        signing_key,
        {
            "request_id": "req-1",
            "gateway_request_id": "gw-2",
            "status": "ERROR",
            "error": "Invalid status code: 422",
            "payload": detail,
        },
    )
    result = verifier.parse(body, headers, ImagesOutput, now=NOW)
    assert not result.ok and result.payload is None
    assert result.error == "Invalid status code: 422" and result.status_code == 422
    assert result.raw_payload == detail and result.gateway_request_id == "gw-2"
    error = result.exception()
    assert isinstance(error, FalValidationError)
    assert error.fields == ["prompt"] and error.request_id == "req-1" and error.status_code == 422
    with pytest.raises(FalValidationError):
        result.unwrap()


def test_error_delivery_for_a_5xx_and_without_a_code(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    body, headers = _signed(
        signing_key,
        {
            "request_id": "req-1",
            "status": "ERROR",
            "error": "Invalid status code: 503",
            "payload": {"detail": "busy", "error_type": "runner_scheduling_failure"},
        },
    )
    error = verifier.parse(body, headers, ImagesOutput, now=NOW).exception()
    assert isinstance(error, ServerError) and error.error_type == "runner_scheduling_failure"
    body, headers = _signed(
        signing_key,
        {"request_id": "req-1", "status": "ERROR", "error": "something broke", "payload": None},
    )
    result = verifier.parse(body, headers, ImagesOutput, now=NOW)
    assert result.status_code is None and result.gateway_request_id is None
    error = result.exception()
    assert type(error) is FalError and "something broke" in str(error)


def test_payload_error_keeps_the_reason(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    body, headers = _signed(
        signing_key,
        {
            "request_id": "req-1",
            "status": "OK",
            "payload": None,
            "payload_error": "Object of type bytes is not JSON serializable",
        },
    )
    result = verifier.parse(body, headers, ImagesOutput, now=NOW)
    assert result.ok and result.payload is None
    assert result.payload_error == "Object of type bytes is not JSON serializable"
    with pytest.raises(FalError, match="not JSON serializable") as caught:
        result.unwrap()
    assert caught.value.error_type == "payload_error"


@pytest.mark.parametrize("payload", [{"images": "nope", "seed": 1}, [1], "text"])
def test_an_authentic_output_that_does_not_fit_is_handed_over_not_refused(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier, payload: Any
) -> None:
    """It was a WebhookPayloadError, which webhook_endpoint answers 400: fal gives up on it, and
    the paid result reached no handler. It is now a result whose unwrap() raises
    OutputValidationError keeping the output, as a queue call's result() does."""
    body, headers = _signed(
        signing_key, {"request_id": "req-1", "status": "OK", "payload": payload}
    )
    result = verifier.parse(body, headers, ImagesOutput, now=NOW)
    assert result.ok and result.payload is None and result.raw_payload == payload
    assert result.output_error is not None
    assert result.output_error.startswith("webhook payload does not match ImagesOutput")
    with pytest.raises(OutputValidationError) as caught:
        result.unwrap()
    assert caught.value.data == payload and caught.value.request_id == "req-1"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2, 3], "not a JSON object"),
        ({"status": "OK", "payload": {}}, "no request_id"),
        ({"request_id": "req-1", "status": "DONE", "payload": {}}, "unknown webhook status"),
        (
            {"request_id": "req-1", "status": "ERROR", "error": 422, "payload": None},
            "'error' must be a string",
        ),
        (
            {"request_id": "other", "status": "OK", "payload": None},
            "does not match the body's request_id",
        ),
    ],
)
def test_authentic_but_unreadable_bodies_raise_payload_errors(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier, document: Any, message: str
) -> None:
    body, headers = _signed(signing_key, document)
    with pytest.raises(wh.WebhookPayloadError, match=message) as caught:
        verifier.parse(body, headers, ImagesOutput, now=NOW)
    if isinstance(document, dict) and "payload" in document:
        assert caught.value.raw == document  # a paid-for result is never lost


def test_non_json_body_is_a_payload_error(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    body = b"\xff\xfe not json"
    headers = sign_delivery(signing_key, request_id="req-1", user_id="u", timestamp=NOW, body=body)
    with pytest.raises(wh.WebhookPayloadError, match="not valid JSON"):
        verifier.parse(body, headers, ImagesOutput, now=NOW)


def test_signed_id_may_be_the_gateway_request_id(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    body, headers = _signed(
        signing_key,
        {"request_id": "req-1", "gateway_request_id": "gw-9", "status": "OK", "payload": None},
        request_id="gw-9",
    )
    assert verifier.parse(body, headers, ImagesOutput, now=NOW).request_id == "req-1"


def test_nothing_is_parsed_before_verification(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    body, headers = _signed(Ed25519PrivateKey.generate(), [1, 2, 3])
    with pytest.raises(wh.InvalidSignatureError):
        verifier.parse(body, headers, ImagesOutput, now=NOW)


def test_output_model_must_be_a_model_class(
    signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier
) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    with pytest.raises(TypeError, match="output_model"):
        verifier.parse(body, headers, dict, now=NOW)  # type: ignore[type-var]


async def test_parse_async(signing_key: Ed25519PrivateKey, verifier: wh.WebhookVerifier) -> None:
    body, headers = make_delivery(signing_key, {"images": [], "seed": 3}, timestamp=NOW)
    result = await wh.parse_async(body, headers, ImagesOutput, verifier=verifier, now=NOW)
    assert result.payload == ImagesOutput(images=[], seed=3)
    with pytest.raises(wh.InvalidSignatureError):
        await wh.parse_async(body[:-1], headers, ImagesOutput, verifier=verifier, now=NOW)
