"""The blocking upload flows: CDN (one POST, or multipart in parallel threads), then fallback.

``upload_source`` returns a URL only once the whole file is stored: a multipart upload is
completed only after every part was acknowledged, and any failure raises instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx

from .._errors import FalError, FalTimeoutError
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
from ._retry import send
from ._settings import UploadSettings
from ._source import UploadSource
from ._token import cached_token, forget_token

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["upload_source"]

logger = logging.getLogger("fal_typed.upload")


class _Cdn:
    """One file's CDN upload through one client."""

    def __init__(
        self,
        client: Client,
        source: UploadSource,
        lifecycle: Mapping[str, str],
        settings: UploadSettings,
    ) -> None:
        self.client = client
        self.http = client.http
        self.source = source
        self.lifecycle = lifecycle
        self.settings = settings
        self._token = cached_token(client)

    def _headers(self, kind: CdnRequest) -> dict[str, str]:
        self._token = cached_token(self.client)  # cheap when cached; renewed when about to expire
        return cdn_headers(kind, self._token, self.source, self.lifecycle)

    def _refresh(self) -> None:
        forget_token(self.client, self._token)

    def _secrets(self) -> tuple[str, ...]:
        """The CDN token: scrubbed, like the key, from every error built from a response."""
        return (self._token.token,)

    def _send(
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

        def build() -> httpx.Request:
            headers = self._headers(kind)
            if part is None:
                return self.http.build_request(method, url, headers=headers, json=json)
            headers["Content-Length"] = str(part.length)
            return self.http.build_request(
                method,
                url,
                headers=headers,
                content=self.source.iter_range(part.offset, part.length),
            )

        return send(
            self.http,
            build,
            attempts=self.settings.attempts,
            backoff=self.settings.retry_backoff,
            kind=step,
            refresh=self._refresh,
        )

    def single(self) -> str:
        whole = Part(1, 0, self.source.size)
        response = self._send(
            "POST",
            single_upload_url(self.client.cdn_url),
            "upload",
            step=Kind.UPLOAD_SINGLE,
            part=whole,
        )
        body = json_object(self.client, response, "CDN upload", secrets=self._secrets())
        return read_access_url(body, "CDN upload")

    def multipart(self) -> str:
        response = self._send(
            "POST", multipart_url(self._token), "upload", step=Kind.UPLOAD_INITIATE
        )
        access_url, upload_id = parse_multipart(
            json_object(self.client, response, "multipart initiate", secrets=self._secrets())
        )
        parts = plan_parts(self.source.size, self.settings.part_size)
        etags = self._parts(access_url, upload_id, parts)
        if sorted(etags) != [p.number for p in parts]:
            raise FalError(
                f"multipart upload incomplete: {len(etags)} of {len(parts)} parts acknowledged"
            )
        response = self._send(
            "POST",
            complete_url(access_url, upload_id),
            "complete",
            step=Kind.UPLOAD_COMPLETE,
            json=complete_body(etags),
        )
        return completed_url(self.client, response, access_url, secrets=self._secrets())

    def _part(self, access_url: str, upload_id: str, part: Part, total: int) -> str:
        try:
            url = part_url(access_url, upload_id, part.number)
            response = self._send("PUT", url, "part", step=Kind.UPLOAD_PART, part=part)
            if not response.is_success:
                raise response_error(self.client, response, self._secrets())
            return part_etag(response, part.number)
        except (FalError, httpx.HTTPError) as exc:
            if is_final(exc):
                raise
            raise FalError(f"part {part.number} of {total} failed: {describe(exc)}") from exc

    def _parts(self, access_url: str, upload_id: str, parts: list[Part]) -> dict[int, str]:
        etags: dict[int, str] = {}
        pending = iter(parts)
        lock = threading.Lock()
        failed = threading.Event()

        def worker() -> None:
            while not failed.is_set():
                with lock:
                    part = next(pending, None)
                if part is None:
                    return
                try:
                    etags[part.number] = self._part(access_url, upload_id, part, len(parts))
                except BaseException:
                    failed.set()  # the other workers finish their part and stop
                    raise

        workers = min(self.settings.max_concurrency, len(parts))
        with ThreadPoolExecutor(workers, thread_name_prefix="fal-upload-part") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            try:
                for future in futures:
                    future.result()
            finally:
                failed.set()
        return etags


def _storage(
    client: Client, source: UploadSource, lifecycle: Mapping[str, str], settings: UploadSettings
) -> str:
    """fal's storage flow: initiate with the account key, then PUT to the signed URL (no key)."""
    url, kwargs = initiate_request(client.rest_url, source, lifecycle)
    upload_url, file_url = parse_initiate(
        json_object(client, client.request("POST", url, **kwargs), "storage initiate")
    )
    http = client.http

    def build() -> httpx.Request:
        request = http.build_request(
            "PUT",
            upload_url,
            headers={"Content-Type": source.content_type, "Content-Length": str(source.size)},
            content=source.iter_range(0, source.size),
        )
        request.headers.pop("Authorization", None)  # a signed URL: the key must not go there
        return request

    response = send(
        http,
        build,
        attempts=settings.attempts,
        backoff=settings.retry_backoff,
        kind=Kind.UPLOAD_SINGLE,
    )
    if not response.is_success:
        raise response_error(client, response, signed_query(upload_url))
    return file_url


def _cdn(
    client: Client, source: UploadSource, lifecycle: Mapping[str, str], settings: UploadSettings
) -> str:
    cdn = _Cdn(client, source, lifecycle, settings)
    return cdn.multipart() if source.size > settings.multipart_threshold else cdn.single()


def upload_source(
    client: Client, source: UploadSource, lifecycle: Mapping[str, str], settings: UploadSettings
) -> str:
    """Upload ``source`` and return its URL; raise :class:`UploadError` if it cannot be stored."""
    try:
        return _cdn(client, source, lifecycle, settings)
    except FalTimeoutError:
        raise  # the call's client_timeout ran out (a TimeoutError, so also an OSError)
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
        return _storage(client, source, lifecycle, settings)
    except FalTimeoutError:
        raise
    except OSError as exc:
        raise read_failure(source.label, exc) from exc
    except (FalError, httpx.HTTPError) as exc:
        if is_final(exc):
            raise
        raise transfer_failure(source.label, cdn_error, exc) from exc
