"""How the command line ends: one clear line per error, and an exit status that says its kind.

| status | meaning |
|---|---|
| 0 | success |
| 1 | the work was done and failed: fal answered with an error, a fetch or an add had failures |
| 2 | bad usage or values, a missing key or extra: nothing was sent |
| 3 | fal (or the local server) could not be reached, or the connection was lost |
| 4 | the key was refused (401/403) |
| 70 | a bug in fal-typed: ``--debug`` (or ``FAL_TYPED_DEBUG=1``) shows the traceback |
| 130 | interrupted (Ctrl+C) |

Every message goes to stderr; no API key ever appears in one (errors are scrubbed by the client
that raised them).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any, Final, cast

import click

from .._auth import no_key_message
from .._errors import (
    AuthenticationError,
    FalConnectionError,
    FalError,
    InputValidationError,
    InvalidArgumentError,
    MissingCredentialsError,
    PossiblyAcceptedError,
)
from .._printable import printable
from ..files._errors import FileInputError
from ._debug import DEBUG_FLAG, debug_requested

__all__ = [
    "AUTH",
    "FAILED",
    "INTERNAL",
    "INTERRUPTED",
    "OK",
    "UNREACHABLE",
    "USAGE",
    "CallFailed",
    "as_typed",
    "debug_requested",
    "describe",
    "exit_status",
]

OK: Final = 0
FAILED: Final = 1
USAGE: Final = 2
UNREACHABLE: Final = 3
AUTH: Final = 4
INTERNAL: Final = 70
INTERRUPTED: Final = 130


#: Modules an extra of fal-typed brings, for the one line a missing one gets.
_EXTRAS: Final = {
    "starlette": "server",
    "uvicorn": "server",
    "jsonschema": "server",
    "datamodel_code_generator": "codegen",
    "jinja2": "codegen",
    "PIL": "pil",
}


def exit_status(exc: BaseException) -> int:
    """The exit status for an error that ended a command (see the module docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(
        exc, (MissingCredentialsError, InputValidationError, InvalidArgumentError, FileInputError)
    ):
        return USAGE
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in _EXTRAS:
        return USAGE
    if isinstance(exc, PossiblyAcceptedError):
        return FAILED  # it reached fal: not a connection problem to retry blindly
    if isinstance(exc, FalConnectionError):
        return UNREACHABLE
    if isinstance(exc, AuthenticationError):
        return AUTH
    if isinstance(exc, (FalError, OSError)):
        return FAILED
    return INTERNAL


def describe(exc: BaseException) -> str:
    """One line saying what went wrong (and, for a bug, how to see more). A missing key is said
    in the command line's words (FAL_KEY or ``--key``), the same in every command: the library's
    message advises ``Client(key=...)``, which means nothing to a shell."""
    if isinstance(exc, MissingCredentialsError):
        return no_key_message()
    if isinstance(exc, ModuleNotFoundError):
        extra = _EXTRAS.get((exc.name or "").split(".")[0])
        if extra is not None:
            return f"{exc.name} is not installed: pip install 'fal-typed[{extra}]'"
    # A FalError's text may be a server's (an error body): no escape sequence reaches the terminal.
    text = " ".join(printable(str(exc)).split()) or type(exc).__name__
    if isinstance(exc, InvalidArgumentError):  # checked by the library: named as typed here
        text = as_typed(text)
    if isinstance(exc, (FalError, OSError)):
        return text
    return f"{type(exc).__name__}: {text} (a bug in fal-typed; {DEBUG_FLAG} shows the traceback)"


#: The parameter a library message starts with: ``out must ...``, ``journal: ...``, ``days=7 ...``
#: (a first word followed by anything else, ``webhook mode needs ...``, names no parameter).
_LEADING_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?=:|=| must\b)")


def as_typed(message: str, renamed: Mapping[str, str] | None = None) -> str:
    """A library check's message with the parameter it names (its first word: ``out must be a
    folder``) written as the user typed it on the command line (``--out must be a folder``).

    The running command's own parameters are known by name (``key_field`` is ``--key-field``,
    an argument ``journal`` is ``JOURNAL``); ``renamed`` maps the library's names that differ
    from them (``on_change`` is ``--changed``). A first word that names none is left as it is,
    so only the library's messages are given here, never a text that merely begins with a word.
    """
    found = _LEADING_NAME.match(message)
    if found is None:
        return message
    names = _typed_names()
    names.update(renamed or {})
    typed = names.get(found.group())
    return message if typed is None else typed + message[found.end() :]


def _typed_names() -> dict[str, str]:
    """The running command's parameters: ``--long-option`` (its longest spelling) or ``ARG``
    (an argument as ``--help`` shows it). Read from click's (or typer's) objects: should their
    shape change, no name is known and messages keep the library's words, never a traceback."""
    try:
        context = _current_context()
        if context is None:
            return {}
        names: dict[str, str] = {}
        for param in cast("list[Any]", context.command.params):
            name = str(param.name)
            if param.param_type_name == "option":
                names[name] = max(cast("list[str]", param.opts), key=len)
            else:
                names[name] = str(getattr(param, "metavar", None) or name.upper())
        return names
    except Exception:
        return {}


def _current_context() -> Any:
    """The context of the innermost command running. Click's first: ``fal-typed call`` runs a
    plain click command (the endpoint's options) inside typer's. Typer (from 0.22) runs its own
    commands on a copy of click, whose context click's ``get_current_context`` does not see."""
    for module in ("click.globals", "typer._click.globals"):
        try:
            found = importlib.import_module(module).get_current_context(silent=True)
        except ImportError:
            continue
        if found is not None:
            return found
    return None


class CallFailed(click.ClickException):
    """A call that failed, shown as ``Error: <one line>``; ``status`` is the exit status of its
    kind (the command exits with it)."""

    def __init__(self, exc: BaseException, message: str | None = None) -> None:
        super().__init__(message if message is not None else describe(exc))
        self.status = exit_status(exc)
