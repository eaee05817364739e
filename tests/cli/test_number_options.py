"""Every numeric option of every command refuses what is not a usable number (NaN, infinities,
a float past its range, text) while the command line is parsed: exit 2 naming the option, never
70 ("a bug in fal-typed") and never a run with it. (``fetch --response-timeout inf`` passed
click's range check and ended as a ValueError, exit 70.)

The options are found in the application itself, by their declared type, so an option added
later is held to the same rule without being listed here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

import pytest
import typer

from fal_typed.cli._app import app

from .helpers import run_cli

_NUMBERS = (int, float)
#: A port nothing listens on: a command that wrongly ran would fail there, never reach fal.
_NOWHERE = "http://127.0.0.1:9"


def _numeric(annotation: Any) -> bool:
    if annotation in _NUMBERS:
        return True
    if get_origin(annotation) in (Union, type(int | None)):
        arguments = [a for a in get_args(annotation) if a is not type(None)]
        return len(arguments) == 1 and arguments[0] in _NUMBERS
    return False


def _numeric_options() -> Iterator[tuple[tuple[str, ...], str]]:
    """(command path, option) of every option declared as a number, sub-commands included."""
    root = typer.main.get_command(app)
    stack: list[tuple[tuple[str, ...], Any]] = [((), root)]
    while stack:
        path, command = stack.pop()
        if hasattr(command, "list_commands"):
            context: Any = command.context_class(command)
            for name in command.list_commands(context):
                stack.append(((*path, name), command.get_command(context, name)))
            continue
        for parameter in command.params:
            descriptor = getattr(parameter, "type_descriptor", None)
            if parameter.param_type_name == "option" and _numeric(
                getattr(descriptor, "annotation", None)
            ):
                yield path, parameter.opts[0]


#: ``call`` builds its options from the endpoint named (its fields, and ``--timeout``).
_CALL = ("call", "fal-ai/flux/dev", "--prompt", "a cat")
OPTIONS = sorted(_numeric_options()) + [
    (_CALL, option) for option in ("--timeout", "--guidance-scale", "--num-images", "--seed")
]


def test_the_numeric_options_are_found() -> None:
    """The discovery itself: the options this rule was written for are among those found."""
    found = {(" ".join(path), option) for path, option in OPTIONS}
    assert {
        ("fetch", "--response-timeout"),
        ("fetch", "--concurrency"),
        ("batch run", "--lease"),
        ("batch run", "--max-cost"),
        ("price", "--calls"),
        ("serve", "--port"),
    } <= found


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "a while"])
@pytest.mark.parametrize(
    ("path", "option"), OPTIONS, ids=[f"{' '.join(p)} {o}" for p, o in OPTIONS]
)
def test_a_value_that_is_no_usable_number_is_a_usage_error_naming_the_option(
    path: tuple[str, ...], option: str, value: str
) -> None:
    done = run_cli(
        *path, option, value, timeout=60, FAL_TYPED_BASE_URL=_NOWHERE, FAL_KEY="local:key"
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-600:])
    assert f"Invalid value for '{option}'" in done.stderr or option in done.stderr
    assert "a bug in fal-typed" not in done.stderr
