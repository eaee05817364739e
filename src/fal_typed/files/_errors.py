"""Errors of file inputs, uploads and output files.

Two kinds for inputs, because callers react differently: :class:`FileInputError` means the value
given is unusable and nothing was sent (fix the input); :class:`UploadError` means the transfer
itself failed after retries and fallback (retry later). :class:`DownloadError` is an output file
that could not be read or saved. None ever carries a key, a CDN token or a signed URL's query.
"""

from __future__ import annotations

from .._errors import (
    AuthenticationError,
    FalError,
    FalTimeoutError,
    InvalidArgumentError,
    MissingCredentialsError,
)

__all__ = [
    "DownloadError",
    "FileInputError",
    "UploadError",
    "describe",
    "is_final",
    "read_failure",
    "transfer_failure",
]


class FileInputError(FalError, ValueError):
    """A file input cannot be uploaded (missing path, text-mode file...); raised before any request.

    ``field`` is the dotted path of the argument holding it (``None`` for a direct ``upload()``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message, error_type="file_input")


class UploadError(FalError):
    """An upload failed for good: no URL was produced and no partial object was completed.

    ``file`` names what was being uploaded (a path, a file name, or ``<N bytes>``); the error that
    ended the last attempt is chained as ``__cause__``.
    """

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"upload of {file} failed: {reason}", error_type="upload_failed")


class DownloadError(FalError):
    """An output file could not be read or saved, and no partial file was left behind.

    ``url`` is the file's URL without its query (signed URLs carry credentials there); ``file``
    the path it was being saved to, if any. A refused or broken connection raises
    :class:`~fal_typed.FalConnectionError`, an error status the typed
    :class:`~fal_typed.FalHTTPError` and running out of ``Limits.download_timeout``
    :class:`~fal_typed.FalTimeoutError` instead, each naming the URL too.
    """

    def __init__(
        self, url: str, reason: str, *, file: str | None = None, error_type: str = "download_failed"
    ) -> None:
        self.url = url
        self.file = file
        self.reason = reason
        target = f" to {file}" if file else ""
        super().__init__(f"download of {url}{target} failed: {reason}", error_type=error_type)


def describe(exc: BaseException) -> str:
    """A one-line account of ``exc`` for an :class:`UploadError` reason."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_final(exc: BaseException) -> bool:
    """Whether a failure must surface as is, with no fallback: it is the caller's, not the transfer's.

    A changed or unreadable source, missing or refused credentials, a bad argument: another
    flow would fail the same way. An expired ``client_timeout`` leaves no time for one.
    """
    return isinstance(
        exc,
        (
            UploadError,
            FileInputError,
            FalTimeoutError,
            MissingCredentialsError,
            AuthenticationError,
            InvalidArgumentError,
        ),
    )


def read_failure(label: str, exc: OSError) -> UploadError:
    return UploadError(label, f"cannot read the source: {describe(exc)}")


def transfer_failure(
    label: str, cdn_error: BaseException, fallback_error: BaseException | None
) -> UploadError:
    """The error of an upload whose CDN flow (and fallback, if tried) failed."""
    if fallback_error is None:
        return UploadError(label, describe(cdn_error))
    return UploadError(
        label, f"CDN upload: {describe(cdn_error)}; fallback upload: {describe(fallback_error)}"
    )
