"""The catalog: fal's endpoint OpenAPI documents, fetched from fal and kept in a folder.

The command line (``fal-typed fetch``, ``list``, ``call``, ``diff``), the generator and the
local server all read the same folder of documents (``schemas/``) through ``_corpus``; ``_fetch``
refreshes it from fal's catalog or one endpoint at a time; ``_diff`` says what a new revision of
a document changes for code, ``_changelog`` does so for whole folders or git revisions.
"""

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
