"""`FalProxy`: the ASGI app between a front end (fal-js, the Kotlin client, ``Client(proxy_url=)``)
and fal, holding the key so the front end never sees it.

Each request goes through, in order (the first refusal answers, and nothing is forwarded):

1. the method (GET, POST, PUT) and the ``x-fal-target-url`` header: an https URL on fal's
   domains matching an allowed URL pattern, with a method fal's clients use there (``_targets``);
2. ``authenticate(request)``: who is calling, or None (401);
3. the endpoint allow-list, for model calls (``_endpoints``);
4. the caller's limits (``_limits``);
5. for submit, run and stream: the input, validated with the generated model (422, fal's body),
   then ``spend_cap`` (402);
6. forwarding, with the key (or, to the CDN, a CDN token) added by the proxy, the answer streamed
   back as it arrives and scrubbed of every secret (``_forward``, ``_redact``);

and ``on_call`` hears about every request at the end. A caller that goes away cancels the
upstream request (fal cancels a direct run whose connection drops).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio
import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .._auth import Credentials
from .._checks import check_bool, check_callable, check_count, check_seconds, declared_length
from .._client import Client
from .._errors import InvalidArgumentError
from .._errors import reason as error_reason
from .._hosts import Hosts
from .._incoming import BodyStalled, arriving
from .._retry import NOT_SENT_ERRORS
from .._wallclock import BODY_WRITTEN
from ..files._token import CdnToken
from ._calls import Authenticate, BillableCall, OnCall, ProxyCall, SpendCap, resolved
from ._cors import CORS
from ._credentials import KeyRing, KeySource
from ._endpoints import EndpointPolicy
from ._forward import BodyRelay, BrokenAnswerError, CallerStalledError, request_headers
from ._limits import CallerLimits, Limiter
from ._redact import Secrets
from ._refusal import Refused
from ._targets import (
    DEFAULT_ALLOWED_URLS,
    TARGET_HEADER,
    Target,
    Upstream,
    read_target,
    url_patterns,
)

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_INPUT_BYTES",
    "DEFAULT_PROXY_TIMEOUT",
    "FalProxy",
    "anyone",
]

logger = logging.getLogger("fal_typed.proxy")

#: Upstream timeouts: 30 s to connect, send and get a pooled connection; reading is unbounded,
#: since a direct run or a stream may take minutes (a caller that leaves cancels it). The send
#: timeout also bounds each pause of a caller sending a body (408 past it).
DEFAULT_PROXY_TIMEOUT: Final = httpx.Timeout(30.0, read=None)
#: The longest a caller may take to send a request's body, a model input or an upload relayed
#: to fal, however steadily it comes (10 minutes: a 90 MB file at 1.2 Mbit/s); each pause within
#: it is bounded by the write timeout of ``timeout``.
DEFAULT_BODY_TIMEOUT: Final = 600.0
#: The largest input a submit, run or stream may send (it is read whole, to be validated).
DEFAULT_MAX_INPUT_BYTES: Final = 32 * 1024 * 1024
_METHODS: Final = ("GET", "POST", "PUT")
#: How long fal may take to send the head of its answer once the request is sent, however
#: slowly it comes (the reads have no timeout, so each byte could otherwise be the last for
#: ever): fal answers at once but for a direct run or a stream, whose head waits for the model
#: (those are bounded by the caller, whose leaving cancels them).
HEAD_TIMEOUT: Final = 60.0
_SLOW_HEADS: Final = frozenset({"run", "stream"})
#: How long the rest of fal's answer may take once its head came, for the operations whose
#: answer is a plain document (submit, status, result, cancel, uploads...): the reads have no
#: timeout, so a body trickling or stalled held the caller's slot and fal's connection for as
#: long as the caller waited. It includes the caller's taking the answer. A run's, a stream's
#: and a status stream's bodies come as the model works: those are bounded by the caller.
ANSWER_TIMEOUT: Final = 120.0
_OPEN_ANSWERS: Final = frozenset({"run", "stream", "status_stream"})


async def anyone(request: Request) -> str:
    """An ``authenticate`` that lets every caller in, identified by its address (so the
    per-caller limits still apply). For local development, or behind a gateway that already
    authenticates: anyone who reaches the proxy can spend your fal credits."""
    return request.client.host if request.client is not None else "anonymous"


class UpstreamInterruptedError(Exception):
    """fal's answer broke off after it had begun: the caller's connection is dropped, so it
    sees a cut answer rather than a complete-looking short one."""


class _AnswerTimedOutError(Exception):
    """fal's answer did not end within :data:`ANSWER_TIMEOUT` of its head."""


@dataclass
class _Call:
    """What is known of a request so far, for ``on_call`` and the log."""

    method: str
    started: float
    caller: str | None = None
    target: Target | None = None
    endpoint_id: str | None = None
    status: int = 0
    forwarded: bool = False
    error_type: str | None = None
    request_id: str | None = None
    billable_units: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0

    def record(self) -> ProxyCall:
        target = self.target
        return ProxyCall(
            caller=self.caller,
            method=self.method,
            target=None if target is None else str(target.url),
            operation=None if target is None else target.operation,
            endpoint_id=self.endpoint_id,
            status_code=self.status,
            forwarded=self.forwarded,
            error_type=self.error_type,
            request_id=self.request_id,
            billable_units=self.billable_units,
            duration=time.monotonic() - self.started,
            request_bytes=self.request_bytes,
            response_bytes=self.response_bytes,
        )


class FalProxy:
    """An ASGI app that forwards fal's proxy protocol to fal with your key.

    Serve it where your front end's ``proxyUrl`` points, as a route of its own:
    ``app.add_route("/api/fal/proxy", proxy)`` in FastAPI or Starlette (a ``Mount`` answers its
    bare path with a redirect, and fal's clients post to the bare path); docs/proxy.md shows
    Django. Arguments:

    * ``authenticate``: ``(request) -> caller id | None``, sync or async, required: the app
      decides who may spend its fal credits (:func:`anyone` lets everyone in).
    * ``allowed_endpoints``: endpoint ids (globs: ``fal-ai/flux/*``) the callers may call;
      None allows every endpoint (logged as a warning).
    * ``allowed_urls``: URL patterns (``host/path?query`` globs) the proxy forwards to; each must
      be on fal's domains. Default :data:`DEFAULT_ALLOWED_URLS`.
    * ``key``: the fal key, a resolver ``(request) -> key``, or None for ``FAL_KEY`` (or
      ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``).
    * ``upstream``: None for fal; the base URL of a local fal server (``fal-typed serve``) to
      develop against it offline. Targets are still fal's URLs; the proxy maps them.
    * ``validate_inputs``: check inputs with the generated models before forwarding (default).
    * ``limits``: :class:`CallerLimits` per caller; ``spend_cap``: ``(BillableCall) -> bool``
      before each billed call; ``on_call``: ``(ProxyCall) -> None`` after every request.
    * ``cors``: :class:`CORS` settings, for a front end on another origin.
    * ``timeout``: of the upstream requests (its write timeout also bounds each pause of a
      caller sending a body, a model input or an upload: 408 past it, and each wait for a
      caller to take the next piece of an answer: dropped past it); ``body_timeout``: the
      longest a caller may take to send a whole body, however steadily (408 past it);
      ``max_input_bytes``: the largest model input.
    """

    def __init__(
        self,
        *,
        authenticate: Authenticate,
        allowed_endpoints: Sequence[str] | None = None,
        allowed_urls: Sequence[str] = DEFAULT_ALLOWED_URLS,
        key: KeySource = None,
        upstream: str | None = None,
        validate_inputs: bool = True,
        limits: CallerLimits | None = None,
        spend_cap: SpendCap | None = None,
        on_call: OnCall | None = None,
        cors: CORS | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_PROXY_TIMEOUT,
        max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if not callable(authenticate):
            raise InvalidArgumentError("authenticate must be a callable: (request) -> caller id")
        check_callable("spend_cap", spend_cap)
        check_callable("on_call", on_call)
        check_bool("validate_inputs", validate_inputs)
        if limits is not None and not isinstance(limits, CallerLimits):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError("limits must be a fal_typed.proxy.CallerLimits")
        if cors is not None and not isinstance(cors, CORS):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError("cors must be a fal_typed.proxy.CORS")
        check_count("max_input_bytes", max_input_bytes)
        self._body_timeout = check_seconds("body_timeout", body_timeout, positive=True)
        hosts = Hosts() if upstream is None else _local_hosts(upstream)
        self._authenticate = authenticate
        self._patterns = url_patterns(allowed_urls)
        self._policy = EndpointPolicy(allowed_endpoints, validate=validate_inputs)
        self._upstream = Upstream(hosts)
        self._secrets = Secrets()
        self._keys = KeyRing(key, hosts, self._secrets)
        self._limiter = Limiter(limits) if limits is not None else None
        self._spend_cap = spend_cap
        self._on_call = on_call
        self._max_input = max_input_bytes
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        # Its per-event-loop httpx clients are the connection pool to fal (closed with the loop).
        self._http = Client(timeout=self._timeout, backup_hosts={})
        self._app: ASGIApp = cors.wrap(self._asgi) if cors is not None else self._asgi
        if allowed_endpoints is None:
            logger.warning(
                "fal_typed.proxy: no allowed_endpoints given, so callers may call every fal "
                "endpoint; list the ones your front end uses"
            )

    def __repr__(self) -> str:
        allowed = "all" if self._policy.allowed is None else len(self._policy.allowed)
        return f"FalProxy(allowed_endpoints={allowed}, upstream={self._upstream.hosts.queue_url!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def aclose(self) -> None:
        """Close the connections to fal (also done at the end of a lifespan the proxy runs)."""
        await self._http.aclose()
        await self._keys.aclose()

    # -- ASGI ---------------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            # Realtime WebSockets go to fal directly, with a token (PROTOCOL.md section 8).
            await send({"type": "websocket.close", "code": 1008})
            return
        call = _Call(method=scope["method"], started=time.monotonic())
        request = Request(scope, receive)
        try:
            await self._serve(request, send, call)
        except Refused as refusal:
            call.status, call.error_type = refusal.status, refusal.error_type
            response = refusal.response()
            call.response_bytes = len(response.body)
            logger.info(
                "fal_typed.proxy: refused %s %s (%s): %s",
                call.method,
                self._secrets.text(str(call.target.url) if call.target else "-"),
                refusal.error_type,
                self._secrets.text(str(refusal)),
            )
            await response(scope, receive, send)
        except ClientDisconnect:
            call.status, call.error_type = 499, "client_disconnected"
        finally:
            await self._report(call)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the checks ----------------------------------------------------------------------------

    async def _serve(self, request: Request, send: Send, call: _Call) -> None:
        method = request.method
        if method not in _METHODS:
            raise Refused(
                405,
                f"{method} is not proxied",
                "proxy_method_not_allowed",
                {"Allow": "GET, POST, PUT"},
            )
        target = read_target(
            request.headers.get(TARGET_HEADER), method, self._patterns, self._upstream
        )
        call.target = target
        caller = await resolved(self._authenticate(request))
        if caller is not None and not isinstance(caller, str):
            raise TypeError(f"authenticate must return a caller id (str) or None, not {caller!r}")
        if not caller:
            raise Refused(401, "not authenticated", "proxy_unauthorized")
        call.caller = caller
        endpoint = self._policy.check(target) if target.model_call else None
        call.endpoint_id = endpoint[0] if endpoint is not None else None
        if self._limiter is None:
            await self._forward(request, send, call, target, endpoint)
            return
        self._limiter.enter(caller, billed=target.billed)
        try:
            await self._forward(request, send, call, target, endpoint)
        finally:
            self._limiter.leave(caller)

    async def _read_input(self, request: Request, call: _Call) -> bytes:
        too_large = Refused(
            413, f"the input is larger than {self._max_input} bytes", "proxy_input_too_large"
        )
        declared = declared_length(request.headers.getlist("content-length"))
        if declared is not None and declared > self._max_input:
            raise too_large
        chunks: list[bytes] = []
        # Nothing upstream bounds this wait (fal is not called yet): a caller that stops sending
        # its input, or sends it a byte per pause, would hold the call, its memory and its limit
        # slot for ever.
        async for chunk in self._arriving(request):
            call.request_bytes += len(chunk)
            if call.request_bytes > self._max_input:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    async def _arriving(self, request: Request) -> AsyncIterator[bytes]:
        """The caller's body as it comes, each pause within the write timeout (the caller sends
        it as the proxy would send it on) and the whole within ``body_timeout``; else 408."""
        try:
            async for chunk in arriving(
                request.stream(), pause=self._timeout.write, total=self._body_timeout
            ):
                yield chunk
        except BodyStalled as stalled:
            raise Refused(
                408,
                f"the request body stopped arriving: {stalled.describe()}",
                "proxy_input_timeout",
            ) from None

    async def _check_billed(
        self, request: Request, call: _Call, target: Target, endpoint: tuple[str, str]
    ) -> bytes | None:
        """The input of a billed call (read, validated), after ``spend_cap`` agreed to it."""
        body: bytes | None = None
        value: dict[str, Any] | None = None
        if request.method == "POST":
            body = await self._read_input(request, call)
            value = self._policy.check_input(*endpoint, body)
        if self._spend_cap is not None and call.caller is not None:
            billable = BillableCall(call.caller, endpoint[0], target.operation, value, request)
            if not await resolved(self._spend_cap(billable)):
                raise Refused(402, "the caller's spend cap is reached", "spend_cap_exceeded")
        return body

    # -- forwarding ----------------------------------------------------------------------------

    async def _forward(
        self,
        request: Request,
        send: Send,
        call: _Call,
        target: Target,
        endpoint: tuple[str, str] | None,
    ) -> None:
        body: bytes | None = None
        if target.billed and endpoint is not None:
            body = await self._check_billed(request, call, target, endpoint)
        credentials = await self._keys.credentials(request)
        if target.operation == "cdn_token":
            answer = JSONResponse(await self._keys.stand_in(credentials, self._upstream))
            call.status, call.forwarded, call.response_bytes = 200, True, len(answer.body)
            await answer(request.scope, request.receive, send)
            return
        token = await self._keys.cdn_token(credentials) if target.cdn else None
        authorization = token.authorization if token is not None else credentials.header

        body_read = anyio.Event()
        content: bytes | AsyncIterator[bytes] | None = body
        if body is None and request.method != "GET":
            content = self._relay_body(request, call, body_read)
        else:
            body_read.set()
        http = self._http.async_http
        upstream_request = http.build_request(
            request.method,
            target.upstream_url,
            headers=request_headers(
                request.headers, authorization, streamed_body=not isinstance(content, bytes)
            ),
            content=content,
            timeout=self._timeout,
        )
        relay = BodyRelay(send, self._secrets, write_timeout=self._timeout.write)
        outcome: BaseException | None = None
        disconnected = False

        async def watch_disconnect(scope: anyio.CancelScope) -> None:
            nonlocal disconnected
            await body_read.wait()  # until then, the request body's reader owns receive()
            while (await request.receive())["type"] != "http.disconnect":
                pass
            disconnected = True
            scope.cancel()

        # fal's answer must begin within HEAD_TIMEOUT of the request's last byte (but a run's,
        # or a stream's, which wait for the model): httpcore's trace says when it is written.
        head_scope = anyio.CancelScope()
        if target.operation not in _SLOW_HEADS:
            upstream_request.extensions["trace"] = _HeadClock(head_scope)
        async with anyio.create_task_group() as group:
            group.start_soon(watch_disconnect, group.cancel_scope)
            try:
                await self._exchange(
                    http,
                    upstream_request,
                    relay,
                    call,
                    credentials,
                    token,
                    head_scope,
                    None if target.operation in _OPEN_ANSWERS else ANSWER_TIMEOUT,
                )
            except (
                Refused,
                httpx.TransportError,
                ClientDisconnect,
                BrokenAnswerError,
                CallerStalledError,
                _AnswerTimedOutError,
            ) as exc:
                outcome = exc
            finally:
                group.cancel_scope.cancel()
        call.response_bytes = relay.sent
        # Once the answer is complete the server reports the connection as done: not a leaving caller.
        if (disconnected and not relay.finished) or isinstance(outcome, ClientDisconnect):
            call.status, call.error_type = 499, "client_disconnected"
            return
        if isinstance(outcome, Refused):
            raise self._naming_request(outcome, call)
        if isinstance(outcome, CallerStalledError):
            call.status, call.error_type = 499, "client_stalled"
            logger.info(
                "fal_typed.proxy: dropped %s %s: %s",
                call.method,
                self._secrets.text(str(target.url)),
                outcome,
            )
            raise outcome
        if outcome is not None:
            timed_out = isinstance(outcome, _AnswerTimedOutError)
            call.error_type = (
                "proxy_upstream_timeout" if timed_out else "proxy_upstream_interrupted"
            )
            logger.warning(
                "fal_typed.proxy: the answer of %s %s broke off: %s",
                call.method,
                target.url,
                self._secrets.text(f"{type(outcome).__name__}: {outcome}"),
            )
            if not relay.started:
                # A small answer is held whole before it is sent: nothing of it went out, so the
                # caller can be told why, in fal's error shape (not the server's bare 500). Not
                # a 502: fal has done the request, and fal's clients retry a 502.
                raise self._naming_request(
                    Refused(
                        500,
                        f"fal did not end its answer within {ANSWER_TIMEOUT:g} s; the request "
                        "may have been done"
                        if timed_out
                        else "fal's answer broke off before its end; the request may have been "
                        "done",
                        call.error_type,
                    ),
                    call,
                )
            raise UpstreamInterruptedError("fal's answer broke off") from outcome

    def _naming_request(self, refusal: Refused, call: _Call) -> Refused:
        """``refusal``, made once fal had answered, naming fal's request id (in its detail and
        an ``x-fal-request-id`` header, as fal's own answer would have): without it, a submit
        fal queued, and bills, could never be followed."""
        if call.request_id is None or not isinstance(refusal.detail, str):
            return refusal
        request_id = self._secrets.text(call.request_id)
        headers = dict(refusal.headers)
        if request_id.isascii() and request_id.isprintable():
            headers["x-fal-request-id"] = request_id
        return Refused(
            refusal.status,
            f"{refusal.detail} (fal's request id: {request_id!r})",
            refusal.error_type,
            headers,
        )

    async def _relay_body(
        self, request: Request, call: _Call, done: anyio.Event
    ) -> AsyncIterator[bytes]:
        """The caller's body as it arrives (uploads are never held in memory)."""
        try:
            # httpx bounds each write to fal, not the wait for the caller's next piece.
            async for chunk in self._arriving(request):
                call.request_bytes += len(chunk)
                yield chunk
        finally:
            done.set()

    async def _exchange(
        self,
        http: httpx.AsyncClient,
        upstream_request: httpx.Request,
        relay: BodyRelay,
        call: _Call,
        credentials: Credentials,
        token: CdnToken | None,
        head_scope: anyio.CancelScope,
        answer_timeout: float | None,
    ) -> None:
        """Send the request, relay fal's answer; ``head_scope`` bounds the wait for its head,
        ``answer_timeout`` (None: unbounded) the rest of it."""
        response: httpx.Response | None = None
        try:
            with head_scope:
                response = await http.send(upstream_request, stream=True)
        except NOT_SENT_ERRORS as exc:
            # fal cannot have received it: a 502, which fal's clients may safely retry.
            raise Refused(
                502,
                f"cannot reach fal ({type(exc).__name__}); the request was not sent",
                "proxy_upstream_unreachable",
            ) from None
        except httpx.TransportError as exc:
            # Sent, but no answer: fal may have accepted it. A 500, which no client retries on its
            # own for a submit or run, so a paid request is not sent twice.
            raise Refused(
                500,
                f"fal's answer was lost ({type(exc).__name__}); the request may have been accepted",
                "proxy_upstream_lost",
            ) from None
        if response is None:  # the head scope ran out
            raise Refused(
                500,
                f"fal did not begin its answer within {HEAD_TIMEOUT:g} s; the request may have "
                "been accepted",
                "proxy_upstream_timeout",
            )
        try:
            call.status, call.forwarded = response.status_code, True
            call.request_id = response.headers.get("x-fal-request-id")
            call.billable_units = response.headers.get("x-fal-billable-units")
            if token is not None and response.status_code in (401, 403):
                self._keys.forget(credentials, token)
            with anyio.move_on_after(answer_timeout) as answer_scope:
                await relay.relay(response)
            if answer_scope.cancelled_caught:
                raise _AnswerTimedOutError(f"fal's answer did not end within {answer_timeout:g} s")
        finally:
            with anyio.CancelScope(shield=True):  # also when the caller left: free the connection
                await response.aclose()

    # -- reporting -----------------------------------------------------------------------------

    async def _report(self, call: _Call) -> None:
        record = call.record()
        if record.forwarded:
            logger.debug(
                "fal_typed.proxy: %s %s -> %d (caller %s, %.0f ms)",
                record.method,
                self._secrets.text(record.target or "-"),
                record.status_code,
                record.caller,
                record.duration * 1000,
            )
        if self._on_call is None:
            return
        try:
            await resolved(self._on_call(record))
        except Exception:
            logger.exception("fal_typed.proxy: the on_call hook failed")


class _HeadClock:
    """httpcore's trace hook of an upstream request: once its body is written, ``scope`` has
    :data:`HEAD_TIMEOUT` more seconds (for the head of the answer)."""

    def __init__(self, scope: anyio.CancelScope) -> None:
        self._scope = scope

    async def __call__(self, name: str, info: dict[str, object]) -> None:
        if name.endswith(BODY_WRITTEN):
            self._scope.deadline = anyio.current_time() + HEAD_TIMEOUT


def _local_hosts(upstream: object) -> Hosts:
    if not isinstance(upstream, str):
        raise InvalidArgumentError(f"upstream must be a base URL string or None, not {upstream!r}")
    try:
        return Hosts.local(upstream)
    except ValueError as exc:
        raise InvalidArgumentError(f"upstream: {error_reason(exc)}") from None
