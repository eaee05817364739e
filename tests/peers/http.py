"""A hostile HTTP peer on 127.0.0.1 for the retry table: one outcome per request, counted.

:class:`OutcomePeer` answers the first ``times`` requests with one outcome of the table
(``fal_typed._retry.Outcome``), the way a failing gateway or network would, and every later
request with a good answer. It counts what it *received* (requests read whole: a submit the
queue behind a gateway would have accepted), so a test can show a paid POST was never sent
twice. Outcomes that happen before a request exists (a refused connect, a host name that does
not resolve) need no server: :func:`refused_url` and :data:`UNRESOLVABLE_URL` give addresses
that fail that way.

It reuses the scripted server of :mod:`tests.peers.sse`; only "reset before the request was
read" needs a socket option of its own (SO_LINGER 0: the close is a RST).
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, cast

from fal_typed._retry import Outcome

from .sse import KEY, Exchange, Script, ScriptedPeer

__all__ = [
    "KEY",
    "SERVED_OUTCOMES",
    "UNRESOLVABLE_URL",
    "OutcomePeer",
    "refused_url",
    "serving_outcomes",
]

#: The outcomes a server produces, which :class:`OutcomePeer` plays. The others happen before
#: any request reaches a server (a refused connect, a name that does not resolve, a body not
#: written whole) or are the call's own deadline (tests/core/test_deadline_column.py).
SERVED_OUTCOMES = [
    o
    for o in Outcome
    if o
    not in (
        Outcome.CONNECT_FAILED,
        Outcome.DNS_FAILURE,
        Outcome.NOT_WRITTEN,
        Outcome.DEADLINE_AFTER_SENT,
    )
]

#: A host name that never resolves (RFC 6761 reserves ``.invalid``).
UNRESOLVABLE_URL = "http://fal-typed-retry-table.invalid"

NGINX = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_GATEWAY = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def refused_url() -> str:
    """An http URL on 127.0.0.1 whose port refuses connections (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _reset(exchange: Exchange) -> None:
    """Close with a RST (SO_LINGER 0), not a FIN."""
    sock = exchange._writer.get_extra_info("socket")  # pyright: ignore[reportPrivateUsage]
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    exchange.close()


class OutcomePeer:
    """Answers ``times`` requests with ``outcome``, then ``good`` to each.

    With ``match``, only requests whose path contains it are faulted and counted; the others
    (the earlier steps of a flow: a token, an initiate) get ``other``'s answer.
    """

    def __init__(self, peer: ScriptedPeer) -> None:
        self.peer = peer
        self.outcome: Outcome | None = None
        self.times = 0
        self.good: Any = {}
        self.match: str | None = None
        self.other: Script | None = None
        self.received = 0
        """Matching requests read whole (headers and body): what a server could act on."""
        self.faults = 0
        peer.script = self._script

    @property
    def url(self) -> str:
        return self.peer.url

    def set(
        self,
        outcome: Outcome,
        *,
        times: int = 1,
        good: Any = None,
        match: str | None = None,
        other: Script | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``outcome``, later ones with
        ``good`` (JSON, or a script)."""
        self.outcome, self.times, self.good = outcome, times, {} if good is None else good
        self.match, self.other = match, other
        self.received = self.faults = 0
        self.peer.script = self._script

    async def _script(self, exchange: Exchange) -> None:
        if self.match is not None and self.match not in exchange.path:
            assert self.other is not None, f"no answer for {exchange.method} {exchange.path}"
            await self.other(exchange)
            return
        if self.faults < self.times and self.outcome is not None:
            self.faults += 1
            if self.outcome is not Outcome.RESET_BEFORE_SENT:
                self.received += 1
            await _answer(exchange, self.outcome)
            return
        self.received += 1
        if callable(self.good):
            script = cast("Script", self.good)
            await script(exchange)
            return
        body = json.dumps(self.good).encode()
        await exchange.answer(200, body, {"Content-Type": "application/json"})


async def _answer(exchange: Exchange, outcome: Outcome) -> None:
    """The fault ``outcome`` as a peer would produce it."""
    o = Outcome
    if outcome in (o.RESET_BEFORE_SENT, o.RESET_AFTER_SENT):
        # Before: the client's request is never acted on (not counted); on the wire the client
        # sees the same closed connection with no answer either way.
        _reset(exchange)
    elif outcome is o.READ_TIMEOUT:
        await exchange.until_client_leaves()
    elif outcome is o.RATE_LIMITED_RETRY_AFTER:
        await _json(exchange, 429, {"detail": "rate limited"}, {"Retry-After": "0"})
    elif outcome is o.RATE_LIMITED:
        await _json(exchange, 429, {"detail": "rate limited"})
    elif outcome is o.RETRY_STATUS:
        await _json(exchange, 408, {"detail": "request timeout"})
    elif outcome in (o.INGRESS_502, o.INGRESS_503, o.INGRESS_504):
        code = {o.INGRESS_502: 502, o.INGRESS_503: 503, o.INGRESS_504: 504}[outcome]
        page = NGINX.format(code=code, reason=_GATEWAY[code]).encode()
        await exchange.answer(code, page, {"Content-Type": "text/html", "Server": "nginx"})
    elif outcome is o.FAL_5XX:  # fal's JSON error body, naming no request
        await _json(exchange, 500, {"detail": "boom", "error_type": "internal_error"})
    elif outcome is o.FAL_5XX_NAMED:
        headers = {"x-fal-request-id": "f0e1d2c3-0000-4000-8000-000000000001"}
        await _json(exchange, 500, {"detail": "boom", "error_type": "internal_error"}, headers)
    elif outcome is o.CLIENT_4XX:
        await _json(exchange, 400, {"detail": "bad request"})
    elif outcome is o.START_TIMEOUT:
        headers = {"X-Fal-Request-Timeout-Type": "user", "x-fal-error-type": "request_timeout"}
        await _json(
            exchange, 504, {"detail": "timed out", "error_type": "request_timeout"}, headers
        )
    else:  # pragma: no cover - the other outcomes happen before a request reaches a server
        raise AssertionError(f"{outcome} is not a server's answer")


async def _json(
    exchange: Exchange, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    await exchange.answer(status, data, {"Content-Type": "application/json", **(headers or {})})


@contextmanager
def serving_outcomes() -> Generator[OutcomePeer, None, None]:
    """A started :class:`OutcomePeer`, stopped (every connection closed) on exit."""
    peer = ScriptedPeer()
    peer.start()
    try:
        yield OutcomePeer(peer)
    finally:
        peer.stop()


# -- echoes: a server that answers with the credentials it was sent --------------------------

#: Where an echo puts the request's Authorization value. ``cut_N``: plain text placing the
#: secret across character N, where a message quoting the first N characters of an answer
#: would cut it (80, 200 and 500 are the runtime's cuts); ``escaped``: in a JSON string
#: holding the key quoted (as ``repr`` would write it), under an escaped quote character.
ECHO_SHAPES = (
    "text",
    "json_value",
    "json_key",
    "header",
    "cut_80",
    "cut_200",
    "cut_500",
    "escaped",
)


def echo_script(status: int, shape: str) -> Any:
    """A script answering ``status`` with the request's Authorization value (and the bare key or
    token in it) echoed back in ``shape``."""

    async def script(exchange: Exchange) -> None:
        auth = exchange.headers.get("authorization", "")
        secret = auth.partition(" ")[2] or auth
        headers = {"Content-Type": "application/json", "X-Echo": "none"}
        if shape == "text":
            body = f"unexpected: Authorization: {auth}; key={secret}".encode()
            headers["Content-Type"] = "text/plain"
        elif shape == "json_value":
            body = json.dumps({"detail": f"bad key {secret}", "echo": {"auth": auth}}).encode()
        elif shape == "json_key":
            body = json.dumps({secret: "echoed as a key", "detail": {auth: 1}}).encode()
        elif shape.startswith("cut_"):
            at = int(shape.removeprefix("cut_"))
            body = ("x" * max(at - len(secret) // 2, 0) + secret + " and so on").encode()
            headers["Content-Type"] = "text/plain"
        elif shape == "escaped":
            body = json.dumps({"detail": f'rejected {secret!r} and "{auth}"'}).encode()
        else:
            body = json.dumps({"detail": "see header"}).encode()
            headers["X-Echo"] = auth
        await exchange.answer(status, body, headers)

    return script
