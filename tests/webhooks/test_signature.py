"""The pure signature rules (webhooks/_signature.py) at their edges: header collection, shapes,
the timestamp window, JWKS reading and the JWK written. Each test pins a rule that a mutation of
the module broke while every other test passed (docs/mutation.md)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fal_typed.webhooks import (
    FutureTimestampError,
    MalformedHeaderError,
    StaleTimestampError,
)
from fal_typed.webhooks._signature import (
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_ID_HEADER,
    check_timestamp,
    load_jwks,
    public_jwk,
    read_signed_headers,
    sign_delivery,
)

NOW = 1_760_000_000
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def headers(**changes: str) -> dict[str, str]:
    signed = sign_delivery(KEY, request_id="r-1", user_id="u-1", timestamp=NOW, body=b"{}")
    return {**signed, **changes}


def x_of(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode().replace("=", "")


def test_unrelated_headers_anywhere_are_skipped() -> None:
    mixed = {"Content-Type": "application/json", **headers(), "X-Other": "1"}
    assert read_signed_headers(mixed).request_id == "r-1"


def test_a_header_repeated_with_another_value_is_refused_by_name() -> None:
    repeated = {**headers(), REQUEST_ID_HEADER.lower(): "r-2"}
    with pytest.raises(MalformedHeaderError) as caught:
        read_signed_headers(repeated)
    assert caught.value.header == REQUEST_ID_HEADER
    assert caught.value.message == (
        f"webhook header {REQUEST_ID_HEADER} is repeated with different values"
    )


def test_ids_up_to_512_visible_characters_are_accepted() -> None:
    longest = "r" * 512
    assert read_signed_headers(headers(**{REQUEST_ID_HEADER: longest})).request_id == longest
    with pytest.raises(MalformedHeaderError) as caught:
        read_signed_headers(headers(**{USER_ID_HEADER: "u" * 513}))
    assert caught.value.message == (
        f"webhook header {USER_ID_HEADER} must be at most 512 visible ASCII characters"
    )


@pytest.mark.parametrize(
    ("header", "value", "problem"),
    [
        (TIMESTAMP_HEADER, "1.5", "must be a unix time in whole seconds"),
        (SIGNATURE_HEADER, "ab" * 63, "must be 128 hex digits"),
    ],
)
def test_malformed_values_are_named_with_the_rule(header: str, value: str, problem: str) -> None:
    with pytest.raises(MalformedHeaderError) as caught:
        read_signed_headers(headers(**{header: value}))
    assert caught.value.message == f"webhook header {header} {problem}"


def test_a_stale_timestamp_says_how_old_it_is() -> None:
    with pytest.raises(StaleTimestampError) as caught:
        check_timestamp(NOW - 400, now=NOW, tolerance=300)
    error = caught.value
    assert (error.timestamp, error.now, error.tolerance) == (NOW - 400, NOW, 300)
    assert error.message == f"webhook timestamp {NOW - 400} is 400 s old (tolerance 300 s)"


def test_a_future_timestamp_says_how_far_ahead_it_is() -> None:
    with pytest.raises(FutureTimestampError) as caught:
        check_timestamp(NOW + 400, now=NOW, tolerance=300)
    error = caught.value
    assert (error.timestamp, error.now, error.tolerance) == (NOW + 400, NOW, 300)
    assert (
        error.message == f"webhook timestamp {NOW + 400} is 400 s in the future (tolerance 300 s)"
    )


def jwk(**changes: Any) -> dict[str, Any]:
    return {"kty": "OKP", "crv": "Ed25519", "x": x_of(KEY), **changes}


def test_a_key_without_use_is_a_signing_key() -> None:
    assert len(load_jwks({"keys": [jwk()]})) == 1
    assert len(load_jwks({"keys": [jwk(use="sig")]})) == 1


@pytest.mark.parametrize(
    "changes",
    [{"use": "enc"}, {"kty": "EC"}, {"crv": "X25519"}, {"kty": "EC", "use": "sig"}],
    ids=["encryption-key", "other-type", "other-curve", "other-type-signing"],
)
def test_keys_that_are_not_ed25519_signing_keys_are_skipped(changes: dict[str, str]) -> None:
    with pytest.raises(ValueError) as caught:
        load_jwks({"keys": [jwk(**changes)]})
    assert str(caught.value) == "JWKS holds no Ed25519 signing key"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([jwk()], "JWKS is not a JSON object"),
        ({"keys": None}, "JWKS has no 'keys' list"),
        ({"keys": "abc"}, "JWKS has no 'keys' list"),
        ({}, "JWKS has no 'keys' list"),
    ],
)
def test_documents_that_are_not_a_jwks_are_refused(document: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_jwks(document)
    assert str(caught.value) == message


def test_the_jwk_written_is_exactly_the_rfc_8037_form() -> None:
    assert public_jwk(KEY.public_key()) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
        "x": x_of(KEY),
    }
    assert len(x_of(KEY)) == 43  # 32 bytes, unpadded
