"""`WebhookVerifier`: checks deliveries against fal's keys and keeps the JWKS cache between them.

Order of checks (cheapest and most telling first, nothing parsed before it is authentic): the four
headers are present and well formed, the timestamp is inside the tolerance window, then the
Ed25519 signature over the exact raw body verifies under some key of the JWKS (refetched once on a
miss, in case fal rotated its keys). Only then is the body decoded.

Keys past their cache lifetime still decide whether a fetch is worth it: a signature they verify is
accepted only once a refetch confirms its key is still published; one they do not verify takes the
cooldown-limited miss path, so forged deliveries cannot force a fetch each even when the JWKS
response forbids caching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel

from . import _checks
from ._errors import InvalidSignatureError
from ._jwks import (
    DEFAULT_FAILURE_COOLDOWN,
    MAX_CACHE_TTL,
    HTTPClientSource,
    JWKSCache,
    KeySet,
    check_ttl,
)
from ._result import WebhookResult, decode_delivery
from ._signature import (
    SignedHeaders,
    check_timestamp,
    load_jwks,
    read_signed_headers,
    signature_matches,
    signed_message,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "WebhookBody",
    "WebhookVerifier",
    "check_output_model",
    "shared_verifier",
]

OutputT = TypeVar("OutputT", bound=BaseModel)

WebhookBody: TypeAlias = bytes | bytearray | memoryview
"""The raw request body, exactly as received (never re-encoded text)."""

DEFAULT_TOLERANCE = 300.0
_JWKS_PATH = "/.well-known/jwks.json"


def _check_body(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray):
        return bytes(body)
    if isinstance(body, memoryview):
        return body.tobytes()
    if isinstance(body, str):
        raise TypeError(
            "webhook body must be the raw request bytes, not str: decoding and re-encoding can change them"
        )
    raise TypeError(f"webhook body must be bytes, got {type(body).__name__}")


def _check_headers(headers: object) -> Mapping[str, str]:
    if not isinstance(headers, Mapping):
        raise TypeError(
            f"webhook headers must be a mapping of header name to value, got {type(headers).__name__}"
        )
    return headers  # pyright: ignore[reportUnknownVariableType]


def check_output_model(output_model: object) -> None:
    """Refuse anything but a pydantic model class, before any work is done."""
    if not (isinstance(output_model, type) and issubclass(output_model, BaseModel)):
        raise TypeError(
            f"output_model must be a pydantic model class (an endpoint's Output), got {output_model!r}"
        )


class WebhookVerifier:
    """Verifies fal webhook deliveries; create one per application and reuse it (it holds the cache).

    Keys come from ``jwks`` (a JWKS document given inline: fixed keys, nothing fetched) or from
    ``jwks_url``; that defaults to ``<client.rest_url>/.well-known/jwks.json`` of ``client``, or of
    the default client (fal's ``https://rest.fal.ai/.well-known/jwks.json``, or the local server's
    when ``FAL_TYPED_BASE_URL`` is set), so a client pointed at the local fal server trusts it. Fetched keys are cached ``cache_ttl`` seconds
    (24 h at most), less when the JWKS response's ``Cache-Control``/``Expires`` says so; a
    signature none of them verifies triggers one refetch, at most once per ``refresh_cooldown``
    seconds; after a failed fetch none is made for ``failure_cooldown`` seconds (deliveries get
    that failure at once). Each fetch ends within ``timeout`` seconds, all told. ``tolerance`` is
    the accepted clock difference, both ways.
    """

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        client: HTTPClientSource | None = None,
        jwks: Mapping[str, Any] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        cache_ttl: float = MAX_CACHE_TTL,
        refresh_cooldown: float = 30.0,
        timeout: float = 10.0,
        failure_cooldown: float = DEFAULT_FAILURE_COOLDOWN,
    ) -> None:
        self.tolerance: float = _checks.seconds("tolerance", tolerance)
        cache_ttl = check_ttl("cache_ttl", cache_ttl)
        refresh_cooldown = _checks.seconds("refresh_cooldown", refresh_cooldown)
        timeout = _checks.seconds("timeout", timeout, positive=True)
        failure_cooldown = _checks.seconds("failure_cooldown", failure_cooldown)
        if jwks is not None and jwks_url is not None:
            raise ValueError("give either jwks (fixed keys) or jwks_url (fetched keys), not both")
        self._static: tuple[Ed25519PublicKey, ...] | None = None
        self._cache: JWKSCache | None = None
        if jwks is not None:
            try:
                self._static = load_jwks(jwks)
            except ValueError as exc:
                raise ValueError(f"invalid jwks: {exc}") from None
        else:
            if jwks_url is None:
                jwks_url = (
                    client.rest_url.rstrip("/") + _JWKS_PATH
                    if client is not None
                    else default_jwks_url()
                )
            self._cache = JWKSCache(
                jwks_url,
                client=client,
                ttl=cache_ttl,
                refresh_cooldown=refresh_cooldown,
                timeout=timeout,
                failure_cooldown=failure_cooldown,
            )

    def __repr__(self) -> str:
        source = "static keys" if self._cache is None else repr(self._cache.url)
        return f"WebhookVerifier({source}, tolerance={self.tolerance:g})"

    @property
    def jwks_url(self) -> str | None:
        """Where keys are fetched from (None when the keys were given inline)."""
        return None if self._cache is None else self._cache.url

    @property
    def cache(self) -> JWKSCache | None:
        """The JWKS cache (None for inline keys)."""
        return self._cache

    def _must_renew(self, keys: KeySet, message: bytes, signature: bytes) -> bool:
        """Stale keys that verify this signature need a refetch to confirm the key is still valid."""
        assert self._cache is not None
        return not self._cache.is_fresh(keys) and signature_matches(message, signature, keys.keys)

    def check_headers(
        self,
        headers: Mapping[str, str],
        *,
        now: float | None = None,
        tolerance: float | None = None,
    ) -> SignedHeaders:
        """The checks that need no body: the four headers are there and well formed, and the
        timestamp is inside the window. A receiver runs them before it reads the body, so a
        forged or replayed delivery costs it nothing; :meth:`verify` runs them again."""
        window = self.tolerance if tolerance is None else _checks.seconds("tolerance", tolerance)
        clock = time.time() if now is None else _checks.seconds("now", now)
        signed = read_signed_headers(_check_headers(headers))
        check_timestamp(signed.timestamp, now=clock, tolerance=window)
        return signed

    def _pre_check(
        self, body: object, headers: object, now: float | None, tolerance: float | None
    ) -> tuple[SignedHeaders, bytes]:
        """Argument checks, then header shape and timestamp; returns the headers and the message."""
        raw = _check_body(body)
        signed = self.check_headers(_check_headers(headers), now=now, tolerance=tolerance)
        return signed, signed_message(signed.request_id, signed.user_id, signed.timestamp, raw)

    def verify(
        self,
        body: WebhookBody,
        headers: Mapping[str, str],
        *,
        now: float | None = None,
        tolerance: float | None = None,
    ) -> SignedHeaders:
        """Raise a :class:`WebhookVerificationError` subclass unless the delivery is authentic.

        Returns the verified headers (request id, user id, timestamp). ``now`` (unix seconds)
        replaces the clock; ``tolerance`` overrides the verifier's window for this call.
        """
        signed, message = self._pre_check(body, headers, now, tolerance)
        if self._cache is None:
            assert self._static is not None
            if signature_matches(message, signed.signature, self._static):
                return signed
            raise InvalidSignatureError()
        keys = self._cache.cached()
        if keys is None or self._must_renew(keys, message, signed.signature):
            keys = self._cache.renew(keys)
        if signature_matches(message, signed.signature, keys.keys):
            return signed
        newer = self._cache.refetch_after_miss(keys.generation)
        if newer is not None and signature_matches(message, signed.signature, newer.keys):
            return signed
        raise InvalidSignatureError()

    async def verify_async(
        self,
        body: WebhookBody,
        headers: Mapping[str, str],
        *,
        now: float | None = None,
        tolerance: float | None = None,
    ) -> SignedHeaders:
        """Async twin of :meth:`verify` (the JWKS is fetched without blocking the event loop)."""
        signed, message = self._pre_check(body, headers, now, tolerance)
        if self._cache is None:
            assert self._static is not None
            if signature_matches(message, signed.signature, self._static):
                return signed
            raise InvalidSignatureError()
        keys = self._cache.cached()
        if keys is None or self._must_renew(keys, message, signed.signature):
            keys = await self._cache.renew_async(keys)
        if signature_matches(message, signed.signature, keys.keys):
            return signed
        newer = await self._cache.refetch_after_miss_async(keys.generation)
        if newer is not None and signature_matches(message, signed.signature, newer.keys):
            return signed
        raise InvalidSignatureError()

    def parse(
        self,
        body: WebhookBody,
        headers: Mapping[str, str],
        output_model: type[OutputT],
        *,
        now: float | None = None,
    ) -> WebhookResult[OutputT]:
        """Verify the delivery, then decode it with the payload parsed into ``output_model``."""
        check_output_model(output_model)
        signed = self.verify(body, headers, now=now)
        return decode_delivery(_check_body(body), signed, output_model)

    async def parse_async(
        self,
        body: WebhookBody,
        headers: Mapping[str, str],
        output_model: type[OutputT],
        *,
        now: float | None = None,
    ) -> WebhookResult[OutputT]:
        """Async twin of :meth:`parse`."""
        check_output_model(output_model)
        signed = await self.verify_async(body, headers, now=now)
        return decode_delivery(_check_body(body), signed, output_model)


_shared: dict[str, WebhookVerifier] = {}
_shared_lock = threading.Lock()


def default_jwks_url() -> str:
    """The JWKS URL of the default client's REST host: fal's (``DEFAULT_JWKS_URL``), or a
    local server's when ``FAL_TYPED_BASE_URL`` / ``fal_typed.use_local_server`` points there."""
    from .._client import default_client

    return default_client().rest_url.rstrip("/") + _JWKS_PATH


def shared_verifier(jwks_url: str | None = None) -> WebhookVerifier:
    """The process-wide verifier for ``jwks_url`` (default: :func:`default_jwks_url`), so calls
    without a verifier still share a cache."""
    if jwks_url is None:
        jwks_url = default_jwks_url()
    with _shared_lock:
        verifier = _shared.get(jwks_url)
        if verifier is None:
            verifier = _shared[jwks_url] = WebhookVerifier(jwks_url)
        return verifier
