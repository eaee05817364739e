"""The wheel builder: archive structure, metadata, reproducibility and error reporting."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest
from _wheel_support import ROOT, SAMPLE_IDS, add_document
from packaging.metadata import Metadata as CoreMetadata
from packaging.requirements import Requirement

from fal_typed.naming import module_name
from wheels import (
    Layout,
    UncommittedSchemaError,
    WheelBuildError,
    build_wheels,
    distribution_name,
    load_runtime_project,
    schema_times,
)
from wheels._archive import ZIP_EPOCH

Generate = Callable[..., Path]


def _metadata(archive: zipfile.ZipFile) -> Message:
    """The wheel's METADATA, after checking it against the core metadata spec."""
    (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    raw = archive.read(name)
    CoreMetadata.from_email(raw, validate=True)  # raises on any invalid field
    return BytesParser().parsebytes(raw)


def _check_record(archive: zipfile.ZipFile) -> None:
    """Every member is listed in RECORD with its true hash and size; RECORD is last."""
    names = archive.namelist()
    assert names[-1].endswith(".dist-info/RECORD")
    rows = [line.split(",") for line in archive.read(names[-1]).decode().splitlines()]
    assert [row[0] for row in rows] == names
    for name, digest, size in rows[:-1]:
        data = archive.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}", name
        assert int(size) == len(data), name
    assert rows[-1][1:] == ["", ""]


def _check_reproducible_entries(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        assert info.date_time == ZIP_EPOCH
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3


def test_endpoint_wheel_holds_one_namespace_member_and_its_marker(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    module_path = generate("fal-ai/flux/dev")
    report = build_wheels(scratch, ["fal-ai/flux/dev"])
    (wheel,) = report.endpoints
    assert wheel.name == "fal-endpoints-flux-dev"
    assert wheel.version == "1.0.0"  # outside git: no history, the first version
    assert wheel.path.name == "fal_endpoints_flux_dev-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel.path) as archive:
        dist_info = "fal_endpoints_flux_dev-1.0.0.dist-info"
        assert archive.namelist() == [
            "fal_endpoints/flux_dev/__init__.py",
            "fal_endpoints/flux_dev/_models.py",
            "fal_endpoints/flux_dev/_realtime.py",
            "fal_endpoints/flux_dev/endpoint.json",
            "fal_endpoints/flux_dev/openapi.json",
            "fal_endpoints/flux_dev/py.typed",
            f"{dist_info}/METADATA",
            f"{dist_info}/WHEEL",
            f"{dist_info}/RECORD",
        ]
        # No fal_endpoints/__init__.py: the namespace is shared, never owned by one wheel.
        for source in module_path.parent.glob("*.py"):  # every source of the member, verbatim
            assert archive.read(f"fal_endpoints/flux_dev/{source.name}") == source.read_bytes()
        # What a wheels-only install reads instead of a checkout: the document (compact, same
        # content) for the local server, and the record that lists and searches the endpoint.
        schema = scratch.schemas_dir / "fal-ai__flux__dev.json"
        document = archive.read("fal_endpoints/flux_dev/openapi.json")
        assert json.loads(document) == json.loads(schema.read_bytes())
        assert len(document) < len(schema.read_bytes()) * 0.7
        assert json.loads(archive.read("fal_endpoints/flux_dev/endpoint.json")) == {
            "endpoint_id": "fal-ai/flux/dev",
            "module": "flux_dev",
            "title": "Flux Dev",
            "category": "text-to-image",
            "description": "FLUX.1 [dev], next generation text-to-image model.",
        }
        _check_record(archive)
        _check_reproducible_entries(archive)
        wheel_file = archive.read(f"{dist_info}/WHEEL").decode()
        assert "Root-Is-Purelib: true" in wheel_file
        assert "Tag: py3-none-any" in wheel_file


def test_endpoint_metadata_carries_description_links_and_runtime_range(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev")
    (wheel,) = build_wheels(scratch, ["fal-ai/flux/dev"]).endpoints
    with zipfile.ZipFile(wheel.path) as archive:
        meta = _metadata(archive)
    assert meta["Metadata-Version"] == "2.4"
    assert meta["Name"] == "fal-endpoints-flux-dev"
    assert (
        meta["Summary"]
        == "Typed fal.ai client for fal-ai/flux/dev: FLUX.1 [dev], next generation text-to-image model."
    )
    assert meta.get_all("Project-URL") == [
        "Playground, https://fal.ai/models/fal-ai/flux/dev",
        "Documentation, https://fal.ai/models/fal-ai/flux/dev/api",
    ]
    (requirement,) = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    assert requirement.name == "fal-typed"
    assert requirement.specifier.contains("0.1.0") and requirement.specifier.contains("0.1.9")
    assert not requirement.specifier.contains("0.2.0") and not requirement.specifier.contains(
        "0.0.9"
    )
    assert "Typing :: Typed" in (meta.get_all("Classifier") or [])
    readme = meta.get_payload()
    assert isinstance(readme, str)
    schema = scratch.schemas_dir / "fal-ai__flux__dev.json"
    assert hashlib.sha256(schema.read_bytes()).hexdigest() in readme
    assert "committed 2026-01-01 00:00:00 UTC" in readme
    assert "from fal_endpoints import flux_dev" in readme
    assert "flux_dev.subscribe(prompt=...)" in readme
    assert "| `prompt` | yes |" in readme
    assert "| `num_images` | no | `1` |" in readme


def test_long_multiline_descriptions_fold_into_a_one_line_summary(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    about = "First line\nof the first paragraph | with a pipe.\n\n" + "Second paragraph. " * 40
    add_document(scratch, "acme/widget", about=about)
    generate("acme/widget")
    (wheel,) = build_wheels(scratch, ["acme/widget"]).endpoints
    assert wheel.name == "fal-endpoints-acme-x-widget"
    with zipfile.ZipFile(wheel.path) as archive:
        meta = _metadata(archive)
    assert (
        meta["Summary"]
        == "Typed fal.ai client for acme/widget: First line of the first paragraph | with a pipe."
    )
    assert "Second paragraph. Second paragraph." in str(meta.get_payload())


def test_runtime_wheel_is_the_runtime_only(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev")
    report = build_wheels(scratch, ["fal-ai/flux/dev"])
    project = load_runtime_project(ROOT)
    assert report.runtime.path.name == f"fal_typed-{project.version}-py3-none-any.whl"
    with zipfile.ZipFile(report.runtime.path) as archive:
        names = archive.namelist()
        _check_record(archive)
        _check_reproducible_entries(archive)
        meta = _metadata(archive)
        entry_points = archive.read(
            f"fal_typed-{project.version}.dist-info/entry_points.txt"
        ).decode()
    packaged = {n for n in names if not n.startswith(f"fal_typed-{project.version}.dist-info/")}
    source = ROOT / "src" / "fal_typed"
    expected = {
        "fal_typed/" + p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    # The generator, for `fal-typed add` without a checkout (its dependencies: the codegen extra).
    generator = {f"fal_typed/_codegen/{p.name}" for p in (ROOT / "codegen").glob("*.py")}
    generator |= {
        f"fal_typed/_codegen/templates/{p.name}" for p in (ROOT / "templates").glob("*.jinja")
    }
    assert "fal_typed/_codegen/__main__.py" in generator
    assert packaged == expected | generator
    assert "fal_typed/py.typed" in packaged
    assert not any(n.startswith("fal_endpoints") for n in names)
    assert meta["Name"] == "fal-typed" and meta["Version"] == project.version
    requires = meta.get_all("Requires-Dist") or []
    assert set(project.dependencies) <= set(requires)
    assert sorted(meta.get_all("Provides-Extra") or []) == sorted(project.extras)
    for extra, extra_requires in project.extras.items():
        for raw in extra_requires:
            (line,) = [
                r
                for r in requires
                if Requirement(r).name == Requirement(raw).name and f'extra == "{extra}"' in r
            ]
            assert Requirement(line).marker is not None
    assert "[console_scripts]\nfal-typed = fal_typed.cli:main" in entry_points


def test_builds_are_byte_identical(
    scratch: Layout, schema_epoch: int, generate: Generate, tmp_path: Path
) -> None:
    for endpoint_id in SAMPLE_IDS:
        generate(endpoint_id)
    first = build_wheels(scratch, list(SAMPLE_IDS), umbrella=True)
    again = Layout(root=scratch.root, out_dir=tmp_path / "again")
    second = build_wheels(again, list(SAMPLE_IDS), umbrella=True, jobs=1)
    paths = sorted(scratch.out_dir.iterdir())
    assert [p.name for p in paths] == sorted(p.name for p in again.out_dir.iterdir())
    assert len(paths) == 5  # runtime, three endpoints, umbrella
    for path in paths:
        assert path.read_bytes() == (again.out_dir / path.name).read_bytes(), path.name
    assert first.umbrella is not None and second.umbrella is not None


def test_umbrella_depends_on_every_endpoint_and_owns_no_files(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    for endpoint_id in SAMPLE_IDS:
        generate(endpoint_id)
    report = build_wheels(scratch, list(SAMPLE_IDS), umbrella=True)
    assert report.umbrella is not None
    with zipfile.ZipFile(report.umbrella.path) as archive:
        assert all(".dist-info/" in n for n in archive.namelist())
        meta = _metadata(archive)
    assert meta["Name"] == "fal-endpoints"
    requires = {Requirement(r).name: Requirement(r) for r in meta.get_all("Requires-Dist") or []}
    assert set(requires) == {"fal-typed", *(distribution_name(module_name(i)) for i in SAMPLE_IDS)}
    for wheel in report.endpoints:
        assert requires[wheel.name].specifier.contains(wheel.version)
    for endpoint_id in SAMPLE_IDS:
        assert f"`{endpoint_id}`" in str(meta.get_payload())


def test_a_selection_builds_no_umbrella_unless_asked(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev")
    assert build_wheels(scratch, ["fal-ai/flux/dev"]).umbrella is None


def test_full_build_skips_what_it_cannot_package_and_says_why(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev")
    generate("ideogram/v4")
    (scratch.schemas_dir / "broken.json").write_text("{not json", encoding="utf-8")
    report = build_wheels(scratch)
    assert sorted(w.endpoint_id or "" for w in report.endpoints) == [
        "fal-ai/flux/dev",
        "ideogram/v4",
    ]
    skipped = dict(report.skipped)
    assert "not valid JSON" in skipped["broken.json"]
    assert (
        "no generated module"
        in skipped["fal-ai__bytedance__seedream__v5__lite__text-to-image.json"]
    )
    assert report.umbrella is not None


def test_unknown_or_ungenerated_ids_fail_before_anything_is_written(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev")
    with pytest.raises(WheelBuildError) as caught:
        build_wheels(scratch, ["fal-ai/flux/dev", "fal-ai/no-such-model", "ideogram/v4", "flux"])
    message = str(caught.value)
    assert "fal-ai/no-such-model: unknown endpoint" in message
    assert "ideogram/v4: not generated yet" in message
    assert "invalid endpoint id 'flux'" in message
    assert "fal-ai/flux/dev" not in message
    assert not scratch.out_dir.exists()


def test_a_module_generated_for_another_endpoint_is_refused(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev", text='endpoint_id = "fal-ai/flux/schnell"\n')
    with pytest.raises(WheelBuildError, match="does not name endpoint 'fal-ai/flux/dev'"):
        build_wheels(scratch, ["fal-ai/flux/dev"])


def test_a_module_without_its_typing_marker_is_refused(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    generate("fal-ai/flux/dev").with_name("py.typed").unlink()
    with pytest.raises(WheelBuildError, match=r"flux_dev/py\.typed is missing"):
        build_wheels(scratch, ["fal-ai/flux/dev"])


def _git(repo: Path, *args: str, date: str = "2026-02-03T04:05:06+00:00") -> None:
    env = {
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )


def test_schema_times_come_from_git_and_uncommitted_documents_are_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "schemas").mkdir(parents=True)
    committed = repo / "schemas" / "a.json"
    later = repo / "schemas" / "b.json"
    committed.write_text("{}")
    later.write_text("{}")
    _git(repo, "init", "-q")
    _git(repo, "add", "schemas")
    _git(repo, "commit", "-q", "-m", "first")
    later.write_text('{"v": 2}')
    _git(repo, "commit", "-q", "-am", "second", date="2026-02-04T00:00:00+00:00")
    assert schema_times([committed, later], environ={}) == {
        committed.resolve(): 1_770_091_506,  # 2026-02-03T04:05:06Z
        later.resolve(): 1_770_163_200,  # 2026-02-04T00:00:00Z
    }
    committed.write_text('{"edited": true}')
    (repo / "schemas" / "new.json").write_text("{}")
    paths = [committed, later, repo / "schemas" / "new.json"]
    with pytest.raises(
        UncommittedSchemaError,
        match=r"2 schema\(s\) are not committed.*schemas/a\.json.*schemas/new\.json",
    ):
        schema_times(paths, environ={})
    fallback = schema_times(paths, environ={"SOURCE_DATE_EPOCH": "42"})
    assert fallback == {
        committed.resolve(): 42,
        later.resolve(): 1_770_163_200,
        (repo / "schemas" / "new.json").resolve(): 42,
    }


def test_outside_git_a_source_date_is_required(tmp_path: Path) -> None:
    document = tmp_path / "a.json"
    document.write_text("{}")
    with pytest.raises(UncommittedSchemaError, match="set SOURCE_DATE_EPOCH"):
        schema_times([document], environ={})
    with pytest.raises(UncommittedSchemaError, match="not a whole number"):
        schema_times([document], environ={"SOURCE_DATE_EPOCH": "yesterday"})
    assert schema_times([document], environ={"SOURCE_DATE_EPOCH": "7"}) == {document.resolve(): 7}


def test_repository_documents_are_versioned_by_their_commit(tmp_path: Path) -> None:
    document = ROOT / "schemas" / "fal-ai__flux__dev.json"
    times = schema_times([document], environ={"SOURCE_DATE_EPOCH": "1"})
    log = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "log",
            "-1",
            "--format=%ct",
            "--",
            "schemas/fal-ai__flux__dev.json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert times[document.resolve()] == int(log.stdout)


def test_command_line_reports_errors_and_results(
    scratch: Layout, schema_epoch: int, generate: Generate
) -> None:
    command = [
        sys.executable,
        "-m",
        "wheels",
        "--root",
        str(scratch.root),
        "--out",
        str(scratch.out_dir),
    ]
    failed = subprocess.run([*command, "fal-ai/nope"], cwd=ROOT, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "error: cannot build the requested endpoint wheels" in failed.stderr
    assert "fal-ai/nope: unknown endpoint" in failed.stderr
    generate("fal-ai/flux/dev")
    done = subprocess.run(
        [*command, "fal-ai/flux/dev"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "1 endpoint wheel(s)" in done.stdout
    assert (scratch.out_dir / "fal_endpoints_flux_dev-1.0.0-py3-none-any.whl").is_file()


@pytest.mark.slow
def test_every_generated_endpoint_builds_a_valid_wheel(tmp_path: Path) -> None:
    report = build_wheels(Layout(root=ROOT, out_dir=tmp_path), jobs=2)
    package = ROOT / "generated" / "fal_endpoints"
    generated = {p.parent.name for p in package.glob("*/__init__.py")} - {"_index"}
    assert {w.module for w in report.endpoints} == generated
    assert all("no generated module" in reason for _, reason in report.skipped), report.skipped
    assert report.umbrella is not None
    for wheel in [report.runtime, report.umbrella, *report.endpoints]:
        with zipfile.ZipFile(wheel.path) as archive:
            meta = _metadata(archive)
            assert archive.testzip() is None
        assert meta["Name"] == wheel.name and meta["Version"] == wheel.version
