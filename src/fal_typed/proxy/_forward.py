"""One request forwarded: which headers go up and come back, and the answer streamed through.

Up go fal's own headers (``x-fal-*``: priority, hint, start timeout, lifecycle, file name...),
the body's type and the caller's ``Accept``/``User-Agent``, plus the credential the proxy adds
and ``Accept-Encoding: identity`` (the answer is sent on decoded: a compressed one would be
inflated in the proxy's memory).
Never the caller's ``Authorization`` or cookies: those are the app's, for ``authenticate``.
Back come fal's headers but the hop-by-hop ones, cookies and CORS (the app's CORS settings
apply), every value scrubbed of the proxy's secrets; the body is streamed as it arrives
(status streams and ``/stream`` events too), scrubbed the same way.
"""

from __future__ import annotations

import httpx
from starlette.datastructures import Headers
from starlette.types import Send

from .._checks import declared_length
from .._client import user_agent
from ._redact import Secrets

__all__ = ["BodyRelay", "request_headers", "response_headers"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# The body is re-streamed decoded and scrubbed: its length and encoding are the proxy's own.
_NOT_RETURNED = _HOP_BY_HOP | {"content-length", "content-encoding", "set-cookie"}
_TARGET_HEADER = "x-fal-target-url"
_WHOLE_BODY_MAX = 1 << 20
_PASSED_UP = frozenset({"accept", "content-type", "user-agent"})


def request_headers(incoming: Headers, authorization: str, *, streamed_body: bool) -> httpx.Headers:
    """The headers of the upstream request.

    Values go up as the bytes the caller sent (the ASGI server reads them as latin-1): as text,
    httpx encodes them as ASCII, so a file name with an accent (which a browser may send)
    raised UnicodeEncodeError out of the app.
    """
    headers: dict[str, bytes] = {}
    for name, value in incoming.items():
        if (name.startswith("x-fal-") and name != _TARGET_HEADER) or name in _PASSED_UP:
            headers[name] = value.encode("latin-1")
    length = declared_length(incoming.getlist("content-length"))
    if streamed_body and length is not None:
        # Relayed as it arrives: with its length, fal gets a plain body, not a chunked one.
        headers["content-length"] = b"%d" % length
    # Always: a part upload's ETag must not be altered, and the proxy sends the body on decoded
    # (to scrub it), so a compressed one would be inflated here, 1,000 times its size at most.
    headers["accept-encoding"] = b"identity"
    headers["authorization"] = authorization.encode("latin-1")
    headers["x-fal-client-proxy"] = user_agent().encode("latin-1")
    return httpx.Headers([(name.encode("latin-1"), value) for name, value in headers.items()])


def response_headers(upstream: httpx.Headers, secrets: Secrets) -> list[tuple[bytes, bytes]]:
    """fal's response headers as they are returned to the caller."""
    headers: list[tuple[bytes, bytes]] = []
    for raw_name, raw_value in upstream.raw:
        # As bytes: httpx decodes a value as UTF-8 when it can, which latin-1 cannot always
        # encode back ("\u20ac" raised, "\u00e9" came back as another byte). latin-1 maps each
        # byte to one character and back, so only the secrets (ASCII) change.
        lower = raw_name.decode("latin-1").lower()
        if lower in _NOT_RETURNED or lower.startswith("access-control-"):
            continue
        value = secrets.text(raw_value.decode("latin-1")).encode("latin-1")
        headers.append((lower.encode("latin-1"), value))
    if upstream.get("content-type", "").startswith("text/event-stream"):
        headers.append((b"x-accel-buffering", b"no"))  # a buffering front proxy would hold events
    return headers


class BodyRelay:
    """Sends an upstream answer to the caller, chunk by chunk, counting and scrubbing."""

    def __init__(self, send: Send, secrets: Secrets) -> None:
        self._send = send
        self._redactor = secrets.redactor()
        self._secrets = secrets
        self.sent = 0
        self.started = False
        self.finished = False
        """Whether the last byte was handed to the server: a disconnect after it changes nothing."""

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def chunk(self, data: bytes) -> None:
        out = self._redactor.feed(data)
        if out:
            self.sent += len(out)
            await self._send({"type": "http.response.body", "body": out, "more_body": True})

    async def end(self) -> None:
        rest = self._redactor.flush()
        self.sent += len(rest)
        await self._send({"type": "http.response.body", "body": rest, "more_body": False})
        self.finished = True

    async def relay(self, response: httpx.Response) -> None:
        """The whole answer: status, headers, then each chunk as fal sends it.

        A small answer of known length (fal's JSON) is sent whole, with its length, in one
        write: sent as a chunked stream, its last empty chunk may wait for the caller's delayed
        ACK on a socket without TCP_NODELAY (40 ms on Linux). Event streams and large or
        open-ended bodies are streamed.
        """
        headers = response_headers(response.headers, self._secrets)
        declared = declared_length(response.headers.get_list("content-length"))
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        chunks = response.aiter_bytes()
        if not streaming and declared is not None and declared <= _WHOLE_BODY_MAX:
            # Its length is the encoded one: a gzip body of 1 MiB may inflate to a GiB, so it is
            # held whole only up to the same bound, and streamed past it.
            held: list[bytes] = []
            size = 0
            async for data in chunks:
                held.append(data)
                size += len(data)
                if size > _WHOLE_BODY_MAX:
                    break
            else:
                body = self._redactor.feed(b"".join(held)) + self._redactor.flush()
                self.sent = len(body)
                await self.start(
                    response.status_code, [*headers, (b"content-length", b"%d" % len(body))]
                )
                await self._send({"type": "http.response.body", "body": body, "more_body": False})
                self.finished = True
                return
            await self.start(response.status_code, headers)
            for data in held:
                await self.chunk(data)
        else:
            await self.start(response.status_code, headers)
        async for data in chunks:
            await self.chunk(data)
        await self.end()
