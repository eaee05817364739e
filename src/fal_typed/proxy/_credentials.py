"""The proxy's fal credentials: the account key, and the CDN tokens it gets with that key.

The key comes from ``key=``: a string, a resolver called per request (``(request) -> key``, sync
or async: one key per tenant, or one from a secret store), or None for the environment
(``FAL_KEY``, or ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``, read on the first request, as the Python
client reads it).

The CDN accepts only a short-lived CDN token, never the key (PROTOCOL.md section 6). The proxy
gets one per key with the runtime's own token cache and adds it to every CDN request itself. A
caller that asks for a token (the Python client's upload flow starts there) gets a stand-in
instead: the CDN's address and the real token's expiry, but no credential of any kind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from starlette.requests import Request

from .._auth import Credentials, check_key, resolve_credentials
from .._client import Client
from .._errors import FalError, InvalidArgumentError, MissingCredentialsError
from .._hosts import Hosts
from ..files._token import CdnToken, cached_token_async, forget_token
from ._calls import resolved
from ._redact import Secrets
from ._refusal import Refused
from ._targets import Upstream

__all__ = ["STAND_IN_TOKEN", "KeyRing", "KeySource"]

KeySource: TypeAlias = "str | Callable[[Request], Awaitable[str] | str] | None"
"""The account key, a resolver of it per request, or None (the environment)."""

#: The ``token`` of the stand-in answer to a caller's CDN token request.
STAND_IN_TOKEN = "issued-by-fal-typed-proxy"
_MAX_CLIENTS = 64


class KeyRing:
    """Resolves the key of each request and keeps one CDN token per key."""

    def __init__(self, key: KeySource, hosts: Hosts, secrets: Secrets) -> None:
        self._static: Credentials | None = None
        self._resolver: Callable[[Request], Awaitable[str] | str] | None = None
        if isinstance(key, str):
            self._static = Credentials(check_key(key), "argument")
            secrets.add(self._static.secrets)
        elif callable(key):
            self._resolver = key
        elif key is not None:
            raise InvalidArgumentError(
                f"key must be a string, a callable or None, not {type(key).__name__}"
            )
        self._hosts = hosts
        self._secrets = secrets
        self._clients: OrderedDict[str, Client] = OrderedDict()

    async def credentials(self, request: Request) -> Credentials:
        """The key for ``request``; :class:`Refused` (500) when there is none."""
        if self._static is not None:
            return self._static
        if self._resolver is None:
            try:
                self._static = resolve_credentials(None)
            except MissingCredentialsError as exc:
                raise Refused(
                    500, f"the proxy is misconfigured: {exc}", "proxy_missing_credentials"
                ) from None
            self._secrets.add(self._static.secrets)
            return self._static
        value = await resolved(self._resolver(request))
        try:
            credentials = Credentials(check_key(value), "resolver")
        except InvalidArgumentError as exc:
            raise Refused(
                500,
                f"the proxy is misconfigured: the key resolver gave no key ({exc})",
                "proxy_missing_credentials",
            ) from None
        self._secrets.add(credentials.secrets)
        return credentials

    def _client(self, credentials: Credentials) -> Client:
        """The client that fetches CDN tokens with ``credentials`` (one per key, a few kept)."""
        client = self._clients.get(credentials.key)
        if client is None:
            hosts = self._hosts
            client = Client(
                credentials.key,
                queue_url=hosts.queue_url,
                run_url=hosts.run_url,
                rest_url=hosts.rest_url,
                cdn_url=hosts.cdn_url,
                realtime_url=hosts.realtime_url,
                backup_hosts={},
            )
            self._clients[credentials.key] = client
            while len(self._clients) > _MAX_CLIENTS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(credentials.key)
        return client

    async def cdn_token(self, credentials: Credentials) -> CdnToken:
        """A valid CDN token for ``credentials``; :class:`Refused` (502) if fal gives none."""
        try:
            token = await cached_token_async(self._client(credentials))
        except FalError as exc:
            raise Refused(
                502,
                f"the proxy could not get a CDN token: {self._secrets.text(str(exc))}",
                "proxy_upstream_error",
            ) from None
        self._secrets.add((token.token,), token=True)
        return token

    def forget(self, credentials: Credentials, token: CdnToken) -> None:
        """The CDN refused ``token``: the next upload fetches a new one."""
        client = self._clients.get(credentials.key)
        if client is not None:
            forget_token(client, token)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()

    async def stand_in(self, credentials: Credentials, upstream: Upstream) -> dict[str, Any]:
        """The answer to a caller's CDN token request: where to upload, and no credential."""
        token = await self.cdn_token(credentials)
        return {
            "token": STAND_IN_TOKEN,
            "token_type": "Bearer",
            "base_url": upstream.canonical(token.base_url),
            "expires_at": token.expires_at.isoformat(),
        }
