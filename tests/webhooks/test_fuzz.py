"""Randomly mutated deliveries: every one is rejected, and only with the documented errors."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fal_typed import OutputModel
from fal_typed import webhooks as wh

from .helpers import jwks_of, make_delivery

NOW = 1_760_000_000
HEADERS = (wh.REQUEST_ID_HEADER, wh.USER_ID_HEADER, wh.TIMESTAMP_HEADER, wh.SIGNATURE_HEADER)
Delivery = tuple[bytes, dict[str, str]]


class AnyOutput(OutputModel):
    pass


def _flip_bit(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    data = bytearray(body)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data), headers


def _insert_byte(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    at = rng.randrange(len(body) + 1)
    return body[:at] + bytes([rng.randrange(256)]) + body[at:], headers


def _delete_bytes(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    at = rng.randrange(len(body))
    return body[:at] + body[at + rng.randint(1, 8) :], headers


def _truncate(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    return body[: rng.randrange(len(body))], headers


def _change_signature_digit(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    signature = headers[wh.SIGNATURE_HEADER]
    at = rng.randrange(len(signature))
    new = rng.choice([c for c in "0123456789abcdef" if c != signature[at].lower()])
    return body, {**headers, wh.SIGNATURE_HEADER: signature[:at] + new + signature[at + 1 :]}


def _drop_header(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    dropped = set(rng.sample(HEADERS, rng.randint(1, 4)))
    return body, {k: v for k, v in headers.items() if k not in dropped}


def _shift_timestamp(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    delta = rng.choice([-1, 1]) * rng.randint(1, 100_000)
    return body, {**headers, wh.TIMESTAMP_HEADER: str(int(headers[wh.TIMESTAMP_HEADER]) + delta)}


def _alter_id(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    name = rng.choice([wh.REQUEST_ID_HEADER, wh.USER_ID_HEADER])
    value = headers[name]
    at = rng.randrange(len(value))
    new = rng.choice([c for c in string.ascii_letters + string.digits if c != value[at]])
    return body, {**headers, name: value[:at] + new + value[at + 1 :]}


def _garbage_header(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    name = rng.choice(HEADERS)
    garbage = "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randint(0, 200)))
    return body, {**headers, name: garbage}


def _other_delivery_signature(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    other_body, other_headers = make_delivery(
        KEY, {"n": rng.random()}, request_id=headers[wh.REQUEST_ID_HEADER], timestamp=NOW
    )
    assert other_body != body
    return body, {**headers, wh.SIGNATURE_HEADER: other_headers[wh.SIGNATURE_HEADER]}


def _wrong_key(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    return make_delivery(Ed25519PrivateKey.generate(), {"n": rng.random()}, timestamp=NOW)


MUTATIONS: list[Callable[[random.Random, bytes, dict[str, str]], Delivery]] = [
    _flip_bit,
    _insert_byte,
    _delete_bytes,
    _truncate,
    _change_signature_digit,
    _drop_header,
    _shift_timestamp,
    _alter_id,
    _garbage_header,
    _other_delivery_signature,
    _wrong_key,
]
KEY = Ed25519PrivateKey.generate()
DOCUMENTED = (wh.WebhookVerificationError, wh.WebhookPayloadError)


def _mutate(rng: random.Random, body: bytes, headers: dict[str, str]) -> Delivery:
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        try:
            body, headers = rng.choice(MUTATIONS)(rng, body, headers)
        except (
            KeyError,
            ValueError,
            IndexError,
        ):  # an earlier mutation removed what this one edits
            body, headers = _flip_bit(rng, body, headers)
        if not body:
            body = b"{"
    return body, headers


@pytest.mark.parametrize("seed", [1, 2])
def test_a_thousand_mutated_deliveries_are_all_rejected(seed: int) -> None:
    rng = random.Random(seed)
    verifier = wh.WebhookVerifier(jwks=jwks_of(KEY))
    rejected: dict[str, int] = {}
    for n in range(1000):
        payload = {"images": [{"url": f"https://cdn/{n}.png"}], "seed": rng.randrange(2**53)}
        body, headers = make_delivery(KEY, payload, request_id=f"req-{seed}-{n}", timestamp=NOW)
        verifier.parse(body, headers, AnyOutput, now=NOW)  # the genuine delivery is accepted
        mutated = _mutate(rng, body, headers)
        try:
            verifier.parse(*mutated, AnyOutput, now=NOW)
        except DOCUMENTED as exc:
            rejected[type(exc).__name__] = rejected.get(type(exc).__name__, 0) + 1
        else:
            pytest.fail(f"mutated delivery #{n} was accepted: {mutated!r}")
    assert sum(rejected.values()) == 1000
    # Every family of failure was exercised, so the test is not passing through one branch.
    assert {"InvalidSignatureError", "MissingHeadersError", "MalformedHeaderError"} <= set(rejected)
    assert {"StaleTimestampError", "FutureTimestampError"} <= set(rejected)
