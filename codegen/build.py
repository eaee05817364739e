"""One document through load -> normalise -> plan -> render: the unit of work of the process pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fal_typed.catalog._corpus import document_filename

from .diagnostics import Diagnostic, DocumentError
from .load import read_document
from .normalise import normalise
from .plan import plan
from .render import IndexEntry, index_entry, render_module
from .source_text import Unwritable

__all__ = ["BuildResult", "build"]


@dataclass
class BuildResult:
    """The unformatted sources of one document's member package (file name -> text; None if the
    document is broken) and findings."""

    source: str
    module: str | None = None
    files: dict[str, str] | None = None
    index: IndexEntry | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def build(path: Path) -> BuildResult:
    """Build one document; any failure is reported as an error of that document, never raised."""
    result = BuildResult(source=path.name)
    try:
        document = read_document(path)
        normalised = normalise(document.data)
        _check_file_name(normalised.metadata.endpoint_id, path.name)
        planned = plan(normalised, document.source)
        files, model_warnings = render_module(planned)
    except (DocumentError, Unwritable) as exc:
        result.diagnostics.append(Diagnostic(path.name, "error", str(exc)))
        return result
    except Exception as exc:  # a generator bug on one document must not stop the others
        result.diagnostics.append(
            Diagnostic(path.name, "error", f"internal error: {type(exc).__name__}: {exc}")
        )
        return result
    result.module, result.files, result.index = planned.module, files, index_entry(planned)
    for message in (*planned.warnings, *model_warnings):
        result.diagnostics.append(Diagnostic(path.name, "warning", message))
    return result


def _check_file_name(endpoint_id: str, file_name: str) -> None:
    """A document lives in the file its id names (as ``fal-typed fetch`` writes it): one that
    names another id did not come from fetching it, and must not stand in for it."""
    expected = document_filename(endpoint_id)
    if file_name != expected:
        raise DocumentError(f"the document of {endpoint_id} belongs in {expected}, not here")
