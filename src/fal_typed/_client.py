"""`Client`: the one object carrying key, hosts, timeouts, retry policy and the httpx clients.

Every call of the runtime goes through :meth:`Client.request` / :meth:`Client.arequest`, which add
``Authorization: Key <key>`` and the User-Agent, apply the retry policy (see ``_retry``) and turn
error responses into the typed errors of ``_errors``. httpx clients passed in by the user are used
as they are and never closed by us; our own are created on first use, and the async one once per
running event loop, so the default client keeps working across ``asyncio.run`` calls. Each async
one is closed when its loop shuts down (``asyncio.run`` does this; a loop closed by hand without
``loop.shutdown_asyncgens()`` leaves it to :meth:`Client.aclose` or ``async with Client()``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast

import httpx
from typing_extensions import Self

from ._attempts import Attempts, kind_of
from ._auth import Credentials, check_key, redact, resolve_credentials
from ._bounded import ACCEPT_ENCODING, LimitExceeded, TimedOut, aread_body, read_body
from ._deadline import Deadline
from ._errors import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    InvalidArgumentError,
    ProtocolError,
    error_for_response,
    reason,
)
from ._forked import on_fork
from ._hosts import DEFAULT_API_URL
from ._jsonbody import json_depth_exceeds
from ._limits import DEFAULT_LIMITS, Limits
from ._options import check_positive
from ._proxy_transport import PROXY_AUTHORIZATION, ProxyRoute
from ._retry import Kind, RetryPolicy, named_request_id
from ._wallclock import settle

if TYPE_CHECKING:  # asyncio is imported by the async methods: sync programs never load it
    import asyncio

__all__ = [
    "DEFAULT_BACKUP_HOSTS",
    "DEFAULT_TIMEOUT",
    "Client",
    "default_client",
    "set_default_client",
]

logger = logging.getLogger("fal_typed")

#: Per-request timeout of queue calls (fal-client: 120 s, connect 30 s).
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=30.0)

#: fal's backup domains (PROTOCOL.md section 6): a host that cannot be connected to is tried
#: once more on its backup, as fal-client does.
DEFAULT_BACKUP_HOSTS: Mapping[str, str] = {
    "fal.run": "falrun.com",
    "queue.fal.run": "queue.falrun.com",
}
#: A host with a backup gives up connecting sooner, so the failover comes quickly.
_BACKED_UP_CONNECT_TIMEOUT = 5.0

_NO_RETRY = RetryPolicy.disabled()

RequestContent: TypeAlias = "str | bytes | Iterable[bytes] | AsyncIterable[bytes]"


@functools.cache
def user_agent() -> str:
    """``fal-typed/<installed version>``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"fal-typed/{version('fal-typed')}"
    except PackageNotFoundError:
        return "fal-typed/0+unknown"


def _check_base_url(name: str, value: object, schemes: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty URL string")
    text = value.strip()  # (a .env line's trailing space or line break: read as meant)
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        # Not echoed: it may be the whole line of a config file, credentials and all.
        raise InvalidArgumentError(f"{name} must not contain spaces or control characters")
    try:
        url = httpx.URL(text)
        port = url.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidArgumentError(f"{name} is not a valid URL ({exc})") from None
    if url.userinfo:
        # It would be sent as Basic credentials to every host, and shown in every repr and
        # error that names a URL: fal authenticates with the key.
        shown = str(url.copy_with(username=None, password=None))
        raise InvalidArgumentError(
            f"{name} must not carry a user name or password (fal authenticates with the key), "
            f"got {shown!r} with them"
        )
    if port is not None and not 0 < port < 65536:
        raise InvalidArgumentError(f"{name} has no valid port ({port}), got {value!r}")
    if url.scheme not in schemes or not url.host:
        raise InvalidArgumentError(
            f"{name} must be an absolute {'/'.join(schemes)} URL, got {value!r}"
        )
    if url.query or url.fragment:
        raise InvalidArgumentError(f"{name} must not carry a query or fragment, got {value!r}")
    return value.strip().rstrip("/")


def _as_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    """``timeout`` as an ``httpx.Timeout``: seconds (a finite number > 0), ``None`` (no limit) or
    an ``httpx.Timeout`` whose parts are either; anything else is refused now, not by httpx at
    the first request."""
    if isinstance(value, httpx.Timeout):
        for part in ("connect", "read", "write", "pool"):
            seconds = getattr(value, part)
            if seconds is not None:
                check_positive(f"timeout.{part}", seconds)
        return value
    return httpx.Timeout(None if value is None else check_positive("timeout", value))


def _check_kind(name: str, value: object, kind: type, what: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise InvalidArgumentError(f"{name} must be {what}, got {type(value).__name__}")


def _check_backup_hosts(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError("backup_hosts must map host names to host names")
    hosts: dict[str, str] = {}
    for host, backup in cast("Mapping[object, object]", value).items():
        if not (isinstance(host, str) and isinstance(backup, str) and host and backup):
            raise InvalidArgumentError(
                f"backup_hosts must map host names to host names, got {host!r}: {backup!r}"
            )
        try:  # a backup is put in a URL only when a connect fails: checked here, not then
            _with_netloc("https://fal.run/", backup)
        except (httpx.InvalidURL, UnicodeError):
            raise InvalidArgumentError(f"backup_hosts: {backup!r} is not a host name") from None
        hosts[host.lower()] = backup.lower()
    return hosts


class Failover:
    """One request's way to its host's backup: taken once, on the first failure to connect.

    Only a failed *connect* counts (the request never reached fal, so it is safe to send again,
    even a POST); and only a body that can be sent twice (not a one-shot stream). Once the
    backup has had its try the request goes back to its own host for any further retries.
    The backup URL is built only when it is taken: most requests never need it.
    """

    def __init__(
        self, url: str, backup_hosts: Mapping[str, str], content: RequestContent | None
    ) -> None:
        self.url = url
        replayable = content is None or isinstance(content, (bytes, str))
        self._backup = backup_hosts.get(_netloc(url)) if replayable and backup_hosts else None
        self._original = url

    def timeout(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """``timeout``, with a shorter connect phase when a backup waits behind it."""
        limit = _BACKED_UP_CONNECT_TIMEOUT
        if self._backup is None or (timeout.connect is not None and timeout.connect <= limit):
            return timeout
        return httpx.Timeout(
            connect=limit, read=timeout.read, write=timeout.write, pool=timeout.pool
        )

    def switch(self, exc: httpx.TransportError, redact: Callable[[str], str]) -> bool:
        """Point at the backup (True) after a failed connect to the own host; else go back."""
        if self._backup is not None and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            backup = _with_netloc(self._original, self._backup)
            logger.warning(
                "fal_typed: cannot connect to %s (%s); trying its backup %s",
                redact(self._original),
                type(exc).__name__,
                redact(backup),
            )
            self.url, self._backup = backup, None
            return True
        self.url = self._original
        return False


def _with_netloc(url: str, netloc: str) -> str:
    return str(httpx.URL(url).copy_with(netloc=netloc.encode()))


#: ``scheme://authority``: all of a URL its netloc depends on.
_ORIGIN = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*")
_NETLOCS: dict[str, str] = {}
_MAX_NETLOCS = 256


def _netloc(url: str) -> str:
    """``url``'s netloc as httpx reads it (host and non-default port), lowercased.

    httpx parses a URL in Python, character by character; a client sends every request to one
    of a few origins, so each origin is parsed once and its netloc remembered.
    """
    origin = _ORIGIN.match(url)
    if origin is None:
        return httpx.URL(url).netloc.decode("ascii").lower()
    key = origin.group()
    netloc = _NETLOCS.get(key)
    if netloc is None:
        netloc = httpx.URL(key).netloc.decode("ascii").lower()
        if len(_NETLOCS) >= _MAX_NETLOCS:
            _NETLOCS.clear()
        _NETLOCS[key] = netloc
    return netloc


def _parse_url(url: str, params: tuple[tuple[str, Any], ...]) -> httpx.URL:
    return httpx.URL(url, params=params) if params else httpx.URL(url)


#: ``url`` with the query ``params``, as httpx parses it (in Python, character by character,
#: and once more to add a query) when given a string at every request. A client sends most
#: requests to few URLs (an endpoint's submit or run URL, a request's status while it is
#: polled), so each is parsed once; an ``httpx.URL`` is immutable. Sent with ``params=None``.
parsed_url = functools.lru_cache(maxsize=256)(_parse_url)


def _sent_url(url: str, query: tuple[tuple[str, Any], ...]) -> httpx.URL:
    """:func:`parsed_url` for any query httpx takes: one that cannot be remembered (a list of
    values for a name, httpx's form for a repeated name) is parsed anew, as httpx would."""
    try:
        return parsed_url(url, query)
    except TypeError:  # unhashable
        return httpx.URL(url, params=dict(query))


async def _close_with_loop(http: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Parked at its ``yield`` on ``http``'s loop, where ``loop.shutdown_asyncgens()`` (run by
    ``asyncio.run`` before it closes the loop) closes it, closing ``http`` while it still can."""
    try:
        yield
    finally:
        await http.aclose()


#: The async clients a forked child inherited, kept from the garbage collector: each one's
#: closer, parked on a loop of the parent's that no longer runs here, would be finalised on it.
_INHERITED: Final[list[object]] = []


def _park(closer: AsyncGenerator[None, None]) -> None:
    """Run ``closer`` to its ``yield`` without awaiting (it awaits nothing before it): its first
    step registers it with the running loop, as iterating it in a coroutine would."""
    with contextlib.suppress(StopIteration):
        closer.asend(None).send(None)


def _response_body(response: httpx.Response, max_depth: int) -> Any:
    """An error answer's JSON, or its text when it is not JSON or nests past ``max_depth``
    (redacting and reading it must not recurse past Python's limit)."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        return response.text
    return response.text if json_depth_exceeds(data, max_depth) else data


class Client:
    """Configuration and connections for talking to fal (or to the local fal server).

    ``key`` defaults to the environment (``FAL_KEY``, or ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``),
    read on the first request. The ``*_url`` arguments are base URLs and may carry a path prefix
    (``http://127.0.0.1:8000/queue``); ``api_url`` is the Platform API's (``fal_typed.platform``:
    pricing, usage, request history), without its ``/v1``. ``timeout`` is the per-request timeout of queue calls
    (a number or an ``httpx.Timeout``); ``retry`` the :class:`RetryPolicy`; ``poll_interval`` how
    often status is polled when the status stream is unavailable. ``backup_hosts`` maps a host
    (``host`` or ``host:port``) to the one tried once, at once, when connecting to it fails
    (default: fal's backup domains; ``{}`` turns the failover off). ``limits`` bounds what a
    server may make the client hold or wait for (:class:`Limits`).

    ``proxy_url`` sends every request that needs fal credentials through a fal proxy (your
    server running :class:`fal_typed.proxy.FalProxy`, or fal's ``@fal-ai/server-proxy``), as
    fal-js's ``proxyUrl`` does: the client then holds no key, and the proxy adds it.
    ``proxy_headers`` are sent to the proxy with each of them (your app's own credentials).

    ``with`` / :meth:`close` close its sync connections; ``async with`` / :meth:`aclose` the
    async ones too, which otherwise close when their event loop shuts down (``asyncio.run``).
    A process forked from one that used the client (a pre-forking server, a ``fork`` pool)
    opens connections of its own: the parent's are never used nor closed by the child. An
    ``http_client`` or ``async_http_client`` passed in is yours to manage across a fork.
    """

    queue_url: str
    run_url: str
    rest_url: str
    cdn_url: str
    realtime_url: str
    api_url: str
    timeout: httpx.Timeout
    retry: RetryPolicy
    poll_interval: float
    backup_hosts: Mapping[str, str]
    limits: Limits

    def __init__(
        self,
        key: str | None = None,
        *,
        queue_url: str = "https://queue.fal.run",
        run_url: str = "https://fal.run",
        rest_url: str = "https://rest.fal.ai",
        cdn_url: str = "https://v3.fal.media",
        realtime_url: str = "wss://fal.run",
        api_url: str = DEFAULT_API_URL,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        poll_interval: float = 0.1,
        backup_hosts: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        proxy_url: str | None = None,
        proxy_headers: Mapping[str, str] | None = None,
    ) -> None:
        _check_kind("http_client", http_client, httpx.Client, "an httpx.Client")
        _check_kind(
            "async_http_client", async_http_client, httpx.AsyncClient, "an httpx.AsyncClient"
        )
        self._proxy = _proxy_route(proxy_url, proxy_headers, key, http_client, async_http_client)
        self._key = None if key is None else check_key(key)
        http_schemes = ("http", "https")
        self.queue_url = _check_base_url("queue_url", queue_url, http_schemes)
        self.run_url = _check_base_url("run_url", run_url, http_schemes)
        self.rest_url = _check_base_url("rest_url", rest_url, http_schemes)
        self.cdn_url = _check_base_url("cdn_url", cdn_url, http_schemes)
        self.realtime_url = _check_base_url("realtime_url", realtime_url, ("ws", "wss"))
        self.api_url = _check_base_url("api_url", api_url, http_schemes)
        self.timeout = _as_timeout(timeout)
        _check_kind("retry", retry, RetryPolicy, "a fal_typed.RetryPolicy")
        self.retry = retry if retry is not None else RetryPolicy()
        self.poll_interval = check_positive("poll_interval", poll_interval)
        # Behind a proxy, a failed connect is the proxy's: fal's backup domains do not help.
        default_backups: Mapping[str, str] = DEFAULT_BACKUP_HOSTS if self._proxy is None else {}
        self.backup_hosts = _check_backup_hosts(
            default_backups if backup_hosts is None else backup_hosts
        )
        if limits is not None and not isinstance(limits, Limits):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(f"limits must be a fal_typed.Limits, got {limits!r}")
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self._user_http = http_client
        self._user_async_http = async_http_client
        self._http: httpx.Client | None = None
        self._async_http: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._credentials: Credentials | None = None
        self._auth: Mapping[str, str] | None = None  # auth_headers(), once resolved
        self._lock = threading.Lock()
        on_fork(self, Client._forget_inherited)

    def __repr__(self) -> str:
        if self._proxy is not None:
            return f"Client(queue_url={self.queue_url!r}, proxy_url={self.proxy_url!r})"
        if self._credentials is not None:
            key = f"<from {self._credentials.source}>"
        else:
            key = "<given>" if self._key is not None else "<from environment, unresolved>"
        return f"Client(queue_url={self.queue_url!r}, run_url={self.run_url!r}, key={key})"

    @property
    def proxy_url(self) -> str | None:
        """The fal proxy every credentialed request goes through, if any."""
        return None if self._proxy is None else str(self._proxy.url)

    # -- credentials -------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """The resolved credentials (cached); raises :class:`MissingCredentialsError`."""
        if self._credentials is None:
            self._credentials = resolve_credentials(self._key)
        return self._credentials

    def auth_headers(self) -> dict[str, str]:
        """``{"Authorization": "Key <key>"}``, resolving the key on first use (behind a proxy,
        a marker the proxy transport replaces: the proxy adds the key)."""
        if self._proxy is not None:
            return {"Authorization": PROXY_AUTHORIZATION}
        return {"Authorization": self.credentials().header}

    def request_headers(self, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        """User-Agent + Authorization + ``headers`` (which win): what every fal request carries."""
        merged = {"User-Agent": user_agent(), **self.auth_headers()}
        if headers:
            merged.update(headers)
        return merged

    def headers_for(
        self, http: httpx.Client | httpx.AsyncClient, headers: Mapping[str, str] | None = None
    ) -> Mapping[str, str]:
        """:meth:`request_headers` for a request sent through ``http`` (:attr:`http` or
        :attr:`async_http`), less the User-Agent when ``http`` is one of ours, which send it
        already: httpx would merge it in again, header by header. Read-only: without
        ``headers`` it is the client's own, built once (httpx copies what it is given)."""
        if http is self._user_http or http is self._user_async_http:
            return self.request_headers(headers)
        auth = self._auth
        if auth is None:  # resolved at the first request (raises while no key is found)
            auth = self._auth = self.auth_headers()
        return {**auth, **headers} if headers else auth

    @property
    def secrets(self) -> tuple[str, ...]:
        """What of this client's key must never be shown, once the key is in use (nothing
        before, and nothing behind a proxy, which holds the key): for scrubbing messages."""
        return self._credentials.secrets if self._credentials is not None else ()

    def redact(self, text: str) -> str:
        """``text`` with this client's key (if resolved) scrubbed out."""
        return redact(text, self._credentials.secrets) if self._credentials is not None else text

    # -- httpx clients -----------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """The sync httpx client: the user's, or ours (created on first use)."""
        if self._user_http is not None:
            return self._user_http
        http = self._http
        if http is not None and not http.is_closed:  # the common case: no lock to take
            return http
        with self._lock:
            if self._http is None or self._http.is_closed:
                self._http = httpx.Client(
                    timeout=self.timeout,
                    headers={"User-Agent": user_agent(), "Accept-Encoding": ACCEPT_ENCODING},
                    transport=self._proxy.transport() if self._proxy is not None else None,
                )
            return self._http

    @property
    def async_http(self) -> httpx.AsyncClient:
        """The async httpx client of the running event loop: the user's, or ours (one per loop,
        closed when the loop shuts down, so ``asyncio.run`` leaves no socket open)."""
        if self._user_async_http is not None:
            return self._user_async_http
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise FalError("Client.async_http needs a running event loop") from None
        entry = self._async_http.get(loop)
        if entry is not None and not entry[0].is_closed:  # the common case: no lock, no sweep
            return entry[0]
        with self._lock:
            for stale in [old for old in self._async_http if old.is_closed()]:
                del self._async_http[stale]
            entry = self._async_http.get(loop)
            if entry is not None and not entry[0].is_closed:
                return entry[0]
            client = httpx.AsyncClient(
                timeout=self.timeout,
                headers={"User-Agent": user_agent(), "Accept-Encoding": ACCEPT_ENCODING},
                transport=self._proxy.async_transport() if self._proxy is not None else None,
            )
            closer = _close_with_loop(client)
            _park(closer)
            self._async_http[loop] = (client, closer)
            return client

    def _forget_inherited(self) -> None:
        """In a forked child: leave the parent's connections to the parent (used by both, a
        request's answer could reach the other process); new ones are opened. A lock another
        thread held at the fork would stay held: a new one replaces it."""
        if self._async_http:
            _INHERITED.append(dict(self._async_http))
        self._http = None
        self._async_http = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the sync httpx client we created (never one passed in).

        Our async ones close with their event loop, or with :meth:`aclose` / ``async with``.
        """
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    async def aclose(self) -> None:
        """Close every httpx client we created: this loop's now, other loops' on their own loop."""
        self.close()
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            mine = self._async_http.pop(loop, None)
            # Dropped, a running loop's closer is finalised by that loop, which closes its client.
            self._async_http.clear()
        if mine is not None:
            await mine[1].aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: RequestContent | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: bool = True,
        idempotent: bool | None = None,
        deadline: Deadline | None = None,
        kind: Kind | None = None,
    ) -> httpx.Response:
        """Send a request to fal with auth, retries and typed errors; return the 2xx response.

        ``timeout`` defaults to the client's. ``kind`` is the request's row of the retry table
        (``_retry.RETRY_TABLE``); without it, ``idempotent`` (default: by method, POST is not)
        picks the generic row. ``deadline`` bounds the whole call, retries included (raises
        :class:`FalTimeoutError`).
        """
        attempts, base_timeout = self._attempts(
            method, url, content, retry, idempotent, deadline, kind, timeout
        )
        http = self.http
        sent_headers = self.headers_for(http, headers)
        query = tuple(params.items()) if params else ()
        while True:
            attempts.start()
            answer: httpx.Response | None = None  # its head, once it came
            try:
                # As httpx.Client.request, with the answer in hand while its body is read:
                # a body cut or undecodable keeps the answer's status and request id.
                answer = http.send(
                    http.build_request(
                        attempts.method,
                        _sent_url(attempts.url, query),
                        json=json,
                        content=content,  # pyright: ignore[reportArgumentType]
                        headers=sent_headers,
                        timeout=deadline.cap(base_timeout) if deadline else base_timeout,
                    ),
                    stream=True,
                )
                try:
                    _read_whole(answer, self.limits)
                finally:
                    answer.close()  # released to the pool once read whole; else dropped
                settle(answer)  # read whole: a call's deadline no longer cuts what follows
            except httpx.TransportError as exc:
                # 0: failing over to the backup, at once
                if delay := attempts.after_error(exc, answer):
                    time.sleep(delay)
                continue
            except httpx.HTTPError as exc:  # TooManyRedirects, DecodingError...
                raise self._failure(exc, attempts, answer) from exc
            if answer.is_success:
                return answer
            time.sleep(attempts.after_response(answer))

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: RequestContent | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: bool = True,
        idempotent: bool | None = None,
        deadline: Deadline | None = None,
        kind: Kind | None = None,
    ) -> httpx.Response:
        """Async twin of :meth:`request`."""
        import asyncio

        attempts, base_timeout = self._attempts(
            method, url, content, retry, idempotent, deadline, kind, timeout
        )
        http = self.async_http
        sent_headers = self.headers_for(http, headers)
        query = tuple(params.items()) if params else ()
        while True:
            attempts.start()
            answer: httpx.Response | None = None
            try:
                answer = await http.send(
                    http.build_request(
                        attempts.method,
                        _sent_url(attempts.url, query),
                        json=json,
                        content=content,  # pyright: ignore[reportArgumentType]
                        headers=sent_headers,
                        timeout=deadline.cap(base_timeout) if deadline else base_timeout,
                    ),
                    stream=True,
                )
                try:
                    await _aread_whole(answer, self.limits)
                finally:
                    await answer.aclose()
            except httpx.TransportError as exc:
                if delay := attempts.after_error(exc, answer):
                    await asyncio.sleep(delay)
                continue
            except httpx.HTTPError as exc:
                raise self._failure(exc, attempts, answer) from exc
            if answer.is_success:
                return answer
            await asyncio.sleep(attempts.after_response(answer))

    # -- helpers shared by the sync and async paths -------------------------------------------

    def _attempts(
        self,
        method: str,
        url: str,
        content: RequestContent | None,
        retry: bool,
        idempotent: bool | None,
        deadline: Deadline | None,
        kind: Kind | None,
        timeout: float | httpx.Timeout | None,
    ) -> tuple[Attempts, httpx.Timeout]:
        """The retry state of one request, and its per-attempt timeout."""
        method = method.upper()
        replayable = content is None or isinstance(content, (bytes, str))
        policy = self.retry if retry and replayable else _NO_RETRY
        failover = Failover(url, self.backup_hosts, content)
        attempts = Attempts(
            self, method, failover, kind_of(method, idempotent, kind), policy, deadline
        )
        return attempts, failover.timeout(self.timeout if timeout is None else _as_timeout(timeout))

    def _failure(
        self, exc: httpx.HTTPError, attempts: Attempts, answer: httpx.Response | None
    ) -> FalError:
        """The error of an attempt that failed otherwise than in transport: an answer whose
        body cannot be decoded, to a request not sent twice, may have been paid for (see
        :meth:`Attempts.undecodable`); anything else is :meth:`_http_failure`."""
        if answer is not None and (possibly := attempts.undecodable(exc, answer)) is not None:
            return possibly
        if isinstance(exc, _PastLimit):
            return ProtocolError(
                f"{attempts.method} {self.redact(attempts.url)}: {exc}",
                error_type="limit_exceeded",
                request_id=None if answer is None else named_request_id(answer),
            )
        return self._http_failure(exc, attempts.method, attempts.url)

    def _http_failure(self, exc: httpx.HTTPError, method: str, url: str) -> FalError:
        """A FalError for an httpx error that is not a transport failure (too many redirects,
        an undecodable body): named by the URL, never escaping as httpx's own."""
        detail = self.redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return FalConnectionError(f"{method} {self.redact(url)} failed: {detail}")

    def error_for(self, response: httpx.Response) -> FalHTTPError:
        """The typed error for an error response, with this client's key scrubbed out of it."""
        # The key is scrubbed by the error itself (FalError scrubs every attribute of the
        # remembered secrets, this client's key among them once it is in use).
        body = _response_body(response, self.limits.max_json_depth)
        return error_for_response(response.status_code, body, response.headers)


class _PastLimit(httpx.DecodingError):
    """A body past ``max_response_bytes`` or ``max_decompression_ratio`` (the message says
    which): raised as a body httpx cannot decode is, and named as a limit by the client."""


def _read_whole(answer: httpx.Response, limits: Limits) -> None:
    """``answer.read()`` within ``limits``: its decoded size, its decompression ratio and the
    time its body may take (a peer trickling a byte at a time resets each read's timeout).

    Past a limit it raises as httpx would for a read that failed (``ReadTimeout``) or a body it
    cannot decode (``DecodingError``), so the retry table and the paid-request rules decide, as
    for any other such answer. The time is checked as chunks come, with no alarm armed per
    answer: a silence is ended by the read timeout, and a run's reads have none (a model may
    take minutes to answer), so only the call's ``timeout`` ends one there, before its headers
    or after.
    """
    try:
        body = read_body(
            answer,
            max_bytes=limits.max_response_bytes,
            max_ratio=limits.max_decompression_ratio,
            deadline=Deadline(limits.answer_timeout),
            interrupt=False,
        )
    except LimitExceeded as exc:
        raise _PastLimit(str(exc), request=answer.request) from None
    except TimedOut:
        raise _too_slow(answer, limits) from None
    answer._content = body  # pyright: ignore[reportPrivateUsage]  # as read() does


async def _aread_whole(answer: httpx.Response, limits: Limits) -> None:
    """Async twin of :func:`_read_whole`."""
    try:
        body = await aread_body(
            answer,
            max_bytes=limits.max_response_bytes,
            max_ratio=limits.max_decompression_ratio,
            deadline=Deadline(limits.answer_timeout),
            interrupt=False,
        )
    except LimitExceeded as exc:
        raise _PastLimit(str(exc), request=answer.request) from None
    except TimedOut:
        raise _too_slow(answer, limits) from None
    answer._content = body  # pyright: ignore[reportPrivateUsage]  # as aread() does


def _too_slow(answer: httpx.Response, limits: Limits) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(
        f"the body took longer than Limits.answer_timeout ({limits.answer_timeout:g}s)",
        request=answer.request,
    )


def _proxy_route(
    proxy_url: str | None,
    headers: Mapping[str, str] | None,
    key: str | None,
    http_client: httpx.Client | None,
    async_http_client: httpx.AsyncClient | None,
) -> ProxyRoute | None:
    """The proxy route of a client, checked against the options it cannot go with."""
    if proxy_url is None:
        if headers is not None:
            raise InvalidArgumentError("proxy_headers needs proxy_url")
        return None
    if not isinstance(proxy_url, str) or not proxy_url.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError("proxy_url must be a non-empty URL string")
    if key is not None:
        raise InvalidArgumentError(
            "a client with proxy_url holds no key: the proxy adds it (pass your app's own "
            "credentials in proxy_headers)"
        )
    if http_client is not None or async_http_client is not None:
        raise InvalidArgumentError(
            "proxy_url routes the client's own httpx clients; it cannot re-route ones passed in"
        )
    return ProxyRoute(proxy_url.strip(), headers)


_FAL_RUN: Final = "fal.run"  # fal-client's default FAL_RUN_HOST


def _env_host(name: str) -> str | None:
    """fal-client's host variable ``name``: what goes after ``https://`` (a host, a port, a path
    prefix: fal-client takes them all), without a scheme or spaces, else an error naming the
    variable. ``FAL_RUN_HOST=https://fal.run`` made the queue URL ``https://queue.https://fal.run``,
    reported as the unknown host ``queue.https`` at the first call."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if "://" in value or any(c.isspace() for c in value):
        raise InvalidArgumentError(
            f"{name} must be a host name such as fal.run (no scheme or spaces), got {value[:100]!r}"
        )
    return value


def _client_from_environment() -> Client:
    """A key-from-environment client: every host under ``$FAL_TYPED_BASE_URL`` when it is set (a
    local server, see ``_local``), else honouring fal-client's ``FAL_RUN_HOST`` /
    ``FAL_QUEUE_RUN_HOST``."""
    from ._local import client_from_environment

    local = client_from_environment()
    if local is not None:
        return local
    run_host = _env_host("FAL_RUN_HOST")
    queue_host = _env_host("FAL_QUEUE_RUN_HOST")
    run = run_host or _FAL_RUN
    try:
        return Client(
            queue_url=f"https://{queue_host or f'queue.{run}'}",
            run_url=f"https://{run}",
            realtime_url=f"wss://{run}",
        )
    except InvalidArgumentError as exc:  # a port out of range, say: the URL check's words
        given = [
            n for n, v in (("FAL_RUN_HOST", run_host), ("FAL_QUEUE_RUN_HOST", queue_host)) if v
        ]
        raise InvalidArgumentError(
            f"{' or '.join(given)} makes no valid URL: {reason(exc)}"
        ) from None


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The client module-level calls use: built from the environment on first use.

    The key is read at the first request, so importing never fails for want of one. With
    ``FAL_TYPED_BASE_URL`` set, every host is under that local server (``use_local_server``).
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = _client_from_environment()
        return _default


def check_client(client: object) -> None:
    """Refuse a ``client=`` that is neither ``None`` nor a :class:`Client`, naming it, before
    a call does anything with it (uploads included)."""
    if client is not None and not isinstance(client, Client):
        raise InvalidArgumentError(
            f"client must be a fal_typed.Client, got {type(client).__name__}"
        )


def given_or_default(client: Client | None) -> Client:
    """The ``client=`` a call was given (checked), else the default client."""
    check_client(client)
    return client if client is not None else default_client()


def set_default_client(client: Client | None) -> None:
    """Replace the default client (``None``: rebuild it from the environment on next use).

    The previous default is not closed: it may still be in use by running calls.
    """
    global _default
    if client is not None and not isinstance(client, Client):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"expected a fal_typed.Client, got {type(client).__name__}")
    with _default_lock:
        _default = client
