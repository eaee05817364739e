"""Install the runtime and three endpoint wheels into a fresh venv and use them for real.

One venv is shared by the module (the ``wheels-venv`` xdist group keeps it on one worker). It
gets no package index: the built wheels come from a local directory and the runtime's
dependencies are repacked from this environment (see ``_installed_wheels``). The local fal
server (the plugin's ``local_fal`` fixture) runs in this process; the venv reaches it over loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _venv import Venv, create_venv, repack_closure
from _wheel_support import ROOT, SAMPLE_IDS

from fal_typed.naming import module_name
from fal_typed.testing import LocalFal
from wheels import BuildReport, Layout, build_wheels, distribution_name, load_runtime_project

pytestmark = pytest.mark.xdist_group("wheels-venv")

USER_CODE = Path(__file__).parent / "user_code"
BIN = Path(sys.executable).parent
SAMPLE_DISTS = {
    endpoint_id: distribution_name(module_name(endpoint_id)) for endpoint_id in SAMPLE_IDS
}
REMOVED = "ideogram/v4"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildReport:
    out = tmp_path_factory.mktemp("wheelhouse")
    return build_wheels(Layout(root=ROOT, out_dir=out), list(SAMPLE_IDS), umbrella=True)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, built: BuildReport) -> Venv:
    deps = repack_closure(load_runtime_project(ROOT).dependencies, tmp_path_factory.mktemp("deps"))
    env = create_venv(tmp_path_factory.mktemp("venv"), (built.runtime.path.parent, deps))
    env.pip("install", *SAMPLE_DISTS.values())
    return env


def _subscribe_each(venv: Venv, fal: LocalFal) -> dict[str, dict[str, Any]]:
    hosts = {
        "key": "wheel-test-key",
        "queue_url": fal.queue_url,
        "run_url": fal.run_url,
        "rest_url": fal.rest_url,
        "cdn_url": fal.cdn_url,
        "realtime_url": fal.realtime_url,
    }
    done = subprocess.run(
        [str(venv.python), str(USER_CODE / "subscribe_each.py"), json.dumps(hosts)],
        env=venv.env(),
        cwd=venv.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return results


def _check_working(result: dict[str, Any], venv: Venv, endpoint_id: str) -> None:
    assert result["installed"] is True, result
    assert result["is_output"] is True and result["registry"] is True, result
    assert result["images"] and all(url.startswith("http") for url in result["images"]), result
    member = venv.site_packages / "fal_endpoints" / module_name(endpoint_id) / "__init__.py"
    assert Path(result["file"]) == member


def test_the_runtime_installs_without_the_generated_package(venv: Venv) -> None:
    site = venv.site_packages
    assert (site / "fal_typed" / "py.typed").is_file()
    assert not (site / "fal_endpoints" / "__init__.py").exists()  # a PEP 420 namespace
    members = sorted(p.name for p in (site / "fal_endpoints").iterdir() if p.name != "__pycache__")
    assert members == sorted(module_name(i) for i in SAMPLE_IDS)
    assert venv.installed() >= {"fal-typed", *SAMPLE_DISTS.values()}


def _verifytypes(venv: Venv, target: str) -> dict[str, Any]:
    """basedpyright's type-completeness report of an installed package (other packages'
    own gaps, pydantic's internals among them, left out)."""
    done = subprocess.run(
        [str(BIN / "basedpyright"), "--verifytypes", target, "--ignoreexternal", "--outputjson"],
        env=venv.env(),
        cwd=venv.path,
        capture_output=True,
        text=True,
    )
    completeness: dict[str, Any] = json.loads(done.stdout)["typeCompleteness"]
    assert completeness["exportedSymbolCounts"]["withUnknownType"] == 0
    assert completeness["completenessScore"] == 1.0, done.stdout[-2000:]
    assert done.returncode == 0
    return completeness


@pytest.mark.parametrize("endpoint_id", SAMPLE_IDS)
def test_verifytypes_reports_complete_types(venv: Venv, endpoint_id: str) -> None:
    completeness = _verifytypes(venv, f"fal_endpoints.{module_name(endpoint_id)}")
    assert completeness["pyTypedPath"].endswith(
        f"fal_endpoints/{module_name(endpoint_id)}/py.typed"
    )


def test_verifytypes_reports_the_runtime_complete(venv: Venv) -> None:
    """The endpoint modules' report leaves the runtime out (another package): check it too."""
    completeness = _verifytypes(venv, "fal_typed")
    assert completeness["pyTypedPath"].endswith("fal_typed/py.typed")
    assert completeness["exportedSymbolCounts"]["withKnownType"] > 100


def _basedpyright(venv: Venv, project: Path, source: Path) -> list[dict[str, Any]]:
    (project / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict"}))
    target = project / source.name
    target.write_bytes(source.read_bytes())
    done = subprocess.run(
        [str(BIN / "basedpyright"), "--outputjson", str(target)],
        env=venv.env(),
        cwd=project,
        capture_output=True,
        text=True,
    )
    diagnostics: list[dict[str, Any]] = json.loads(done.stdout)["generalDiagnostics"]
    return [d for d in diagnostics if d["severity"] == "error"]


def test_basedpyright_accepts_correct_user_code(venv: Venv, tmp_path: Path) -> None:
    assert _basedpyright(venv, tmp_path, USER_CODE / "subscribe_each.py") == []


def test_basedpyright_reports_wrong_arguments(venv: Venv, tmp_path: Path) -> None:
    errors = _basedpyright(venv, tmp_path, USER_CODE / "wrong_arguments.py")
    by_line = {d["range"]["start"]["line"] + 1: d["message"] for d in errors}
    assert sorted(by_line) == [7, 8, 9, 10], errors
    assert '"num_images" of type "int"' in by_line[7]
    assert by_line[8] == 'No parameter named "num_imagez"'
    assert by_line[9] == 'Argument missing for parameter "prompt"'
    assert '"image_size"' in by_line[10] and "Literal['huge']" in by_line[10]
    assert not any("could not be resolved" in d["message"] for d in errors), errors


def _mypy(venv: Venv, tmp_path: Path, source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "mypy"),
            "--python-executable",
            str(venv.python),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-incremental",
            "--config-file=",
            str(source),
        ],
        env=venv.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_mypy_finds_the_typed_namespace_members(venv: Venv, tmp_path: Path) -> None:
    ok = _mypy(venv, tmp_path, USER_CODE / "subscribe_each.py")
    assert ok.returncode == 0, ok.stdout
    bad = _mypy(venv, tmp_path, USER_CODE / "wrong_arguments.py")
    assert "missing library stubs or py.typed marker" not in bad.stdout
    assert sorted(
        {int(line.split(":")[1]) for line in bad.stdout.splitlines() if ": error:" in line}
    ) == [
        7,
        8,
        9,
        10,
    ], bad.stdout


def test_subscribe_then_uninstall_one_then_mix_with_the_umbrella(
    venv: Venv, local_fal: LocalFal, built: BuildReport
) -> None:
    results = _subscribe_each(venv, local_fal)
    for endpoint_id in SAMPLE_IDS:
        _check_working(results[endpoint_id], venv, endpoint_id)

    venv.pip("uninstall", "--yes", SAMPLE_DISTS[REMOVED])
    assert not (venv.site_packages / "fal_endpoints" / module_name(REMOVED)).exists()
    results = _subscribe_each(venv, local_fal)
    assert results[REMOVED]["installed"] is False
    assert f"no generated module for endpoint {REMOVED!r}" in results[REMOVED]["registry_error"]
    for endpoint_id in SAMPLE_IDS:
        if endpoint_id != REMOVED:
            _check_working(results[endpoint_id], venv, endpoint_id)

    # The umbrella brings the missing endpoint back beside the ones already installed ...
    assert built.umbrella is not None
    venv.pip("install", built.umbrella.name)
    results = _subscribe_each(venv, local_fal)
    for endpoint_id in SAMPLE_IDS:
        _check_working(results[endpoint_id], venv, endpoint_id)
    # ... and owns no module, so removing it leaves every endpoint working.
    venv.pip("uninstall", "--yes", built.umbrella.name)
    assert built.umbrella.name not in venv.installed()
    results = _subscribe_each(venv, local_fal)
    for endpoint_id in SAMPLE_IDS:
        _check_working(results[endpoint_id], venv, endpoint_id)
