"""The catalog: fal's endpoint OpenAPI documents, fetched from fal and kept in a folder.

The command line (``fal-typed fetch``, ``list``, ``call``), the generator and the local server
all read the same folder of documents (``schemas/``) through ``_corpus``; ``_fetch`` refreshes
it from fal's catalog or one endpoint at a time.
"""

from ._corpus import DocumentInfo, document_filename, iter_document_paths, read_info
from ._fetch import FetchReport, FetchSettings, Outcome, fetch_catalog, fetch_endpoints

__all__ = [
    "DocumentInfo",
    "FetchReport",
    "FetchSettings",
    "Outcome",
    "document_filename",
    "fetch_catalog",
    "fetch_endpoints",
    "iter_document_paths",
    "read_info",
]
