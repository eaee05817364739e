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
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeGuard, cast

import httpx

from .._hosts import DEFAULT_API_URL, DEFAULT_OPENAPI_URL
from ._corpus import (
    document_filename,
    dumps_document,
    iter_document_paths,
    loads_document,
    read_info,
    remove_debris,
    validate_endpoint_id,
    write_atomic,
)

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

Outcome = Literal["added", "changed", "unchanged", "skipped", "failed"]


@dataclass(frozen=True)
class FetchSettings:
    """How hard to try: parallel requests, attempts per request, backoff and timeout (seconds)."""

    concurrency: int = 8
    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.backoff < 0 or self.max_backoff < 0 or self.timeout <= 0:
            raise ValueError("backoff and max_backoff must be >= 0 and timeout > 0")


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

    @property
    def ok(self) -> bool:
        """True when every requested document was fetched (skipped records do not count)."""
        return self.complete and not self.failed

    def record(self, endpoint_id: str, outcome: Outcome, reason: str = "") -> None:
        if outcome == "skipped":
            self.skipped[endpoint_id] = reason
        elif outcome == "failed":
            self.failed[endpoint_id] = reason
        else:
            getattr(self, outcome).append(endpoint_id)


class _FetchFailure(Exception):
    """One request or document failed for good (after retries); the message says why."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Requester:
    """GET with retries; shared by both fetch modes."""

    def __init__(
        self, http: httpx.AsyncClient, settings: FetchSettings, listener: FetchListener
    ) -> None:
        self._http = http
        self._settings = settings
        self._listener = listener

    def _backoff(self, attempt: int) -> float:
        delay = min(self._settings.backoff * 2.0 ** (attempt - 1), self._settings.max_backoff)
        return delay * random.uniform(0.5, 1.5)

    async def get(self, url: str, params: Sequence[tuple[str, str]]) -> httpx.Response:
        settings = self._settings
        for attempt in range(1, settings.attempts + 1):
            try:
                response = await self._http.get(url, params=list(params))
            except httpx.TransportError as exc:
                if attempt == settings.attempts:
                    raise _FetchFailure(
                        f"{type(exc).__name__}: {exc or 'transport error'}"
                    ) from None
                reason = type(exc).__name__
                delay = self._backoff(attempt)
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == settings.attempts:
                    return response
                reason = f"HTTP {response.status_code}"
                after = _retry_after(response)
                delay = (
                    self._backoff(attempt) if after is None else min(after, settings.max_backoff)
                )
            self._listener.retrying(url, attempt, delay, reason)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _error_text(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}" + (f": {text[:200]}" if text else "")


def _parse_json(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise _FetchFailure(_error_text(response))
    try:
        return loads_document(response.content)
    except ValueError as exc:
        raise _FetchFailure(f"response is not JSON ({exc})") from None


def _check_document(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict) or "openapi" not in document or "paths" not in document:
        raise _FetchFailure("response is not an OpenAPI document")
    return cast("dict[str, Any]", document)


def _store(schemas_dir: Path, endpoint_id: str, document: Mapping[str, Any]) -> Outcome:
    """Write the document if its text changed; a file-system error fails this document only."""
    path = schemas_dir / document_filename(endpoint_id)
    data = dumps_document(document).encode("utf-8")
    try:
        try:
            if path.read_bytes() == data:
                return "unchanged"
            outcome: Outcome = "changed"
        except FileNotFoundError:
            outcome = "added"
        write_atomic(path, data)
    except OSError as exc:
        raise _FetchFailure(f"cannot write {path}: {exc.strerror or exc}") from None
    return outcome


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


async def fetch_endpoints(
    endpoint_ids: Iterable[str],
    schemas_dir: Path,
    *,
    openapi_url: str = DEFAULT_OPENAPI_URL,
    headers: Mapping[str, str] | None = None,
    settings: FetchSettings | None = None,
    listener: FetchListener | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchReport:
    """Fetch the documents of ``endpoint_ids`` concurrently into ``schemas_dir``.

    Every id is checked before the first request (``ValueError`` names the bad ones). An id that
    fails (after retries) is listed in ``report.failed``; the others are still written.
    """
    ids = list(dict.fromkeys(endpoint_ids))
    bad = [i for i in ids if not _is_valid_id(i)]
    if bad:
        raise ValueError(
            f"invalid endpoint id(s): {', '.join(repr(b) for b in bad)}; expected 'owner/app[/path...]'"
        )
    settings = settings or FetchSettings()
    listener = listener or _Silent()
    schemas_dir.mkdir(parents=True, exist_ok=True)
    remove_debris(schemas_dir)
    report = FetchReport()
    listener.expect(len(ids))
    gate = asyncio.Semaphore(settings.concurrency)

    async with _client(settings, headers, transport) as http:
        requester = _Requester(http, settings, listener)

        async def one(endpoint_id: str) -> None:
            async with gate:
                try:
                    response = await requester.get(openapi_url, [("endpoint_id", endpoint_id)])
                    document = _check_document(_parse_json(response))
                    outcome = await asyncio.to_thread(_store, schemas_dir, endpoint_id, document)
                except _FetchFailure as exc:
                    report.record(endpoint_id, "failed", str(exc))
                    listener.document(endpoint_id, "failed")
                    return
            report.record(endpoint_id, outcome)
            listener.document(endpoint_id, outcome)

        await asyncio.gather(*(one(i) for i in ids))
    return report


def _is_valid_id(endpoint_id: object) -> TypeGuard[str]:
    if not isinstance(endpoint_id, str):
        return False
    try:
        validate_endpoint_id(endpoint_id)
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
        parts = [str(detail[k]) for k in ("code", "message") if detail.get(k)]
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
    more = page.get("has_more", cursor is not None)
    return _Page(records, str(cursor) if more and cursor else None)


def _store_page(
    schemas_dir: Path,
    records: Sequence[tuple[object, Any]],
    report: FetchReport,
    listener: FetchListener,
) -> None:
    for endpoint_id, openapi in records:
        if not _is_valid_id(endpoint_id):
            label = str(endpoint_id) or "<record without endpoint_id>"
            report.record(label, "skipped", "invalid endpoint id")
            listener.document(label, "skipped")
            continue
        reason = _expansion_error(openapi)
        if reason is not None:
            report.record(endpoint_id, "skipped", reason)
            listener.document(endpoint_id, "skipped")
            continue
        try:
            outcome = _store(schemas_dir, endpoint_id, openapi)
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


async def fetch_catalog(
    schemas_dir: Path,
    *,
    api_url: str = DEFAULT_API_URL,
    category: str | None = None,
    prune: bool = True,
    headers: Mapping[str, str] | None = None,
    settings: FetchSettings | None = None,
    listener: FetchListener | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchReport:
    """Page through fal's catalog (active endpoints, optionally one category) into ``schemas_dir``.

    Once the whole catalog has been listed, documents in scope (all, or those of ``category``)
    that it no longer lists are reported as removed, and deleted when ``prune`` is set. When
    listing stops early (a page failed for good), nothing is removed and ``complete`` is False.
    """
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
    seen_cursors: set[str] = set()
    writing: asyncio.Future[None] | None = None

    async with _client(settings, headers, transport) as http:
        requester = _Requester(http, settings, listener)
        try:
            while True:
                try:
                    params = base + ([("cursor", cursor)] if cursor else [])
                    page = _parse_page(_parse_json(await requester.get(url, params)))
                except _FetchFailure as exc:
                    report.complete = False
                    report.failed["<catalog>"] = f"listing stopped: {exc}"
                    break
                listener.expect(len(page.records))
                listed.update(i for i, _ in page.records if isinstance(i, str))
                if writing is not None:
                    await writing
                # Write this page in a thread while the next one is requested.
                writing = asyncio.ensure_future(
                    asyncio.to_thread(_store_page, schemas_dir, page.records, report, listener)
                )
                if page.next_cursor is None:
                    break
                if page.next_cursor in seen_cursors:
                    report.complete = False
                    report.failed["<catalog>"] = (
                        f"listing stopped: the cursor {page.next_cursor!r} repeated"
                    )
                    break
                seen_cursors.add(page.next_cursor)
                cursor = page.next_cursor
        finally:
            if writing is not None:
                await writing
    if report.complete:
        report.removed = _prune(schemas_dir, listed, category, prune)
    return report
