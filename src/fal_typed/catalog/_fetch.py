"""Refresh schemas/ from fal: endpoint OpenAPI documents, one id at a time or the whole catalog.

Two sources (hosts configurable, so tests and users can point at the local server):

* one endpoint: ``GET {openapi_url}?endpoint_id=<id>`` answers the document itself;
* the catalog: ``GET {api_url}/v1/models?status=active&expand=openapi-3.0[&category=C]``
  answers ``{"models": [{"endpoint_id", "metadata", "openapi"}], "has_more", "next_cursor"}``;
  pages are followed through ``cursor``. A record whose ``openapi`` could not be expanded
  (``{"error": {...}}``) is reported as skipped, and its existing document is kept.

429, 5xx and transport errors are retried with exponential backoff and jitter (``Retry-After``
wins when sent). Documents are written in the corpus format (see :mod:`._corpus`), only
when their text changed, and atomically. Nothing here prints: progress goes to a listener.

Whoever answers is not trusted (the documents become code that users import, through the
generator): a document must name the id it was fetched for, ids must fit
:func:`fal_typed.naming.check_endpoint_id`, two ids sharing a file name never replace each
other, and every :class:`FetchSettings` limit (size, time, nesting, pages, documents) holds
whatever the server sends. Text from the server in reasons is made printable.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeGuard, cast

import httpx

from .._checks import declared_length
from .._errors import scrub
from .._local import default_hosts
from .._printable import printable
from .._retry import parse_retry_after
from .._urls import PADDED_HINT, is_padded
from ..naming import check_endpoint_id
from ._corpus import (
    TooDeep,
    document_endpoint_id,
    document_filename,
    dumps_document,
    iter_document_paths,
    json_depth,
    loads_document,
    read_info,
    remove_debris,
    write_atomic,
)
from ._settings import FetchSettings

__all__ = [
    "CATALOG_PATH",
    "FetchListener",
    "FetchReport",
    "FetchSettings",
    "Outcome",
    "fetch_catalog",
    "fetch_endpoints",
]

CATALOG_PATH = "/v1/models"

_RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
_ERROR_BODY_BYTES = 4096  # of an error answer: enough for the reason shown
_MAX_CURSOR = 4096  # characters of a catalog cursor (fal's are a few dozen)

Outcome = Literal["added", "changed", "unchanged", "skipped", "failed"]


class FetchListener(Protocol):
    """Progress hooks (the command line draws its progress bar from these)."""

    def expect(self, count: int) -> None:
        """``count`` more documents are on their way (a page was listed, or ids were given)."""

    def document(self, endpoint_id: str, outcome: Outcome) -> None:
        """One document was handled."""

    def retrying(self, url: str, attempt: int, delay: float, reason: str) -> None:
        """A request failed with a retryable error; attempt ``attempt + 1`` follows in ``delay`` s."""


class _Silent:
    def expect(self, count: int) -> None:
        pass

    def document(self, endpoint_id: str, outcome: Outcome) -> None:
        pass

    def retrying(self, url: str, attempt: int, delay: float, reason: str) -> None:
        pass


@dataclass
class FetchReport:
    """What a fetch did. ``complete`` is False when the catalog could not be listed to its end."""

    added: list[str] = field(default_factory=list[str])
    changed: list[str] = field(default_factory=list[str])
    unchanged: list[str] = field(default_factory=list[str])
    removed: list[str] = field(default_factory=list[str])
    skipped: dict[str, str] = field(default_factory=dict[str, str])
    failed: dict[str, str] = field(default_factory=dict[str, str])
    complete: bool = True
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)
    """What the requests carried (the key), scrubbed out of every reason recorded: a record's
    own error text, a server's answer, may echo it."""

    @property
    def ok(self) -> bool:
        """True when every requested document was fetched (skipped records do not count)."""
        return self.complete and not self.failed

    def record(self, endpoint_id: str, outcome: Outcome, reason: str = "") -> None:
        reason = scrub(reason, self.secrets) if reason and self.secrets else reason
        if outcome == "skipped":
            self.skipped[endpoint_id] = reason
        elif outcome == "failed":
            self.failed[endpoint_id] = reason
        else:
            getattr(self, outcome).append(endpoint_id)


class _FetchFailure(Exception):
    """One request or document failed for good (after retries); the message says why."""


def _shown(value: object, limit: int = 80) -> str:
    """A value from the server, quoted for a reason: printable and of bounded length."""
    text = printable(value if isinstance(value, str) else repr(value))
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@dataclass(frozen=True)
class _Reply:
    """One answer, read whole (or, for an error, its first bytes)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    secrets: tuple[str, ...] = ()
    """What the request carried that the answer must not be quoted with (the key)."""


class _Requester:
    """GET with retries, a size cap and a deadline per answer; shared by both fetch modes."""

    def __init__(
        self, http: httpx.AsyncClient, settings: FetchSettings, listener: FetchListener
    ) -> None:
        self._http = http
        self._settings = settings
        self._listener = listener
        self.secrets = _credentials_in(http.headers)

    def _backoff(self, attempt: int) -> float:
        delay = min(self._settings.backoff * 2.0 ** (attempt - 1), self._settings.max_backoff)
        return delay * random.uniform(0.5, 1.5)

    async def get(self, url: str, params: Sequence[tuple[str, str]], limit: int) -> _Reply:
        """The answer to ``GET url?params`` of at most ``limit`` bytes, retried when that helps."""
        settings = self._settings
        for attempt in range(1, settings.attempts + 1):
            try:
                reply = await asyncio.wait_for(
                    self._read(url, params, limit), settings.response_timeout
                )
            except asyncio.TimeoutError:
                raise _FetchFailure(
                    f"no whole answer within {settings.response_timeout:g} s"
                ) from None
            except httpx.TransportError as exc:
                if attempt == settings.attempts:
                    raise _FetchFailure(_transport_reason(exc)) from None
                reason = type(exc).__name__
                delay = self._backoff(attempt)
            except httpx.HTTPError as exc:  # not worth retrying (redirect loop, bad encoding)
                raise _FetchFailure(_transport_reason(exc)) from None
            else:
                if reply.status_code not in _RETRY_STATUSES or attempt == settings.attempts:
                    return reply
                reason = f"HTTP {reply.status_code}"
                after = parse_retry_after(reply.headers.get("retry-after"))
                delay = (
                    self._backoff(attempt) if after is None else min(after, settings.max_backoff)
                )
            self._listener.retrying(url, attempt, delay, reason)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _read(self, url: str, params: Sequence[tuple[str, str]], limit: int) -> _Reply:
        async with self._http.stream("GET", url, params=list(params)) as response:
            ok = response.status_code == 200
            declared = declared_length(response.headers.get_list("content-length"))
            if ok and declared is not None and declared > limit:
                raise _FetchFailure(f"the answer is larger than {limit:,} bytes")
            cap = limit if ok else _ERROR_BODY_BYTES
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():  # decoded: a gzip bomb counts in full
                size += len(chunk)
                if size > cap:
                    if ok:
                        raise _FetchFailure(f"the answer is larger than {limit:,} bytes")
                    chunks.append(chunk[: len(chunk) - (size - cap)])
                    break
                chunks.append(chunk)
            return _Reply(response.status_code, response.headers, b"".join(chunks), self.secrets)


def _transport_reason(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {printable(str(exc)) or 'transport error'}"


def _credentials_in(headers: httpx.Headers) -> tuple[str, ...]:
    """The credentials among the request's headers (``Authorization: Key <key>``: the header
    and the key), which an error answer that echoes them must not have quoted."""
    found: list[str] = []
    for value in headers.get_list("authorization"):
        found.append(value)
        scheme, _, credential = value.partition(" ")
        if credential.strip() and scheme.isalpha():
            found.append(credential.strip())
    return tuple(found)


def _error_text(reply: _Reply) -> str:
    text = printable(reply.content.decode("utf-8", errors="replace")).strip()
    text = scrub(text, reply.secrets)  # before the cut: a cut could split an echoed key
    return f"HTTP {reply.status_code}" + (f": {text[:200]}" if text else "")


def _parse_json(reply: _Reply, max_depth: int | None) -> Any:
    if reply.status_code != 200:
        raise _FetchFailure(_error_text(reply))
    try:
        return loads_document(reply.content, max_depth=max_depth)
    except TooDeep as exc:
        raise _FetchFailure(f"the response is {exc}") from None
    except ValueError as exc:
        raise _FetchFailure(f"response is not JSON ({printable(str(exc))})") from None


def _check_document(document: Any, endpoint_id: str, settings: FetchSettings) -> dict[str, Any]:
    """The document fetched for ``endpoint_id``, if it is one, names that id and fits the limits."""
    if not isinstance(document, dict):
        raise _FetchFailure("response is not an OpenAPI document")
    checked = cast("dict[str, Any]", document)
    if "openapi" not in checked or "paths" not in checked:
        raise _FetchFailure("response is not an OpenAPI document")
    named = document_endpoint_id(checked)
    if named is None:
        raise _FetchFailure("the document names no endpoint id (info.x-fal-metadata.endpointId)")
    if named != endpoint_id:
        raise _FetchFailure(f"the document is for {_shown(named)}, not {endpoint_id!r}")
    if json_depth(checked) > settings.max_depth:
        raise _FetchFailure(f"the document is nested deeper than {settings.max_depth} levels")
    return checked


class _Writer:
    """Writes documents into the schemas directory; one file name never holds two ids.

    ``a__b/c`` and ``a/b/c`` share the file ``a__b__c.json``: the first id written in a run keeps
    it, and a file already naming another id is never replaced. Either way the other id fails.
    """

    def __init__(self, schemas_dir: Path, settings: FetchSettings) -> None:
        self.schemas_dir = schemas_dir
        self.settings = settings
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()  # fetch_endpoints writes from several threads

    def store(self, endpoint_id: str, document: Mapping[str, Any]) -> Outcome:
        """Write the document if its text changed; a failure fails this document only."""
        name = document_filename(endpoint_id)
        with self._lock:
            owner = self._owners.setdefault(name, endpoint_id)
        if owner != endpoint_id:
            raise _FetchFailure(f"its file name {name} is already taken by {owner} in this fetch")
        path = self.schemas_dir / name
        data = dumps_document(document).encode("utf-8")
        if len(data) > self.settings.max_document_bytes:
            raise _FetchFailure(
                f"the document is larger than {self.settings.max_document_bytes:,} bytes"
            )
        try:
            try:
                old = path.read_bytes()
            except FileNotFoundError:
                outcome: Outcome = "added"
            else:
                if old == data:
                    return "unchanged"
                _check_owner(path, old, endpoint_id)
                outcome = "changed"
            write_atomic(path, data)
        except OSError as exc:
            raise _FetchFailure(f"cannot write {path}: {exc.strerror or exc}") from None
        return outcome


def _check_owner(path: Path, old: bytes, endpoint_id: str) -> None:
    """Refuse to replace a document that names another id (one sharing the file name)."""
    try:
        named = document_endpoint_id(loads_document(old))
    except ValueError:
        return  # an unreadable leftover is replaced
    if named is not None and named != endpoint_id:
        raise _FetchFailure(
            f"{path.name} holds the document of {_shown(named)}, which shares its file name: kept"
        )


def _client(
    settings: FetchSettings,
    headers: Mapping[str, str] | None,
    transport: httpx.AsyncBaseTransport | None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=settings.timeout,
        follow_redirects=True,
        transport=transport,
        headers={"User-Agent": "fal-typed-fetch", "Accept": "application/json", **(headers or {})},
    )


def _check_ids(ids: Sequence[str]) -> None:
    """Refuse, before any request, ids outside the grammar and ids sharing a file name."""
    bad = [i for i in ids if not _is_valid_id(i)]
    if bad:
        padded = [b for b in bad if is_padded(b) and _is_valid_id(b.strip())]
        hint = f" ({', '.join(repr(b) for b in padded)}{PADDED_HINT})" if padded else ""
        raise ValueError(
            f"invalid endpoint id(s): {', '.join(repr(b) for b in bad)}; expected "
            f"'owner/app[/path...]'{hint}"
        )
    owners: dict[str, str] = {}
    for endpoint_id in ids:
        name = document_filename(endpoint_id)
        if owners.setdefault(name, endpoint_id) != endpoint_id:
            raise ValueError(
                f"endpoint ids {owners[name]!r} and {endpoint_id!r} would share the file {name}"
            )


async def fetch_endpoints(
    endpoint_ids: Iterable[str],
    schemas_dir: Path,
    *,
    openapi_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    settings: FetchSettings | None = None,
    listener: FetchListener | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchReport:
    """Fetch the documents of ``endpoint_ids`` concurrently into ``schemas_dir``.

    ``openapi_url`` defaults to fal's (a local server's when ``FAL_TYPED_BASE_URL`` is set).
    Every id is checked before the first request (``ValueError`` names the bad ones, and ids
    that would share a file name). An id that fails (after retries) is listed in
    ``report.failed``, and so is one whose document names another id; the others are written.
    """
    openapi_url = openapi_url or default_hosts().openapi_url
    ids = list(dict.fromkeys(endpoint_ids))
    _check_ids(ids)
    settings = settings or FetchSettings()
    listener = listener or _Silent()
    schemas_dir.mkdir(parents=True, exist_ok=True)
    remove_debris(schemas_dir)
    report = FetchReport()
    listener.expect(len(ids))
    gate = asyncio.Semaphore(settings.concurrency)
    writer = _Writer(schemas_dir, settings)

    async with _client(settings, headers, transport) as http:
        requester = _Requester(http, settings, listener)
        report.secrets = requester.secrets

        async def one(endpoint_id: str) -> None:
            async with gate:
                try:
                    reply = await requester.get(
                        openapi_url, [("endpoint_id", endpoint_id)], settings.max_document_bytes
                    )
                    document = _check_document(
                        _parse_json(reply, settings.max_depth), endpoint_id, settings
                    )
                    outcome = await asyncio.to_thread(writer.store, endpoint_id, document)
                except _FetchFailure as exc:
                    report.record(endpoint_id, "failed", str(exc))
                    listener.document(endpoint_id, "failed")
                    return
            report.record(endpoint_id, outcome)
            listener.document(endpoint_id, outcome)

        await asyncio.gather(*(one(i) for i in ids))
    return report


def _is_valid_id(endpoint_id: object) -> TypeGuard[str]:
    try:
        check_endpoint_id(endpoint_id)
    except ValueError:
        return False
    return True


def _expansion_error(openapi: object) -> str | None:
    """Why a catalog record carries no document, or None when it carries one."""
    if isinstance(openapi, dict) and "openapi" in openapi and "paths" in openapi:
        return None
    if isinstance(openapi, dict) and isinstance(
        error := cast("dict[str, Any]", openapi).get("error"), dict
    ):
        detail = cast("dict[str, Any]", error)
        parts = [printable(str(detail[k]))[:200] for k in ("code", "message") if detail.get(k)]
        return ": ".join(parts) or "expansion failed"
    if openapi is None:
        return "no OpenAPI document in the record"
    return "the record's openapi field is not an OpenAPI document"


@dataclass
class _Page:
    records: list[tuple[object, Any]]
    next_cursor: str | None


def _parse_page(payload: Any) -> _Page:
    if not isinstance(payload, dict) or not isinstance(
        cast("dict[str, Any]", payload).get("models"), list
    ):
        raise _FetchFailure("catalog page is not a {'models': [...]} object")
    page = cast("dict[str, Any]", payload)
    records: list[tuple[object, Any]] = []
    for raw in cast("list[Any]", page["models"]):
        record = cast("dict[str, Any]", raw) if isinstance(raw, dict) else {}
        records.append((record.get("endpoint_id", ""), record.get("openapi")))
    cursor = page.get("next_cursor")
    if not page.get("has_more", cursor is not None) or not cursor:
        return _Page(records, None)
    if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR:
        raise _FetchFailure(
            f"the next cursor is not a string of at most {_MAX_CURSOR} characters: {_shown(cursor)}"
        )
    return _Page(records, cursor)


def _label(endpoint_id: object) -> str:
    """How a record that has no valid id is named in the report."""
    if endpoint_id in ("", None):
        return "<record without endpoint_id>"
    text = printable(str(endpoint_id))
    return text if len(text) <= 120 else text[:117] + "..."


def _store_page(
    writer: _Writer,
    records: Sequence[tuple[object, Any]],
    report: FetchReport,
    listener: FetchListener,
) -> None:
    for endpoint_id, openapi in records:
        if not _is_valid_id(endpoint_id):
            label = _label(endpoint_id)
            report.record(label, "skipped", "invalid endpoint id")
            listener.document(label, "skipped")
            continue
        reason = _expansion_error(openapi)
        if reason is not None:
            report.record(endpoint_id, "skipped", reason)
            listener.document(endpoint_id, "skipped")
            continue
        try:
            document = _check_document(openapi, endpoint_id, writer.settings)
            outcome = writer.store(endpoint_id, document)
        except _FetchFailure as exc:
            report.record(endpoint_id, "failed", str(exc))
            listener.document(endpoint_id, "failed")
            continue
        report.record(endpoint_id, outcome)
        listener.document(endpoint_id, outcome)


def _prune(schemas_dir: Path, listed: set[str], category: str | None, delete: bool) -> list[str]:
    removed: list[str] = []
    for path in iter_document_paths(schemas_dir):
        try:
            info = read_info(path)
        except ValueError:
            continue
        if info.endpoint_id in listed or (category is not None and info.category != category):
            continue
        removed.append(info.endpoint_id)
        if delete:
            path.unlink(missing_ok=True)
    return sorted(removed)


class _Listing:
    """The catalog listing's bounds: pages, records and cursors seen so far."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.pages = 0
        self.records = 0
        self.cursors: set[str] = set()

    def admit(self, page: _Page) -> str | None:
        """Count ``page`` in (cutting its records to the limit); why the listing stops, if it does."""
        self.pages += 1
        room = self.settings.max_documents - self.records
        if len(page.records) > room:
            del page.records[room:]
            return f"more than {self.settings.max_documents:,} documents (the limit)"
        self.records += len(page.records)
        cursor = page.next_cursor
        if cursor is None:
            return None
        if cursor in self.cursors:
            return f"the cursor {_shown(cursor)} repeated: the catalog pages in a loop"
        if self.pages >= self.settings.max_pages:
            return f"more than {self.settings.max_pages:,} pages (the limit)"
        self.cursors.add(cursor)
        return None


async def fetch_catalog(
    schemas_dir: Path,
    *,
    api_url: str | None = None,
    category: str | None = None,
    prune: bool = True,
    headers: Mapping[str, str] | None = None,
    settings: FetchSettings | None = None,
    listener: FetchListener | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchReport:
    """Page through fal's catalog (active endpoints, optionally one category) into ``schemas_dir``.

    ``api_url`` defaults to fal's Platform API (a local server's when ``FAL_TYPED_BASE_URL`` is
    set).

    Once the whole catalog has been listed, documents in scope (all, or those of ``category``)
    that it no longer lists are reported as removed, and deleted when ``prune`` is set. When
    listing stops early (a page failed for good, or a limit of ``settings`` was reached: pages,
    documents, a cursor seen before), nothing is removed and ``complete`` is False.
    """
    api_url = api_url or default_hosts().api_url
    settings = settings or FetchSettings()
    listener = listener or _Silent()
    schemas_dir.mkdir(parents=True, exist_ok=True)
    remove_debris(schemas_dir)
    report = FetchReport()
    listed: set[str] = set()
    url = api_url.rstrip("/") + CATALOG_PATH
    base = [("status", "active"), ("expand", "openapi-3.0")] + (
        [("category", category)] if category else []
    )
    cursor: str | None = None
    listing = _Listing(settings)
    writer = _Writer(schemas_dir, settings)
    writing: asyncio.Future[None] | None = None

    async with _client(settings, headers, transport) as http:
        requester = _Requester(http, settings, listener)
        report.secrets = requester.secrets
        try:
            while True:
                page: _Page | None = None
                try:
                    params = base + ([("cursor", cursor)] if cursor else [])
                    reply = await requester.get(url, params, settings.max_page_bytes)
                    # Each record's document is checked against max_depth on its own.
                    page = _parse_page(_parse_json(reply, None))
                    stop = listing.admit(page)
                except _FetchFailure as exc:
                    stop = str(exc)
                if page is not None:
                    listener.expect(len(page.records))
                    listed.update(i for i, _ in page.records if isinstance(i, str))
                    if writing is not None:
                        await writing
                    # Write this page in a thread while the next one is requested.
                    writing = asyncio.ensure_future(
                        asyncio.to_thread(_store_page, writer, page.records, report, listener)
                    )
                if stop is not None:
                    report.complete = False
                    report.failed["<catalog>"] = f"listing stopped: {stop}"
                    break
                if page is None or page.next_cursor is None:
                    break
                cursor = page.next_cursor
        finally:
            if writing is not None:
                await writing
    if report.complete:
        report.removed = _prune(schemas_dir, listed, category, prune)
    return report
