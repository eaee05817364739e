"""The pure part of webhook signatures: headers, signed message, timestamp window, keys. No I/O.

fal signs ``request_id + "\\n" + user_id + "\\n" + timestamp + "\\n" + hex(sha256(raw body))``
(UTF-8) with Ed25519 and sends the signature as hex in ``X-Fal-Webhook-Signature``; the public keys
are a JWKS of ``OKP``/``Ed25519`` keys (PROTOCOL.md section 9). The local server signs with
:func:`sign_delivery`, receivers check with :func:`read_signed_headers`, :func:`check_timestamp` and
:func:`signature_matches`, so both sides share one definition of the message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._checks import seconds
from ._errors import (
    FutureTimestampError,
    MalformedHeaderError,
    MissingHeadersError,
    StaleTimestampError,
)

__all__ = [
    "MAX_JWKS_KEYS",
    "REQUEST_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_ID_HEADER",
    "SignedHeaders",
    "check_timestamp",
    "load_jwks",
    "public_jwk",
    "read_signed_headers",
    "sign_delivery",
    "signature_matches",
    "signed_message",
]

REQUEST_ID_HEADER: Final = "X-Fal-Webhook-Request-Id"
USER_ID_HEADER: Final = "X-Fal-Webhook-User-Id"
TIMESTAMP_HEADER: Final = "X-Fal-Webhook-Timestamp"
SIGNATURE_HEADER: Final = "X-Fal-Webhook-Signature"
_HEADERS: Final = (REQUEST_ID_HEADER, USER_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

MAX_JWKS_KEYS: Final = 100
"""The most keys a JWKS may list: every delivery is checked against each, so a set of thousands
would make each forged delivery cost thousands of verifications (fal publishes a handful)."""

_SIGNATURE_BYTES: Final = 64
_PUBLIC_KEY_BYTES: Final = 32
_MAX_ID_LENGTH: Final = 512
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
_ID = re.compile(r"[\x21-\x7e]+")  # visible ASCII: no spaces, no newlines that could shift fields


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The four signature headers of one delivery, checked for shape (not yet for authenticity)."""

    request_id: str
    user_id: str
    timestamp: int
    signature: bytes


def _collect(headers: Mapping[str, str]) -> dict[str, str]:
    """Pick the signature headers case-insensitively; a header repeated with another value is refused."""
    wanted = {name.lower(): name for name in _HEADERS}
    found: dict[str, str] = {}
    for key, value in headers.items():
        name = wanted.get(key.lower())
        if name is None:
            continue
        if name in found and found[name] != value:
            raise MalformedHeaderError(name, "is repeated with different values")
        found[name] = value
    return found


def read_signed_headers(headers: Mapping[str, str]) -> SignedHeaders:
    """Extract and shape-check the signature headers.

    Raises :class:`MissingHeadersError` naming every absent header, or :class:`MalformedHeaderError`
    for a value that cannot be part of a genuine delivery.
    """
    found = _collect(headers)
    missing = [name for name in _HEADERS if not found.get(name, "").strip()]
    if missing:
        raise MissingHeadersError(missing)
    request_id, user_id, timestamp, signature = (found[name].strip() for name in _HEADERS)
    for name, value in ((REQUEST_ID_HEADER, request_id), (USER_ID_HEADER, user_id)):
        if len(value) > _MAX_ID_LENGTH or not _ID.fullmatch(value):
            raise MalformedHeaderError(
                name, f"must be at most {_MAX_ID_LENGTH} visible ASCII characters"
            )
    if not _TIMESTAMP.fullmatch(timestamp):
        raise MalformedHeaderError(TIMESTAMP_HEADER, "must be a unix time in whole seconds")
    if not _HEX_SIGNATURE.fullmatch(signature):
        raise MalformedHeaderError(SIGNATURE_HEADER, f"must be {_SIGNATURE_BYTES * 2} hex digits")
    return SignedHeaders(request_id, user_id, int(timestamp), bytes.fromhex(signature))


def check_timestamp(timestamp: int, *, now: float, tolerance: float) -> None:
    """Refuse a timestamp more than ``tolerance`` seconds before or after ``now``.

    Both must be finite (``ValueError`` otherwise): every comparison with a NaN is False, so a
    NaN would let any timestamp through.
    """
    now = seconds("now", now)
    tolerance = seconds("tolerance", tolerance)
    if now - timestamp > tolerance:
        raise StaleTimestampError(
            f"webhook timestamp {timestamp} is {now - timestamp:.0f} s old (tolerance {tolerance:g} s)",
            timestamp=timestamp,
            now=now,
            tolerance=tolerance,
        )
    if timestamp - now > tolerance:
        raise FutureTimestampError(
            f"webhook timestamp {timestamp} is {timestamp - now:.0f} s in the future (tolerance {tolerance:g} s)",
            timestamp=timestamp,
            now=now,
            tolerance=tolerance,
        )


def signed_message(request_id: str, user_id: str, timestamp: int, body: bytes) -> bytes:
    """The exact bytes fal signs for a delivery of ``body``."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


def signature_matches(message: bytes, signature: bytes, keys: Iterable[Ed25519PublicKey]) -> bool:
    """True if any key verifies ``signature`` over ``message``.

    Ed25519 verification (OpenSSL) compares in constant time; no secret is compared here by ``==``.
    """
    for key in keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return True
    return False


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _load_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey | None:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or jwk.get("use", "sig") != "sig":
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        return None
    try:
        raw = _b64url_decode(x)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _PUBLIC_KEY_BYTES:
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:  # bytes OpenSSL does not take as a key: skipped like any unusable entry
        return None


def load_jwks(document: object) -> tuple[Ed25519PublicKey, ...]:
    """Read the Ed25519 keys of a JWKS document; other key types are skipped.

    Raises ``ValueError`` if the document is not a JWKS, lists more than :data:`MAX_JWKS_KEYS`
    keys, or holds no usable Ed25519 key.
    """
    if not isinstance(document, Mapping):
        raise ValueError("JWKS is not a JSON object")
    entries = cast("Mapping[str, object]", document).get("keys")
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise ValueError("JWKS has no 'keys' list")
    if len(entries) > MAX_JWKS_KEYS:  # pyright: ignore[reportUnknownArgumentType]
        raise ValueError(
            f"JWKS lists {len(entries)} keys, more than {MAX_JWKS_KEYS}"  # pyright: ignore[reportUnknownArgumentType]
        )
    keys: list[Ed25519PublicKey] = []
    for entry in entries:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(entry, Mapping):
            key = _load_key(entry)  # pyright: ignore[reportUnknownArgumentType]
            if key is not None:
                keys.append(key)
    if not keys:
        raise ValueError("JWKS holds no Ed25519 signing key")
    return tuple(keys)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The JWK form (``OKP``/``Ed25519``, base64url ``x``) of a public key."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "x": x}


def sign_delivery(
    private_key: Ed25519PrivateKey, *, request_id: str, user_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The four headers fal sends with ``body`` (used by the local server and by tests)."""
    signature = private_key.sign(signed_message(request_id, user_id, timestamp, body))
    return {
        REQUEST_ID_HEADER: request_id,
        USER_ID_HEADER: user_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature.hex(),
    }
