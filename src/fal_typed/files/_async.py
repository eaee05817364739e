"""Async twin of ``_sync``: the same flows, parts run as concurrent tasks.

Disk reads happen in worker threads (``UploadSource.aiter_range``), so a large upload never
blocks the event loop. As in the sync flow, a URL is returned only for a complete object.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx

from .._errors import FalError
from .._retry import Kind
from ._errors import describe, is_final, read_failure, transfer_failure
from ._protocol import (
    CdnRequest,
    Part,
    cdn_headers,
    complete_body,
    complete_url,
    completed_url,
    initiate_request,
    json_object,
    multipart_url,
    parse_initiate,
    parse_multipart,
    part_etag,
    part_url,
    plan_parts,
    read_access_url,
    response_error,
    signed_query,
    single_upload_url,
)
from ._retry import asend
from ._settings import UploadSettings
from ._source import UploadSource
from ._token import CdnToken, cached_token_async, forget_token

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["upload_source_async"]

logger = logging.getLogger("fal_typed.upload")


class _Cdn:
    """One file's CDN upload through one client, on the running event loop."""

    def __init__(
        self,
        client: Client,
        token: CdnToken,
        source: UploadSource,
        lifecycle: Mapping[str, str],
        settings: UploadSettings,
    ) -> None:
        self.client = client
        self.http = client.async_http
        self.source = source
        self.lifecycle = lifecycle
        self.settings = settings
        self._token = token

    async def _headers(self, kind: CdnRequest) -> dict[str, str]:
        self._token = await cached_token_async(self.client)
        return cdn_headers(kind, self._token, self.source, self.lifecycle)

    def _refresh(self) -> None:
        forget_token(self.client, self._token)

    def _secrets(self) -> tuple[str, ...]:
        """The CDN token: scrubbed, like the key, from every error built from a response."""
        return (self._token.token,)

    async def _send(
        self,
        method: str,
        url: str,
        kind: CdnRequest,
        *,
        step: Kind,
        part: Part | None = None,
        json: object = None,
    ) -> httpx.Response:
        """Send with retries; ``part`` is the byte range streamed as the body (built anew per attempt)."""

        async def build() -> httpx.Request:
            headers = await self._headers(kind)
            if part is None:
                return self.http.build_request(method, url, headers=headers, json=json)
            headers["Content-Length"] = str(part.length)
            return self.http.build_request(
                method,
                url,
                headers=headers,
                content=self.source.aiter_range(part.offset, part.length),
            )

        return await asend(
            self.http,
            build,
            attempts=self.settings.attempts,
            backoff=self.settings.retry_backoff,
            kind=step,
            refresh=self._refresh,
        )

    async def single(self) -> str:
        whole = Part(1, 0, self.source.size)
        response = await self._send(
            "POST",
            single_upload_url(self.client.cdn_url),
            "upload",
            step=Kind.UPLOAD_SINGLE,
            part=whole,
        )
        body = json_object(self.client, response, "CDN upload", secrets=self._secrets())
        return read_access_url(body, "CDN upload")

    async def multipart(self) -> str:
        response = await self._send(
            "POST", multipart_url(self._token), "upload", step=Kind.UPLOAD_INITIATE
        )
        access_url, upload_id = parse_multipart(
            json_object(self.client, response, "multipart initiate", secrets=self._secrets())
        )
        parts = plan_parts(self.source.size, self.settings.part_size)
        etags = await self._parts(access_url, upload_id, parts)
        if sorted(etags) != [p.number for p in parts]:
            raise FalError(
                f"multipart upload incomplete: {len(etags)} of {len(parts)} parts acknowledged"
            )
        response = await self._send(
            "POST",
            complete_url(access_url, upload_id),
            "complete",
            step=Kind.UPLOAD_COMPLETE,
            json=complete_body(etags),
        )
        return completed_url(self.client, response, access_url, secrets=self._secrets())

    async def _part(self, access_url: str, upload_id: str, part: Part, total: int) -> str:
        try:
            url = part_url(access_url, upload_id, part.number)
            response = await self._send("PUT", url, "part", step=Kind.UPLOAD_PART, part=part)
            if not response.is_success:
                raise response_error(self.client, response, self._secrets())
            return part_etag(response, part.number)
        except (FalError, httpx.HTTPError) as exc:
            if is_final(exc):
                raise
            raise FalError(f"part {part.number} of {total} failed: {describe(exc)}") from exc

    async def _parts(self, access_url: str, upload_id: str, parts: list[Part]) -> dict[int, str]:
        etags: dict[int, str] = {}
        pending = iter(parts)

        async def worker() -> None:
            for part in pending:  # the workers share one iterator: each part is taken once
                etags[part.number] = await self._part(access_url, upload_id, part, len(parts))

        tasks = [
            asyncio.ensure_future(worker())
            for _ in range(min(self.settings.max_concurrency, len(parts)))
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    task.result()  # raises the first failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return etags


async def _storage(
    client: Client, source: UploadSource, lifecycle: Mapping[str, str], settings: UploadSettings
) -> str:
    """fal's storage flow: initiate with the account key, then PUT to the signed URL (no key)."""
    url, kwargs = initiate_request(client.rest_url, source, lifecycle)
    response = await client.arequest("POST", url, **kwargs)
    upload_url, file_url = parse_initiate(json_object(client, response, "storage initiate"))
    http = client.async_http

    async def build() -> httpx.Request:
        request = http.build_request(
            "PUT",
            upload_url,
            headers={"Content-Type": source.content_type, "Content-Length": str(source.size)},
            content=source.aiter_range(0, source.size),
        )
        request.headers.pop("Authorization", None)  # a signed URL: the key must not go there
        return request

    response = await asend(
        http,
        build,
        attempts=settings.attempts,
        backoff=settings.retry_backoff,
        kind=Kind.UPLOAD_SINGLE,
    )
    if not response.is_success:
        raise response_error(client, response, signed_query(upload_url))
    return file_url


async def _cdn(
    client: Client, source: UploadSource, lifecycle: Mapping[str, str], settings: UploadSettings
) -> str:
    cdn = _Cdn(client, await cached_token_async(client), source, lifecycle, settings)
    return await (cdn.multipart() if source.size > settings.multipart_threshold else cdn.single())


async def upload_source_async(
    client: Client, source: UploadSource, lifecycle: Mapping[str, str], settings: UploadSettings
) -> str:
    """Async twin of :func:`~fal_typed.files._sync.upload_source`."""
    try:
        return await _cdn(client, source, lifecycle, settings)
    except OSError as exc:
        raise read_failure(source.label, exc) from exc
    except (FalError, httpx.HTTPError) as exc:
        if is_final(exc):
            raise
        if not settings.fallback:
            raise transfer_failure(source.label, exc, None) from exc
        cdn_error: BaseException = exc
    logger.warning(
        "CDN upload of %s failed (%s); trying the storage fallback",
        source.label,
        client.redact(describe(cdn_error)),
    )
    try:
        return await _storage(client, source, lifecycle, settings)
    except OSError as exc:
        raise read_failure(source.label, exc) from exc
    except (FalError, httpx.HTTPError) as exc:
        if is_final(exc):
            raise
        raise transfer_failure(source.label, cdn_error, exc) from exc
