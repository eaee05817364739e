"""The ``fal-typed`` command: find, call and add endpoints, serve fal locally, refresh schemas.

The refresh loop::

    fal-typed fetch --all        # schemas/ from fal's catalog; reports added/changed/removed
    fal-typed generate           # generated/ from schemas/ (python -m codegen)
    git diff --stat              # what changed

Every command takes ``--schemas DIR`` (default ``schemas``, or ``FAL_TYPED_SCHEMAS``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._debug import debug_requested
from ._list import matching, print_listing
from ._streams import harden_streams

if TYPE_CHECKING:
    from ._app import app

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    """``app`` (the typer application) is built on first use: ``main`` may not need it."""
    if name == "app":
        from ._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _quick_list(arguments: Sequence[str]) -> bool:
    """Run ``fal-typed list [WORD...] [--json]`` without typer, which loads typer, click, rich
    and pydantic (to parse options) for a listing people type often; any other form of the
    command (an option, ``--help``, ``FAL_TYPED_SCHEMAS`` set) goes through typer."""
    if not arguments or arguments[0] != "list" or "FAL_TYPED_SCHEMAS" in os.environ:
        return False
    words = [a for a in arguments[1:] if a != "--json"]
    if any(word.startswith("-") for word in words):
        return False
    print_listing(matching(None, None, words)[0], as_json="--json" in arguments[1:], out=sys.stdout)
    return True


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``fal-typed`` script: every error ends as one line and an exit status
    that says its kind (``_errors``); ``--debug`` anywhere shows the traceback instead."""
    harden_streams()  # no character the console lacks may cost a paid result (``_streams``)
    debug, arguments = debug_requested(sys.argv[1:] if argv is None else argv)
    try:
        if not _quick_list(arguments):
            from ._app import app

            app(args=arguments, prog_name="fal-typed")
    except SystemExit:
        raise
    except BaseException as exc:
        if debug:
            raise
        from rich.console import Console
        from rich.markup import escape

        from ._errors import describe, exit_status

        Console(stderr=True).print(
            f"[red]Error:[/red] {escape(describe(exc))}", highlight=False, soft_wrap=True
        )
        raise SystemExit(exit_status(exc)) from None
