"""The Starlette integration over real sockets: status codes fal's retry logic expects, dedup."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fal_typed import OutputModel, OutputValidationError
from fal_typed import webhooks as wh

from .helpers import JWKSHost, Receiver, jwks_of, make_delivery, serve

API_KEY = "key-id:super-secret-value"


class TextOutput(OutputModel):
    text: str
    seed: int


@pytest.fixture
def receiver(signing_key: Ed25519PrivateKey) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(TextOutput, wh.WebhookVerifier(jwks=jwks_of(signing_key)))
    with serve(receiver.app) as base:
        yield receiver, f"{base}/hook"


def _post(url: str, delivery: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = delivery
    return httpx.post(url, content=body, headers={**headers, "Content-Type": "application/json"})


def test_authentic_delivery_reaches_the_handler_typed(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey
) -> None:
    app, url = receiver
    response = _post(url, make_delivery(signing_key, {"text": "hi", "seed": 5}, request_id="r-1"))
    assert response.status_code == 200 and response.json() == {"status": "ok", "request_id": "r-1"}
    [result] = app.handled
    assert result.payload == TextOutput(text="hi", seed=5) and result.request_id == "r-1"


def test_replayed_and_duplicate_deliveries_are_handled_once(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey
) -> None:
    app, url = receiver
    delivery = make_delivery(signing_key, {"text": "hi", "seed": 5}, request_id="r-2")
    assert _post(url, delivery).json()["status"] == "ok"
    replay = _post(url, delivery)  # the very same bytes and headers, within the window
    assert replay.status_code == 200 and replay.json() == {
        "status": "duplicate",
        "request_id": "r-2",
    }
    resigned = make_delivery(
        signing_key, {"text": "hi", "seed": 5}, request_id="r-2"
    )  # a fal retry
    assert _post(url, resigned).json()["status"] == "duplicate"
    assert len(app.handled) == 1


@pytest.mark.parametrize(
    ("mutate", "status", "error_type"),
    [
        (
            lambda b, h: (b, {k: v for k, v in h.items() if "Signature" not in k}),
            401,
            "webhook_missing_headers",
        ),
        (lambda b, h: (b + b" ", h), 401, "webhook_invalid_signature"),
        (lambda b, h: (b, {**h, "X-Fal-Webhook-Timestamp": "1000"}), 401, "webhook_timestamp"),
        (
            lambda b, h: (b, {**h, "X-Fal-Webhook-Timestamp": "soon"}),
            401,
            "webhook_malformed_header",
        ),
    ],
)
def test_rejections_answer_401_with_the_error_type(
    receiver: tuple[Receiver, str],
    signing_key: Ed25519PrivateKey,
    mutate: object,
    status: int,
    error_type: str,
) -> None:
    app, url = receiver
    body, headers = make_delivery(signing_key)
    response = _post(url, mutate(body, headers))  # type: ignore[operator]
    assert response.status_code == status and response.json()["error_type"] == error_type
    assert app.handled == []


def test_unreadable_payload_answers_400(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey
) -> None:
    app, url = receiver
    response = _post(url, make_delivery(signing_key, status="DONE"))
    assert (
        response.status_code == 400 and response.json()["error_type"] == "webhook_invalid_payload"
    )
    assert app.handled == []


def test_an_output_that_does_not_fit_reaches_the_handler_with_its_problem(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey
) -> None:
    """It was answered 400, which fal gives up on: the paid output reached no handler."""
    app, url = receiver
    misfit = {"text": ["not", "a", "string"], "seed": 1}
    response = _post(url, make_delivery(signing_key, misfit, request_id="r-misfit"))
    assert response.status_code == 200, response.text
    [result] = app.handled
    assert result.request_id == "r-misfit" and result.payload is None
    assert result.raw_payload == misfit
    assert result.output_error is not None and "first at text" in result.output_error
    error = result.exception()
    assert isinstance(error, OutputValidationError) and error.data == misfit


def test_failing_handler_answers_500_and_the_retry_is_handled(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey
) -> None:
    app, url = receiver
    app.fail_next = 1
    delivery = make_delivery(signing_key, {"text": "x", "seed": 1}, request_id="r-3")
    assert _post(url, delivery).status_code == 500
    assert _post(url, delivery).json()["status"] == "ok"
    assert [r.request_id for r in app.handled] == ["r-3"]


def test_handler_response_is_returned_and_non_2xx_releases_the_claim(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey
) -> None:
    app, url = receiver
    app.answer_next = 503
    delivery = make_delivery(signing_key, {"text": "x", "seed": 1}, request_id="r-4")
    assert _post(url, delivery).status_code == 503
    assert _post(url, delivery).json()["status"] == "ok"
    assert len(app.handled) == 1


def test_sync_handlers_run_in_a_thread_and_dedup_can_be_off(signing_key: Ed25519PrivateKey) -> None:
    receiver = Receiver(
        TextOutput,
        wh.WebhookVerifier(jwks=jwks_of(signing_key)),
        deduplicate=False,
        sync_handler=True,
    )
    with serve(receiver.app) as base:
        delivery = make_delivery(signing_key, {"text": "x", "seed": 1}, request_id="r-5")
        assert _post(f"{base}/hook", delivery).status_code == 200
        assert _post(f"{base}/hook", delivery).status_code == 200
    assert len(receiver.handled) == 2


def test_unreachable_jwks_answers_503_so_fal_retries(
    signing_key: Ed25519PrivateKey, jwks_host: JWKSHost
) -> None:
    jwks_host.status = 502
    verifier = wh.WebhookVerifier(jwks_host.url)
    assert verifier.cache is not None
    now = [1000.0]
    verifier.cache.clock = lambda: now[0]
    receiver = Receiver(TextOutput, verifier)
    with serve(receiver.app) as base:
        response = _post(f"{base}/hook", make_delivery(signing_key))
        assert (
            response.status_code == 503
            and response.json()["error_type"] == "webhook_jwks_unavailable"
        )
        jwks_host.status = 200
        # within the failure cooldown the failure is answered again, the JWKS URL not asked
        assert _post(f"{base}/hook", make_delivery(signing_key)).status_code == 503
        assert jwks_host.hits == 1
        now[0] += wh.DEFAULT_FAILURE_COOLDOWN
        assert _post(f"{base}/hook", make_delivery(signing_key)).status_code == 200
        assert jwks_host.hits == 2


def test_receive_works_in_a_handwritten_route(signing_key: Ed25519PrivateKey) -> None:
    verifier = wh.WebhookVerifier(jwks=jwks_of(signing_key))

    async def hook(request: Request) -> JSONResponse:
        try:
            result = await wh.receive(request, TextOutput, verifier=verifier)
        except wh.WebhookVerificationError as exc:
            return JSONResponse({"rejected": type(exc).__name__}, status_code=401)
        return JSONResponse({"text": result.unwrap().text})

    with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        assert _post(
            f"{base}/hook", make_delivery(signing_key, {"text": "yo", "seed": 1})
        ).json() == {"text": "yo"}
        forged = make_delivery(Ed25519PrivateKey.generate())
        assert _post(f"{base}/hook", forged).json() == {"rejected": "InvalidSignatureError"}


def test_rejections_are_logged_without_secrets(
    receiver: tuple[Receiver, str], signing_key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = receiver
    body, headers = make_delivery(signing_key, {"text": API_KEY, "seed": 1})
    signature = headers["X-Fal-Webhook-Signature"]
    with caplog.at_level(logging.INFO, logger="fal_typed.webhooks"):
        response = _post(url, (body + b"\n", {**headers, "Authorization": f"Key {API_KEY}"}))
    assert response.status_code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records) + json.dumps(response.json())
    assert "rejected webhook delivery" in logged
    assert API_KEY not in logged and signature not in logged and signature[:16] not in logged


def test_webhook_endpoint_checks_its_arguments_up_front() -> None:
    with pytest.raises(TypeError, match="output_model"):
        wh.webhook_endpoint(dict, lambda result: None)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="handler"):
        wh.webhook_endpoint(TextOutput, "not callable")  # type: ignore[arg-type]


def test_webhooks_import_without_starlette_and_say_what_is_missing() -> None:
    script = """
import sys
sys.modules["starlette"] = None  # as if the server extra were not installed
from fal_typed import OutputModel, webhooks
try:
    webhooks.webhook_endpoint(OutputModel, lambda result: None)
except ImportError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'fal-typed[server]'" in done.stdout
