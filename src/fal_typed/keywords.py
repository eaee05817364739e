"""What makes the keyword-argument calls of a generated module run.

A generated module declares each call (``flux_dev.subscribe``, ``submit``, ``run``, ``stream``,
their ``_async`` twins, and ``Realtime.send``) as a plain function with its real signature:
every input field a typed keyword, then ``extra_body`` and the call options. That signature is
what type checkers, editors and ``help()`` read, so a missing or misspelled field is reported by
its name. :func:`keyword_call` makes it run: the declared body never does; the caller's
arguments go, exactly as given, through ``Endpoint.arguments`` (validation, local files) to the
endpoint call. Fields left out are not sent, so fal applies its own defaults: a default shown
in a signature is documentation.

A generated module's models and realtime classes load on first use, through the module
``__getattr__`` that :func:`lazy_attributes` makes (re-exported here for the generated modules).

The wrapper also accepts an ``Input`` instance as its one positional argument
(``flux_dev.subscribe(flux_dev.Input(prompt="a cat"))``), which the declared signature does not
show: the typed way to send an instance is ``flux_dev.endpoint.subscribe(instance)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from ._endpoint import Endpoint
from ._lazy import lazy_attributes
from ._types import NOT_GIVEN as _NOT_GIVEN

__all__ = ["NOT_GIVEN", "keyword_call", "lazy_attributes"]

NOT_GIVEN: Any = _NOT_GIVEN
"""``fal_typed.NOT_GIVEN``, typed ``Any``: the default a generated signature shows for a field
whose schema gives none it could show. Passed explicitly, the field is left out all the same."""

_F = TypeVar("_F", bound=Callable[..., Any])


def keyword_call(call: Callable[..., Any] | str) -> Callable[[_F], _F]:
    """Decorate a declared signature so that calling it calls ``call``.

    ``call`` is an endpoint's call bound to it (``endpoint.subscribe``): the decorated function
    becomes ``call(endpoint.arguments(input, fields, extra_body), **options)``, where the
    options are the keywords ``call`` itself takes and the fields all the others (the body's
    JSON is checked as the call encodes it to send, not twice). Or ``call``
    names a method of a realtime connection (``"send_arguments"``): the decorated method sends
    ``self.endpoint.arguments(input, fields, extra_body)`` through it. Coroutine functions stay
    coroutine functions. Type checkers see the declared signature unchanged.
    """
    if isinstance(call, str):
        return lambda declared: _method(declared, call)
    endpoint = cast("Endpoint[Any, Any] | None", getattr(call, "__self__", None))
    if not isinstance(endpoint, Endpoint):
        raise TypeError(f"keyword_call takes an Endpoint's bound call or a method name: {call!r}")
    # Looked up by name at each call, as a hand-written body would: patching
    # ``flux_dev.endpoint.subscribe`` (in a test, say) reaches the module's function too.
    name, options = call.__name__, frozenset(_keyword_only(call))
    return lambda declared: _function(declared, endpoint, name, options)


def _keyword_only(call: Callable[..., Any]) -> tuple[str, ...]:
    """The keyword-only parameter names of ``call`` (read off its code: no ``inspect.signature``
    at import time). A call wrapped by a ``functools.wraps`` decorator (a subclass's logging,
    a tracer, a mutation tester's trampoline) is read through its wrapper: the wrapper's own
    ``(*args, **kwargs)`` would make every option a field."""
    code = inspect.unwrap(call).__code__
    return tuple(code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount])


def _split(
    keywords: dict[str, Any], options: frozenset[str]
) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
    """Take ``extra_body`` and the call options out of ``keywords`` (the fields stay)."""
    extra_body = keywords.pop("extra_body", None)
    chosen: dict[str, Any] = {}
    for name in options & keywords.keys():  # (a loop, not a comprehension's own frame)
        chosen[name] = keywords.pop(name)
    return extra_body, chosen


def _function(declared: _F, endpoint: Endpoint[Any, Any], name: str, options: frozenset[str]) -> _F:
    if inspect.iscoroutinefunction(declared):

        async def run_async(input: Any = None, /, **keywords: Any) -> Any:
            extra_body, chosen = _split(keywords, options)
            arguments = endpoint._built(input, keywords, extra_body, options=options)  # pyright: ignore[reportPrivateUsage]
            return await getattr(endpoint, name)(arguments, **chosen)

        return cast("_F", functools.wraps(declared)(run_async))

    def run(input: Any = None, /, **keywords: Any) -> Any:
        extra_body, chosen = _split(keywords, options)
        arguments = endpoint._built(input, keywords, extra_body, options=options)  # pyright: ignore[reportPrivateUsage]
        return getattr(endpoint, name)(arguments, **chosen)

    return cast("_F", functools.wraps(declared)(run))


def _method(declared: _F, name: str) -> _F:
    if inspect.iscoroutinefunction(declared):

        async def send_async(self: Any, input: Any = None, /, **keywords: Any) -> Any:
            extra_body, _ = _split(keywords, frozenset())
            arguments = self.endpoint.arguments(input, keywords, extra_body)
            return await getattr(self, name)(arguments)

        return cast("_F", functools.wraps(declared)(send_async))

    def send(self: Any, input: Any = None, /, **keywords: Any) -> Any:
        extra_body, _ = _split(keywords, frozenset())
        return getattr(self, name)(self.endpoint.arguments(input, keywords, extra_body))

    return cast("_F", functools.wraps(declared)(send))
