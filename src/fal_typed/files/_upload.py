"""Storage upload: ``upload`` / ``upload_async``, data-URI helpers, and automatic input uploads.

``upload`` sends bytes, a file (by path or binary file object) or a PIL image to fal's storage
and returns its URL (PROTOCOL.md section 6):

* the CDN v3 flow: a token fetched with the account key and cached until it expires, then one
  ``POST`` for files up to ``multipart_threshold`` (100 MiB), or a multipart upload above it
  (10 MiB parts, ``max_concurrency`` in flight, each part retried on its own, then *complete*);
* if the CDN flow fails, fal's storage flow: *initiate* with the account key, then ``PUT`` to the
  signed URL it returns.

Files are streamed from disk in 1 MiB reads, never held whole in memory. A URL is returned only
for a complete object: when both flows fail, :class:`UploadError` names the file.

The rest of the package does the work: ``_source`` (reading), ``_protocol`` (wire format),
``_sync`` / ``_async`` (the flows), ``_token`` (CDN token cache), ``_retry``, ``_arguments``
(automatic uploads), ``_data_uri``.
"""

from __future__ import annotations

import asyncio
import os
from typing import IO, TYPE_CHECKING, TypeAlias, Union

from .._errors import InvalidArgumentError
from ._arguments import extract_uploads, resolve_uploads, resolve_uploads_async
from ._async import upload_source_async
from ._data_uri import decode_data_uri, encode, encode_file
from ._errors import FileInputError, UploadError
from ._input import SupportsImageSave
from ._lifecycle import AccessRule, ExpiresIn, Lifecycle, lifecycle_headers
from ._settings import UploadSettings, configure_uploads, upload_settings
from ._source import open_source
from ._sync import upload_source

if TYPE_CHECKING:
    from .._client import Client

__all__ = [
    "AccessRule",
    "ExpiresIn",
    "FileInputError",
    "Lifecycle",
    "UploadData",
    "UploadError",
    "UploadSettings",
    "configure_uploads",
    "decode_data_uri",
    "encode",
    "encode_file",
    "extract_uploads",
    "resolve_uploads",
    "resolve_uploads_async",
    "upload",
    "upload_async",
    "upload_settings",
]

UploadData: TypeAlias = Union[
    bytes, bytearray, memoryview, "os.PathLike[str]", IO[bytes], SupportsImageSave
]
"""What ``upload`` takes: in-memory bytes, a path, a binary file object, or a PIL image."""


def _prepare(
    lifecycle: Lifecycle | ExpiresIn | None, client: Client | None, settings: UploadSettings | None
) -> tuple[dict[str, str], Client, UploadSettings]:
    try:
        headers = lifecycle_headers(lifecycle)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    if settings is not None and not isinstance(settings, UploadSettings):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(
            f"settings must be an UploadSettings, got {type(settings).__name__}"
        )
    if client is None:
        from .._client import default_client

        client = default_client()
    return headers, client, settings or upload_settings()


def upload(
    data: UploadData,
    content_type: str | None = None,
    file_name: str | None = None,
    lifecycle: Lifecycle | ExpiresIn | None = None,
    *,
    client: Client | None = None,
    settings: UploadSettings | None = None,
) -> str:
    """Upload ``data`` to fal's storage and return its URL.

    Args:
        data: bytes, a ``pathlib.Path`` (streamed from disk), a binary file object (read from
            its current position to the end) or a PIL image (encoded in its own format, PNG if
            it has none). A ``str`` is refused as ambiguous: wrap paths in ``Path``.
        content_type: defaults to the type guessed from the file name, then from the leading
            bytes, then ``application/octet-stream``.
        file_name: the stored object's name; defaults to the file's name or ``upload.<ext>``.
        lifecycle: a :class:`Lifecycle`, or its ``expires_in`` alone (``"1h"``, ``"1d"``, seconds).
        client: the :class:`~fal_typed.Client` to use (default: ``default_client()``).
        settings: :class:`UploadSettings` for this call (default: the process-wide ones).

    Raises:
        FileInputError: ``data`` cannot be read (a missing file, a FIFO or device, a file past
            ``UploadSettings.max_file_bytes``...); nothing was sent.
        UploadError: the upload failed after retries and fallback; no URL exists.
    """
    headers, http_client, upload_settings_ = _prepare(lifecycle, client, settings)
    with open_source(
        data,
        content_type=content_type,
        file_name=file_name,
        max_bytes=upload_settings_.max_file_bytes,
    ) as source:
        return upload_source(http_client, source, headers, upload_settings_)


async def upload_async(
    data: UploadData,
    content_type: str | None = None,
    file_name: str | None = None,
    lifecycle: Lifecycle | ExpiresIn | None = None,
    *,
    client: Client | None = None,
    settings: UploadSettings | None = None,
) -> str:
    """Async twin of :func:`upload`."""
    headers, http_client, upload_settings_ = _prepare(lifecycle, client, settings)
    # Opening may spool a stream or encode an image: keep it off the event loop.
    source = await asyncio.to_thread(
        open_source,
        data,
        content_type=content_type,
        file_name=file_name,
        max_bytes=upload_settings_.max_file_bytes,
    )
    with source:
        return await upload_source_async(http_client, source, headers, upload_settings_)
