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

:func:`answers_seen` (sync and async) tells what a call the deadline ended had already
received: the head of each answer (a response hook), so a submit fal answered 200 is known to
be accepted even when the deadline cut its body.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar

import httpx

from ._bounded import Interrupter, TimedOut, await_within
from ._deadline import Deadline
from ._errors import FalError, FalTimeoutError

__all__ = ["answers_seen", "within", "within_async"]

T = TypeVar("T")


class _Armed:
    """The deadline of the calls running in this context, and the interrupters armed for it."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.interrupters: list[Interrupter] = []


_ARMED: contextvars.ContextVar[_Armed | None] = contextvars.ContextVar(
    "fal_typed_armed_deadline", default=None
)


def _arm(response: httpx.Response) -> None:
    """The response hook: arm an interrupter if this request runs inside :func:`within`."""
    armed = _ARMED.get()
    if armed is not None:
        armed.interrupters.append(Interrupter(response, armed.deadline))


def _install(http: httpx.Client | httpx.AsyncClient, hook: Callable[..., object]) -> None:
    """Add ``hook`` to ``http``'s response hooks, once (the hooks are inert outside a block)."""
    hooks = http.event_hooks
    if hook not in hooks["response"]:
        hooks["response"] = [*hooks["response"], hook]
        http.event_hooks = hooks


@contextlib.contextmanager
def within(http: httpx.Client, deadline: Deadline | None, what: str) -> Generator[None]:
    """Run the requests made through ``http`` in the block within ``deadline`` (see above);
    a failure caused by the shutdown is the deadline's error for ``what``."""
    if deadline is None:
        yield
        return
    _install(http, _arm)
    armed = _Armed(deadline)
    token = _ARMED.set(armed)
    try:
        yield
    except FalError as exc:
        if isinstance(exc, FalTimeoutError) or not any(i.fired for i in armed.interrupters):
            raise
        raise deadline.error(what) from None
    finally:
        _ARMED.reset(token)
        for interrupter in armed.interrupters:
            interrupter.cancel()


_ANSWERS: contextvars.ContextVar[list[httpx.Response] | None] = contextvars.ContextVar(
    "fal_typed_answers_seen", default=None
)


def _note(response: httpx.Response) -> None:
    """The response hook: keep the answer's head if the call runs in :func:`answers_seen`."""
    answers = _ANSWERS.get()
    if answers is not None:
        answers.append(response)


async def _note_async(response: httpx.Response) -> None:
    _note(response)


@contextlib.contextmanager
def answers_seen(http: httpx.Client | httpx.AsyncClient) -> Generator[list[httpx.Response]]:
    """The answers (their heads, as they arrive) to the requests ``http`` sends in the block,
    also those of a call the deadline cut before it returned them."""
    _install(http, _note_async if isinstance(http, httpx.AsyncClient) else _note)
    answers: list[httpx.Response] = []
    token = _ANSWERS.set(answers)
    try:
        yield answers
    finally:
        _ANSWERS.reset(token)


async def within_async(call: Awaitable[T], deadline: Deadline | None, what: str) -> T:
    """``await call``, raising ``deadline``'s error for ``what`` once it passes."""
    try:
        return await await_within(call, deadline)
    except TimedOut:
        assert deadline is not None  # only a deadline times out
        raise deadline.error(what) from None
