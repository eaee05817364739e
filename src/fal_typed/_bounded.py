"""Reading a streamed response within bounds: a size cap, a decompression ratio, a deadline.

httpx decodes ``gzip``/``deflate``/``br``/``zstd`` bodies as they stream, and a read timeout only
bounds the silence between two chunks. So a server (or anything in front of it) can make a
client hold a decompression bomb, or keep it reading for ever by trickling a byte at a time.
These pieces bound both, for the readers that stream (``/stream`` events, output downloads):

- :class:`BodyGuard` counts the decoded bytes against a cap and against the raw bytes received
  (the ratio is only judged past :data:`RATIO_FLOOR`, where a real body cannot reach it);
- :class:`Interrupter` (sync) shuts the response's socket down when the deadline passes, so a
  read blocked in the kernel returns at once instead of after its own read timeout (its alarm
  is one entry for the process's one watchdog thread, ``_watchdog``: no thread per response);
- :func:`next_within` (async) awaits the next chunk no longer than the time left;
- :func:`read_body` / :func:`aread_body` read a whole (small) body with all three;
- :func:`send_within` (sync) waits for an answer's headers no longer than the time left, however
  slowly they come (each read of httpx's is bounded, not their sum);
- :func:`read_answer` turns a streamed answer and its (bounded) body into an ordinary read one;
- :class:`Inflater` decodes a ``gzip``/``deflate`` body a bounded piece at a time (httpx's own
  decoders inflate each read whole: 64 KiB received may become 64 MiB in one chunk, before any
  count can see it), and :func:`inflated_chunks` reads a response's raw body through it.

Each raises :class:`LimitExceeded` or :class:`TimedOut`; the callers turn them into the
:class:`~fal_typed.FalError` that names their URL or file.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import socket
import sys
import threading
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeVar, cast

import httpx
from typing_extensions import Self

from ._deadline import Deadline
from ._watchdog import Alarm, arm
from ._workers import spawn

if TYPE_CHECKING:  # imported by the async readers: sync programs never load it
    import asyncio

__all__ = [
    "INFLATED_STEP",
    "MAX_GZIP_MEMBERS",
    "RATIO_FLOOR",
    "BodyGuard",
    "Inflater",
    "Interrupter",
    "LimitExceeded",
    "TimedOut",
    "aread_body",
    "await_within",
    "content_codings",
    "inflated_chunks",
    "next_within",
    "read_answer",
    "read_body",
    "send_before",
    "send_within",
    "unbounded_encoding",
]

T = TypeVar("T")

#: Headers describing the encoded body; dropped when an answer is handed on decoded.
_ENCODING_HEADERS: Final = ("content-encoding", "content-length", "transfer-encoding")

RATIO_FLOOR: Final = 1 << 20
"""Decoded bytes below which the decompression ratio is not judged (small bodies compress well)."""


class BodyGuard:
    """Counts a response's decoded bytes; :meth:`add` names the limit once one is passed."""

    __slots__ = ("_response", "decoded", "max_bytes", "max_ratio")

    def __init__(self, response: httpx.Response, *, max_bytes: int, max_ratio: float) -> None:
        self._response = response
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.decoded = 0

    def add(self, size: int) -> str | None:
        """Count ``size`` more decoded bytes; the problem, or ``None`` while within bounds."""
        self.decoded += size
        return _past(self._response, self.decoded, self.max_bytes, self.max_ratio)


#: What our clients ask answers to be encoded in: httpx inflates a read of either whole, but
#: within about a thousand times its size. ``br`` and ``zstd`` (which httpx also asks for when
#: ``brotli`` or ``zstandard`` is installed) are not: one read can become gigabytes.
ACCEPT_ENCODING: Final = "gzip, deflate"


def content_codings(response: httpx.Response) -> list[str]:
    """The encodings ``response``'s body is in (``Content-Encoding``, every header of it),
    lowercased, ``identity`` left out."""
    values = response.headers.get_list("content-encoding", split_commas=True)
    return [coding for value in values if (coding := value.strip().lower()) not in ("", "identity")]


def unbounded_encoding(response: httpx.Response) -> str | None:
    """Why ``response``'s body cannot be read within bounds, or None: an encoding not asked
    for (``br``, ``zstd``...), or several stacked (``gzip, gzip``: each multiplies the last)."""
    codings = content_codings(response)
    if not codings or (len(codings) == 1 and codings[0] in _WBITS):
        return None
    shown = ", ".join(codings)[:60]
    return (
        f"the body is encoded {shown!r}, which was not asked for: only gzip or deflate, once, "
        "can be read within the limits"
    )


def _past(response: httpx.Response, decoded: int, max_bytes: int, max_ratio: float) -> str | None:
    """The limit ``decoded`` bytes of ``response``'s body are past, or ``None``."""
    if decoded > max_bytes:
        return f"the body is larger than the limit of {max_bytes} bytes"
    raw = response.num_bytes_downloaded
    if decoded > RATIO_FLOOR and decoded > max_ratio * max(raw, 1):
        return (
            f"the body decompresses past the limit of {max_ratio:g} times its size "
            f"({raw} bytes received became {decoded})"
        )
    return None


class LimitExceeded(Exception):
    """A body went past a limit; the message names it."""


class TimedOut(Exception):
    """The deadline passed before the body (or its next chunk) arrived."""


class Interrupter:
    """Shuts ``response``'s socket down once ``deadline`` passes (sync responses only).

    A sync read cannot be cancelled from outside: it returns when data arrives or its own read
    timeout ends. Shutting the socket down makes it return at once (with a transport error);
    :attr:`fired` then tells the reader that the deadline, not the peer, ended it. Responses
    without a socket (mock transports) are left to the reader's own checks between chunks.
    """

    def __init__(self, response: httpx.Response, deadline: Deadline | None) -> None:
        self.fired = False
        self._alarm: Alarm | None = None
        sock = None if deadline is None else _socket_of(response)
        if deadline is None or sock is None:
            return
        self._alarm = arm(deadline.end, functools.partial(self._fire, sock))

    @property
    def armed(self) -> bool:
        """Whether the deadline is held by the socket's shutdown (False with no deadline, no
        socket, or once cancelled)."""
        return self._alarm is not None

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        # The plain socket's shutdown, also for an SSLSocket (whose own would unwrap TLS); a
        # socket already closed has ended its read anyway.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Disarm (the body was read in time, or the reader gave up first)."""
        alarm, self._alarm = self._alarm, None
        if alarm is not None:
            alarm.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


def _socket_of(response: httpx.Response) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    if not callable(get_extra_info):
        return None
    sock = get_extra_info("socket")
    return sock if isinstance(sock, socket.socket) else None


async def await_within(call: Awaitable[T], deadline: Deadline | None) -> T:
    """``await call``, raising :class:`TimedOut` once ``deadline`` has passed (the call is
    cancelled then: a pending send or read closes its connection). The one way the async paths
    hold a deadline over a wait, whatever the peer sends."""
    if deadline is None:
        return await call
    import asyncio  # here, not at module level: sync-only programs never load it

    if sys.version_info >= (3, 11) and not deadline.expired:
        # What wait_for does from 3.12 on: the call awaited in this task under a timeout (it
        # cancels the call), instead of in a task of its own per call (3.11: per stream read).
        try:
            async with asyncio.timeout_at(_loop_time(asyncio.get_running_loop(), deadline)):
                return await call
        except TimeoutError:
            raise TimedOut from None
    try:
        return await asyncio.wait_for(call, max(deadline.remaining(), 0.0))
    except asyncio.TimeoutError:
        raise TimedOut from None


def _loop_time(loop: asyncio.AbstractEventLoop, deadline: Deadline) -> float:
    """``deadline`` on ``loop``'s clock (``time.monotonic`` for asyncio's own loops, not for
    every loop: converted through the time left)."""
    return loop.time() + deadline.remaining()


async def next_within(items: AsyncIterator[T], deadline: Deadline | None) -> T:
    """``await anext(items)``, raising :class:`TimedOut` once ``deadline`` has passed.

    ``StopAsyncIteration`` passes through. The pending read is cancelled on a timeout, so the
    caller must close the response it came from.
    """
    if deadline is not None and deadline.expired:
        raise TimedOut
    return await await_within(items.__anext__(), deadline)


def read_body(
    response: httpx.Response,
    *,
    max_bytes: int,
    max_ratio: float,
    deadline: Deadline | None,
    interrupt: bool = True,
) -> bytes:
    """The decoded body of a streamed sync ``response``, read within the bounds.

    ``deadline`` is checked as chunks come; with ``interrupt``, a silence past it is ended too
    (the socket shut down). Without, a read that has a timeout of its own is left to end it,
    and no alarm is armed.

    Raises :class:`LimitExceeded`, :class:`TimedOut`, or the transport's own ``httpx`` error.
    """
    # Every call's answer is read here: the bounds are checked inline (what BodyGuard and an
    # unarmed Interrupter do, without their objects), and a body of one chunk is not copied.
    if "content-encoding" in response.headers and (problem := unbounded_encoding(response)):
        raise LimitExceeded(problem)
    interrupter = Interrupter(response, deadline) if interrupt and deadline is not None else None
    end = None if deadline is None else deadline.end
    parts: list[bytes] = []
    decoded = 0
    chunks = response.iter_bytes()
    try:
        while True:
            if end is not None and time.monotonic() >= end:  # deadline.expired
                raise TimedOut
            try:
                chunk = next(chunks, None)
            except httpx.TransportError:
                if interrupter is not None and interrupter.fired:
                    raise TimedOut from None
                raise
            if chunk is None:
                # The shutdown looks like the end of a close-delimited body.
                if interrupter is not None and interrupter.fired:
                    raise TimedOut
                return b"".join(parts)
            decoded += len(chunk)
            if decoded > RATIO_FLOOR or decoded > max_bytes:  # else within both (see _past)
                problem = _past(response, decoded, max_bytes, max_ratio)
                if problem is not None:
                    raise LimitExceeded(problem)
            parts.append(chunk)
    finally:
        if interrupter is not None:
            interrupter.cancel()


async def aread_body(
    response: httpx.Response,
    *,
    max_bytes: int,
    max_ratio: float,
    deadline: Deadline | None,
    interrupt: bool = True,
) -> bytes:
    """Async twin of :func:`read_body` (with ``interrupt``, a silence's read is cancelled)."""
    if "content-encoding" in response.headers and (problem := unbounded_encoding(response)):
        raise LimitExceeded(problem)
    guard = BodyGuard(response, max_bytes=max_bytes, max_ratio=max_ratio)
    body = bytearray()
    chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
    try:
        while True:
            if deadline is not None and deadline.expired:
                raise TimedOut
            try:
                chunk = await next_within(chunks, deadline if interrupt else None)
            except StopAsyncIteration:
                return bytes(body)
            problem = guard.add(len(chunk))
            if problem is not None:
                raise LimitExceeded(problem)
            body += chunk
    finally:
        await chunks.aclose()


def send_within(
    http: httpx.Client, request: httpx.Request, deadline: Deadline | None, *, download: bool = False
) -> httpx.Response:
    """``http.send(request, stream=True)``, raising :class:`TimedOut` once ``deadline`` passes
    before the answer's headers are in. ``download`` sends without auth, following redirects.
    See :func:`send_before`."""

    def send() -> httpx.Response:
        if download:
            return http.send(request, stream=True, auth=None, follow_redirects=True)
        return http.send(request, stream=True)

    return send() if deadline is None else send_before(send, deadline)


def send_before(send: Callable[[], httpx.Response], deadline: Deadline) -> httpx.Response:
    """``send()`` (a streamed send), raising :class:`TimedOut` once ``deadline`` passes before
    it returns, however slowly the answer's headers come.

    The send runs in a helper thread (a reused one, ``_workers``) the caller stops waiting for;
    an answer that arrives after that is closed as it comes (which, for a run, is what cancels
    it).
    """
    outcome: list[httpx.Response | BaseException] = []
    lock = threading.Lock()
    arrived = threading.Event()
    abandoned = False

    def run() -> None:
        try:
            result: httpx.Response | BaseException = send()
        except BaseException as exc:  # handed to the caller's thread
            result = exc
        with lock:
            if abandoned:
                if isinstance(result, httpx.Response):
                    result.close()
                return
            outcome.append(result)
        arrived.set()

    # In the caller's context: what it tracks of its requests (``_wallclock``) sees this one
    # (and a reused thread carries no earlier caller's).
    context = contextvars.copy_context()
    spawn(functools.partial(context.run, run))
    arrived.wait(max(deadline.remaining(), 0.0))
    with lock:
        if not outcome:
            abandoned = True
            raise TimedOut
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def read_answer(response: httpx.Response, body: bytes) -> httpx.Response:
    """``response`` as an ordinary, read response whose (decoded, bounded) body is ``body``."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in _ENCODING_HEADERS]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


INFLATED_STEP: Final = 1 << 16
"""The most decoded bytes :class:`Inflater` yields at once."""

_WBITS: Final = {
    "gzip": zlib.MAX_WBITS | 16,
    "x-gzip": zlib.MAX_WBITS | 16,
    "deflate": zlib.MAX_WBITS,
}


class Inflater:
    """Decodes a ``gzip`` or ``deflate`` body (zlib-wrapped or raw, as httpx reads it) in pieces
    of at most ``step`` decoded bytes, whatever a received piece inflates to.

    A gzip body may hold several members one after another (RFC 1952): each is decoded in turn,
    bounded the same way. Anything else after the end of the stream is refused: zlib keeps it
    aside (``unused_data``), undecoded and uncounted, so a tiny stream followed by junk grew
    memory without bound, and a second member was dropped as if the body had ended.

    Raises :class:`LimitExceeded` for a body that is not what its encoding says.
    """

    ENCODINGS: Final = frozenset(_WBITS)

    def __init__(self, encoding: str, *, step: int = INFLATED_STEP) -> None:
        self._wbits = _WBITS[encoding]
        self._encoding = encoding
        self._inflater = zlib.decompressobj(self._wbits)
        self._step = step
        self._started = False
        self._gzip = self._wbits == zlib.MAX_WBITS | 16
        # The start of what follows a finished stream, while too short to tell a gzip member.
        self._after = b""
        self._members = 1

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``data`` (after what came before), each of at most ``step``
        bytes, decoded as they are asked for."""
        pending = data
        while True:
            if self._inflater.eof:
                pending = self._next_member(pending)
                if not pending:
                    return
            try:
                out = self._inflater.decompress(pending, self._step)
            except zlib.error as exc:
                if self._started or self._wbits != zlib.MAX_WBITS:
                    raise LimitExceeded(f"the body is not valid {self._encoding} ({exc})") from None
                # deflate as some servers send it: raw, without zlib's wrapper (httpx's rule).
                self._wbits = -zlib.MAX_WBITS
                self._inflater = zlib.decompressobj(self._wbits)
                continue
            self._started = True
            pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                # What came after the stream's end: zlib would keep it aside, unbounded.
                pending = self._inflater.unused_data
            if out:
                yield out
            # A full piece may leave more decoded output inside zlib: ask again until a piece
            # comes short with no input left (at the stream's end, zlib has given it all).
            if not pending and (len(out) < self._step or self._inflater.eof):
                return

    def _next_member(self, data: bytes) -> bytes:
        """``data``, arriving after the end of a stream, if it begins another gzip member (for
        which a new decoder is made); :class:`LimitExceeded` if it cannot."""
        start = self._after + data
        if not start:
            return b""
        if self._gzip and _GZIP_MAGIC.startswith(start[: len(_GZIP_MAGIC)]):
            if len(start) < len(_GZIP_MAGIC):
                self._after = start  # one byte: the next piece tells
                return b""
            self._after = b""
            self._members += 1
            if self._members > MAX_GZIP_MEMBERS:
                # Each new member costs a copy of what follows it (zlib's unused_data): a body of
                # empty members would cost time quadratic in its size.
                raise LimitExceeded(f"the body has more than {MAX_GZIP_MEMBERS} gzip members")
            self._inflater = zlib.decompressobj(self._wbits)
            return start
        raise LimitExceeded(f"the body has data after the end of its {self._encoding} stream")

    def finish(self) -> None:
        """The body ended: :class:`LimitExceeded` if its compressed stream did not."""
        if self._started and (not self._inflater.eof or self._after):
            raise LimitExceeded(f"the body ends inside its {self._encoding} stream")


_GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_GZIP_MEMBERS: Final = 64
"""The most gzip members :class:`Inflater` decodes one after another (servers send one)."""


async def inflated_chunks(
    response: httpx.Response, encoding: str, *, max_ratio: float, step: int = INFLATED_STEP
) -> AsyncIterator[bytes]:
    """``response``'s raw body decoded with :class:`Inflater` (``encoding``: one of
    :attr:`Inflater.ENCODINGS`), in pieces of at most ``step`` bytes, past none of which the
    decoded size is more than ``max_ratio`` times the bytes received (judged past
    :data:`RATIO_FLOOR`); :class:`LimitExceeded` otherwise."""
    inflater = Inflater(encoding, step=step)
    guard = BodyGuard(response, max_bytes=sys.maxsize, max_ratio=max_ratio)
    async for data in response.aiter_raw():
        for piece in inflater.feed(data):
            problem = guard.add(len(piece))
            if problem is not None:
                raise LimitExceeded(problem)
            yield piece
    inflater.finish()
