"""``--debug``: read before anything else (and before typer loads), by ``main``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

__all__ = ["DEBUG_ENV", "DEBUG_FLAG", "debug_requested"]

DEBUG_FLAG: Final = "--debug"
DEBUG_ENV: Final = "FAL_TYPED_DEBUG"


def debug_requested(argv: Sequence[str]) -> tuple[bool, list[str]]:
    """Whether ``--debug`` (anywhere before a ``--``) or ``FAL_TYPED_DEBUG`` asks for
    tracebacks, and the arguments without the flag."""
    arguments = list(argv)
    end = arguments.index("--") if "--" in arguments else len(arguments)
    debug = DEBUG_FLAG in arguments[:end]
    if debug:
        arguments = [a for a in arguments[:end] if a != DEBUG_FLAG] + arguments[end:]
    flag = os.environ.get(DEBUG_ENV, "").strip().lower()
    return debug or flag not in ("", "0", "false", "no"), arguments
