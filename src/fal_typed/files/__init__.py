"""Files: local inputs uploaded to fal's storage, and output files read or saved.

``upload`` / ``upload_async`` send bytes, a file or a PIL image to fal's storage and return its
URL; every generated call does the same for local files in its file fields (``FileInput``).
Output models describing a file derive from ``FileOutput`` (``read``/``save`` and async twins).

The parts: ``_input`` / ``_output`` (the types), ``_upload`` (the public calls), ``_source``
(reading), ``_protocol`` (the wire format, no I/O), ``_sync`` / ``_async`` (the flows),
``_token`` (the CDN token cache), ``_retry``, ``_settings``, ``_lifecycle``, ``_mime``,
``_arguments`` (local files inside call arguments), ``_local`` (local files a caller names:
regular files of a bounded size), ``_data_uri``, ``_download`` (bounded by the client's
``Limits``), ``_save`` (atomic saves), ``_names`` (safe names for server-chosen ones), ``_errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._data_uri import decode_data_uri, encode, encode_file
    from ._errors import DownloadError, FileInputError, UploadError
    from ._input import FileInput
    from ._lifecycle import AccessRule, ExpiresIn, Lifecycle
    from ._output import FileOutput
    from ._settings import UploadSettings, configure_uploads, upload_settings
    from ._upload import UploadData, upload, upload_async

__all__ = [
    "AccessRule",
    "DownloadError",
    "ExpiresIn",
    "FileInput",
    "FileInputError",
    "FileOutput",
    "Lifecycle",
    "UploadData",
    "UploadError",
    "UploadSettings",
    "configure_uploads",
    "decode_data_uri",
    "encode",
    "encode_file",
    "upload",
    "upload_async",
    "upload_settings",
]

#: Public name -> the module defining it: loaded on first use (PEP 562), so importing the
#: package (as every endpoint module does) costs only what a caller uses.
_LAZY: Final[dict[str, str]] = {
    "decode_data_uri": "._data_uri",
    "encode": "._data_uri",
    "encode_file": "._data_uri",
    "DownloadError": "._errors",
    "FileInputError": "._errors",
    "UploadError": "._errors",
    "FileInput": "._input",
    "AccessRule": "._lifecycle",
    "ExpiresIn": "._lifecycle",
    "Lifecycle": "._lifecycle",
    "FileOutput": "._output",
    "UploadSettings": "._settings",
    "configure_uploads": "._settings",
    "upload_settings": "._settings",
    "UploadData": "._upload",
    "upload": "._upload",
    "upload_async": "._upload",
}


__getattr__: Callable[[str], Any]
__dir__: Callable[[], list[str]]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
