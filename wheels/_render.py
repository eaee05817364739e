"""Render wheel metadata and READMEs from ``templates/wheel/``.

Templates hold the wording; this module makes values safe for where they land: core-metadata
header values must be one line, Markdown table cells must not contain ``|`` or line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from fal_typed.catalog._render import endpoint_markdown

from ._sources import EndpointSource, InputField
from ._versions import EndpointHistory, Release

__all__ = [
    "CLASSIFIERS",
    "Metadata",
    "changelog_markdown",
    "endpoint_readme",
    "endpoint_summary",
    "entry_points_txt",
    "metadata_file",
    "umbrella_readme",
    "wheel_file",
]

CLASSIFIERS = (
    "Intended Audience :: Developers",
    "Operating System :: OS Independent",
    "Programming Language :: Python :: 3",
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Typing :: Typed",
)
_SUMMARY_LIMIT = 200
_DEFAULT_LIMIT = 60
_CHANGELOG_RELEASES = 20
_CHANGES_PER_RELEASE = 40
_WHITESPACE = re.compile(r"\s+")


@cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
    )


def _render(templates_dir: Path, template: str, values: Mapping[str, Any]) -> str:
    return _environment(templates_dir.resolve()).get_template(template).render(values)


def header(value: str) -> str:
    """One line of text for a core-metadata header (folds every run of whitespace)."""
    line = _WHITESPACE.sub(" ", value).strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in line):
        raise ValueError(f"metadata value {value!r} contains control characters")
    return line


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "..."


def _cell(text: str) -> str:
    return header(text).replace("\\", "\\\\").replace("|", "\\|")


def _code(text: str) -> str:
    """Inline Markdown code that survives backticks in ``text``."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass(frozen=True)
class Metadata:
    """The fields of a ``METADATA`` file (core metadata 2.4)."""

    name: str
    version: str
    summary: str
    license: str
    requires_python: str
    description: str
    requires: Sequence[str] = ()
    extras: Sequence[str] = ()
    keywords: Sequence[str] = ()
    links: Sequence[tuple[str, str]] = ()
    classifiers: Sequence[str] = CLASSIFIERS


def metadata_file(templates_dir: Path, metadata: Metadata) -> bytes:
    """Render ``METADATA``; every header value is checked to be a single line."""
    values: dict[str, Any] = {
        "name": header(metadata.name),
        "version": header(metadata.version),
        "summary": header(metadata.summary),
        "license": header(metadata.license),
        "requires_python": header(metadata.requires_python),
        "requires": [header(r) for r in metadata.requires],
        "extras": [header(e) for e in metadata.extras],
        "keywords": [header(k).replace(",", " ") for k in metadata.keywords],
        "links": [(header(label).replace(",", " "), header(url)) for label, url in metadata.links],
        "classifiers": [header(c) for c in metadata.classifiers],
        "description": metadata.description,
    }
    return _render(templates_dir, "METADATA.j2", values).encode("utf-8")


def wheel_file(templates_dir: Path, generator: str, tag: str = "py3-none-any") -> bytes:
    """Render the ``WHEEL`` file of a pure-Python wheel."""
    return _render(templates_dir, "WHEEL.j2", {"generator": header(generator), "tag": tag}).encode(
        "utf-8"
    )


def entry_points_txt(groups: Mapping[str, Mapping[str, str]]) -> bytes:
    """``entry_points.txt`` with groups and names sorted (an INI file, written by hand)."""
    blocks: list[str] = []
    for group in sorted(groups):
        lines = [f"[{group}]"] + [
            f"{name} = {header(target)}" for name, target in sorted(groups[group].items())
        ]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks).encode("utf-8")


def endpoint_summary(source: EndpointSource) -> str:
    """The one-line ``Summary``: the endpoint id and the first paragraph of its description."""
    about = header(source.about.split("\n\n", 1)[0]) if source.about else ""
    text = f"Typed fal.ai client for {source.endpoint_id}" + (f": {about}" if about else "")
    return _shorten(text, _SUMMARY_LIMIT)


def _input_row(field: InputField) -> dict[str, Any]:
    default = _code(_shorten(field.default, _DEFAULT_LIMIT)) if field.default is not None else ""
    return {
        "name": field.name,
        "required": field.required,
        "default": _cell(default),
        "description": _cell(field.description.split("\n\n", 1)[0]),
    }


def _date(time: int | None) -> str:
    if time is None:
        return "not committed yet"
    return datetime.fromtimestamp(time, tz=timezone.utc).strftime("%Y-%m-%d")


def _release_notes(release: Release, runtime_name: str) -> str:
    if release.kind == "first":
        return "First version."
    if release.unreadable:
        return "The schema changed, but a revision of it is not valid JSON: counted as breaking."
    if release.diff is None:
        return f"Generated with {runtime_name} {release.runtime}; the schema did not change."
    body = endpoint_markdown(release.diff, docs=True, limit=_CHANGES_PER_RELEASE)
    return body or "The schema's text changed; its API did not."


def changelog_markdown(history: EndpointHistory, runtime_name: str) -> str:
    """Each release of an endpoint wheel, newest first: when, and what changed."""
    releases = list(reversed(history.releases))
    sections = [
        f"### {release.version} ({_date(release.time)})\n\n{_release_notes(release, runtime_name)}"
        for release in releases[:_CHANGELOG_RELEASES]
    ]
    if len(releases) > _CHANGELOG_RELEASES:
        sections.append(f"... and {len(releases) - _CHANGELOG_RELEASES} older versions.")
    return "\n\n".join(sections)


def endpoint_readme(
    templates_dir: Path,
    source: EndpointSource,
    *,
    name: str,
    version: str,
    runtime_name: str,
    runtime_version: str,
    runtime_requirement: str,
    schema_time: int,
    history: EndpointHistory,
) -> str:
    """The endpoint wheel's README (also its PyPI long description), with its changelog."""
    major, minor, _ = version.split(".")
    links = dict(source.links)
    required = [f.name for f in source.inputs if f.required]
    committed = datetime.fromtimestamp(schema_time, tz=timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    return _render(
        templates_dir,
        "endpoint_README.md.j2",
        {
            "name": name,
            "version": version,
            "endpoint_id": source.endpoint_id,
            "module": source.module,
            "about": source.about,
            "category": source.category,
            "playground": links.get("Playground"),
            "links": source.links,
            "inputs": [_input_row(f) for f in source.inputs],
            "example_arguments": ", ".join(f"{n}=..." for n in required),
            "runtime_name": runtime_name,
            "runtime_version": runtime_version,
            "runtime_requirement": runtime_requirement,
            "schema_file": source.schema_path.name,
            "schema_sha256": source.schema_sha256,
            "schema_time": committed,
            "changelog": changelog_markdown(history, runtime_name),
            "compatible_pin": f"{name}~={major}.{minor}",
            "patch_pin": f"{name}~={major}.{minor}.0",
        },
    )


def umbrella_readme(
    templates_dir: Path,
    *,
    name: str,
    runtime_name: str,
    runtime_requirement: str,
    endpoints: Sequence[Mapping[str, str]],
) -> str:
    """The umbrella wheel's README: what it pulls in, and the table of endpoints."""
    rows = [{k: _cell(v) for k, v in e.items()} for e in endpoints]
    return _render(
        templates_dir,
        "umbrella_README.md.j2",
        {
            "name": name,
            "runtime_name": runtime_name,
            "runtime_requirement": runtime_requirement,
            "endpoints": rows,
        },
    )
