"""Signature verification against fixed keys: the message format, the window, every failure."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.datastructures import Headers

from fal_typed import FalError
from fal_typed import webhooks as wh

from .helpers import jwks_of, make_delivery

NOW = 1_760_000_000


def test_accepts_a_delivery_signed_exactly_as_fal_documents(signing_key: Ed25519PrivateKey) -> None:
    body = b'{"request_id":"r-1","status":"OK","payload":{"a":1}}'
    # Built by hand from PROTOCOL.md section 9, independently of the library's message builder.
    message = (
        b"r-1\nuser-9\n" + str(NOW).encode() + b"\n" + hashlib.sha256(body).hexdigest().encode()
    )
    headers = {
        "x-fal-webhook-request-id": "r-1",
        "X-FAL-WEBHOOK-USER-ID": "user-9",
        "X-Fal-Webhook-Timestamp": str(NOW),
        "x-fal-webhook-signature": signing_key.sign(message).hex(),
    }
    signed = wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW)
    assert (signed.request_id, signed.user_id, signed.timestamp) == ("r-1", "user-9", NOW)


def test_any_key_of_the_jwks_verifies(signing_key: Ed25519PrivateKey) -> None:
    others = [Ed25519PrivateKey.generate() for _ in range(3)]
    body, headers = make_delivery(signing_key, timestamp=NOW)
    document = jwks_of(*others, signing_key)
    document["keys"].insert(
        0, {"kty": "RSA", "n": "xx", "e": "AQAB"}
    )  # other key types are skipped
    assert wh.verify(body, headers, jwks=document, now=NOW).request_id == "req-0001"


@pytest.mark.parametrize(
    "headers_type", [dict, Headers, httpx.Headers], ids=["dict", "starlette", "httpx"]
)
def test_header_lookup_is_case_insensitive_for_every_mapping(
    signing_key: Ed25519PrivateKey, headers_type: Any
) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    mixed = {k.upper() if i % 2 else k.lower(): v for i, (k, v) in enumerate(headers.items())}
    assert wh.verify(body, headers_type(mixed), jwks=jwks_of(signing_key), now=NOW)


def test_wrong_key_is_an_invalid_signature(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(Ed25519PrivateKey.generate(), timestamp=NOW)
    with pytest.raises(wh.InvalidSignatureError):
        wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW)


def test_forged_signature_is_rejected(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    headers["X-Fal-Webhook-Signature"] = "ab" * 64
    with pytest.raises(wh.InvalidSignatureError) as caught:
        wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW)
    assert "ab" * 8 not in str(caught.value)  # the signature is not echoed into logs


@pytest.mark.parametrize("position", [0, 10, -1])
def test_body_altered_by_one_byte_is_rejected(
    signing_key: Ed25519PrivateKey, position: int
) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    altered = bytearray(body)
    altered[position] ^= 0x20
    with pytest.raises(wh.InvalidSignatureError):
        wh.verify(bytes(altered), headers, jwks=jwks_of(signing_key), now=NOW)


@pytest.mark.parametrize("header", ["X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id"])
def test_changing_a_signed_id_is_rejected(signing_key: Ed25519PrivateKey, header: str) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    headers[header] += "x"
    with pytest.raises(wh.InvalidSignatureError):
        wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW)


def test_timestamp_window_is_inclusive_and_both_ways(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    jwks = jwks_of(signing_key)
    assert wh.verify(body, headers, jwks=jwks, now=NOW + 300)
    assert wh.verify(body, headers, jwks=jwks, now=NOW - 300)
    with pytest.raises(wh.StaleTimestampError) as stale:
        wh.verify(body, headers, jwks=jwks, now=NOW + 301)
    with pytest.raises(wh.FutureTimestampError) as future:
        wh.verify(body, headers, jwks=jwks, now=NOW - 301)
    assert stale.value.timestamp == future.value.timestamp == NOW
    assert isinstance(stale.value, wh.TimestampError) and isinstance(
        future.value, wh.TimestampError
    )


def test_tolerance_is_configurable(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    jwks = jwks_of(signing_key)
    assert wh.verify(body, headers, jwks=jwks, now=NOW + 3000, tolerance=3600)
    with pytest.raises(wh.StaleTimestampError):
        wh.verify(body, headers, jwks=jwks, now=NOW + 11, tolerance=10)
    strict = wh.WebhookVerifier(jwks=jwks, tolerance=5)
    with pytest.raises(wh.FutureTimestampError):
        strict.verify(body, headers, now=NOW - 6)


def test_real_clock_is_used_by_default(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key)  # signed now
    assert wh.verify(body, headers, jwks=jwks_of(signing_key))
    body, headers = make_delivery(signing_key, timestamp=int(time.time()) - 3600)
    with pytest.raises(wh.StaleTimestampError):
        wh.verify(body, headers, jwks=jwks_of(signing_key))


def test_stale_is_reported_before_the_signature_is_checked(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    headers["X-Fal-Webhook-Signature"] = "00" * 64
    with pytest.raises(wh.StaleTimestampError):
        wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW + 1000)


def test_missing_headers_are_all_named(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    del headers["X-Fal-Webhook-Timestamp"]
    headers["X-Fal-Webhook-Signature"] = "  "
    with pytest.raises(wh.MissingHeadersError) as caught:
        wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW)
    assert caught.value.missing == ("X-Fal-Webhook-Timestamp", "X-Fal-Webhook-Signature")
    assert "X-Fal-Webhook-Timestamp" in str(caught.value)
    with pytest.raises(wh.MissingHeadersError) as none:
        wh.verify(body, {"content-type": "application/json"}, jwks=jwks_of(signing_key), now=NOW)
    assert len(none.value.missing) == 4


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Fal-Webhook-Timestamp", "1760000000.5"),
        ("X-Fal-Webhook-Timestamp", "-1760000000"),
        ("X-Fal-Webhook-Timestamp", "17600000000000000000"),
        ("X-Fal-Webhook-Timestamp", "٣٣٣"),  # non-ASCII digits int() would accept
        ("X-Fal-Webhook-Signature", "zz" * 64),
        ("X-Fal-Webhook-Signature", "ab" * 63),
        ("X-Fal-Webhook-Request-Id", "req 0001"),
        ("X-Fal-Webhook-User-Id", "user\n42"),
        ("X-Fal-Webhook-User-Id", "u" * 513),
    ],
)
def test_malformed_headers_name_the_header(
    signing_key: Ed25519PrivateKey, header: str, value: str
) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    headers[header] = value
    with pytest.raises(wh.MalformedHeaderError) as caught:
        wh.verify(body, headers, jwks=jwks_of(signing_key), now=NOW)
    assert caught.value.header == header and header in str(caught.value)


def test_conflicting_repeated_header_is_refused(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"x-fal-webhook-request-id", b"other"))
    with pytest.raises(wh.MalformedHeaderError, match="repeated"):
        wh.verify(body, Headers(raw=raw), jwks=jwks_of(signing_key), now=NOW)


def test_every_error_is_a_fal_error_and_a_verification_error(
    signing_key: Ed25519PrivateKey,
) -> None:
    for cls in (
        wh.MissingHeadersError,
        wh.MalformedHeaderError,
        wh.StaleTimestampError,
        wh.FutureTimestampError,
        wh.InvalidSignatureError,
    ):
        assert issubclass(cls, wh.WebhookVerificationError)
        assert issubclass(cls, wh.WebhookError) and issubclass(cls, FalError)
    assert not issubclass(wh.JWKSFetchError, wh.WebhookVerificationError)
    assert not issubclass(wh.WebhookPayloadError, wh.WebhookVerificationError)


def test_bad_arguments_are_clear_errors_before_anything_else(
    signing_key: Ed25519PrivateKey,
) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    jwks = jwks_of(signing_key)
    with pytest.raises(TypeError, match="raw request bytes"):
        wh.verify(body.decode(), headers, jwks=jwks, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mapping"):
        wh.verify(body, list(headers.items()), jwks=jwks, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="jwks"):
        wh.verify(body, headers, jwks=42, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid jwks"):
        wh.WebhookVerifier(jwks={"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]})
    with pytest.raises(ValueError, match="not both"):
        wh.WebhookVerifier("https://example.invalid/jwks.json", jwks=jwks)
    with pytest.raises(ValueError, match="tolerance"):
        wh.WebhookVerifier(jwks=jwks, tolerance=-1)
    with pytest.raises(ValueError, match="tolerance"):
        wh.verify(body, {}, jwks=jwks, tolerance=-5)  # argument errors come before header errors
    assert wh.verify(bytearray(body), headers, jwks=jwks, now=NOW)
    assert wh.verify(memoryview(body), headers, jwks=jwks, now=NOW)


async def test_async_twin_behaves_the_same(signing_key: Ed25519PrivateKey) -> None:
    body, headers = make_delivery(signing_key, timestamp=NOW)
    jwks = jwks_of(signing_key)
    assert (await wh.verify_async(body, headers, jwks=jwks, now=NOW)).request_id == "req-0001"
    with pytest.raises(wh.InvalidSignatureError):
        await wh.verify_async(body + b" ", headers, jwks=jwks, now=NOW)
    with pytest.raises(wh.StaleTimestampError):
        await wh.verify_async(body, headers, jwks=jwks, now=NOW + 301)


def test_repr_shows_the_source_not_the_keys(signing_key: Ed25519PrivateKey) -> None:
    assert (
        repr(wh.WebhookVerifier(jwks=jwks_of(signing_key)))
        == "WebhookVerifier(static keys, tolerance=300)"
    )
    assert "rest.fal.ai" in repr(wh.WebhookVerifier())
    assert (
        wh.WebhookVerifier().jwks_url
        == wh.DEFAULT_JWKS_URL
        == "https://rest.fal.ai/.well-known/jwks.json"
    )
