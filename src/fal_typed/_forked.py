"""What a forked child must not inherit from its parent's objects.

A process forked while another thread held a lock (a pre-forking server, a ``fork`` pool) gets
that lock held, with no thread of its own to release it: the first call taking it hangs. And a
kept-alive connection the parent still uses is not the child's to use. An object owning such
things registers a reset with :func:`on_fork`; the resets run in the child only, right after the
fork, before any of its code.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, Final, TypeVar

__all__ = ["on_fork"]

T = TypeVar("T")

#: Each owner's reset, weakly: an object gone needs none.
_RESETS: Final[weakref.WeakKeyDictionary[Any, Callable[[Any], None]]] = weakref.WeakKeyDictionary()


def on_fork(owner: T, reset: Callable[[T], None]) -> None:
    """Run ``reset(owner)`` in each child forked while ``owner`` lives. ``reset`` must not hold
    ``owner`` itself (pass the class's function, not a bound method), or it never goes."""
    _RESETS[owner] = reset


def _in_child() -> None:
    for owner, reset in list(_RESETS.items()):
        reset(owner)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)
