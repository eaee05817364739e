"""``fal-typed diff`` in a subprocess: documents, folders, git revisions; formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from ..catalog.documents import commit, document, init_repo, write
from .helpers import SCHEMAS, LocalServer, run_cli

HISTORY = Path(__file__).resolve().parents[1] / "catalog" / "data" / "history-2026-01-28"
STRING = {"type": "string"}


def _doc(endpoint_id: str = "fal-ai/example", **properties: object) -> dict[str, object]:
    return document(
        {"prompt": STRING, **properties}, input_required=["prompt"], endpoint_id=endpoint_id
    )


def test_two_documents_as_text_markdown_and_json(tmp_path: Path) -> None:
    old = write(tmp_path / "old", _doc(steps={"type": "integer", "default": 28}))
    new = write(tmp_path / "new", _doc(steps={"type": "integer", "default": 50}, seed=STRING))

    run = run_cli("diff", str(old), str(new))
    assert run.returncode == 0, run.stderr
    assert "fal-ai/example  [minor: behaviour change without code change]" in run.stdout
    assert "    - input `steps`: default changed from 28 to 50" in run.stdout
    assert "    - input field `seed` added (string, optional)" in run.stdout

    markdown = run_cli("diff", str(old), str(new), "--format", "markdown").stdout
    assert markdown.startswith("## Schema changes\n")
    data = json.loads(run_cli("diff", str(old), str(new), "-f", "json").stdout)
    assert [e["bump"] for e in data["endpoints"]] == ["minor"]

    same = run_cli("diff", str(old), str(old))
    assert same.returncode == 0 and "0 endpoints changed" in same.stdout


def test_fail_on_sets_the_exit_status(tmp_path: Path) -> None:
    old = write(tmp_path / "old", _doc(style=STRING))
    new = write(tmp_path / "new", _doc())
    assert run_cli("diff", str(old), str(new), "--fail-on", "breaking").returncode == 1
    defaults = write(tmp_path / "defaults", _doc(style={"type": "string", "default": "x"}))
    assert run_cli("diff", str(old), str(defaults), "--fail-on", "breaking").returncode == 0
    assert run_cli("diff", str(old), str(defaults), "--fail-on", "behaviour").returncode == 1


def test_two_folders_and_an_endpoint_filter(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    write(old, _doc("fal-ai/a"))
    write(new, _doc("fal-ai/a", seed={"type": "integer"}))
    write(old, _doc("fal-ai/b"))
    write(new, _doc("fal-ai/c"))
    run = run_cli("diff", str(old), str(new))
    assert run.returncode == 0, run.stderr
    assert "3 endpoints changed (1 added, 1 removed), 0 unchanged" in run.stdout
    only = run_cli("diff", str(old), str(new), "-e", "fal-ai/c", "--format", "json")
    assert [e["endpoint_id"] for e in json.loads(only.stdout)["endpoints"]] == ["fal-ai/c"]


def test_since_a_git_revision_and_the_default_since_head(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    schemas = repo / "schemas"
    write(schemas, _doc(style=STRING))
    commit(repo, "schemas", 1_700_000_000)
    write(schemas, _doc())

    run = run_cli("diff", "--since", "HEAD", "--schemas", str(schemas))
    assert run.returncode == 0, run.stderr
    assert "input field `style` removed" in run.stdout
    assert run_cli("diff", cwd=repo).stdout == run.stdout.replace(str(schemas), "schemas")

    unknown = run_cli("diff", "--since", "v0.0.1", "--schemas", str(schemas))
    assert unknown.returncode == 2 and "unknown revision 'v0.0.1'" in unknown.stderr
    outside = run_cli("diff", "--since", "HEAD", "--schemas", str(tmp_path))
    assert outside.returncode == 2 and "cannot read" in outside.stderr


def test_usage_errors(tmp_path: Path) -> None:
    doc = write(tmp_path / "docs", _doc())
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2", encoding="utf-8")
    cases = [
        (("diff", str(doc)), "give both OLD and NEW"),
        (("diff", str(doc), str(tmp_path / "nope.json")), "does not exist"),
        (("diff", str(doc), str(tmp_path / "docs")), "both be documents or both be folders"),
        (("diff", str(doc), str(bad)), "is not a JSON document"),
        (("diff", str(doc), str(doc), "--since", "HEAD"), "not both"),
    ]
    for args, message in cases:
        run = run_cli(*args)
        assert run.returncode == 2 and message in run.stderr, (args, run.stderr)


def test_a_real_pair_from_the_history() -> None:
    name = "fal-ai__flux__dev.json"
    run = run_cli("diff", str(HISTORY / name), str(SCHEMAS / name), "--docs")
    assert run.returncode == 0, run.stderr
    assert "fal-ai/flux/dev  [major: breaking for readers]" in run.stdout
    assert (
        "output `images[].content_type`: type widened from string to string | None "
        "(null is now allowed)"
    ) in run.stdout


def test_fetch_ends_with_what_it_changed_for_code(server: LocalServer, tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    target.mkdir()
    january = HISTORY / "fal-ai__flux__dev.json"
    (target / january.name).write_bytes(january.read_bytes())
    ids = ["fal-ai/flux/dev", "fal-ai/demucs"]

    run = run_cli("fetch", *ids, "--schemas", str(target), "--base-url", server.base_url)

    assert run.returncode == 0, run.stderr
    report, changelog = run.stderr.split("What changed for code:\n")
    assert "added 1, changed 1, removed 0, unchanged 0" in report
    assert changelog.splitlines()[0] == (
        "2 endpoints changed (1 added, 0 removed), 0 unchanged: 1 breaking for readers, "
        "1 compatible"
    )
    assert "fal-ai/flux/dev  [major: breaking for readers]" in changelog
    assert "output `images[].content_type`: type widened from string" in changelog
    assert "fal-ai/demucs  [new endpoint]" in changelog
    assert run.stdout == ""

    again = run_cli("fetch", *ids, "--schemas", str(target), "--base-url", server.base_url)
    assert again.returncode == 0 and "What changed for code" not in again.stderr
    # into an empty folder everything is new: the report says so, no changelog repeats it
    first = run_cli(
        "fetch", *ids, "--schemas", str(tmp_path / "new"), "--base-url", server.base_url
    )
    assert first.returncode == 0 and "What changed for code" not in first.stderr


def test_the_example_in_the_docs_is_what_the_command_prints(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "schema-changes.md").read_text()
    block = doc.split("```console\n$ fal-typed diff old new\n", 1)[1].split("```", 1)[0]
    for name in (
        "fal-ai__flux__dev.json",
        "fal-ai__fast-sdxl-controlnet-canny.json",
        "fal-ai__stable-audio.json",
        "cassetteai__music-generator.json",
    ):
        for side, source in (("old", HISTORY), ("new", SCHEMAS)):
            (tmp_path / side).mkdir(exist_ok=True)
            (tmp_path / side / name).write_bytes((source / name).read_bytes())
    assert run_cli("diff", "old", "new", cwd=tmp_path).stdout == block
