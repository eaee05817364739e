"""Is a delivery from fal's servers? The sender's address against fal's published ranges.

fal publishes the addresses its webhooks come from at ``GET {api_url}/v1/meta``
(``webhook_ip_ranges``, CIDR). :class:`WebhookSenders` fetches them when first needed, keeps
them ``ttl`` seconds (an hour by default), and tells whether an address is in them. It is a
cheap filter in front of the signature check, not a replacement: the signature proves who wrote
the body; the address only says where the connection came from (behind a proxy, use the
client address the proxy reports, never a header the sender sets).

A refresh that fails keeps the ranges already known (with a warning); with none known yet the
error is raised (:class:`~fal_typed.FalConnectionError`, :class:`~fal_typed.FalHTTPError`).
``/meta`` is public: no API key is sent. HTTP goes through the httpx clients of the
``fal_typed.Client`` given (else the default client), whose ``api_url`` says where fal is, with
the JWKS's bounds: 10 s for the whole fetch, 1 MiB of body, 3 redirects (never https to http).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final, TypeAlias

import httpx
from pydantic import ValidationError

from .._client import Client, default_client
from .._errors import FalConnectionError, FalError, ProtocolError, error_for_response
from . import _checks
from ._errors import JWKSFetchError
from ._jwks_http import error_excerpt, get_jwks, get_jwks_async

__all__ = ["DEFAULT_SENDERS_TTL", "WebhookSenders"]

logger = logging.getLogger("fal_typed")

#: How long fetched ranges are trusted before they are fetched again.
DEFAULT_SENDERS_TTL: Final = 3600.0
_META_PATH: Final = "/v1/meta"
_TIMEOUT: Final = 10.0
_RETRY_AFTER_FAILURE: Final = 60.0

Network: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"
Address: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"


def _networks(ranges: Iterable[str]) -> tuple[Network, ...]:
    networks: list[Network] = []
    for text in ranges:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            logger.warning("fal_typed: ignoring a webhook IP range that is no network: %r", text)
    return tuple(networks)


def _address(address: str | Address) -> Address | None:
    try:
        parsed = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped  # "::ffff:1.2.3.4", as dual-stack servers report IPv4 clients
    return parsed


class WebhookSenders:
    """fal's webhook source ranges, fetched from ``/meta`` and cached for ``ttl`` seconds.

    ``client`` supplies ``api_url`` (unless given) and its httpx clients (default: the default
    client, https://api.fal.ai). ``ranges`` fixes the ranges instead (nothing is fetched), e.g.
    for tests or an allowlist kept in configuration::

        senders = WebhookSenders()
        if not senders.allows(request.client.host):
            return Response(status_code=403)
    """

    def __init__(
        self,
        *,
        client: Client | None = None,
        api_url: str | None = None,
        ttl: float = DEFAULT_SENDERS_TTL,
        ranges: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.api_url = api_url
        self.ttl: float = _checks.seconds("ttl", ttl)
        self._clock = clock
        self._fixed = ranges is not None
        self._networks: tuple[Network, ...] | None = (
            _networks(ranges) if ranges is not None else None
        )
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self.fetches: int = 0
        """How many times ``/meta`` was asked."""

    def __repr__(self) -> str:
        known = "unfetched" if self._networks is None else f"{len(self._networks)} ranges"
        return f"WebhookSenders({known})"

    @property
    def url(self) -> str:
        """Where the ranges are fetched: ``api_url`` (or the client's) + ``/v1/meta``."""
        return (self.api_url or self._client().api_url).rstrip("/") + _META_PATH

    def _client(self) -> Client:
        return self.client if self.client is not None else default_client()

    # -- the check -----------------------------------------------------------------------------

    def allows(self, address: str | Address) -> bool:
        """Whether ``address`` is in fal's webhook ranges (fetched first if stale)."""
        parsed = _address(address)
        return parsed is not None and any(parsed in network for network in self.ranges())

    async def allows_async(self, address: str | Address) -> bool:
        """Async twin of :meth:`allows`."""
        parsed = _address(address)
        return parsed is not None and any(
            parsed in network for network in await self.ranges_async()
        )

    def ranges(self) -> tuple[Network, ...]:
        """The ranges, fetched from ``/meta`` when none are known or they are ``ttl`` old."""
        with self._lock:
            if not self._stale():
                assert self._networks is not None
                return self._networks
            try:
                response = self._get()
            except FalError as exc:
                return self._keep(exc)
            return self._accept(response)

    async def ranges_async(self) -> tuple[Network, ...]:
        """Async twin of :meth:`ranges`."""
        if not self._stale():
            assert self._networks is not None
            return self._networks
        try:
            response = await self._get_async()
        except FalError as exc:
            with self._lock:
                return self._keep(exc)
        with self._lock:
            return self._accept(response)

    # -- fetching ------------------------------------------------------------------------------

    def _stale(self) -> bool:
        if self._networks is None:
            return True
        return not self._fixed and self._clock() - self._fetched_at >= self.ttl

    # The fetch runs under the lock every delivery's check waits on, so it must end: httpx's
    # timeout bounds each read, not their sum (a server trickling a byte at a time held it for
    # ever), and the body had no size cap. It is the JWKS's bounded GET: _TIMEOUT in all, 1 MiB.

    def _get(self) -> tuple[httpx.Response, bytes]:
        self.fetches += 1
        url = self.url
        try:
            return get_jwks(self._client().http, url, _TIMEOUT, what="webhook IP ranges")
        except JWKSFetchError as exc:
            raise FalConnectionError(f"GET {url} failed: {exc.reason}") from None

    async def _get_async(self) -> tuple[httpx.Response, bytes]:
        self.fetches += 1
        url = self.url
        try:
            http = self._client().async_http
            return await get_jwks_async(http, url, _TIMEOUT, what="webhook IP ranges")
        except JWKSFetchError as exc:
            raise FalConnectionError(f"GET {url} failed: {exc.reason}") from None

    def _accept(self, answer: tuple[httpx.Response, bytes]) -> tuple[Network, ...]:
        from ..platform._generated.models import GetMetaResponse

        response, body = answer
        if response.status_code != 200:
            # What the server said, its start only (MAX_ERROR_BYTES read), as one scrubbed line.
            said = error_excerpt(body) or None
            error = error_for_response(response.status_code, said, response.headers)
            return self._keep(error)
        try:
            meta = GetMetaResponse.model_validate_json(body)
        except ValidationError:
            return self._keep(ProtocolError(f"{self.url} answered no webhook_ip_ranges"))
        self._networks = _networks(meta.webhook_ip_ranges)
        self._fetched_at = self._clock()
        return self._networks

    def _keep(self, error: FalError) -> tuple[Network, ...]:
        """After a failed refresh: the ranges already known, else the error."""
        if self._networks is None:
            raise error
        logger.warning("fal_typed: keeping the known webhook IP ranges: %s", error)
        # Try again in a minute (or ttl), not on every delivery.
        self._fetched_at = self._clock() - self.ttl + min(self.ttl, _RETRY_AFTER_FAILURE)
        return self._networks
