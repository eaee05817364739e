"""Wheels from a real package index: pip installs ``fal-endpoints-flux-dev`` and pulls the rest.

A pypiserver on 127.0.0.1 serves the built wheels (the runtime and one endpoint) and, in the
same folder, the wheels of every dependency, repacked from this environment (no internet: the
index never falls back to PyPI, pip runs isolated from any configuration). In a fresh venv with
nothing but what that index gave it, and outside any checkout:

* ``pip install fal-endpoints-flux-dev`` brings the runtime and its dependencies from the index;
* a user script type-checks (basedpyright, strict) and runs against ``LocalFal()``, which serves
  the installed endpoint from the document its wheel carries;
* the README's offline, quick start and finding sections run as written;
* ``fal-typed list``, ``serve`` and ``add`` work from any directory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from _installed_wheels import dependency_closure, repack
from _wheel_support import ROOT

from fal_typed.testing import LocalFal
from wheels import BuildReport, Layout, build_wheels, load_runtime_project

pytestmark = pytest.mark.xdist_group("wheels-index")

USER_CODE = Path(__file__).parent / "user_code"
BIN = Path(sys.executable).parent
README = ROOT / "README.md"
EXTRAS = ("server", "cli", "codegen")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Index:
    """The local package index and what it holds."""

    url: str
    packages: Path
    built: BuildReport


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    packages = tmp_path_factory.mktemp("index")
    built = build_wheels(Layout(root=ROOT, out_dir=packages), ["fal-ai/flux/dev"])
    project = load_runtime_project(ROOT)
    requirements = [*project.dependencies, *(r for e in EXTRAS for r in project.extras[e])]
    for dist in dependency_closure(requirements):
        repack(dist, packages)
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "pypiserver", "run"),
            *("-p", str(port), "-i", "127.0.0.1", "--disable-fallback", "-a", ".", "-P", "."),
            str(packages),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/simple/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "pypiserver did not start"
            time.sleep(0.1)
        yield Index(url, packages, built)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@dataclass(frozen=True)
class Venv:
    """A fresh venv that installs from the local index only."""

    path: Path
    index: Index

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "VIRTUAL_ENV": str(self.path),
            "HOME": str(self.path),
            "NO_COLOR": "1",
            "COLUMNS": "100",
            **extra,
        }

    def run(
        self, *command: str | Path, cwd: Path, timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(c) for c in command],
            cwd=cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pip_install(self, *requirements: str, report: Path) -> dict[str, Any]:
        done = self.run(
            self.python, "-m", "pip", "--isolated", "--disable-pip-version-check", "install",
            "--no-cache-dir", "--index-url", self.index.url, "--report", report, *requirements,
            cwd=self.path, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        result: dict[str, Any] = json.loads(report.read_text())
        return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, index: Index) -> Venv:
    path = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return Venv(path, index)


@pytest.fixture(scope="module")
def installed(venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``pip install fal-endpoints-flux-dev``, then the extras the offline tools need."""
    reports = tmp_path_factory.mktemp("reports")
    first = venv.pip_install("fal-endpoints-flux-dev", report=reports / "endpoint.json")
    venv.pip_install(f"fal-typed[{','.join(EXTRAS)}]", report=reports / "extras.json")
    return first


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory far from any checkout."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_pip_pulls_the_runtime_and_its_dependencies_from_the_index(
    installed: dict[str, Any], index: Index
) -> None:
    sources = {
        item["metadata"]["name"].lower(): item["download_info"]["url"]
        for item in installed["install"]
    }
    assert {"fal-endpoints-flux-dev", "fal-typed", "httpx", "pydantic"} <= set(sources)
    base = index.url.removesuffix("simple/")
    assert all(url.startswith(base) for url in sources.values()), sources
    runtime = index.built.runtime
    assert sources["fal-typed"].endswith(runtime.path.name)
    assert len(sources) > 8  # the dependencies came along, from the index


def test_a_user_script_type_checks_and_runs_against_the_local_server(
    venv: Venv, installed: dict[str, Any], outside: Path
) -> None:
    (outside / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict"}))
    for name in ("offline_flux.py", "offline_flux_wrong.py"):
        (outside / name).write_bytes((USER_CODE / name).read_bytes())
    checked = venv.run(BIN / "basedpyright", "--outputjson", "offline_flux.py", cwd=outside)
    errors = [
        d for d in json.loads(checked.stdout)["generalDiagnostics"] if d["severity"] == "error"
    ]
    assert errors == [], errors
    wrong = venv.run(BIN / "basedpyright", "--outputjson", "offline_flux_wrong.py", cwd=outside)
    lines = sorted(
        d["range"]["start"]["line"] + 1
        for d in json.loads(wrong.stdout)["generalDiagnostics"]
        if d["severity"] == "error"
    )
    assert lines == [7, 8], wrong.stdout[-2000:]

    ran = venv.run(venv.python, "offline_flux.py", cwd=outside)
    assert ran.returncode == 0, ran.stderr[-3000:]
    module, images, magic, source = ran.stdout.strip().split(" ", 3)
    assert (module, images, magic) == ("flux_dev", "2", "ffd8ff")  # cat.jpg is a JPEG
    assert source == "1 installed endpoint package"  # no schemas/ here: the wheel's document


def _readme_sections(*titles: str) -> str:
    """The python blocks of the README sections ``titles``, in order, as one script."""
    text = README.read_text(encoding="utf-8")
    blocks: list[str] = []
    for title in titles:
        section = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
        blocks += re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) >= len(titles)
    return "\n".join(blocks)


def test_the_readme_offline_and_quick_start_sections_run_as_written(
    venv: Venv, installed: dict[str, Any], outside: Path
) -> None:
    script = outside / "readme.py"
    script.write_text(_readme_sections("Offline first", "Quick start", "Finding an endpoint"))
    ran = venv.run(venv.python, script, cwd=outside)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "flux_dev fal-ai/flux/dev text-to-image" in ran.stdout
    # the queue updates print as their short reprs; a job this quick may skip InProgress, but the
    # last update is always the Completed one
    assert "Completed(" in ran.stdout and "datetime" not in ran.stdout
    assert (outside / "cat.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


def test_the_command_line_works_from_anywhere(
    venv: Venv, installed: dict[str, Any], outside: Path
) -> None:
    fal_typed = venv.path / "bin" / "fal-typed"
    listed = venv.run(fal_typed, "list", "flux", cwd=outside)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["flux_dev", "fal-ai/flux/dev", "text-to-image"]
    assert listed.stdout.splitlines()[-1] == "1 endpoint"

    server = subprocess.Popen(
        [str(fal_typed), "serve", "--port", "0"],
        cwd=outside,
        env=venv.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("local fal server listening on http://127.0.0.1:"), first + (
            server.stderr.read() if server.poll() is not None and server.stderr else ""
        )
        base_url = first.rsplit(" ", 1)[1].strip()
        assert "1 endpoints from 1 installed endpoint package" in server.stdout.readline()
        called = venv.run(
            fal_typed, "call", "fal-ai/flux/dev", "--prompt", "a cat", cwd=outside,
            FAL_TYPED_BASE_URL=base_url,
        )  # fmt: skip
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["images"][0]["content_type"] == "image/jpeg"
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)


def test_add_generates_a_module_without_a_checkout(
    venv: Venv, installed: dict[str, Any], outside: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    text = (ROOT / "schemas" / "fal-ai__flux__dev.json").read_text(encoding="utf-8")
    (docs / "acme__new-model.json").write_text(text.replace("fal-ai/flux/dev", "acme/new-model"))
    with LocalFal(docs) as fal:  # fal's document URL, for an id no wheel provides
        added = venv.run(
            venv.path / "bin" / "fal-typed", "add", "acme/new-model", cwd=outside,
            FAL_TYPED_BASE_URL=fal.base_url,
        )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout == "from fal_endpoints import acme__new_model\n"
    user = (
        "import fal_typed\n"
        "from fal_endpoints import acme__new_model, flux_dev\n"
        "from fal_typed.testing import LocalFal\n"
        "with LocalFal() as fal:\n"
        "    out = acme__new_model.subscribe(prompt='a cat', client=fal.client())\n"
        "    print(type(out).__name__, sorted(fal.endpoint_ids))\n"
    )
    ran = venv.run(venv.python, "-c", user, cwd=outside)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split(" ", 1)[1].strip() == "['acme/new-model', 'fal-ai/flux/dev']"
