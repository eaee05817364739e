"""Holding a :class:`Deadline` over a whole :meth:`Client.request`, however the body trickles.

``Client.request`` clips each phase's timeout to the time left, but httpx applies a read timeout
to each read, not to their sum: a server that sends one byte of the answer every second keeps a
call going long past its deadline. These two wrappers make the deadline a wall-clock limit:

- :func:`within` (sync) arms an :class:`~fal_typed._bounded.Interrupter` on each answer as its
  headers arrive (an httpx response hook, inert outside :func:`within`), so the socket is shut
  down when the deadline passes and the blocked read ends; ``Client.request`` then raises the
  deadline's :class:`~fal_typed.FalTimeoutError`. The wait for the headers is bounded by the
  clipped timeouts.
- :func:`within_async` awaits the call no longer than the time left (cancelling it, which
  closes its connection), raising the deadline's error.

:func:`exchanges_seen` (sync and async) tells how far the requests of a call the deadline
ended had got: written whole (httpcore's trace extension, set by a request hook) and the head of
each answer (a response hook). A paid POST cut after it was written, or answered 200, may have
been accepted; one cut before, or after an answer proving it was not received, was not.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

import httpx

from ._bounded import Interrupter, TimedOut, await_within
from ._deadline import Deadline
from ._errors import FalError, FalTimeoutError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["BODY_WRITTEN", "Exchange", "exchanges_seen", "settle", "within", "within_async"]

T = TypeVar("T")


class _Armed:
    """The deadline of the calls running in this context (``what`` runs), and the
    interrupters armed for it, each with the answer it watches until that is read whole."""

    def __init__(self, deadline: Deadline, what: str) -> None:
        self.deadline = deadline
        self.what = what
        self.interrupters: list[tuple[httpx.Response, Interrupter]] = []


_ARMED: contextvars.ContextVar[_Armed | None] = contextvars.ContextVar(
    "fal_typed_armed_deadline", default=None
)


def _arm(response: httpx.Response) -> None:
    """The response hook: arm an interrupter if this request runs inside :func:`within`."""
    armed = _ARMED.get()
    if armed is not None:
        armed.interrupters.append((response, Interrupter(response, armed.deadline)))


def settle(response: httpx.Response) -> None:
    """``response`` is read whole (``Client.request`` says so): the deadline stops watching it.
    What the call does with it after (parse a large answer, say) is no longer cut by the
    deadline, so a paid answer is never traded for the deadline's error. Only a body delimited
    by the connection's close could have been cut short by the shutdown and still read as
    whole: that one is the deadline's error."""
    armed = _ARMED.get()
    if armed is None:
        return
    for index, (answer, interrupter) in enumerate(armed.interrupters):
        if answer is response:
            interrupter.cancel()
            del armed.interrupters[index]
            if interrupter.fired and _close_delimited(response):
                raise armed.deadline.error(armed.what)
            return


def _install(
    http: httpx.Client | httpx.AsyncClient,
    event: Literal["request", "response"],
    hook: Callable[..., object],
) -> None:
    """Add ``hook`` to ``http``'s ``event`` hooks, once (the hooks are inert outside a block)."""
    hooks = http.event_hooks
    if hook not in hooks[event]:
        hooks[event] = [*hooks[event], hook]
        http.event_hooks = hooks


class within:
    """Run the requests made through ``http`` in the block within ``deadline`` (see above);
    a failure caused by the shutdown is the deadline's error for ``what``.

    Without a deadline it does nothing. A class, not a ``@contextmanager`` generator: every
    request of a call enters one."""

    __slots__ = ("_armed", "_deadline", "_http", "_token", "_what")

    def __init__(self, http: httpx.Client, deadline: Deadline | None, what: str) -> None:
        self._http = http
        self._deadline = deadline
        self._what = what
        self._armed: _Armed | None = None

    def __enter__(self) -> None:
        if self._deadline is None:
            return
        _install(self._http, "response", _arm)
        self._armed = _Armed(self._deadline, self._what)
        self._token = _ARMED.set(self._armed)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        armed = self._armed
        if armed is None:
            return
        _ARMED.reset(self._token)
        for _, interrupter in armed.interrupters:  # the answers not read whole (settle)
            interrupter.cancel()
        if (
            isinstance(exc, FalError)
            and not isinstance(exc, FalTimeoutError)
            and any(interrupter.fired for _, interrupter in armed.interrupters)
        ):
            raise armed.deadline.error(self._what) from None


def _close_delimited(response: httpx.Response) -> bool:
    """Whether ``response``'s body ends only where its connection closes (HTTP/1 with neither
    a length nor chunks): a shutdown that cuts it looks like its end."""
    headers = response.headers
    return (
        response.http_version.startswith("HTTP/1")
        and "content-length" not in headers
        and "chunked" not in headers.get("transfer-encoding", "").lower()
    )


@dataclass(eq=False)
class Exchange:
    """One request sent in an :func:`exchanges_seen` block: how far it got."""

    request: httpx.Request
    started_at: float = field(default_factory=time.time)
    """When it was handed to the transport (Unix seconds)."""
    sent: bool = False
    """Its body was written whole (the server may have read it and acted)."""
    answer: httpx.Response | None = None
    """The head of its answer, once it arrived."""


#: httpcore's trace event once a request's body is written (``http11.`` or ``http2.`` first).
BODY_WRITTEN = "send_request_body.complete"


_EXCHANGES: contextvars.ContextVar[list[Exchange] | None] = contextvars.ContextVar(
    "fal_typed_exchanges_seen", default=None
)


def _tracked(request: httpx.Request) -> Exchange | None:
    """The request's record if the call runs in :func:`exchanges_seen`, else None."""
    exchanges = _EXCHANGES.get()
    if exchanges is None:
        return None
    exchange = Exchange(request)
    exchanges.append(exchange)
    return exchange


def _track(request: httpx.Request) -> None:
    """The request hook (sync): note when the body is written, through httpcore's trace
    extension (chained to one the request already has)."""
    exchange = _tracked(request)
    if exchange is None:
        return
    previous = request.extensions.get("trace")

    def trace(name: str, info: dict[str, object]) -> None:
        if name.endswith(BODY_WRITTEN):
            exchange.sent = True
        if previous is not None:
            previous(name, info)

    request.extensions["trace"] = trace


async def _track_async(request: httpx.Request) -> None:
    exchange = _tracked(request)
    if exchange is None:
        return
    previous = request.extensions.get("trace")

    async def trace(name: str, info: dict[str, object]) -> None:
        if name.endswith(BODY_WRITTEN):
            exchange.sent = True
        if previous is not None:
            await previous(name, info)

    request.extensions["trace"] = trace


def _note(response: httpx.Response) -> None:
    """The response hook: the head of the answer to a request :func:`_track` follows."""
    for exchange in _EXCHANGES.get() or ():
        if exchange.request is response.request:
            exchange.answer = response


async def _note_async(response: httpx.Response) -> None:
    _note(response)


class exchanges_seen:
    """The requests ``http`` sends in the block and how far each got (body written, answer
    head received), also for a call the deadline cut before it returned. Only a call with a
    ``deadline`` can be cut: without one nothing is followed (no trace on its requests), and
    the list stays empty.

    A class, not a ``@contextmanager`` generator: every paid request of a call enters one."""

    __slots__ = ("_deadline", "_http", "_token", "exchanges")

    def __init__(self, http: httpx.Client | httpx.AsyncClient, deadline: Deadline | None) -> None:
        self._http = http
        self._deadline = deadline
        self.exchanges: list[Exchange] = []

    def __enter__(self) -> list[Exchange]:
        if self._deadline is None:
            return self.exchanges
        http = self._http
        if isinstance(http, httpx.AsyncClient):
            _install(http, "request", _track_async)
            _install(http, "response", _note_async)
        else:
            _install(http, "request", _track)
            _install(http, "response", _note)
        self._token = _EXCHANGES.set(self.exchanges)
        return self.exchanges

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._deadline is not None:
            _EXCHANGES.reset(self._token)


async def within_async(call: Awaitable[T], deadline: Deadline | None, what: str) -> T:
    """``await call``, raising ``deadline``'s error for ``what`` once it passes."""
    try:
        return await await_within(call, deadline)
    except TimedOut:
        assert deadline is not None  # only a deadline times out
        raise deadline.error(what) from None
