"""``fal-typed generate`` in a subprocess: runs the generator and passes its summary through."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import REPO, copy_corpus, filename, run_cli


def test_generate_builds_the_modules_then_rewrites_only_what_changed(tmp_path: Path) -> None:
    schemas = copy_corpus(tmp_path / "schemas", ["fal-ai/flux/dev", "fal-ai/demucs"])
    out = tmp_path / "generated"

    first = run_cli(
        "generate", "--schemas", str(schemas), "--out", str(out), "--quiet", "--jobs", "1", cwd=REPO
    )

    assert first.returncode == 0, first.stderr
    assert "2 modules from 2 documents" in first.stdout and "2 rebuilt" in first.stdout
    module = out / "fal_endpoints" / "flux_dev.py"
    assert "class FluxDevInput" in module.read_text(encoding="utf-8")

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


def test_generate_outside_a_checkout_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("generate", cwd=tmp_path)

    assert run.returncode == 2
    assert "no codegen/ package" in run.stderr and "Traceback" not in run.stderr
