"""Short-lived realtime JWTs: fetch from ``POST <rest>/tokens/``, cache, refresh before expiry.

The realtime socket authenticates with a JWT in its URL rather than the API key, so the key
never travels in a WebSocket handshake (nor in the debug logs of the websockets library). A token
is requested for the app's alias with a 120 s lifetime (fal-js and fal-client use the same) and
reused by every reconnect until less than a tenth of its lifetime is left, as fal-js does.

An answer is used as a token only if it looks like one (visible ASCII, at most
:data:`MAX_TOKEN_LENGTH` characters) and does not contain the key: a tokens endpoint (or a proxy
in front of it) echoing the key back would otherwise put it in the WebSocket URL.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import httpx

from .._errors import FalError, ProtocolError, remember_secrets
from .._retry import Kind

if TYPE_CHECKING:
    from .._client import Client
    from .._deadline import Deadline

__all__ = [
    "MAX_TOKEN_LENGTH",
    "TOKEN_EXPIRATION",
    "RealtimeToken",
    "TokenCache",
    "check_token",
    "parse_token_response",
]

#: Lifetime (seconds) asked of the tokens endpoint.
TOKEN_EXPIRATION: Final = 120
#: Refresh when less than this share of a token's lifetime is left.
_REFRESH_SHARE: Final = 0.1
#: Longest answer accepted as a token (fal's JWTs are a few hundred characters).
MAX_TOKEN_LENGTH: Final = 8192


@dataclass(frozen=True)
class RealtimeToken:
    """A JWT and the wall-clock time (``time.time()``) after which it must not be used."""

    value: str
    issued_at: float
    expires_at: float

    def __repr__(self) -> str:
        return f"RealtimeToken(expires_at={self.expires_at:.0f})"

    def fresh(self, now: float) -> bool:
        """Whether it has more than a tenth of its lifetime left."""
        margin = (self.expires_at - self.issued_at) * _REFRESH_SHARE
        return now < self.expires_at - margin


def parse_token_response(data: Any) -> str:
    """The token from the endpoint's answer: a JSON string, ``{"token"}`` or, from old proxies, ``{"detail"}``."""
    if isinstance(data, str) and data:
        return data
    if isinstance(data, dict):
        obj = cast(dict[str, Any], data)
        for key in ("token", "detail"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                return value
    raise FalError(
        "the realtime tokens endpoint answered without a token", error_type="invalid_token_response"
    )


def check_token(token: str, secrets: tuple[str, ...]) -> str:
    """``token``, unless it cannot be one: too long, not visible ASCII, or holding a secret."""
    if any(secret in token for secret in secrets):
        raise ProtocolError(
            "the realtime tokens endpoint answered with the API key instead of a token; it was "
            "not used (the key must never travel in the WebSocket URL)",
            error_type="invalid_token_response",
        )
    if len(token) > MAX_TOKEN_LENGTH or not all("!" <= ch <= "~" for ch in token):
        raise ProtocolError(
            f"the realtime tokens endpoint answered with something that is not a token "
            f"({len(token)} characters, not all visible ASCII, or more than {MAX_TOKEN_LENGTH})",
            error_type="invalid_token_response",
        )
    return token


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (only to schedule a refresh)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(segment))
    except (ValueError, binascii.Error):
        return None
    exp = cast(dict[str, Any], claims).get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class TokenCache:
    """The current token of one connection; thread-safe, shared by its reconnects."""

    def __init__(
        self,
        alias: str,
        *,
        expiration: int = TOKEN_EXPIRATION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.alias = alias
        self.expiration = expiration
        self._clock = clock
        self._token: RealtimeToken | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(alias={self.alias!r}, token={self._token!r})"

    def current(self) -> str | None:
        """The cached token if it is still fresh, else ``None`` (fetch a new one)."""
        with self._lock:
            token = self._token
        return token.value if token is not None and token.fresh(self._clock()) else None

    def invalidate(self) -> None:
        """Forget the token (the server refused it)."""
        with self._lock:
            self._token = None

    def get(self, client: Client, *, deadline: Deadline | None = None) -> str:
        """A fresh token, fetched through ``client`` (with its retries, within ``deadline``)
        when needed."""
        cached = self.current()
        if cached is not None:
            return cached
        issued = self._clock()
        response = client.request(
            "POST",
            self._url(client),
            json=self._body(),
            deadline=deadline,
            kind=Kind.REALTIME_TOKEN,
        )
        return self._store(response, issued, client)

    async def aget(self, client: Client, *, deadline: Deadline | None = None) -> str:
        """Async twin of :meth:`get`."""
        cached = self.current()
        if cached is not None:
            return cached
        issued = self._clock()
        response = await client.arequest(
            "POST",
            self._url(client),
            json=self._body(),
            deadline=deadline,
            kind=Kind.REALTIME_TOKEN,
        )
        return self._store(response, issued, client)

    def _url(self, client: Client) -> str:
        return f"{client.rest_url.rstrip('/')}/tokens/"

    def _body(self) -> dict[str, Any]:
        return {"allowed_apps": [self.alias], "token_expiration": self.expiration}

    def _store(self, response: httpx.Response, issued: float, client: Client) -> str:
        try:
            data: Any = response.json()
        except (ValueError, RecursionError):
            data = None
        value = check_token(parse_token_response(data), client.secrets)
        remember_secrets((value,), token=True)  # it travels in the WebSocket URL: scrubbed
        expires = issued + self.expiration
        claimed = _jwt_expiry(value)
        if claimed is not None:
            expires = min(expires, claimed)
        with self._lock:
            self._token = RealtimeToken(value, issued, expires)
        return value
