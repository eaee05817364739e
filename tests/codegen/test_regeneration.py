"""Regeneration: deterministic, incremental, and never stopped by one broken document.

Runs the generator over temporary copies of a few real documents into temporary output
directories; the whole-corpus equivalent is test_up_to_date.py.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from codegen_helpers import SCHEMAS

from codegen.__main__ import main
from codegen.pipeline import generate

SAMPLE = [
    "fal-ai__flux__dev.json",
    "fal-ai__demucs.json",
    "fal-ai__wan-ati.json",  # a dangling $ref
    "bytedance__seedance-2.0__text-to-video.json",
    "fal-ai__bytedance__seedream__v4__text-to-image.json",
]


def copy_sample(tmp_path: Path) -> Path:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    for name in SAMPLE:
        shutil.copy(SCHEMAS / name, schemas / name)
    return schemas


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    """Every output file (by path under ``out``) with its bytes and modification time (to tell
    "rewritten" apart)."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {
        path.relative_to(out).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in files
    }


def edit_about(path: Path, about: str) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    document["info"]["x-fal-metadata"]["about"] = about
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def test_a_rerun_changes_nothing_and_an_edited_document_is_rebuilt_alone(tmp_path: Path) -> None:
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    first = generate(schemas, out, jobs=2)
    assert (first.documents, first.modules, first.rebuilt) == (5, 5, 5)
    # Each module and the index is a package of its own, typed: an endpoint's calls, models and
    # realtime classes + py.typed (4 files x 5), the index's __init__.py + py.typed.
    assert len(first.written) == 22
    member = {"demucs/__init__.py", "demucs/_models.py", "demucs/_realtime.py", "demucs/py.typed"}
    assert {"_index/__init__.py", "_index/py.typed", *member} <= set(first.written)
    before = snapshot(out)

    again = generate(schemas, out, jobs=2)
    assert (again.rebuilt, again.written, again.removed) == (0, [], [])
    assert snapshot(out) == before  # same bytes, not even rewritten

    edit_about(schemas / "fal-ai__demucs.json", "Split a song into its stems.")
    edited = generate(schemas, out, jobs=2)
    assert edited.rebuilt == 1
    assert sorted(edited.written) == ["_index/__init__.py", "demucs/__init__.py"]
    after = snapshot(out)
    rewritten = {"fal_endpoints/demucs/__init__.py", "fal_endpoints/_index/__init__.py"}
    unchanged = set(before) - rewritten - {"codegen-manifest.json"}
    assert all(after[name] == before[name] for name in unchanged)
    module = out / "fal_endpoints" / "demucs" / "__init__.py"
    assert "Split a song into its stems." in module.read_text()


@pytest.mark.parametrize("source", ["__init__.py", "_models.py", "_realtime.py"])
def test_a_hand_edited_module_is_regenerated(tmp_path: Path, source: str) -> None:
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    generate(schemas, out, jobs=1)
    module = out / "fal_endpoints" / "flux_dev" / source
    original = module.read_bytes()
    module.write_text("# edited by hand\n", encoding="utf-8")
    (module.parent / "py.typed").unlink()

    report = generate(schemas, out, jobs=1)

    assert (report.rebuilt, report.written) == (1, [f"flux_dev/{source}", "flux_dev/py.typed"])
    assert module.read_bytes() == original


def test_output_is_byte_identical_whatever_the_history_or_the_number_of_workers(
    tmp_path: Path,
) -> None:
    schemas = copy_sample(tmp_path)
    generate(schemas, tmp_path / "serial", jobs=1)
    generate(schemas, tmp_path / "parallel", jobs=2)
    generate(schemas, tmp_path / "parallel", jobs=2, force=True)
    serial = {name: data for name, (data, _) in snapshot(tmp_path / "serial").items()}
    parallel = {name: data for name, (data, _) in snapshot(tmp_path / "parallel").items()}
    assert serial == parallel


def test_a_warning_from_unrelated_code_during_generation_is_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the full suite the garbage collector may report another test's unclosed socket
    while datamodel-code-generator runs; the manifest must not depend on that."""
    import datamodel_code_generator

    real = datamodel_code_generator.generate

    def generate_amid_noise(*args: object, **kwargs: object) -> object:
        warnings.warn(
            "unclosed transport <_SelectorSocketTransport fd=99>", ResourceWarning, stacklevel=1
        )
        warnings.warn("something unrelated changed", DeprecationWarning, stacklevel=1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    schemas = copy_sample(tmp_path)
    generate(schemas, tmp_path / "quiet", jobs=1)
    monkeypatch.setattr(datamodel_code_generator, "generate", generate_amid_noise)
    generate(schemas, tmp_path / "noisy", jobs=1)

    manifest = (tmp_path / "noisy" / "codegen-manifest.json").read_text(encoding="utf-8")
    assert "unclosed" not in manifest and "unrelated" not in manifest
    assert manifest == (tmp_path / "quiet" / "codegen-manifest.json").read_text(encoding="utf-8")


def test_broken_documents_are_reported_by_name_and_the_rest_is_generated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    (schemas / "truncated.json").write_text('{"openapi": "3.0.4", "info": {', encoding="utf-8")
    (schemas / "no-paths.json").write_text(
        json.dumps(
            {
                "info": {"x-fal-metadata": {"endpointId": "fal-ai/no-paths"}},
                "components": {"schemas": {}},
            }
        ),
        encoding="utf-8",
    )

    status = main(["--schemas", str(schemas), "--out", str(out), "--jobs", "2"])

    assert status == 0
    err = capsys.readouterr().err
    assert "error: truncated.json: cannot read document" in err
    assert "error: no-paths.json: no paths" in err
    assert "warning: fal-ai__wan-ati.json: dangling $ref '#/components/schemas/TrackPoint'" in err
    assert len(list((out / "fal_endpoints").glob("*/__init__.py"))) == 6  # 5 modules, the index


def test_two_documents_naming_the_same_module_keep_the_first(tmp_path: Path) -> None:
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    text = (schemas / "fal-ai__flux__dev.json").read_text(encoding="utf-8")
    # fal-ai/flux-dev is a different id with the same module name, flux_dev.
    (schemas / "fal-ai__flux-dev.json").write_text(
        text.replace('"fal-ai/flux/dev"', '"fal-ai/flux-dev"'), encoding="utf-8"
    )

    report = generate(schemas, out, jobs=1)

    assert [(d.source, d.message) for d in report.errors] == [
        (
            "fal-ai__flux__dev.json",
            "module flux_dev is already generated from fal-ai__flux-dev.json",
        )
    ]
    assert report.modules == 5


def test_a_document_in_a_file_its_id_does_not_name_is_refused(tmp_path: Path) -> None:
    """A copy (or a document planted under another name) must not stand in for its endpoint."""
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    shutil.copy(schemas / "fal-ai__flux__dev.json", schemas / "fal-ai__flux__dev-copy.json")

    report = generate(schemas, out, jobs=1)

    assert [(d.source, d.message) for d in report.errors] == [
        (
            "fal-ai__flux__dev-copy.json",
            "the document of fal-ai/flux/dev belongs in fal-ai__flux__dev.json, not here",
        )
    ]
    assert report.modules == 5 and (out / "fal_endpoints" / "flux_dev" / "__init__.py").exists()


def test_a_removed_document_removes_its_module(tmp_path: Path) -> None:
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    generate(schemas, out, jobs=1)
    (schemas / "fal-ai__demucs.json").unlink()

    report = generate(schemas, out, jobs=1)

    assert report.removed == ["demucs/"] and report.written == ["_index/__init__.py"]
    assert not (out / "fal_endpoints" / "demucs").exists()


def test_the_flat_layout_of_earlier_versions_is_replaced(tmp_path: Path) -> None:
    """Modules used to be ``fal_endpoints/<module>.py``: a run moves them into packages, and
    leaves alone a directory that is not the generator's."""
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    generate(schemas, out, jobs=1)
    package = out / "fal_endpoints"
    (package / "flux_dev.py").write_text("# the old flat module\n", encoding="utf-8")
    (package / "_index.py").write_text("# the old flat index\n", encoding="utf-8")
    (package / "gone" / "__pycache__").mkdir(parents=True)
    (package / "gone" / "__init__.py").write_text("# a removed endpoint\n", encoding="utf-8")
    (package / "notes").mkdir()
    (package / "notes" / "__init__.py").write_text("# someone's own\n", encoding="utf-8")
    (package / "notes" / "todo.txt").write_text("keep me\n", encoding="utf-8")
    assert main(["--check", "--schemas", str(schemas), "--out", str(out)]) == 1

    report = generate(schemas, out, jobs=1)

    assert report.removed == ["_index.py", "flux_dev.py", "gone/"]
    assert (package / "notes" / "todo.txt").is_file()
    (package / "notes" / "todo.txt").unlink()
    (package / "notes" / "__init__.py").unlink()
    (package / "notes").rmdir()
    assert main(["--check", "--schemas", str(schemas), "--out", str(out)]) == 0


def test_check_reports_a_stale_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schemas, out = copy_sample(tmp_path), tmp_path / "out"
    generate(schemas, out, jobs=1)
    assert main(["--check", "--schemas", str(schemas), "--out", str(out)]) == 0

    edit_about(schemas / "fal-ai__demucs.json", "Changed upstream.")
    assert main(["--check", "--schemas", str(schemas), "--out", str(out)]) == 1
    assert "stale: fal_endpoints/demucs/__init__.py" in capsys.readouterr().err
