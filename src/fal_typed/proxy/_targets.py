"""Where a proxied request may go: the ``x-fal-target-url`` header, read and checked. No I/O.

fal's clients in proxy mode send every request to the proxy with the URL they meant in the
``x-fal-target-url`` header (PROTOCOL.md section 1). The proxy forwards it only if it is an
https URL on fal's domains that one of the allowed URL patterns matches, and only with the
methods fal's clients use for that kind of URL. Patterns are globs (see ``_globs``) matched
against ``host/path?query``, as in fal's own proxy.

With an upstream other than fal (``Hosts.local(...)``: the local fal server), targets are still
written and checked as fal's URLs; :class:`Upstream` maps them to the upstream's URLs and back,
so the upstream's own URLs (a ``response_url``, a multipart ``access_url``) are accepted as the
fal URLs they stand for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

import httpx

from .._checks import check_items
from .._errors import InvalidArgumentError
from .._hosts import Hosts
from ._globs import GlobSet
from ._refusal import Refused

__all__ = [
    "DEFAULT_ALLOWED_URLS",
    "FAL_DOMAINS",
    "Operation",
    "Target",
    "Upstream",
    "is_fal_host",
    "is_host_name",
    "read_target",
    "url_patterns",
]

TARGET_HEADER: Final = "x-fal-target-url"

#: The domains fal serves its APIs (``fal.run``, ``fal.ai``) and its files (``fal.media``) from.
FAL_DOMAINS: Final = ("fal.run", "fal.ai", "fal.media")

#: What the proxy forwards by default: everything fal's clients call with the account key, and no
#: more (PROTOCOL.md sections 1, 3, 6, 7). Not the platform API (``api.fal.ai``: billing, usage,
#: deleting payloads), nor realtime tokens: a browser has no business there with your key.
DEFAULT_ALLOWED_URLS: Final[tuple[str, ...]] = (
    # model calls: direct runs and /stream on fal.run, the queue on queue.fal.run
    "fal.run/**",
    "*.fal.run/**",
    # storage: fal-js's initiate (+ multipart), the Python client's CDN token and fallback
    "rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3",
    "rest.fal.ai/storage/upload/initiate-multipart?storage_type=fal-cdn-v3",
    "rest.fal.ai/storage/upload/complete-multipart?storage_type=fal-cdn-v3",
    "rest.fal.ai/storage/upload/initiate?storage_type=gcs",
    "rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3",
    # the CDN v3 upload flow: single upload, multipart initiate, parts and complete
    "*.fal.media/files/upload",
    "*.fal.media/files/upload/multipart",
    "*.fal.media/files/**/multipart/*/*",
)

Operation = Literal[
    "submit",
    "status",
    "status_stream",
    "result",
    "cancel",
    "run",
    "stream",
    "storage",
    "cdn_token",
    "upload",
    "other",
]
"""What a forwarded request does at fal. ``submit``, ``run`` and ``stream`` are billed calls."""

BILLED: Final[frozenset[Operation]] = frozenset({"submit", "run", "stream"})

_LDH_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_MAX_HOST_NAME: Final = 253

# Percent-encoded "/", "\" and "." would let a path read differently here and at fal.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|2e)", re.IGNORECASE)
# What httpx keeps as it is, but a server further on may read as a separator or a dot segment:
# a raw backslash (a WHATWG URL parser reads it as "/", so "x\..\..\evil" climbs out of an
# app's path), and a dot segment with parameters ("..;", which servlet containers read as "..").
_AMBIGUOUS_PATH = re.compile(r"\\|(?:^|/)\.\.?;")
_QUEUE_REQUEST = re.compile(
    r"(?P<root>.+?)/requests/(?P<id>[^/]+)(?P<rest>|/status|/status/stream|/cancel|/response)"
)
_QUEUE_OPERATIONS: Final[dict[tuple[str, str], Operation]] = {
    ("GET", ""): "result",
    ("GET", "/response"): "result",
    ("GET", "/status"): "status",
    ("GET", "/status/stream"): "status_stream",
    ("PUT", "/cancel"): "cancel",
}


def is_host_name(host: str) -> bool:
    """Whether ``host`` is a DNS host name written as fal's are: dot-separated ASCII labels of
    letters, digits and hyphens (LDH), 1-63 characters each, none starting or ending with a
    hyphen, at most 253 characters in all; so no empty label and no trailing dot.

    A suffix test alone would take ``evil.com\\.fal.run`` or ``evil_host.fal.run`` for a host of
    fal's: names no DNS serves, which an HTTP stack, a proxy or a resolver further on may read
    as another host (a backslash as a path, a percent escape decoded), key included.
    """
    if not host or len(host) > _MAX_HOST_NAME or not host.isascii():
        return False
    return all(_LDH_LABEL.fullmatch(label) for label in host.split("."))


def is_fal_host(host: str) -> bool:
    """Whether ``host`` is a valid host name (:func:`is_host_name`) that is one of fal's domains
    or a subdomain of one (letter case aside)."""
    host = host.lower()
    return is_host_name(host) and any(host == d or host.endswith("." + d) for d in FAL_DOMAINS)


def _pattern_host_is_fal(pattern: str) -> bool:
    host = pattern.split("/", 1)[0].split("?", 1)[0]
    if host.startswith("*."):
        host = host[2:]
    return "*" not in host and is_fal_host(host)


def url_patterns(patterns: Iterable[str]) -> GlobSet:
    """The allowed URL patterns, checked: each must name a host on fal's domains.

    The proxy adds the account key to what it forwards, so a pattern that could match any other
    host would be a way to send the key there: such a list is refused here, at construction.
    """
    checked: list[str] = []
    for pattern in check_items("allowed_urls", patterns, "patterns"):
        if not isinstance(pattern, str) or not pattern.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(f"allowed URL patterns must be strings, got {pattern!r}")
        stripped = pattern.strip()
        if "://" in stripped:
            raise InvalidArgumentError(
                f"allowed URL pattern {pattern!r}: write host/path without the scheme "
                "(targets must be https)"
            )
        if not _pattern_host_is_fal(stripped):
            raise InvalidArgumentError(
                f"allowed URL pattern {pattern!r} does not name a host on fal's domains "
                f"({', '.join(FAL_DOMAINS)}, or '*.' one of them): the proxy sends your key "
                "to what it forwards; point `upstream` at another server instead"
            )
        checked.append(stripped)
    return GlobSet(checked)


class Upstream:
    """fal's base URLs, and the URLs of the server the proxy really forwards to.

    ``Hosts()`` (fal itself) maps every URL to itself; ``Hosts.local(base)`` maps
    ``https://queue.fal.run/...`` to ``<base>/queue/...`` and so on, and back.
    """

    def __init__(self, hosts: Hosts) -> None:
        fal = Hosts()
        pairs = [
            (fal.queue_url, hosts.queue_url),
            (fal.run_url, hosts.run_url),
            (fal.rest_url, hosts.rest_url),
            (fal.cdn_url, hosts.cdn_url),
        ]
        self.hosts = hosts
        self._to_actual = [(c.rstrip("/"), a.rstrip("/")) for c, a in pairs if c != a]
        # Longest upstream base first, so a prefix never shadows a longer one.
        self._to_canonical = sorted(
            ((a, c) for c, a in self._to_actual), key=lambda pair: len(pair[0]), reverse=True
        )

    @staticmethod
    def _swap(url: str, pairs: list[tuple[str, str]]) -> str:
        for old, new in pairs:
            if url == old or url.startswith((old + "/", old + "?")):
                return new + url[len(old) :]
        return url

    def canonical(self, url: str) -> str:
        """``url`` as fal's URL (an upstream URL is mapped back; fal's URLs stay as they are)."""
        return self._swap(url, self._to_canonical)

    def actual(self, url: str) -> str:
        """Where a request to fal's ``url`` is really sent."""
        return self._swap(url, self._to_actual)


@dataclass(frozen=True)
class Target:
    """A checked target: fal's URL, where it is sent, and what it does there."""

    url: httpx.URL
    """fal's URL (what the patterns matched)."""
    upstream_url: str
    """Where the request is sent (``url`` itself unless an upstream is configured)."""
    operation: Operation
    path: str
    """The decoded path without its leading ``/`` (``fal-ai/flux/dev/stream``)."""
    app_root: str | None = None
    """``[namespace/]owner/alias`` of a queue request's status/result/cancel, else None."""
    request_id: str | None = None

    @property
    def model_call(self) -> bool:
        """Whether the path names an endpoint (queue and run hosts), checked by the allow-list."""
        return self.operation in BILLED or self.app_root is not None

    @property
    def billed(self) -> bool:
        return self.operation in BILLED

    @property
    def cdn(self) -> bool:
        """CDN requests carry a CDN token, never the account key."""
        return self.operation == "upload"

    def matched(self) -> str:
        """``host/path?query``: the string the URL patterns are matched against."""
        return self.url.host + self.url.raw_path.decode("ascii")


def _refuse_target(detail: str, status: int = 403) -> Refused:
    error_type = "proxy_invalid_target" if status == 400 else "proxy_target_not_allowed"
    return Refused(status, detail, error_type)


def _operation(host: str, method: str, path: str) -> tuple[Operation, str | None, str | None]:
    """(operation, app root, request id) of ``method`` on ``host``/``path``; refuses methods
    fal's clients never use there."""
    if host == "queue.fal.run":
        found = _QUEUE_REQUEST.fullmatch(path)
        if found is not None:
            operation = _QUEUE_OPERATIONS.get((method, found["rest"]))
            if operation is None:
                raise Refused(
                    405,
                    f"{method} is not a queue operation on this URL",
                    "proxy_method_not_allowed",
                )
            return operation, found["root"], found["id"]
        if method != "POST":
            raise Refused(
                405, f"{method} of a queue endpoint is not allowed", "proxy_method_not_allowed"
            )
        return "submit", None, None
    if host == "fal.run" or host.endswith(".fal.run"):
        if method not in ("GET", "POST"):
            raise Refused(
                405, f"{method} of a model endpoint is not allowed", "proxy_method_not_allowed"
            )
        return ("stream" if path.endswith("/stream") else "run"), None, None
    if host.endswith(".fal.media"):
        if method not in ("POST", "PUT"):
            raise Refused(
                405, f"{method} of an upload URL is not allowed", "proxy_method_not_allowed"
            )
        return "upload", None, None
    if host == "rest.fal.ai" and path.startswith("storage/"):
        if method != "POST":
            raise Refused(
                405, f"{method} of a storage URL is not allowed", "proxy_method_not_allowed"
            )
        return ("cdn_token" if path == "storage/auth/token" else "storage"), None, None
    return "other", None, None


def _written_host(url: str) -> str:
    """The host of an absolute ``url`` as written (lower-cased), without httpx's parsing."""
    authority = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    return (host if host.startswith("[") else host.partition(":")[0]).lower()


def read_target(value: str | None, method: str, patterns: GlobSet, upstream: Upstream) -> Target:
    """The checked target of a request, or :class:`Refused` saying what is wrong with it."""
    if not value:
        raise _refuse_target(f"missing the {TARGET_HEADER} header", 400)
    written = upstream.canonical(value.strip())
    try:
        url = httpx.URL(written)
    except (httpx.InvalidURL, ValueError):
        raise _refuse_target(f"{TARGET_HEADER} is not a URL", 400) from None
    if not url.is_absolute_url or not url.host:
        raise _refuse_target(f"{TARGET_HEADER} must be an absolute URL", 400)
    # The host checked must be the one written and sent: httpx maps an ideographic full stop
    # to a dot and shows punycode decoded (fal has no internationalised host names).
    host = url.host
    if (
        not is_host_name(host)
        or url.raw_host != host.encode("ascii")
        or _written_host(written) != host
    ):
        raise _refuse_target(
            f"{TARGET_HEADER} host {host[:100]!r} is not a plain host name "
            "(ASCII letters, digits and hyphens, in dot-separated labels)",
            400,
        )
    if url.userinfo or url.fragment:
        raise _refuse_target(f"{TARGET_HEADER} must not carry credentials or a fragment", 400)
    if url.scheme != "https":
        raise _refuse_target(f"{TARGET_HEADER} must be an https URL")
    if url.port is not None or not is_fal_host(url.host):
        raise _refuse_target(f"{url.host} is not one of fal's hosts")
    raw_path = url.raw_path.decode("ascii").split("?", 1)[0]
    if _ENCODED_SEPARATOR.search(raw_path):
        raise _refuse_target(f"{TARGET_HEADER} has an encoded path separator", 400)
    if _AMBIGUOUS_PATH.search(raw_path):
        raise _refuse_target(
            f"{TARGET_HEADER} has a backslash or a dot segment in its path, which fal may read "
            "as another path",
            400,
        )
    path = url.path.lstrip("/")
    operation, app_root, request_id = _operation(url.host, method, path)
    target = Target(
        url=url,
        upstream_url=upstream.actual(str(url)),
        operation=operation,
        path=path,
        app_root=app_root,
        request_id=request_id,
    )
    if not patterns.matches(target.matched()):
        raise _refuse_target(f"the proxy does not forward to {target.matched()}")
    return target
