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
