"""``fal-typed diff``: what changed between two revisions of endpoint documents, for code.

Two documents, two folders, or the schemas folder against a git revision (``--since``; with no
arguments, ``--since HEAD``: what the last fetch changed). The changelog goes to stdout as text,
Markdown or JSON. Exit status: 0; 1 when ``--fail-on`` is reached or a document of a folder could
not be compared (the changelog lists it); 2 for bad usage (a missing path, an unknown revision,
an unreadable document given by name), with the reason on stderr.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from .._printable import printable
from ..catalog._changelog import Changelog, Snapshot, diff_folders, diff_since
from ..catalog._diff import Impact, diff_documents, endpoint_id_of
from ..catalog._generated import built_from, regeneration_changelog
from ..catalog._git import GitError
from ..catalog._render import render_markdown, render_text
from ._streams import json_text

__all__ = [
    "Format",
    "Threshold",
    "diff",
    "print_changelog",
    "print_fetch_changelog",
    "print_refresh_changelog",
    "print_regeneration_changelog",
]


class Format(str, enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


class Threshold(str, enum.Enum):
    """``--fail-on``: the least severe impact that makes the command exit 1."""

    breaking = "breaking"
    behaviour = "behaviour"
    compatible = "compatible"
    docs = "docs"


_REFRESH_LIMIT = 12
"""Changes listed per endpoint at the end of fetch and generate (``fal-typed diff`` lists all)."""

_THRESHOLD_RANK = {
    Threshold.breaking: Impact.BREAKING_READERS.rank,
    Threshold.behaviour: Impact.BEHAVIOUR.rank,
    Threshold.compatible: Impact.COMPATIBLE.rank,
    Threshold.docs: Impact.DOCS.rank,
}


def _usage(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]Error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(2)


def _load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise _usage(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _usage(f"{path} is not a JSON document ({exc})") from None
    if not isinstance(document, dict):
        raise _usage(f"{path} is not a JSON object")
    return document  # pyright: ignore[reportUnknownVariableType]


def _two_documents(old: Path, new: Path) -> Changelog:
    old_doc, new_doc = _load(old), _load(new)
    endpoint = endpoint_id_of(new_doc) or endpoint_id_of(old_doc) or new.stem.replace("__", "/")
    result = diff_documents(old_doc, new_doc, endpoint_id=endpoint)
    kept = () if result.status == "unchanged" else (result,)
    return Changelog(str(old), str(new), kept, unchanged=0 if kept else 1)


def build_changelog(
    old: Path | None, new: Path | None, since: str | None, schemas: Path, endpoints: list[str]
) -> Changelog:
    """The changelog the arguments ask for (``typer.Exit(2)`` for bad usage)."""
    keep = set(endpoints).__contains__ if endpoints else None
    if since is not None or (old is None and new is None):
        if old is not None or new is not None:
            raise _usage("give OLD and NEW, or --since REV, not both")
        if not schemas.is_dir():
            raise _usage(f"{schemas} is not a directory (see --schemas)")
        try:
            return diff_since(schemas, since or "HEAD", keep=keep)
        except GitError as exc:
            raise _usage(f"cannot read {schemas} at {since or 'HEAD'}: {exc}") from None
    if old is None or new is None:
        raise _usage("give both OLD and NEW (two documents or two folders)")
    for path in (old, new):
        if not path.exists():
            raise _usage(f"{path} does not exist")
    if old.is_dir() != new.is_dir():
        raise _usage("OLD and NEW must both be documents or both be folders")
    if old.is_dir():
        return diff_folders(old, new, keep=keep)
    changelog = _two_documents(old, new)
    return changelog.select(endpoints) if endpoints else changelog


def print_changelog(changelog: Changelog, *, fmt: Format, docs: bool, console: Console) -> None:
    """Write the changelog in ``fmt`` to the console's file, unstyled."""
    if fmt is Format.json:  # ``\\uXXXX`` escapes where the stream's encoding lacks characters
        text = json_text(changelog.to_json(), console.file) + "\n"
    elif fmt is Format.markdown:
        text = render_markdown(changelog, docs=docs)
    else:
        text = render_text(changelog, docs=docs)
    if fmt is not Format.json:  # names and values come from documents: no escape sequences
        text = printable(text, lines=True)
    console.file.write(text)
    console.file.flush()


def print_refresh_changelog(changelog: Changelog, console: Console) -> None:
    """What a refresh (``fetch``, ``generate``) changed for code, after its own report: the
    summary and the changes of each endpoint, most severe first (nothing if nothing changed)."""
    if not changelog.endpoints and not changelog.errors:
        return
    text = printable(render_text(changelog, limit=_REFRESH_LIMIT), lines=True)
    console.print()
    console.print("What changed for code:", style="bold", highlight=False)
    console.print(text.split("\n", 1)[1], markup=False, highlight=False, soft_wrap=True, end="")


def print_fetch_changelog(before: Snapshot, console: Console) -> None:
    """After ``fetch``: what it changed for code, against the folder as it was before (nothing
    when the folder held no documents: every one is new, and the report already says so)."""
    if before.documents:
        print_refresh_changelog(before.changelog(), console)


def print_regeneration_changelog(
    schemas: Path, out_dir: Path, before: Mapping[str, str], console: Console
) -> None:
    """After ``generate``: what the bindings now in ``out_dir`` change for code, compared with
    those built from the documents ``before`` (the previous manifest's hashes)."""
    after = built_from(out_dir)
    try:
        changelog = regeneration_changelog(schemas.resolve(), before, after)
    except GitError as exc:  # git vanished or broke mid-way: the bindings are written anyway
        console.print(f"(no changelog: {exc})", markup=False, highlight=False)
        return
    print_refresh_changelog(changelog, console)


def reached(changelog: Changelog, threshold: Threshold | None) -> bool:
    """Whether any change is at least as severe as ``threshold``."""
    impact = changelog.impact
    return (
        threshold is not None and impact is not None and impact.rank <= _THRESHOLD_RANK[threshold]
    )


def diff(
    old: Annotated[
        Path | None,
        typer.Argument(
            metavar="OLD", help="The old document or folder of documents.", show_default=False
        ),
    ] = None,
    new: Annotated[
        Path | None,
        typer.Argument(
            metavar="NEW", help="The new document or folder of documents.", show_default=False
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="REV",
            help="Compare the schemas folder at this git revision with the folder as it is now.",
            show_default=False,
        ),
    ] = None,
    schemas: Annotated[
        Path,
        typer.Option(
            "--schemas",
            envvar="FAL_TYPED_SCHEMAS",
            file_okay=False,
            help="The directory of endpoint documents (for --since).",
        ),
    ] = Path("schemas"),
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = Format.text,
    docs: Annotated[
        bool,
        typer.Option("--docs", help="List description changes too (text and Markdown count them)."),
    ] = False,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--endpoint",
            "-e",
            metavar="ID",
            help="Only this endpoint id (repeatable).",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        Threshold | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a change is this severe or more "
            "(breaking > behaviour > compatible > docs).",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show what changed for code between two revisions of endpoint documents.

    OLD NEW: two documents or two folders. --since REV: the schemas folder at a git revision
    against the folder now. No arguments: --since HEAD (what the last fetch changed). Each
    change is classified: breaking for callers, breaking for readers, behaviour change without
    code change (defaults), compatible, or docs only.
    """
    changelog = build_changelog(old, new, since, schemas, endpoint or [])
    print_changelog(changelog, fmt=fmt, docs=docs, console=Console(soft_wrap=True))
    if changelog.errors or reached(changelog, fail_on):
        raise typer.Exit(1)
