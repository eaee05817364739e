"""Uploading the local files of a call's arguments: the second step of ``_arguments``.

Split from ``_arguments`` so that a call without local files (and an endpoint module's import)
never loads the upload flows, thread pools or ``asyncio``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from typing_extensions import override

from ._arguments import locate_placeholders, substitute_urls
from ._async import upload_source_async
from ._data_uri import encode_source
from ._errors import UploadError
from ._input import FileInput
from ._settings import UploadSettings, upload_settings
from ._source import UploadSource, open_source
from ._sync import upload_source

if TYPE_CHECKING:
    from .._client import Client
    from .._deadline import Deadline

__all__ = ["resolve_uploads", "resolve_uploads_async"]


def _rename(exc: UploadError, field: str) -> UploadError:
    renamed = UploadError(f"{exc.file} ({field})", exc.reason)
    renamed.__cause__ = exc.__cause__
    return renamed


def _resolve_one(
    source: UploadSource, threshold: int, upload: Callable[[UploadSource], str]
) -> str:
    return encode_source(source) if source.size < threshold else upload(source)


class _WithinDeadline(UploadSource):
    """``source`` read only while ``deadline`` lasts: a sync upload (which cannot be cancelled
    from outside) stops at the next chunk once its call's ``client_timeout`` has run out."""

    def __init__(self, source: UploadSource, deadline: Deadline, what: str) -> None:
        self._source, self._deadline, self._what = source, deadline, what
        self.size, self.label = source.size, source.label
        self.file_name, self.content_type = source.file_name, source.content_type

    @override
    def iter_range(self, offset: int, length: int) -> Generator[bytes, None, None]:
        for chunk in self._source.iter_range(offset, length):
            self._deadline.check(self._what)
            yield chunk

    @override
    def close(self) -> None:
        self._source.close()


def _uploading(field: str) -> str:
    return f"uploading the file of {field} (nothing was submitted)"


def _client_or_default(client: Client | None) -> Client:
    if client is not None:
        return client
    from .._client import default_client

    return default_client()


def resolve_uploads(
    body: Mapping[str, Any],
    uploads: Mapping[str, FileInput],
    client: Client | None = None,
    *,
    settings: UploadSettings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Upload the sources whose placeholders are in ``body`` (in parallel) and return the body
    with their URLs in place. Raises :class:`~fal_typed.UploadError` naming the file and field,
    and :class:`~fal_typed.FalTimeoutError` once ``deadline`` (a call's ``client_timeout``) passes.
    """
    located = locate_placeholders(body, uploads)
    if not located:
        return dict(body)
    settings = settings or upload_settings()
    http_client = _client_or_default(client)
    failed = threading.Event()

    def resolve(placeholder: str) -> str | None:
        if failed.is_set():
            return None  # another upload of this call failed: do not start this one
        field = located[placeholder]
        try:
            with open_source(
                uploads[placeholder], field=field, max_bytes=settings.max_file_bytes
            ) as opened:
                source = (
                    opened
                    if deadline is None
                    else _WithinDeadline(opened, deadline, _uploading(field))
                )
                return _resolve_one(
                    source,
                    settings.data_uri_threshold,
                    lambda s: upload_source(http_client, s, {}, settings),
                )
        except UploadError as exc:
            failed.set()
            raise _rename(exc, field) from exc.__cause__
        except BaseException:
            failed.set()
            raise

    names = list(located)
    if len(names) == 1:
        results = {names[0]: resolve(names[0])}
    else:
        workers = min(settings.max_parallel_files, len(names))
        with ThreadPoolExecutor(workers, thread_name_prefix="fal-upload") as pool:
            futures = {name: pool.submit(resolve, name) for name in names}
        errors = [exc for f in futures.values() if (exc := f.exception()) is not None]
        if errors:
            raise errors[0]
        results = {name: future.result() for name, future in futures.items()}
    urls = {name: url for name, url in results.items() if url is not None}
    return cast("dict[str, Any]", substitute_urls(body, urls))


async def resolve_uploads_async(
    body: Mapping[str, Any],
    uploads: Mapping[str, FileInput],
    client: Client | None = None,
    *,
    settings: UploadSettings | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Async twin of :func:`resolve_uploads`; the uploads run as concurrent tasks, cancelled
    when ``deadline`` passes."""
    located = locate_placeholders(body, uploads)
    if not located:
        return dict(body)
    settings = settings or upload_settings()
    http_client = _client_or_default(client)
    gate = asyncio.Semaphore(settings.max_parallel_files)

    async def resolve(placeholder: str) -> str:
        field = located[placeholder]
        async with gate:
            # Opening may spool a stream or encode an image: keep it off the event loop.
            source = await asyncio.to_thread(
                open_source, uploads[placeholder], field=field, max_bytes=settings.max_file_bytes
            )
            try:
                if source.size < settings.data_uri_threshold:
                    return await asyncio.to_thread(encode_source, source)
                return await upload_source_async(http_client, source, {}, settings)
            except UploadError as exc:
                raise _rename(exc, field) from exc.__cause__
            finally:
                source.close()

    names = list(located)
    tasks = [asyncio.ensure_future(resolve(name)) for name in names]
    try:
        uploading = asyncio.gather(*tasks)
        if deadline is None:
            results = await uploading
        else:
            try:
                results = await asyncio.wait_for(uploading, deadline.remaining())
            except asyncio.TimeoutError:
                raise deadline.error(_uploading(", ".join(located.values()))) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return cast("dict[str, Any]", substitute_urls(body, dict(zip(names, results, strict=True))))
