"""`fal_typed.endpoint(id)`: the generated endpoint object for an endpoint id.

It imports ``fal_endpoints.<module_name(id)>`` directly, so it works with the whole generated
package, per-endpoint wheels installed side by side or modules added with ``fal-typed add``; no
shared index is needed. Each endpoint is a package of its own in all of them
(``fal_endpoints/<module>/__init__.py``); a package directory left without its module (an
uninstall's leftovers) imports as an empty namespace, and is reported as not installed. The index
of installed endpoints (``_installed``) only serves to suggest close matches for a typo. An id
without a module is an error here, never a silent untyped fallback: ``fal_typed.untyped(id)`` is
the explicit way to call one.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from ._endpoint import Endpoint
from ._errors import FalError, InvalidArgumentError
from ._installed import installed_endpoints
from ._urls import endpoint_id_hint, parse_endpoint_id
from .naming import module_name

__all__ = ["UnknownEndpointError", "endpoint"]

_PACKAGE = "fal_endpoints"


class UnknownEndpointError(FalError, LookupError):
    """No generated module is installed for this endpoint id.

    ``endpoint_id`` is the id asked for; ``suggestions`` lists close ids among the installed
    endpoints. The message says how to call it anyway: ``fal_typed.untyped(id)``, or
    ``fal-typed add ID`` for a typed module.
    """

    def __init__(self, endpoint_id: str, suggestions: list[str]) -> None:
        hint = (
            f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else "."
        )
        super().__init__(
            f"no generated module for endpoint {endpoint_id!r} "
            f"(expected {_PACKAGE}.{module_name(endpoint_id)}){hint} To call it anyway: "
            f"fal_typed.untyped({endpoint_id!r}), or `fal-typed add {endpoint_id}` for a typed "
            "module."
        )
        self.endpoint_id = endpoint_id
        self.suggestions = suggestions


def endpoint(endpoint_id: str) -> Endpoint[Any, Any]:
    """The generated :class:`Endpoint` for ``endpoint_id`` (``endpoint_id``, ``Input``, ``Output``).

    Raises :class:`UnknownEndpointError` naming the id when no generated module is installed for
    it, and :class:`InvalidArgumentError` (a ``ValueError``) when the id is malformed (it needs
    ``owner/app[/path]``).
    """
    if not isinstance(endpoint_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(
            f"invalid endpoint id {endpoint_id!r}: expected a string{endpoint_id_hint(endpoint_id)}"
        )
    # The grammar first (spaces around it or in a segment, an empty segment): a malformed id
    # has a module name too, and was told it was not installed, and to call it untyped.
    parse_endpoint_id(endpoint_id)
    name = f"{_PACKAGE}.{module_name(endpoint_id)}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (_PACKAGE, name):
            raise  # the module exists but one of its own imports is missing
        raise UnknownEndpointError(endpoint_id, _suggestions(endpoint_id)) from None
    found: object = getattr(module, "endpoint", None)
    if not isinstance(found, Endpoint) or getattr(module, "endpoint_id", None) != endpoint_id:
        raise UnknownEndpointError(endpoint_id, _suggestions(endpoint_id))
    return found  # pyright: ignore[reportUnknownVariableType]


def _suggestions(endpoint_id: str) -> list[str]:
    return close_ids(endpoint_id, [info.endpoint_id for info in installed_endpoints()])


def close_ids(endpoint_id: str, known: Iterable[str]) -> list[str]:
    """The (at most three) ids of ``known`` closest to a mistyped ``endpoint_id``, in any case
    (ids are lower case; ``FAL-AI/FLUX/DEV`` means ``fal-ai/flux/dev``)."""
    import difflib

    by_lower = {known_id.lower(): known_id for known_id in sorted(set(known), reverse=True)}
    close = difflib.get_close_matches(endpoint_id.lower(), sorted(by_lower), n=3, cutoff=0.6)
    return [by_lower[lower] for lower in close]
