"""The wire format of both upload flows (PROTOCOL.md section 6), free of any I/O.

The sync and async flows share everything here: URLs, headers, how parts are cut, and how each
response is read, so the two can only differ in how they wait. Every error built from a response
has the account key and the flow's other credentials (the CDN token, a signed URL's query) taken
out of its message, body and headers, whatever the status.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx

from .._auth import redact, redact_json
from .._errors import FalHTTPError, ProtocolError, remember_secrets
from .._retry import Kind
from ._source import UploadSource
from ._token import CdnToken

if TYPE_CHECKING:
    from .._client import Client

__all__ = [
    "CdnRequest",
    "Part",
    "cdn_headers",
    "complete_body",
    "complete_url",
    "completed_url",
    "initiate_request",
    "json_object",
    "multipart_url",
    "parse_initiate",
    "parse_multipart",
    "part_etag",
    "part_url",
    "plan_parts",
    "read_access_url",
    "response_error",
    "signed_query",
    "single_upload_url",
]


@dataclass(frozen=True)
class Part:
    """One multipart part: its 1-based ``number`` and the byte range it covers."""

    number: int
    offset: int
    length: int


def plan_parts(size: int, part_size: int) -> list[Part]:
    """Cut ``size`` bytes into parts of ``part_size`` (the last one shorter); never an empty part."""
    return [
        Part(index + 1, offset, min(part_size, size - offset))
        for index, offset in enumerate(range(0, size, part_size))
    ]


def _header_file_name(name: str) -> str:
    # Header values are ASCII: percent-encode anything else (and controls) of the name.
    return urllib.parse.quote(name, safe=" !#$&'()+,;=@[]^`{}~")


CdnRequest = Literal["upload", "part", "complete"]
"""``upload``: the single POST and the multipart initiate; ``part``: a part PUT; ``complete``."""


def cdn_headers(
    kind: CdnRequest, token: CdnToken, source: UploadSource, lifecycle: Mapping[str, str]
) -> dict[str, str]:
    """Headers of a CDN request of ``kind``.

    The object is described (type, name, lifecycle) where it is created; a part carries the
    object's type and asks for no compression (the ETag header must survive); *complete* sends
    JSON, whose type httpx sets.
    """
    auth = {"Authorization": token.authorization}
    if kind == "complete":
        return {**auth, "Accept": "application/json"}
    if kind == "part":
        return {**auth, "Content-Type": source.content_type, "Accept-Encoding": "identity"}
    return {
        **auth,
        "Accept": "application/json",
        "Content-Type": source.content_type,
        "X-Fal-File-Name": _header_file_name(source.file_name),
        **lifecycle,
    }


def single_upload_url(cdn_url: str) -> str:
    return f"{cdn_url}/files/upload"


def multipart_url(token: CdnToken) -> str:
    return f"{token.base_url}/files/upload/multipart"


def part_url(access_url: str, upload_id: str, number: int) -> str:
    return f"{access_url}/multipart/{urllib.parse.quote(upload_id, safe='')}/{number}"


def complete_url(access_url: str, upload_id: str) -> str:
    return f"{access_url}/multipart/{urllib.parse.quote(upload_id, safe='')}/complete"


def complete_body(etags: Mapping[int, str]) -> dict[str, Any]:
    return {"parts": [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]}


def signed_query(url: str) -> tuple[str, ...]:
    """The query of a signed URL (its credentials), as a secret to scrub from messages."""
    try:
        query = urllib.parse.urlsplit(url).query
    except ValueError:  # no URL urlsplit reads: all of it, whatever part is the credential
        return (url,) if len(url) >= 6 else ()
    return (query,) if len(query) >= 6 else ()


def response_error(
    client: Client, response: httpx.Response, secrets: tuple[str, ...] = ()
) -> FalHTTPError:
    """The typed error of an error response, without the key nor ``secrets`` in it."""
    # Remembered, they are scrubbed in the error's own pass with the key, longest first: a secret
    # that holds another (remembered) one is redacted whole, not around it.
    remember_secrets(secrets, token=True)
    error = client.error_for(response)
    if secrets:  # also those too short to be remembered (MIN_SECRET_LENGTH): this error's own
        error.message = redact(error.message, secrets)
        error.body = redact_json(error.body, secrets)  # a body too deep to walk: scrubbed text
        error.headers = {k: redact(v, secrets) for k, v in error.headers.items()}
    return error


def json_object(
    client: Client, response: httpx.Response, what: str, *, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The JSON object of a successful ``response``; the typed HTTP error or a clear one otherwise
    (the key and ``secrets`` scrubbed out of either, the unreadable body kept as ``text``)."""
    if not response.is_success:
        raise response_error(client, response, secrets)
    remember_secrets(secrets, token=True)  # as response_error does
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        text = redact(client.redact(response.text), secrets)
        raise ProtocolError(f"{what}: expected a JSON object, got {text[:200]!r}", text=text)
    return {str(k): v for k, v in body.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def completed_url(
    client: Client, response: httpx.Response, access_url: str, *, secrets: tuple[str, ...] = ()
) -> str:
    """The URL a multipart complete response confirms: its ``access_url``, else the initiate one."""
    if not response.is_success:
        raise response_error(client, response, secrets)
    if not response.content:
        return access_url
    body = json_object(client, response, "multipart complete", secrets=secrets)
    return read_access_url(body, "multipart complete") if "access_url" in body else access_url


def _string_field(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{what}: the response has no {name!r}")
    return value


def read_access_url(body: Mapping[str, Any], what: str) -> str:
    """The ``access_url`` of an upload or complete response, checked to be an http(s) URL."""
    url = _string_field(body, "access_url", what)
    if not url.startswith(("https://", "http://")):
        raise ProtocolError(f"{what}: access_url is not an http(s) URL")
    return url


def parse_multipart(body: Mapping[str, Any]) -> tuple[str, str]:
    """``(access_url, upload_id)`` of a multipart initiate response."""
    what = "multipart initiate"
    return read_access_url(body, what), _string_field(body, "uploadId", what)


def part_etag(response: httpx.Response, number: int) -> str:
    """The ETag of an uploaded part: the header (fal v3), else a JSON ``etag`` (fal-js's variant)."""
    etag = response.headers.get("etag")
    if not etag:
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        etag = body.get("etag") if isinstance(body, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(etag, str) or not etag:
        raise ProtocolError(f"multipart part {number}: the response carries no ETag")
    return etag


def initiate_request(
    rest_url: str, source: UploadSource, lifecycle: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    """URL and ``Client.request`` keywords of the storage fallback's initiate call."""
    return f"{rest_url}/storage/upload/initiate", {
        "params": {"storage_type": "gcs"},
        "json": {"file_name": source.file_name, "content_type": source.content_type},
        "headers": {"Accept": "application/json", **lifecycle},
        "kind": Kind.STORAGE_INITIATE,  # an initiate that is never PUT to costs nothing
    }


def parse_initiate(body: Mapping[str, Any]) -> tuple[str, str]:
    """``(upload_url, file_url)`` of the storage initiate response."""
    what = "storage initiate"
    upload_url, file_url = (
        _string_field(body, "upload_url", what),
        _string_field(body, "file_url", what),
    )
    for url in (upload_url, file_url):
        if not url.startswith(("https://", "http://")):
            raise ProtocolError(f"{what}: {url[:80]!r} is not an http(s) URL")
    return upload_url, file_url
