"""The catalog: fal's endpoint OpenAPI documents, fetched from fal and kept in a folder.

The command line (``fal-typed fetch``, ``list``, ``call``, ``diff``), the generator and the
local server all read the same folder of documents (``schemas/``) through ``_corpus``; ``_fetch``
refreshes it from fal's catalog or one endpoint at a time; ``_diff`` says what a new revision of
a document changes for code, ``_changelog`` does so for whole folders or git revisions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._changelog import Changelog, diff_document_sets, diff_folders, diff_since
    from ._corpus import DocumentInfo, document_filename, iter_document_paths, read_info
    from ._diff import Change, ChangeKind, EndpointDiff, Impact, diff_documents
    from ._fetch import FetchReport, FetchSettings, Outcome, fetch_catalog, fetch_endpoints
    from ._render import render_json, render_markdown, render_text

__all__ = [
    "Change",
    "ChangeKind",
    "Changelog",
    "DocumentInfo",
    "EndpointDiff",
    "FetchReport",
    "FetchSettings",
    "Impact",
    "Outcome",
    "diff_document_sets",
    "diff_documents",
    "diff_folders",
    "diff_since",
    "document_filename",
    "fetch_catalog",
    "fetch_endpoints",
    "iter_document_paths",
    "read_info",
    "render_json",
    "render_markdown",
    "render_text",
]

#: Public name -> the module defining it: loaded on first use (PEP 562), so importing the
#: package (as every endpoint module does) costs only what a caller uses.
_LAZY: Final[dict[str, str]] = {
    "Changelog": "._changelog",
    "diff_document_sets": "._changelog",
    "diff_folders": "._changelog",
    "diff_since": "._changelog",
    "DocumentInfo": "._corpus",
    "document_filename": "._corpus",
    "iter_document_paths": "._corpus",
    "read_info": "._corpus",
    "Change": "._diff",
    "ChangeKind": "._diff",
    "EndpointDiff": "._diff",
    "Impact": "._diff",
    "diff_documents": "._diff",
    "FetchReport": "._fetch",
    "FetchSettings": "._fetch",
    "Outcome": "._fetch",
    "fetch_catalog": "._fetch",
    "fetch_endpoints": "._fetch",
    "render_json": "._render",
    "render_markdown": "._render",
    "render_text": "._render",
}


__getattr__: Callable[[str], Any]
__dir__: Callable[[], list[str]]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
