"""Changelogs of whole folders and git revisions, and their text, Markdown and JSON forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fal_typed.catalog import (
    Impact,
    diff_folders,
    diff_since,
    render_json,
    render_markdown,
    render_text,
)
from fal_typed.catalog._changelog import Snapshot
from fal_typed.catalog._git import GitError, document_history, documents_at, uncommitted

from .documents import commit, document, git, init_repo, write

STRING = {"type": "string"}


def _variant(endpoint_id: str, **changes: object) -> dict[str, object]:
    properties: dict[str, object] = {"prompt": STRING, "steps": {"type": "integer", "default": 28}}
    properties.update(changes)
    return document(
        {k: v for k, v in properties.items() if v is not None},
        input_required=["prompt"],
        endpoint_id=endpoint_id,
    )


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        write(folder, _variant("fal-ai/same"))
    write(old, _variant("fal-ai/defaults"))
    write(new, _variant("fal-ai/defaults", steps={"type": "integer", "default": 50}))
    write(old, _variant("fal-ai/breaks"))
    write(new, _variant("fal-ai/breaks", steps=None))
    write(old, _variant("fal-ai/retired"))
    write(new, _variant("fal-ai/brand-new"))
    write(old, document(about="Old words.", endpoint_id="fal-ai/docs"))
    write(new, document(about="New words.", endpoint_id="fal-ai/docs"))
    (new / "fal-ai__broken.json").write_text("{not json", encoding="utf-8")
    (old / "fal-ai__broken.json").write_text("{}", encoding="utf-8")
    return old, new


def test_two_folders(folders: tuple[Path, Path]) -> None:
    changelog = diff_folders(*folders)
    status = {d.endpoint_id: (d.status, d.impact, d.bump) for d in changelog.endpoints}
    assert status == {
        "fal-ai/breaks": ("changed", Impact.BREAKING_CALLERS, "major"),
        "fal-ai/brand-new": ("added", Impact.COMPATIBLE, "minor"),
        "fal-ai/defaults": ("changed", Impact.BEHAVIOUR, "minor"),
        "fal-ai/docs": ("changed", Impact.DOCS, "patch"),
        "fal-ai/retired": ("removed", Impact.BREAKING_CALLERS, "major"),
    }
    assert changelog.unchanged == 1
    assert changelog.errors[0][0] == "fal-ai__broken.json"
    assert changelog.impact is Impact.BREAKING_CALLERS
    assert changelog.count(Impact.BREAKING_CALLERS) == 2
    kept = changelog.select(["fal-ai/docs"])
    assert [d.endpoint_id for d in kept.endpoints] == ["fal-ai/docs"]
    only = diff_folders(*folders, keep=lambda endpoint_id: endpoint_id == "fal-ai/defaults")
    assert [d.endpoint_id for d in only.endpoints] == ["fal-ai/defaults"]


def test_text_lists_the_most_severe_first_and_counts_description_changes(
    folders: tuple[Path, Path],
) -> None:
    text = render_text(diff_folders(*folders))
    lines = text.splitlines()
    assert lines[1] == (
        "5 endpoints changed (1 added, 1 removed), 1 unchanged: 2 breaking for callers, "
        "1 behaviour change without code change, 1 compatible, 1 docs only"
    )
    order = [line.split()[0] for line in lines if line.startswith("fal-ai/")]
    assert order == [
        "fal-ai/breaks",
        "fal-ai/retired",
        "fal-ai/defaults",
        "fal-ai/brand-new",
        "fal-ai/docs",
    ]
    assert "fal-ai/breaks  [major: breaking for callers]" in lines
    assert "    - input field `steps` removed (was integer)" in lines
    assert "  docs only: 1 change (fal-typed diff --docs lists them)" in lines
    assert "    - endpoint description changed" in render_text(diff_folders(*folders), docs=True)
    assert lines[-1].startswith("error: fal-ai__broken.json: not a readable JSON document")


def test_markdown_and_json(folders: tuple[Path, Path]) -> None:
    changelog = diff_folders(*folders)
    markdown = render_markdown(changelog)
    assert markdown.startswith("## Schema changes\n")
    assert "### `fal-ai/defaults` (minor: behaviour change without code change)" in markdown
    assert (
        "**Behaviour change without code change**\n\n- input `steps`: default changed from 28 to 50"
        in markdown
    )
    assert "### Documents that could not be compared" in markdown
    data = json.loads(render_json(changelog))
    assert data["summary"] == {
        "added": 1,
        "removed": 1,
        "changed": 3,
        "unchanged": 1,
        "breaking-callers": 2,
        "breaking-readers": 0,
        "behaviour": 1,
        "compatible": 1,
        "docs": 1,
    }
    docs = next(e for e in data["endpoints"] if e["endpoint_id"] == "fal-ai/docs")
    assert docs["changes"][0]["old"] == "Old words." and docs["changes"][0]["new"] == "New words."


def test_a_folder_against_a_git_revision(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    schemas = repo / "schemas"
    write(schemas, _variant("fal-ai/a"))
    write(schemas, _variant("fal-ai/b"))
    (schemas / "README.md").write_text("not a document", encoding="utf-8")
    first = commit(repo, "schemas", 1_700_000_000)
    write(schemas, _variant("fal-ai/a", seed={"type": "integer"}))
    second = commit(repo, "fal-ai/a gets a seed", 1_700_086_400)
    (schemas / "fal-ai__b.json").unlink()

    since_first = diff_since(schemas, first)
    assert {d.endpoint_id: d.status for d in since_first.endpoints} == {
        "fal-ai/a": "changed",
        "fal-ai/b": "removed",
    }
    since_head = diff_since(schemas, "HEAD")
    assert [(d.endpoint_id, d.status) for d in since_head.endpoints] == [("fal-ai/b", "removed")]
    assert since_head.old == f"{schemas} at HEAD"
    assert set(documents_at(schemas, first)) == {"fal-ai__a.json", "fal-ai__b.json"}
    assert uncommitted(schemas) == {"fal-ai__b.json"}

    history = document_history(schemas)
    assert [(r.commit, r.time) for r in history["fal-ai__a.json"]] == [
        (first, 1_700_000_000),
        (second, 1_700_086_400),
    ]
    assert [r.commit for r in history["fal-ai__b.json"]] == [first]
    with pytest.raises(GitError, match="unknown revision 'v9'"):
        diff_since(schemas, "v9")
    with pytest.raises(GitError):
        diff_since(tmp_path, "HEAD")  # not a repository


def test_history_follows_the_first_parent_and_records_deletions(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    schemas = repo / "schemas"
    write(schemas, _variant("fal-ai/a"))
    base = commit(repo, "a", 1_700_000_000)
    git(repo, "checkout", "-q", "-b", "side")
    write(schemas, _variant("fal-ai/a", x=STRING))
    commit(repo, "side 1", 1_700_000_100)
    write(schemas, _variant("fal-ai/a", x=STRING, y=STRING))
    commit(repo, "side 2", 1_700_000_200)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "side", when=1_700_000_300)
    merge = git(repo, "rev-parse", "HEAD").strip()
    (schemas / "fal-ai__a.json").unlink()
    gone = commit(repo, "remove a", 1_700_000_400)

    revisions = document_history(schemas)["fal-ai__a.json"]
    assert [r.commit for r in revisions] == [base, merge, gone]  # the side commits fold in
    assert revisions[-1].blob is None


def test_a_snapshot_says_what_a_rewrite_changed(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    write(folder, _variant("fal-ai/a"))
    write(folder, _variant("fal-ai/b"))
    snapshot = Snapshot.take(folder)
    write(folder, _variant("fal-ai/a", prompt={"type": "integer"}))
    write(folder, _variant("fal-ai/c"))
    changelog = snapshot.changelog()
    assert {d.endpoint_id: d.status for d in changelog.endpoints} == {
        "fal-ai/a": "changed",
        "fal-ai/c": "added",
    }
    assert [d.endpoint_id for d in snapshot.changelog(["fal-ai__c.json"]).endpoints] == ["fal-ai/c"]
    empty = Snapshot.take(tmp_path / "missing")
    assert empty.documents == {} and empty.changelog().endpoints == ()


def test_a_new_text_with_the_same_json_is_a_change_with_nothing_visible(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    doc = _variant("fal-ai/a")
    write(old, doc)
    (new / "fal-ai__a.json").parent.mkdir()
    (new / "fal-ai__a.json").write_text(json.dumps(doc, indent=4), encoding="utf-8")
    (diff,) = diff_folders(old, new).endpoints
    assert (diff.status, diff.changes, diff.bump) == ("changed", (), "patch")
    assert "fal-ai/a  [patch: the document changed, the API did not]" in render_text(
        diff_folders(old, new)
    )


def test_text_can_list_a_few_changes_per_endpoint(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    write(old, _variant("fal-ai/a", a=STRING, b=STRING, c=STRING))
    write(new, _variant("fal-ai/a", steps={"type": "integer", "default": 3}, d=STRING))
    text = render_text(diff_folders(old, new), limit=2)
    assert "    - input field `a` removed (was string)" in text
    assert "    - input field `b` removed (was string)" in text
    assert "input field `c` removed" not in text
    assert "    ... and 3 more (fal-typed diff -e fal-ai/a lists them)" in text
    assert "compatible:" not in text  # the groups after the cut are left out
    assert "input field `c` removed" in render_text(diff_folders(old, new))
