"""Receiving a body a peer sends to one of our servers, within time bounds.

The proxy reads a front end's model input and relays its uploads; the webhook receiver reads a
delivery whose headers only looked authentic; the local fal server reads every request. None of
that wait is bounded by anything else: no upstream call runs yet, and an ASGI server's own read
has no time limit. A bound on each pause alone is not enough either: a peer sending one byte
every ``pause - 1`` seconds never pauses too long, and holds the connection, its memory and its
concurrency slot for ever. So :func:`arriving` bounds both the pause between two pieces and the
time the whole body takes, and raises :class:`BodyStalled` saying which ran out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import anyio

__all__ = ["BodyStalled", "arriving", "next_wait"]


class BodyStalled(Exception):
    """The body did not arrive in time: ``kind`` is ``"pause"`` (nothing came for ``seconds``)
    or ``"total"`` (the whole body took longer than ``seconds``)."""

    def __init__(self, kind: Literal["pause", "total"], seconds: float) -> None:
        self.kind: Literal["pause", "total"] = kind
        self.seconds = seconds
        super().__init__(self.describe())

    def describe(self) -> str:
        """What ran out, in words for an error message."""
        if self.kind == "pause":
            return f"nothing came for {self.seconds:g} s"
        return f"it did not arrive in full within {self.seconds:g} s"


def next_wait(
    deadline: float | None, now: float, *, pause: float | None, total: float | None
) -> tuple[float | None, BodyStalled]:
    """How long the next piece may take (None: no bound), and what to raise if it does not come
    by then: the pause's error, or the whole's when less of ``total`` is left than a pause.
    ``deadline`` is when ``total`` runs out (None: no such bound); past it, the whole's error
    is raised at once."""
    if deadline is None or total is None:
        return pause, BodyStalled("pause", pause or 0.0)
    left = deadline - now
    if left <= 0:
        raise BodyStalled("total", total)
    if pause is None or left < pause:
        return left, BodyStalled("total", total)
    return pause, BodyStalled("pause", pause)


async def arriving(
    pieces: AsyncIterator[bytes], *, pause: float | None, total: float | None
) -> AsyncIterator[bytes]:
    """The pieces of ``pieces`` as they arrive, each within ``pause`` seconds of the one before
    (None: no such bound) and all of them within ``total`` seconds of the first wait (None: no
    such bound); else :class:`BodyStalled`."""
    deadline = None if total is None else anyio.current_time() + total
    while True:
        wait, stalled = next_wait(deadline, anyio.current_time(), pause=pause, total=total)
        piece: bytes | None = None
        with anyio.move_on_after(wait) as waited:
            piece = await anext(pieces, None)
        if waited.cancelled_caught:
            raise stalled
        if piece is None:
            return
        yield piece
