"""``fal-typed generate`` in a subprocess: runs the generator and passes its summary through."""

from __future__ import annotations

import json
from pathlib import Path

from ..catalog.documents import commit, init_repo
from .helpers import REPO, copy_corpus, filename, run_cli

HISTORY = Path(__file__).resolve().parents[1] / "catalog" / "data" / "history-2026-01-28"


def test_generate_builds_the_modules_then_rewrites_only_what_changed(tmp_path: Path) -> None:
    schemas = copy_corpus(tmp_path / "schemas", ["fal-ai/flux/dev", "fal-ai/demucs"])
    out = tmp_path / "generated"

    first = run_cli(
        "generate", "--schemas", str(schemas), "--out", str(out), "--quiet", "--jobs", "1", cwd=REPO
    )

    assert first.returncode == 0, first.stderr
    assert "2 modules from 2 documents" in first.stdout and "2 rebuilt" in first.stdout
    member = out / "fal_endpoints" / "flux_dev"
    assert "def subscribe(" in (member / "__init__.py").read_text(encoding="utf-8")
    assert "class FluxDevInput" in (member / "_models.py").read_text(encoding="utf-8")

    path = schemas / filename("fal-ai/demucs")
    document = json.loads(path.read_text(encoding="utf-8"))
    document["info"]["x-fal-metadata"]["about"] = "Split a song into stems."
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    second = run_cli(
        "generate", "--schemas", str(schemas), "--out", str(out), "--quiet", "--jobs", "1", cwd=REPO
    )

    assert second.returncode == 0, second.stderr
    assert "1 rebuilt" in second.stdout

    check = run_cli("generate", "--check", "--schemas", str(schemas), "--out", str(out), cwd=REPO)
    assert check.returncode == 0 and "up to date" in check.stdout
    # outside git the previous texts are unknown: said once, not per document
    assert second.stdout.count("not in a git repository") == 1


def test_generate_outside_a_checkout_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("generate", cwd=tmp_path)

    assert run.returncode == 2
    assert "no codegen/ package" in run.stderr and "Traceback" not in run.stderr


def test_generate_ends_with_what_the_new_bindings_change_for_code(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    schemas = repo / "schemas"
    schemas.mkdir()
    name = filename("fal-ai/flux/dev")
    (schemas / name).write_bytes((HISTORY / name).read_bytes())  # January's text
    commit(repo, "flux/dev in January", 1_767_225_600)
    out = tmp_path / "generated"
    args = ("generate", "--schemas", str(schemas), "--out", str(out), "--quiet", "--jobs", "1")

    first = run_cli(*args, cwd=REPO)
    assert first.returncode == 0, first.stderr
    assert "What changed for code" not in first.stdout  # nothing to compare with yet

    copy_corpus(schemas, ["fal-ai/flux/dev", "fal-ai/demucs"])  # June's texts, uncommitted
    second = run_cli(*args, cwd=REPO)
    assert second.returncode == 0, second.stderr
    summary, changelog = second.stdout.split("What changed for code:\n")
    assert "2 modules from 2 documents" in summary
    assert changelog.splitlines()[0].startswith("2 endpoints changed (1 added, 0 removed)")
    assert "fal-ai/flux/dev  [major: breaking for readers]" in changelog
    assert "output `images[].content_type`: type widened" in changelog
    assert "fal-ai/demucs  [new endpoint]" in changelog

    third = run_cli(*args, cwd=REPO)  # nothing changed since
    assert "What changed for code" not in third.stdout

    # The text the bindings were built from is not committed: said, not guessed.
    document = json.loads((schemas / name).read_text(encoding="utf-8"))
    document["info"]["x-fal-metadata"]["about"] = "Changed twice."
    (schemas / name).write_text(json.dumps(document), encoding="utf-8")
    fourth = run_cli(*args, cwd=REPO)
    assert f"error: {name}: the text the previous bindings came from was never committed" in (
        fourth.stdout
    )
