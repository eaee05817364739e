"""Sending a client's requests through a fal proxy, as fal-js does with ``proxyUrl``.

With ``Client(proxy_url=...)`` the client has no key. Every request that would carry fal
credentials (the queue, runs, streams, upload initiation and CDN uploads) goes to the proxy
instead, with its real URL in ``x-fal-target-url`` and no ``Authorization`` of fal's: the proxy
adds the credential (the key, or a CDN token) itself. ``proxy_headers`` (your app's own
credentials for the proxy) are added to each. Requests that carry no credential (downloading an
output file, the PUT to a signed upload URL) go straight to their URL, as fal-js sends them.

This is a transport wrapper: the client builds every request exactly as it would for fal, the
transport only re-addresses it, so retries, timeouts and streaming work unchanged. The client
marks the requests that need a credential with :data:`PROXY_AUTHORIZATION`, which never leaves
the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import httpx

from ._errors import InvalidArgumentError

__all__ = [
    "PROXY_AUTHORIZATION",
    "TARGET_URL_HEADER",
    "AsyncProxyTransport",
    "ProxyRoute",
    "ProxyTransport",
]

TARGET_URL_HEADER: Final = "x-fal-target-url"
#: The ``Authorization`` a client in proxy mode puts where the key would go: it marks a request
#: for the proxy, and is dropped before the request is sent.
PROXY_AUTHORIZATION: Final = "Key credentials-added-by-proxy"


class ProxyRoute:
    """The proxy's URL and the headers the client sends it; re-addresses requests."""

    def __init__(self, proxy_url: str, headers: Mapping[str, str] | None = None) -> None:
        if any(ch.isspace() or not ch.isprintable() for ch in proxy_url):
            raise InvalidArgumentError("proxy_url must not contain spaces or control characters")
        try:
            url = httpx.URL(proxy_url)
        except httpx.InvalidURL as exc:
            raise InvalidArgumentError(f"proxy_url is not a valid URL ({exc})") from None
        if url.userinfo:
            # Shown in the client's repr and in errors naming a URL: credentials go in headers.
            shown = str(url.copy_with(username=None, password=None))
            raise InvalidArgumentError(
                f"proxy_url must not carry a user name or password (got {shown!r} with them): "
                "pass your app's credentials in proxy_headers"
            )
        if url.scheme not in ("http", "https") or not url.host or url.fragment:
            raise InvalidArgumentError(
                f"proxy_url must be an absolute http(s) URL, got {proxy_url!r}"
            )
        self.url = url
        self.headers: dict[str, str] = {}
        for name, value in (headers or {}).items():
            if not isinstance(name, str) or not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise InvalidArgumentError("proxy_headers must map header names to strings")
            if name.lower() == TARGET_URL_HEADER:
                raise InvalidArgumentError(f"proxy_headers must not set {TARGET_URL_HEADER}")
            self.headers[name] = value

    def __repr__(self) -> str:
        # Header values may be credentials: only their names are shown.
        return f"ProxyRoute({str(self.url)!r}, headers={sorted(self.headers)!r})"

    def rewrite(self, request: httpx.Request) -> httpx.Request:
        """``request`` addressed to the proxy, or as it is when it carries no credential."""
        if "authorization" not in request.headers:
            return request
        # Built with the original's stream, the new request gets no Host of its own: set it.
        headers = [("Host", self.url.netloc.decode("ascii"))]
        headers += [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in ("authorization", "host")
        ]
        headers.append((TARGET_URL_HEADER, str(request.url)))
        headers.extend(self.headers.items())
        return httpx.Request(
            request.method,
            self.url,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )

    def transport(self) -> ProxyTransport:
        return ProxyTransport(self, httpx.HTTPTransport())

    def async_transport(self) -> AsyncProxyTransport:
        return AsyncProxyTransport(self, httpx.AsyncHTTPTransport())


class ProxyTransport(httpx.BaseTransport):
    """Sends through ``inner`` what :meth:`ProxyRoute.rewrite` makes of each request."""

    def __init__(self, route: ProxyRoute, inner: httpx.BaseTransport) -> None:
        self.route = route
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(self.route.rewrite(request))

    def close(self) -> None:
        self._inner.close()


class AsyncProxyTransport(httpx.AsyncBaseTransport):
    """Async twin of :class:`ProxyTransport`."""

    def __init__(self, route: ProxyRoute, inner: httpx.AsyncBaseTransport) -> None:
        self.route = route
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(self.route.rewrite(request))

    async def aclose(self) -> None:
        await self._inner.aclose()
