"""One request forwarded: which headers go up and come back, and the answer streamed through.

Up go fal's own headers (``x-fal-*``: priority, hint, start timeout, lifecycle, file name...),
the body's type and the caller's ``Accept``/``User-Agent``, plus the credential the proxy adds
and ``Accept-Encoding: identity`` (the answer is sent on decoded: a compressed one would be
inflated in the proxy's memory).
Never the caller's ``Authorization`` or cookies: those are the app's, for ``authenticate``.
Back come fal's headers but the hop-by-hop ones, cookies and CORS (the app's CORS settings
apply), every value scrubbed of the proxy's secrets; the body is streamed as it arrives
(status streams and ``/stream`` events too), scrubbed the same way.

Bounds against a broken or hostile fal and a caller that stops reading:

* an answer compressed although identity was asked for is decoded here a bounded piece at a
  time (``gzip``/``deflate``; it has to be read to be scrubbed), and cut once it decodes past
  :data:`MAX_RATIO` times its size; one in an encoding the proxy cannot read that way (``br``,
  ``zstd``, several) is refused with a 500 before anything is sent (not a 502: fal has done
  the request, and fal's clients retry a 502);
* each piece must be taken by the caller within the write timeout: a caller that stops reading
  holds the upstream connection and its slot only that long (:class:`CallerStalledError`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import anyio
import httpx
from starlette.datastructures import Headers
from starlette.types import Message, Send

from .._bounded import LimitExceeded, content_codings, inflated_chunks, unbounded_encoding
from .._checks import declared_length
from .._client import user_agent
from ._redact import Secrets
from ._refusal import Refused

__all__ = [
    "MAX_RATIO",
    "BodyRelay",
    "BrokenAnswerError",
    "CallerStalledError",
    "request_headers",
    "response_headers",
]

#: Largest decoded/received size ratio of an answer fal sent compressed (past 1 MiB decoded):
#: the client's own default ``max_decompression_ratio``.
MAX_RATIO: Final = 200.0


class CallerStalledError(Exception):
    """The caller took nothing of the answer for the write timeout: its connection is dropped
    (and fal's answer closed) rather than held for as long as it does not read."""


class BrokenAnswerError(Exception):
    """fal's compressed answer could not be decoded within bounds (the message says why)."""


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

    def __init__(self, send: Send, secrets: Secrets, *, write_timeout: float | None) -> None:
        self._raw_send = send
        self._write_timeout = write_timeout
        self._redactor = secrets.redactor()
        self._secrets = secrets
        self.sent = 0
        self.started = False
        self.finished = False
        """Whether the last byte was handed to the server: a disconnect after it changes nothing."""

    async def _send(self, message: Message) -> None:
        """``send(message)``, within the write timeout: an ASGI server that applies
        backpressure waits here while the caller does not read."""
        if self._write_timeout is None:
            await self._raw_send(message)
            return
        with anyio.move_on_after(self._write_timeout) as waited:
            await self._raw_send(message)
        if waited.cancelled_caught:
            raise CallerStalledError(
                f"the caller took nothing of the answer for {self._write_timeout:g} s"
            )

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
        chunks = _decoded(response, self._secrets)
        if not streaming and declared is not None and declared <= _WHOLE_BODY_MAX:
            # Its length may be an encoded one: a gzip body of 1 MiB may inflate to a GiB, so it
            # is held whole only up to the same bound, and streamed past it.
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


def _decoded(response: httpx.Response, secrets: Secrets) -> AsyncIterator[bytes]:
    """fal's answer decoded, each piece of a bounded size (httpx's own decoding inflates each
    read whole, and passes an encoding it cannot read through as it is, whose header the
    proxy drops). :class:`Refused` (500: fal did the request, which a 502 would have fal's
    clients send again) at once for an encoding the proxy cannot bound, so
    before anything is sent; :class:`BrokenAnswerError` as it comes for a body its encoding
    cannot decode, or one past :data:`MAX_RATIO`. The encoding fal named is quoted scrubbed of
    ``secrets``, like every header value sent on."""
    encodings = content_codings(response)
    if not encodings:
        return response.aiter_raw()
    if unbounded_encoding(response) is not None:
        # Scrubbed whole, then shortened: cut first, a key's start could escape the scrubber.
        named = secrets.text(", ".join(encodings))[:100]
        raise Refused(
            500,
            f"fal answered in an encoding the proxy did not ask for and cannot read "
            f"({named}; it asks for identity); the request was done",
            "proxy_upstream_encoding",
        )
    return _inflated(response, encodings[0])


async def _inflated(response: httpx.Response, encoding: str) -> AsyncIterator[bytes]:
    try:
        async for piece in inflated_chunks(response, encoding, max_ratio=MAX_RATIO):
            yield piece
    except LimitExceeded as exc:
        raise BrokenAnswerError(f"fal's {encoding} answer: {exc}") from None
