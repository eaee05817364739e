"""A changelog as text (a terminal), Markdown (a pull request, a package page) or JSON (tools).

Endpoints come most severe first, and each one's changes are grouped by impact in the same
order, so the breaking ones are read first. Description changes are counted rather than listed
unless ``docs=True``: a refresh of the whole catalog changes hundreds of descriptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from ._changelog import Changelog
from ._diff import Change, EndpointDiff, Impact

__all__ = ["endpoint_markdown", "render_json", "render_markdown", "render_text", "summary_line"]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _ordered(changelog: Changelog) -> list[EndpointDiff]:
    def key(diff: EndpointDiff) -> tuple[int, str]:
        impact = diff.impact
        return (len(Impact) if impact is None else impact.rank, diff.endpoint_id)

    return sorted(changelog.endpoints, key=key)


def _tag(diff: EndpointDiff) -> str:
    if diff.status == "added":
        return "new endpoint"
    if diff.status == "removed":
        return "removed: breaking for callers and readers"
    impact = diff.impact
    if impact is None:
        return "patch: the document changed, the API did not"
    return f"{diff.bump}: {impact.label}"


def summary_line(changelog: Changelog) -> str:
    """``3 endpoints changed (1 added, 0 removed), 1045 unchanged: 1 breaking for callers...``"""
    added = sum(1 for d in changelog.endpoints if d.status == "added")
    removed = sum(1 for d in changelog.endpoints if d.status == "removed")
    head = (
        f"{_plural(len(changelog.endpoints), 'endpoint')} changed "
        f"({added} added, {removed} removed), {changelog.unchanged} unchanged"
    )
    counts = [f"{changelog.count(i)} {i.label}" for i in Impact if changelog.count(i)]
    return head + (": " + ", ".join(counts) if counts else "")


def _groups(diff: EndpointDiff, docs: bool) -> Iterator[tuple[Impact, Sequence[Change] | int]]:
    """Each impact present, with its changes (or, for hidden description changes, a count)."""
    for impact in Impact:
        changes = diff.by_impact(impact)
        if not changes or diff.status != "changed":
            continue
        yield impact, (changes if docs or impact is not Impact.DOCS else len(changes))


def render_text(changelog: Changelog, *, docs: bool = False, limit: int | None = None) -> str:
    """A plain-text changelog for a terminal (at most ``limit`` changes per endpoint listed)."""
    lines = [f"{changelog.old} -> {changelog.new}", summary_line(changelog)]
    for diff in _ordered(changelog):
        lines += ["", f"{diff.endpoint_id}  [{_tag(diff)}]"]
        shown = 0
        for impact, changes in _groups(diff, docs):
            if isinstance(changes, int):
                hint = "fal-typed diff --docs lists them"
                lines.append(f"  {impact.label}: {_plural(changes, 'change')} ({hint})")
                continue
            lines.append(f"  {impact.label}:")
            room = len(changes) if limit is None else max(0, limit - shown)
            lines += [f"    - {change.message}" for change in changes[:room]]
            shown += min(room, len(changes))
            if room < len(changes):
                hidden = sum(len(c) for _, c in _groups(diff, docs) if not isinstance(c, int))
                hidden -= shown
                lines.append(
                    f"    ... and {hidden} more (fal-typed diff -e {diff.endpoint_id} lists them)"
                )
                break
    for name, why in changelog.errors:
        lines += ["", f"error: {name}: {why}"]
    return "\n".join(lines) + "\n"


def _markdown_groups(diff: EndpointDiff, docs: bool) -> list[str]:
    lines: list[str] = []
    for impact, changes in _groups(diff, docs):
        title = impact.label[0].upper() + impact.label[1:]
        if isinstance(changes, int):
            lines += ["", f"*{title}: {_plural(changes, 'change')}.*"]
            continue
        lines += ["", f"**{title}**", ""]
        lines += [f"- {change.message}" for change in changes]
    return lines


def endpoint_markdown(diff: EndpointDiff, *, docs: bool = True, limit: int | None = None) -> str:
    """One endpoint's changes as Markdown bullets grouped by impact (at most ``limit`` bullets)."""
    lines = _markdown_groups(diff, docs)
    bullets = [i for i, line in enumerate(lines) if line.startswith("- ")]
    if limit is not None and len(bullets) > limit:
        cut = bullets[limit]
        hidden = len(bullets) - limit
        lines = [*lines[:cut], f"- ... and {_plural(hidden, 'more change')}."]
    return "\n".join(lines).strip("\n")


def render_markdown(changelog: Changelog, *, docs: bool = False, level: int = 2) -> str:
    """A Markdown changelog (``level`` is the heading level of its title)."""
    heading = "#" * level
    lines = [
        f"{heading} Schema changes",
        "",
        f"`{changelog.old}` -> `{changelog.new}`: {summary_line(changelog)}.",
    ]
    for diff in _ordered(changelog):
        lines += ["", f"{heading}# `{diff.endpoint_id}` ({_tag(diff)})"]
        body = endpoint_markdown(diff, docs=docs)
        if body:
            lines += ["", body]
    if changelog.errors:
        lines += ["", f"{heading}# Documents that could not be compared", ""]
        lines += [f"- `{name}`: {why}" for name, why in changelog.errors]
    return "\n".join(lines) + "\n"


def render_json(changelog: Changelog) -> str:
    """The changelog as indented JSON (every change, descriptions included)."""
    return json.dumps(changelog.to_json(), indent=2, ensure_ascii=False) + "\n"
