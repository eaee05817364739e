"""Children that take Ctrl-C as a terminal's foreground job does, whatever the test run inherited.

bash starts a background job with SIGINT ignored when it has no job control (``cmd &`` in a
script, as CI runners and ``nohup`` setups do), and an ignored signal stays ignored across fork
and exec: the child of a Ctrl-C test would never see its SIGINT. A *handled* signal is reset to
its default at exec instead, which Python turns into ``KeyboardInterrupt``. So while a child is
started, SIGINT is handled here if it was ignored.
"""

from __future__ import annotations

import signal
from collections.abc import Generator
from contextlib import contextmanager

__all__ = ["sigint_for_children"]


@contextmanager
def sigint_for_children() -> Generator[None]:
    """Children started in the block get SIGINT's default disposition."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
