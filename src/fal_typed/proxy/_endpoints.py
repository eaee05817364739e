"""Which endpoint a model call is for, whether it is allowed, and whether its input is valid.

A URL on the queue or run host names an endpoint id, possibly followed by a sub-path (``/stream``,
or an app's own route), and nothing in the URL says where the id ends. The endpoint is the
longest leading part of the path that is a known id: an id the allow-list spells out, or one
with a generated module (``fal_typed.endpoint``); failing both, the whole path. Status, result
and cancel URLs name only the app root (``owner/alias``), which must be the root of an allowed
endpoint.

Inputs are validated with the endpoint's generated ``Input`` model, in JSON mode (file fields
are URLs here, never local paths), before anything is forwarded; a bad one gets fal's own 422
body, ``{"detail": [{"loc": ["body", ...], "msg", "type"}]}``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .._checks import check_items
from .._endpoint import Endpoint
from .._errors import InvalidArgumentError
from .._registry import UnknownEndpointError, endpoint
from .._urls import NAMESPACES, parse_endpoint_id
from ._globs import GlobSet, has_wildcard
from ._refusal import Refused
from ._targets import Target

__all__ = ["EndpointPolicy", "known_endpoint"]

logger = logging.getLogger("fal_typed.proxy")

_MAX_SEGMENTS = 12
"""Longest path (in segments) whose prefixes are looked up as endpoint ids."""


@functools.lru_cache(maxsize=4096)
def known_endpoint(endpoint_id: str) -> Endpoint[Any, Any] | None:
    """The generated endpoint for ``endpoint_id``, or None when none is installed."""
    try:
        return endpoint(endpoint_id)
    except (UnknownEndpointError, ValueError):
        return None


def _root_pattern(pattern: str) -> str:
    """The app-root part of an endpoint pattern: ``fal-ai/flux/*`` -> ``fal-ai/flux``."""
    segments = pattern.strip("/").split("/")
    size = 3 if segments[0] in NAMESPACES else 2
    return "/".join(segments[:size])


class EndpointPolicy:
    """The endpoint allow-list (None: every endpoint) and input validation of model calls."""

    def __init__(self, allowed: Sequence[str] | None, *, validate: bool) -> None:
        self.validate = validate
        self.allowed: tuple[str, ...] | None = None
        if allowed is not None:
            cleaned: list[str] = []
            for pattern in check_items("allowed_endpoints", allowed, "endpoint ids"):
                if not isinstance(pattern, str) or not pattern.strip("/ "):  # pyright: ignore[reportUnnecessaryIsInstance]
                    raise InvalidArgumentError(f"allowed endpoints must be ids, got {pattern!r}")
                cleaned.append(pattern.strip("/ "))
            self.allowed = tuple(cleaned)
        self._ids = GlobSet(self.allowed or ())
        self._roots = GlobSet(_root_pattern(p) for p in self.allowed or ())
        self._literal = frozenset(p for p in self.allowed or () if not has_wildcard(p))
        if validate:
            # Imported now, not by the first request (an import blocks the event loop).
            unknown = sorted(i for i in self._literal if known_endpoint(i) is None)
            if unknown:
                logger.info(
                    "fal_typed.proxy: no generated module for %s: their inputs are forwarded "
                    "unvalidated",
                    ", ".join(unknown),
                )

    def endpoint_of(self, path: str) -> tuple[str, str]:
        """``(endpoint id, sub-path)`` of a model-call path (see the module docstring)."""
        try:
            ref = parse_endpoint_id(path)
        except InvalidArgumentError:
            raise Refused(
                400, "the target's path names no endpoint", "proxy_invalid_target"
            ) from None
        segments = ref.full.split("/")
        root_size = len(ref.app_root.split("/"))
        for size in range(min(len(segments), _MAX_SEGMENTS), root_size - 1, -1):
            candidate = "/".join(segments[:size])
            if candidate in self._literal or known_endpoint(candidate) is not None:
                return candidate, "/".join(segments[size:])
        return ref.full, ""

    def check(self, target: Target) -> tuple[str, str] | None:
        """``(endpoint id, sub-path)`` of ``target`` if it is allowed (None for a status, result
        or cancel, which name only an app); :class:`Refused` (403) if it is not."""
        if target.app_root is not None:
            if self.allowed is not None and not self._roots.matches(target.app_root):
                raise Refused(
                    403,
                    f"endpoint {target.app_root!r} is not allowed",
                    "proxy_endpoint_not_allowed",
                )
            return None
        endpoint_id, sub_path = self.endpoint_of(target.path)
        if self.allowed is not None and not self._ids.matches(endpoint_id):
            raise Refused(
                403, f"endpoint {endpoint_id!r} is not allowed", "proxy_endpoint_not_allowed"
            )
        return endpoint_id, sub_path

    def validates(self, endpoint_id: str, sub_path: str) -> bool:
        """Whether calls of ``endpoint_id`` at ``sub_path`` have their input checked: only the
        endpoint's own route and its ``/stream`` take the generated ``Input``."""
        return (
            self.validate and sub_path in ("", "stream") and known_endpoint(endpoint_id) is not None
        )

    def check_input(self, endpoint_id: str, sub_path: str, body: bytes) -> dict[str, Any] | None:
        """The JSON input of a model call (None if it is not a JSON object), validated first
        when :meth:`validates` says so: :class:`Refused` (422, fal's body) when it is invalid."""
        known = known_endpoint(endpoint_id)
        if known is not None and self.validates(endpoint_id, sub_path):
            try:
                known.Input.model_validate_json(body or b"{}")
            except ValidationError as exc:
                raise Refused(422, _fal_detail(exc), "input_validation") from None
        return _json_object(body)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body) if body else None
    except (ValueError, RecursionError):  # RecursionError: nested about a thousand deep
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _fal_detail(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
