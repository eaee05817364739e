"""The two URLs ``fal-typed fetch`` reads, served from a schemas directory.

* ``GET /fal/api/openapi/queue/openapi.json?endpoint_id=<id>`` (fal.ai): the document's bytes,
  exactly as stored, so a fetch can be checked byte for byte.
* ``GET /api/v1/models`` (api.fal.ai): the platform catalog, paged with an opaque ``cursor``
  (base64 of the page number, as fal's), filtered by ``status``, ``category``, ``q`` and
  ``endpoint_id``; ``expand=openapi-3.0`` embeds each document's text unchanged.

:class:`CatalogSettings` injects what the real service does to clients: slowness, failing
requests (429/5xx with ``Retry-After``) and records whose expansion failed. Settings are read on
every request, so a test may change them while the server runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .._hosts import LOCAL_OPENAPI_PATH, LOCAL_PLATFORM_PREFIX
from .._installed import display_name
from ..catalog._corpus import DocumentInfo, document_filename, read_info

__all__ = ["Catalog", "CatalogSettings"]

_EXPANSION_ERROR = {"code": "expansion_failed", "message": "Failed to expand the OpenAPI schema"}
_MAX_FIND_IDS = 50


@dataclass
class CatalogSettings:
    """Behaviour of the schema URLs; change it at any time.

    ``page_size``: records per catalog page (a ``limit`` query can lower it).
    ``delay``: seconds each response waits before it is sent (a slow server).
    ``fail_times`` / ``fail_status`` / ``retry_after``: the first ``fail_times`` requests for
    each distinct URL answer ``fail_status`` (with ``Retry-After`` when set) before it succeeds.
    ``expansion_failed``: endpoint ids whose catalog record carries an expansion error instead
    of its document (unreadable documents get one too).
    """

    page_size: int = 100
    delay: float = 0.0
    fail_times: int = 0
    fail_status: int = 503
    retry_after: float | None = 0.0
    expansion_failed: set[str] = field(default_factory=set[str])


@dataclass(frozen=True)
class _Entry:
    endpoint_id: str
    path: Path
    info: DocumentInfo | None


class Catalog:
    """Serves ``schemas_dir`` (and ``documents``, ``{id: path}``: installed endpoints' own
    documents, for ids the folder lacks) as fal's per-endpoint OpenAPI URL and platform catalog."""

    def __init__(
        self,
        schemas_dir: Path | None,
        settings: CatalogSettings | None = None,
        *,
        documents: Mapping[str, Path] | None = None,
    ) -> None:
        self.schemas_dir: Path | None = Path(schemas_dir) if schemas_dir is not None else None
        self.documents: dict[str, Path] = dict(documents or {})
        self.settings: CatalogSettings = settings or CatalogSettings()
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self.requests: int = 0
        """How many requests the two URLs have received."""
        self._index_key: tuple[tuple[str, int, int], ...] = ()
        self._index: list[_Entry] = []

    def routes(self) -> list[BaseRoute]:
        """The starlette routes, at the local server's paths for fal.ai and api.fal.ai."""
        return [
            Route(LOCAL_OPENAPI_PATH, self._openapi, methods=["GET"]),
            Route(f"{LOCAL_PLATFORM_PREFIX}/v1/models", self._models, methods=["GET"]),
        ]

    def reset_failures(self) -> None:
        """Forget how often each URL has failed, so ``fail_times`` counts afresh."""
        with self._lock:
            self._failures.clear()

    # -- fault injection ---------------------------------------------------------------------

    async def _injected(self, request: Request) -> Response | None:
        settings = self.settings
        with self._lock:
            self.requests += 1
        if settings.delay > 0:
            await asyncio.sleep(settings.delay)
        if settings.fail_times <= 0:
            return None
        key = str(request.url.include_query_params())
        with self._lock:
            count = self._failures.get(key, 0)
            if count >= settings.fail_times:
                return None
            self._failures[key] = count + 1
        headers = (
            {} if settings.retry_after is None else {"Retry-After": f"{settings.retry_after:g}"}
        )
        return JSONResponse(
            {"detail": "injected failure", "error_type": "injected"},
            status_code=settings.fail_status,
            headers=headers,
        )

    # -- per-endpoint document ---------------------------------------------------------------

    async def _openapi(self, request: Request) -> Response:
        if (failure := await self._injected(request)) is not None:
            return failure
        endpoint_id = request.query_params.get("endpoint_id", "")
        try:
            name = document_filename(endpoint_id)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        paths = [self.schemas_dir / name] if self.schemas_dir is not None else []
        if endpoint_id in self.documents:
            paths.append(self.documents[endpoint_id])
        for path in paths:
            try:
                body = await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                continue
            return Response(body, media_type="application/json")
        return JSONResponse({"detail": f"endpoint {endpoint_id!r} not found"}, status_code=404)

    # -- catalog -----------------------------------------------------------------------------

    def _entries(self) -> list[_Entry]:
        """Every document, sorted by file name (the folder's, then the installed ones it lacks);
        re-read only when the folder changed."""
        stats: list[tuple[str, int, int]] = []
        folder = self.schemas_dir
        if folder is not None:
            with os.scandir(folder) as scan:
                for item in scan:
                    if item.name.endswith(".json") and not item.name.startswith("."):
                        stat = item.stat()
                        stats.append((item.name, stat.st_mtime_ns, stat.st_size))
        key = tuple(sorted(stats))
        with self._lock:
            if key == self._index_key and self._index:
                return self._index
        located = [(name, folder / name) for name, _, _ in key if folder is not None]
        names = {name for name, _ in located}
        for endpoint_id, document in self.documents.items():
            name = document_filename(endpoint_id)
            if name not in names:
                located.append((name, document))
        entries: list[_Entry] = []
        for name, path in sorted(located):
            try:
                info: DocumentInfo | None = read_info(path)
            except ValueError:
                info = None
            endpoint_id = (
                info.endpoint_id if info is not None else name[: -len(".json")].replace("__", "/")
            )
            entries.append(_Entry(endpoint_id, path, info))
        with self._lock:
            self._index_key, self._index = key, entries
        return entries

    @staticmethod
    def _select(entries: Sequence[_Entry], request: Request) -> list[_Entry] | str:
        params = request.query_params
        ids = params.getlist("endpoint_id")
        if len(ids) > _MAX_FIND_IDS:
            return f"at most {_MAX_FIND_IDS} endpoint_id values are allowed"
        status = params.get("status")
        if status not in (None, "active", "deprecated"):
            return f"invalid status {status!r}: expected 'active' or 'deprecated'"
        if status == "deprecated":
            return []
        category = params.get("category")
        query = params.get("q", "").lower()
        selected: list[_Entry] = []
        for entry in entries:
            if ids and entry.endpoint_id not in ids:
                continue
            info_category = entry.info.category if entry.info is not None else "unknown"
            if category and info_category != category:
                continue
            about = entry.info.about if entry.info is not None else ""
            if query and query not in f"{entry.endpoint_id} {about} {info_category}".lower():
                continue
            selected.append(entry)
        return selected

    def _page(self, request: Request) -> tuple[int, int] | str:
        """``(page number, page size)`` from ``cursor`` and ``limit``, or what is wrong."""
        params = request.query_params
        size = self.settings.page_size
        if "limit" in params:
            try:
                limit = int(params["limit"])
            except ValueError:
                return "limit must be an integer"
            if limit < 1:
                return "limit must be at least 1"
            size = min(size, limit)
        page = 1
        if cursor := params.get("cursor"):
            try:
                page = int(base64.b64decode(cursor, validate=True).decode("ascii"))
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return f"invalid cursor {cursor!r}"
            if page < 1:
                return f"invalid cursor {cursor!r}"
        return page, size

    def _record(self, entry: _Entry, expand: bool) -> str:
        info = entry.info
        metadata: dict[str, Any] = {
            "display_name": display_name(entry.endpoint_id),
            "category": info.category if info is not None else "unknown",
            "description": info.about if info is not None else "",
            "status": "active",
            "tags": [],
            "model_url": f"https://fal.run/{entry.endpoint_id}",
            "kind": "inference",
        }
        head = json.dumps(
            {"endpoint_id": entry.endpoint_id, "metadata": metadata}, ensure_ascii=False
        )
        if not expand:
            return head
        text: str | None = None
        if info is not None and entry.endpoint_id not in self.settings.expansion_failed:
            try:
                text = entry.path.read_text(encoding="utf-8")
            except OSError:
                text = None
        if text is None:
            text = json.dumps({"error": _EXPANSION_ERROR})
        return f'{head[:-1]}, "openapi": {text}}}'

    async def _models(self, request: Request) -> Response:
        if (failure := await self._injected(request)) is not None:
            return failure
        entries = await asyncio.to_thread(self._entries)
        selected = self._select(entries, request)
        if isinstance(selected, str):
            return JSONResponse({"detail": selected}, status_code=400)
        paging = self._page(request)
        if isinstance(paging, str):
            return JSONResponse({"detail": paging}, status_code=400)
        page, size = paging
        start, end = (page - 1) * size, min(page * size, len(selected))
        expand = "openapi-3.0" in request.query_params.getlist("expand")
        records = await asyncio.to_thread(
            lambda: [self._record(e, expand) for e in selected[start:end]]
        )
        has_more = end < len(selected)
        next_cursor = base64.b64encode(str(page + 1).encode()).decode() if has_more else None
        body = (
            '{"models": ['
            + ", ".join(records)
            + f'], "next_cursor": {json.dumps(next_cursor)}, "has_more": {json.dumps(has_more)}}}'
        )
        return Response(body.encode("utf-8"), media_type="application/json")
