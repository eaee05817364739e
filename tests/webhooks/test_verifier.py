"""WebhookVerifier's own rules at their edges: argument checks, windows, where keys come from,
the async twins. Each test pins a rule that a mutation of webhooks/_verifier.py broke while every
other test passed (docs/mutation.md)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel

from fal_typed import Client
from fal_typed import webhooks as wh
from fal_typed.webhooks._verifier import default_jwks_url, shared_verifier

from .helpers import jwks_of, make_delivery

NOW = 1_760_000_000
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


class Text(BaseModel):
    text: str
    seed: int


def verifier(**options: Any) -> wh.WebhookVerifier:
    return wh.WebhookVerifier(jwks=jwks_of(KEY), **options)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "{}",
            "webhook body must be the raw request bytes, not str: decoding and re-encoding can change them",
        ),
        (5, "webhook body must be bytes, got int"),
    ],
)
def test_a_body_that_is_not_bytes_is_refused_saying_why(body: object, message: str) -> None:
    _, headers = make_delivery(KEY, timestamp=NOW)
    with pytest.raises(TypeError) as caught:
        verifier().verify(body, headers, now=NOW)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_headers_that_are_not_a_mapping_are_refused_saying_what_they_are() -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    with pytest.raises(TypeError) as caught:
        verifier().verify(body, list(headers.items()), now=NOW)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "webhook headers must be a mapping of header name to value, got list"
    )


def test_bytes_like_bodies_verify() -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    for raw in (bytearray(body), memoryview(body)):
        assert verifier().verify(raw, headers, now=NOW).request_id == "req-0001"


def test_a_zero_or_fractional_window_is_a_window() -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    assert verifier(tolerance=0).verify(body, headers, now=NOW).timestamp == NOW
    assert verifier(tolerance=0.5).verify(body, headers, now=NOW + 0.4).timestamp == NOW
    assert verifier().check_headers(headers, now=NOW, tolerance=0).timestamp == NOW
    assert verifier().check_headers(headers, now=NOW, tolerance=0.5).timestamp == NOW
    with pytest.raises(ValueError, match="tolerance must be >= 0 seconds, got -1"):
        verifier().check_headers(headers, now=NOW, tolerance=-1)


async def test_the_async_verify_honours_a_per_call_window() -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    with pytest.raises(wh.StaleTimestampError):
        await verifier().verify_async(body, headers, now=NOW + 100, tolerance=10)
    assert (await verifier().verify_async(body, headers, now=NOW + 100)).timestamp == NOW


def test_inline_keys_and_a_url_are_exclusive() -> None:
    with pytest.raises(ValueError) as caught:
        wh.WebhookVerifier("http://127.0.0.1:9/jwks", jwks=jwks_of(KEY))
    assert str(caught.value) == (
        "give either jwks (fixed keys) or jwks_url (fetched keys), not both"
    )


def test_fetching_settings_reach_the_cache() -> None:
    default = wh.WebhookVerifier("http://127.0.0.1:9/jwks")
    assert default.cache is not None
    assert (default.cache.refresh_cooldown, default.cache.timeout) == (30.0, 10.0)
    tuned = wh.WebhookVerifier("http://127.0.0.1:9/jwks", refresh_cooldown=5, timeout=2.5)
    assert tuned.cache is not None
    assert (tuned.cache.refresh_cooldown, tuned.cache.timeout) == (5, 2.5)


def test_the_jwks_url_follows_the_clients_rest_url() -> None:
    client = Client("key-id:key-secret", rest_url="http://127.0.0.1:9/restX/")
    assert wh.WebhookVerifier(client=client).jwks_url == (
        "http://127.0.0.1:9/restX/.well-known/jwks.json"
    )


def test_the_default_jwks_url_and_the_shared_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client("key-id:key-secret", rest_url="http://127.0.0.1:9/aX/")
    monkeypatch.setattr("fal_typed._client.default_client", lambda: client)
    monkeypatch.setattr("fal_typed.webhooks._verifier._shared", {})
    url = "http://127.0.0.1:9/aX/.well-known/jwks.json"
    assert default_jwks_url() == url
    shared = shared_verifier()
    assert shared.jwks_url == url
    assert shared_verifier(url) is shared  # one cache per URL, default included


@pytest.mark.parametrize("model", [dict, Text(text="x", seed=1), None])
def test_parse_wants_a_model_class_before_any_work(model: object) -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    with pytest.raises(TypeError) as caught:
        verifier().parse(body, headers, model, now=NOW)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"output_model must be a pydantic model class (an endpoint's Output), got {model!r}"
    )


def test_parse_verifies_then_decodes() -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    result = verifier().parse(bytearray(body), headers, Text, now=NOW)
    assert result.ok and result.payload == Text(text="hello", seed=7)
    assert (result.request_id, result.user_id, result.timestamp) == ("req-0001", "user-42", NOW)
    with pytest.raises(wh.StaleTimestampError):
        verifier().parse(body, headers, Text, now=NOW + 1000)
    forged = {**headers, "X-Fal-Webhook-User-Id": "someone-else"}
    with pytest.raises(wh.InvalidSignatureError):
        verifier().parse(body, forged, Text, now=NOW)


async def test_parse_async_verifies_then_decodes() -> None:
    body, headers = make_delivery(KEY, timestamp=NOW)
    result = await verifier().parse_async(memoryview(body), headers, Text, now=NOW)
    assert result.ok and result.payload == Text(text="hello", seed=7)
    assert (result.request_id, result.user_id, result.timestamp) == ("req-0001", "user-42", NOW)
    with pytest.raises(wh.StaleTimestampError):
        await verifier().parse_async(body, headers, Text, now=NOW + 1000)
    forged = {**headers, "X-Fal-Webhook-User-Id": "someone-else"}
    with pytest.raises(wh.InvalidSignatureError):
        await verifier().parse_async(body, forged, Text, now=NOW)
    with pytest.raises(TypeError, match="output_model must be a pydantic model class"):
        await verifier().parse_async(body, headers, dict, now=NOW)  # type: ignore[arg-type]
