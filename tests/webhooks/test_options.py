"""Every numeric option of fal_typed.webhooks takes only finite numbers, not bools, and says which
option was wrong. A NaN compares False with everything: ``tolerance=nan`` used to switch the
timestamp window off, so a ten-year-old delivery verified."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from fal_typed import webhooks as wh
from fal_typed.webhooks._signature import check_timestamp

from .helpers import jwks_of, make_delivery

NOW = 1_760_000_000
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
JWKS = jwks_of(KEY)
URL = "http://127.0.0.1:9/.well-known/jwks.json"  # nothing is fetched: every call fails first
BODY, HEADERS = make_delivery(KEY, timestamp=NOW)

#: (value, the error it gets): not a number is a TypeError, a number out of range a ValueError.
BAD_SECONDS: list[tuple[object, type[Exception]]] = [
    (math.nan, ValueError),
    (-math.nan, ValueError),
    (math.inf, ValueError),
    (-math.inf, ValueError),
    (-1, ValueError),
    (-0.5, ValueError),
    (10**400, ValueError),  # past float's range
    (True, TypeError),
    (False, TypeError),
    ("5", TypeError),
    ([300], TypeError),
]


def _verifier() -> wh.WebhookVerifier:
    return wh.WebhookVerifier(jwks=JWKS)


class Text(BaseModel):
    text: str
    seed: int


def _claim(ttl: object, tmp: Path) -> bool:
    with wh.SQLiteIdempotencyStore(tmp / "claims.db") as store:
        return store.add("key", ttl)  # type: ignore[arg-type]


# (option name as the error must say it, a call passing ``value`` to that option)
OPTIONS: list[tuple[str, Callable[[Any, Path], object]]] = [
    ("tolerance", lambda v, _: wh.WebhookVerifier(jwks=JWKS, tolerance=v)),
    ("tolerance", lambda v, _: wh.WebhookVerifier(URL, tolerance=v)),
    ("cache_ttl", lambda v, _: wh.WebhookVerifier(URL, cache_ttl=v)),
    ("refresh_cooldown", lambda v, _: wh.WebhookVerifier(URL, refresh_cooldown=v)),
    ("timeout", lambda v, _: wh.WebhookVerifier(URL, timeout=v)),
    ("failure_cooldown", lambda v, _: wh.WebhookVerifier(URL, failure_cooldown=v)),
    ("tolerance", lambda v, _: _verifier().verify(BODY, HEADERS, now=NOW, tolerance=v)),
    ("now", lambda v, _: _verifier().verify(BODY, HEADERS, now=v)),
    ("tolerance", lambda v, _: _verifier().check_headers(HEADERS, now=NOW, tolerance=v)),
    ("now", lambda v, _: _verifier().check_headers(HEADERS, now=v)),
    ("now", lambda v, _: _verifier().parse(BODY, HEADERS, Text, now=v)),
    ("tolerance", lambda v, _: wh.verify(BODY, HEADERS, jwks=JWKS, now=NOW, tolerance=v)),
    ("now", lambda v, _: wh.verify(BODY, HEADERS, jwks=JWKS, now=v)),
    ("tolerance", lambda v, _: check_timestamp(NOW, now=NOW, tolerance=v)),
    ("now", lambda v, _: check_timestamp(NOW, now=v, tolerance=300)),
    ("ttl", lambda v, _: wh.JWKSCache(URL, ttl=v)),
    ("refresh_cooldown", lambda v, _: wh.JWKSCache(URL, refresh_cooldown=v)),
    ("timeout", lambda v, _: wh.JWKSCache(URL, timeout=v)),
    ("failure_cooldown", lambda v, _: wh.JWKSCache(URL, failure_cooldown=v)),
    ("ttl", lambda v, _: wh.Deduplicator(ttl=v)),
    ("ttl", lambda v, _: wh.MemoryIdempotencyStore().add("key", v)),
    ("ttl", lambda v, _: wh.WebhookSenders(ttl=v, ranges=["10.0.0.0/8"])),
    ("busy_timeout", lambda v, tmp: wh.SQLiteIdempotencyStore(tmp / "c.db", busy_timeout=v)),
    ("ttl", _claim),
    ("retention", lambda v, tmp: wh.SQLiteRequestRegistry(tmp / "r.db", retention=v)),
    ("busy_timeout", lambda v, tmp: wh.SQLiteRequestRegistry(tmp / "r.db", busy_timeout=v)),
    ("body_timeout", lambda v, _: wh.webhook_endpoint(Text, print, body_timeout=v)),
    ("body_timeout", lambda v, _: asyncio.run(wh.receive(None, Text, body_timeout=v))),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("name", "call"), OPTIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIONS)]
)
@pytest.mark.parametrize(
    ("value", "error"), BAD_SECONDS, ids=[repr(v)[:12] for v, _ in BAD_SECONDS]
)
def test_a_numeric_option_takes_only_a_finite_non_negative_number(
    name: str,
    call: Callable[[Any, Path], object],
    value: object,
    error: type[Exception],
    tmp_path: Path,
) -> None:
    with pytest.raises(error) as caught:
        call(value, tmp_path)
    assert type(caught.value) is error  # not a WebhookError a receiver would answer 4xx/503
    assert str(caught.value).startswith(name + " must be"), str(caught.value)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("timeout", lambda: wh.WebhookVerifier(URL, timeout=0)),
        ("timeout", lambda: wh.JWKSCache(URL, timeout=0)),
        ("ttl", lambda: wh.Deduplicator(ttl=0)),
        ("ttl", lambda: wh.MemoryIdempotencyStore().add("key", 0)),
        ("cache_ttl", lambda: wh.WebhookVerifier(URL, cache_ttl=86401)),
        ("ttl", lambda: wh.JWKSCache(URL, ttl=86400.5)),
        ("body_timeout", lambda: wh.webhook_endpoint(Text, print, body_timeout=0)),
    ],
)
def test_options_with_a_narrower_range_name_it(name: str, call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be"):
        call()


@pytest.mark.parametrize("value", [0, 1.5, True, "100", math.nan])
def test_counts_are_ints_of_at_least_one(value: object) -> None:
    error = ValueError if value == 0 else TypeError
    with pytest.raises(error, match=r"^max_entries must be"):
        wh.MemoryIdempotencyStore(max_entries=value)  # type: ignore[arg-type]


def test_good_values_are_kept_as_floats(tmp_path: Path) -> None:
    verifier = wh.WebhookVerifier(URL, tolerance=10, cache_ttl=60, refresh_cooldown=0, timeout=1)
    assert verifier.tolerance == 10.0 and isinstance(verifier.tolerance, float)
    assert verifier.cache is not None
    assert (verifier.cache.ttl, verifier.cache.refresh_cooldown, verifier.cache.timeout) == (
        60.0,
        0.0,
        1.0,
    )
    assert wh.Deduplicator(ttl=1).ttl == 1.0
    with wh.SQLiteRequestRegistry(tmp_path / "r.db", retention=0.5, busy_timeout=0) as registry:
        assert registry.retention == 0.5


@settings(max_examples=200, deadline=None)
@given(
    tolerance=st.one_of(
        st.floats(min_value=-1e9, max_value=1e9),  # a window a 12-digit timestamp can leave
        st.sampled_from([math.nan, math.inf, -math.inf, 0, 0.0, -0.0]),
        st.integers(min_value=-(10**9), max_value=10**9),
    ),
    late=st.integers(min_value=1, max_value=10**6),
)
def test_whatever_tolerance_is_accepted_a_delivery_outside_it_is_refused(
    tolerance: float, late: int
) -> None:
    """The property the window promises: any tolerance the verifier takes refuses a delivery
    signed more than that many seconds ago (and one signed that many seconds ahead)."""
    try:
        verifier = wh.WebhookVerifier(jwks=JWKS, tolerance=tolerance)
    except ValueError:
        assert not (math.isfinite(tolerance) and tolerance >= 0)
        return
    assert math.isfinite(tolerance) and tolerance >= 0
    signed = NOW - math.floor(tolerance) - late
    body, headers = make_delivery(KEY, timestamp=signed)
    with pytest.raises(wh.StaleTimestampError):
        verifier.verify(body, headers, now=NOW)
    body, headers = make_delivery(KEY, timestamp=NOW + math.floor(tolerance) + late)
    with pytest.raises(wh.FutureTimestampError):
        verifier.verify(body, headers, now=NOW)


@pytest.mark.parametrize("tolerance", [math.nan, math.inf])
def test_a_ten_year_old_delivery_never_verifies(tolerance: float) -> None:
    """The probe's case: a delivery signed ten years ago, under a window of NaN or infinity."""
    old = int(time.time()) - 10 * 365 * 86400
    body, headers = make_delivery(KEY, timestamp=old)
    with pytest.raises(ValueError, match="tolerance"):
        wh.WebhookVerifier(jwks=JWKS, tolerance=tolerance).verify(body, headers)
    with pytest.raises(ValueError, match="tolerance"):
        wh.WebhookVerifier(jwks=JWKS).verify(body, headers, tolerance=tolerance)
    with pytest.raises(ValueError, match="tolerance"):
        wh.verify(body, headers, jwks=JWKS, tolerance=tolerance)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # the wrong type is named by its type
        (
            lambda: wh.WebhookVerifier(jwks=JWKS, tolerance=True),
            "tolerance must be a number of seconds, got bool",
        ),
        (
            lambda: wh.JWKSCache(URL, ttl="60"),  # type: ignore[arg-type]
            "ttl must be a number of seconds, got str",
        ),
        # a number out of range is quoted as given
        (
            lambda: wh.WebhookVerifier(jwks=JWKS, tolerance=math.nan),
            "tolerance must be a finite number of seconds, got nan",
        ),
        (
            lambda: wh.JWKSCache(URL, timeout=-math.inf),
            "timeout must be a finite number of seconds, got -inf",
        ),
        (lambda: wh.Deduplicator(ttl=0.0), "ttl must be > 0 seconds, got 0.0"),
        (lambda: wh.Deduplicator(ttl=-2), "ttl must be > 0 seconds, got -2"),
        (
            lambda: wh.WebhookVerifier(jwks=JWKS, tolerance=-0.5),
            "tolerance must be >= 0 seconds, got -0.5",
        ),
        # ints of up to 64 bits are quoted whole; a longer one is described by its size
        (
            lambda: wh.WebhookVerifier(jwks=JWKS, tolerance=-(2**63)),
            "tolerance must be >= 0 seconds, got -9223372036854775808",
        ),
        (
            lambda: wh.WebhookVerifier(jwks=JWKS, tolerance=-(2**64)),
            "tolerance must be >= 0 seconds, got an integer of 65 bits",
        ),
        (
            lambda: wh.Deduplicator(ttl=-(2**64) + 1),
            "ttl must be > 0 seconds, got -18446744073709551615",
        ),
        (
            lambda: wh.WebhookVerifier(jwks=JWKS, tolerance=10**400),
            "tolerance must be a finite number of seconds, got an integer of 1329 bits",
        ),
    ],
)
def test_a_refused_number_is_quoted_in_the_message(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        call()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "max_entries must be >= 1, got 0"),
        (-(2**64), "max_entries must be >= 1, got an integer of 65 bits"),
        (1.0, "max_entries must be an int, got float"),
        (False, "max_entries must be an int, got bool"),
    ],
)
def test_a_refused_count_is_quoted_in_the_message(value: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        wh.MemoryIdempotencyStore(max_entries=value)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_a_count_of_one_is_the_least_taken() -> None:
    store = wh.MemoryIdempotencyStore(max_entries=1)
    assert store.max_entries == 1
    assert store.add("a", 60) is True
