"""Endpoint id -> URLs, exactly as PROTOCOL.md section 1.

An id is ``[namespace/]owner/alias[/path...]`` where the namespace is ``workflows`` or ``comfy``;
a single legacy segment ``<digits>-<slug>`` means ``<digits>/<slug>``. Submit and run address the
*full* id (plus an optional extra path); status, result and cancel address only the app root
``[namespace/]owner/alias``. Every URL is built under the client's base URLs, which may carry a
path prefix. Ids and request ids are checked here, so a malformed one fails before any request.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass

from ._errors import REQUEST_ID, InvalidArgumentError

__all__ = [
    "NAMESPACES",
    "EndpointRef",
    "check_request_id",
    "endpoint_url",
    "parse_endpoint_id",
    "request_url",
]

NAMESPACES = frozenset({"workflows", "comfy"})

_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
_LEGACY = re.compile(r"(\d+)-([A-Za-z0-9._~-]+)")
_REQUEST_ID = REQUEST_ID


@dataclass(frozen=True)
class EndpointRef:
    """A parsed endpoint id."""

    owner: str
    alias: str
    path: str = ""
    """Sub-path after the alias, without leading slash (may be empty)."""
    namespace: str | None = None

    @property
    def app_root(self) -> str:
        """``[namespace/]owner/alias``: what status, result and cancel address."""
        root = f"{self.owner}/{self.alias}"
        return f"{self.namespace}/{root}" if self.namespace else root

    @property
    def full(self) -> str:
        """The whole id, sub-path included: what submit and run address."""
        return f"{self.app_root}/{self.path}" if self.path else self.app_root


#: What an id pasted with the spaces or the line break around it (a copied terminal line, a
#: file's last line) is told: the id itself is right.
PADDED_HINT = ": it has spaces or a line break around it (strip it)"


def is_padded(given: object) -> bool:
    """A string with whitespace around something else: an id pasted with its surroundings."""
    return isinstance(given, str) and given.strip() != given and bool(given.strip())


def _invalid(endpoint_id: object, why: str) -> InvalidArgumentError:
    """The error of an id that does not parse: "strip it" when stripping is all it needs (a
    space inside stays the fault named, not hidden behind the hint)."""
    if isinstance(endpoint_id, str) and is_padded(endpoint_id):
        try:
            _parse_id(endpoint_id.strip())
        except InvalidArgumentError:
            pass
        else:
            return InvalidArgumentError(f"invalid endpoint id {endpoint_id!r}{PADDED_HINT}")
    return InvalidArgumentError(f"invalid endpoint id {endpoint_id!r}: {why}")


def parse_endpoint_id(endpoint_id: str) -> EndpointRef:
    """Split an id into namespace, owner, alias and path (see the module docstring)."""
    return _parse(_checked(endpoint_id))


def _checked(endpoint_id: str) -> str:
    """``endpoint_id`` if it is a string (before it meets a cache, which would hash it)."""
    if not isinstance(endpoint_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise _invalid(endpoint_id, "expected a string" + endpoint_id_hint(endpoint_id))
    return endpoint_id


def endpoint_id_hint(given: object) -> str:
    """For a generated module (or its ``Endpoint``) given where its id is expected: where the
    id is (``flux_dev.endpoint_id``), and that the module is called directly."""
    found = getattr(given, "endpoint_id", None)
    if not isinstance(found, str):
        return ""
    return (
        f"; this {type(given).__name__} stands for {found!r}: pass its .endpoint_id, or call "
        "its own functions (flux_dev.subscribe(...), flux_dev.endpoint.subscribe(...))"
    )


def _parse_id(endpoint_id: str) -> EndpointRef:
    """The grammar of an endpoint id (see :func:`parse_endpoint_id`)."""
    segments = endpoint_id.strip("/").split("/")
    if len(segments) == 1:
        legacy = _LEGACY.fullmatch(segments[0])
        if legacy is None:
            raise _invalid(
                endpoint_id, "expected 'owner/app[/path]' (or a legacy '<digits>-<app>')"
            )
        return EndpointRef(owner=legacy.group(1), alias=legacy.group(2))
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise _invalid(endpoint_id, f"bad segment {segment!r}")
    namespace = None
    if segments[0] in NAMESPACES:
        namespace, segments = segments[0], segments[1:]
        if len(segments) < 2:
            raise _invalid(endpoint_id, f"expected '{namespace}/owner/app[/path]'")
    owner, alias, *rest = segments
    return EndpointRef(owner=owner, alias=alias, path="/".join(rest), namespace=namespace)


#: Parsed once per id (every call parses its id several times: submit, status, result URLs); a
#: bad id raises, which is not cached. Wrapped, not decorated: the grammar stays a plain
#: function, which mutation testing can reach (mutmut 3 leaves decorated functions alone).
_parse = functools.lru_cache(maxsize=1024)(_parse_id)


def _join(base: str, *parts: str) -> str:
    joined = base.rstrip("/")
    for part in parts:
        part = part.strip("/")
        if part:
            joined += "/" + part
    return joined


def _endpoint_base(base: str, endpoint_id: str) -> str:
    """``<base>/<full id>``."""
    return _join(base, _parse(endpoint_id).full)


def _app_base(base: str, endpoint_id: str) -> str:
    """``<base>/<app root>``."""
    return _join(base, _parse(endpoint_id).app_root)


#: Joined once per base and id: a client sends all of a call's requests, and most of its calls,
#: under the same few (a bad id raises, which is not cached).
_endpoint_bases = functools.lru_cache(maxsize=1024)(_endpoint_base)
_app_bases = functools.lru_cache(maxsize=1024)(_app_base)


def endpoint_url(base: str, endpoint_id: str, path: str = "") -> str:
    """Submit / run URL: ``<base>/<full id>[/<path>]``."""
    url = _endpoint_bases(base, _checked(endpoint_id))
    if not path:
        return url
    if any(not _SEGMENT.fullmatch(s) for s in path.strip("/").split("/")):
        raise InvalidArgumentError(f"invalid path {path!r}: expected '/segment[/segment...]'")
    return _join(url, path)


def check_request_id(request_id: str) -> str:
    """Return ``request_id`` if it can be a fal request id (a UUID in practice), else raise."""
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):  # pyright: ignore[reportUnnecessaryIsInstance]
        shown = repr(request_id)
        shown = shown if len(shown) <= 120 else shown[:119] + "\u2026"
        raise InvalidArgumentError(f"invalid request id {shown}{_request_id_hint(request_id)}")
    return request_id


def _request_id_hint(given: object) -> str:
    """How to mend a request id newcomers get wrong: the handle for its id, a UUID object,
    an id pasted with a line break."""
    if isinstance(given, str):
        stripped = given.strip()
        if is_padded(given) and _REQUEST_ID.fullmatch(stripped):
            return PADDED_HINT
        return ": a request id is the string submit() returned (handle.request_id)"
    if isinstance(getattr(given, "request_id", None), str):
        return f": this is a {type(given).__name__}; pass its .request_id (or call its methods)"
    if isinstance(given, uuid.UUID):
        return ": pass it as a string, str(request_id)"
    return f": a request id is a string, got {type(given).__name__}"


def request_url(base: str, endpoint_id: str, request_id: str, suffix: str = "") -> str:
    """``<base>/<app root>/requests/<id>[/<suffix>]`` (suffix: ``status``, ``cancel``...)."""
    url = f"{_app_bases(base, _checked(endpoint_id))}/requests/{check_request_id(request_id)}"
    suffix = suffix.strip("/")
    return f"{url}/{suffix}" if suffix else url
