"""The CDN upload token: fetched with the account key, cached per client until it expires.

Every CDN request carries this short-lived token instead of the key (PROTOCOL.md section 6,
step 1), so the key never travels to the CDN host. One fetch serves every upload of a client
until ``expires_at`` (minus a safety margin); concurrent uploads wait for the same fetch.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, cast

import httpx
from typing_extensions import override

from .._errors import ProtocolError, remember_secrets
from .._forked import on_fork
from .._retry import Kind

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["CdnToken", "cached_token", "cached_token_async", "forget_token"]

_TOKEN_PATH = "/storage/auth/token"
_TOKEN_PARAMS = {"storage_type": "fal-cdn-v3"}
_MARGIN = timedelta(seconds=30)
"""A token this close to expiry is refreshed rather than risked on a long upload (at most half
its lifetime, so a short-lived token is still reused)."""


@dataclass(frozen=True)
class CdnToken:
    """A CDN token; its secret never shows in ``repr``."""

    token: str = field(repr=False)
    token_type: str
    base_url: str
    expires_at: datetime
    fetched_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def authorization(self) -> str:
        return f"{self.token_type} {self.token}"

    def usable(self, now: datetime | None = None) -> bool:
        margin = min(_MARGIN, (self.expires_at - self.fetched_at) / 2)
        return (now or datetime.now(timezone.utc)) < self.expires_at - margin

    @override
    def __repr__(self) -> str:
        return f"CdnToken(token_type={self.token_type!r}, base_url={self.base_url!r}, expires_at={self.expires_at.isoformat()})"


def _parse_expiry(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expires_at is missing")
    # Python 3.10's fromisoformat rejects a trailing "Z".
    parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_token(body: Any, default_base_url: str, secrets: tuple[str, ...] = ()) -> CdnToken:
    """Read the token endpoint's JSON; raise :class:`ProtocolError` if it is not one, or if its
    token holds one of ``secrets`` (the key: it would be sent to the CDN)."""
    try:
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        fields = cast("dict[str, object]", body)
        token, token_type = fields.get("token"), fields.get("token_type") or "Bearer"
        base_url = fields.get("base_url") or default_base_url
        if (
            not isinstance(token, str)
            or not token
            or not isinstance(token_type, str)
            or not isinstance(base_url, str)
        ):
            raise ValueError("token, token_type or base_url is missing")
        if any(secret in token for secret in secrets):
            raise ValueError("the token is the API key; it was not used")
        expires_at = _parse_expiry(fields.get("expires_at"))
        remember_secrets((token,), token=True)  # scrubbed, like the key, from every error
        return CdnToken(token, token_type, base_url.rstrip("/"), expires_at)
    except ValueError as exc:
        raise ProtocolError(f"malformed CDN token response: {exc}") from None


class _TokenCache:
    def __init__(self) -> None:
        self.token: CdnToken | None = None
        self._new_locks()
        on_fork(self, _TokenCache._new_locks)  # a fetch under way at a fork never ends there

    def _new_locks(self) -> None:
        self.guard = threading.Lock()  # held briefly: never across a fetch
        self.fetch_lock = threading.Lock()  # serialises sync fetches
        self.async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self.guard:
            lock = self.async_locks.get(loop)
            if lock is None:
                lock = self.async_locks[loop] = asyncio.Lock()
            return lock


_caches: weakref.WeakKeyDictionary[Client, _TokenCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(client: Client) -> _TokenCache:
    with _caches_lock:
        cache = _caches.get(client)
        if cache is None:
            cache = _caches[client] = _TokenCache()
        return cache


def _fetch_args(client: Client) -> tuple[str, dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "json": {},
        "params": _TOKEN_PARAMS,
        "headers": {"Accept": "application/json"},
        "kind": Kind.UPLOAD_TOKEN,  # asking twice for a token is harmless
    }
    return client.rest_url + _TOKEN_PATH, kwargs


def _read_token(client: Client, response: httpx.Response) -> CdnToken:
    try:
        body: Any = response.json()
    except (ValueError, RecursionError):
        text = client.redact(response.text)
        raise ProtocolError(
            f"malformed CDN token response: not JSON: {text[:200]!r}", text=text
        ) from None
    return parse_token(body, client.cdn_url, client.secrets)


def cached_token(client: Client) -> CdnToken:
    """The client's CDN token, fetched (once, under a lock) when missing or about to expire."""
    cache = _cache(client)
    token = cache.token
    if token is not None and token.usable():
        return token
    with cache.fetch_lock:
        token = cache.token
        if token is None or not token.usable():
            url, kwargs = _fetch_args(client)
            token = _read_token(client, client.request("POST", url, **kwargs))
            cache.token = token
        return token


async def cached_token_async(client: Client) -> CdnToken:
    """Async twin of :func:`cached_token`."""
    cache = _cache(client)
    token = cache.token
    if token is not None and token.usable():
        return token
    async with cache.async_lock():
        token = cache.token
        if token is None or not token.usable():
            url, kwargs = _fetch_args(client)
            response = await client.arequest("POST", url, **kwargs)
            token = _read_token(client, response)
            cache.token = token
        return token


def forget_token(client: Client, token: CdnToken) -> None:
    """Drop ``token`` from the cache (the CDN refused it), so the next upload fetches a new one."""
    cache = _cache(client)
    with cache.guard:
        if cache.token is token:
            cache.token = None
