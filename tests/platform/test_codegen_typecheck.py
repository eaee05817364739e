"""The Platform package passes basedpyright (strict) and mypy (strict, pydantic plugin), and so
does user code calling it: keyword arguments, bodies as models, answers and iterators are typed
(a wrong argument is a type error, not a surprise at run time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLATFORM = REPO / "src" / "fal_typed" / "platform"
PYRIGHT = [sys.executable, "-m", "basedpyright", "--outputjson", "--pythonpath", sys.executable]

USER_CODE = """\
from collections.abc import Iterator

from fal_typed.platform import Platform
from fal_typed.platform.models import CreateApiKeyResponse, ListRequestsByEndpointItem, Price

platform = Platform()
prices: list[Price] = platform.get_pricing(endpoint_id=["fal-ai/flux/dev"]).prices
items: Iterator[ListRequestsByEndpointItem] = platform.iter_list_requests_by_endpoint(
    endpoint_id="fal-ai/flux/dev", expand=["payloads"], limit=100, status="success"
)
key: CreateApiKeyResponse = platform.create_api_key(alias="ci")
"""


def _basedpyright_problems(tmp_path: Path, files: list[str]) -> list[str]:
    config = {
        "include": files,
        "pythonVersion": "3.10",
        "typeCheckingMode": "strict",
        "reportMissingTypeStubs": False,
        "extraPaths": [str(REPO / "src")],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    done = subprocess.run(
        [*PYRIGHT, "-p", str(tmp_path)], capture_output=True, text=True, check=False
    )
    report = json.loads(done.stdout)
    return [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]


def _mypy_problems(tmp_path: Path, files: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / ".mypy"), *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout[-5000:] + done.stderr[-2000:]


def test_the_platform_package_passes_both_checkers(tmp_path: Path) -> None:
    assert _basedpyright_problems(tmp_path, [str(PLATFORM)]) == []
    assert _mypy_problems(tmp_path, [str(PLATFORM)]) == ""


def test_user_code_type_checks_and_a_wrong_argument_does_not(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(USER_CODE, encoding="utf-8")
    assert _basedpyright_problems(tmp_path, [str(good)]) == []
    assert _mypy_problems(tmp_path, [str(good)]) == ""
    bad = tmp_path / "bad.py"
    bad.write_text(
        USER_CODE
        + 'platform.list_requests_by_endpoint(endpoint_id="x", sort="x")\n'
        + "platform.list_requests_by_endpoint(endpoint_id=3)\n"
    )
    problems = _basedpyright_problems(tmp_path, [str(bad)])
    assert [p.split(": ", 1)[0] for p in problems] == [f"{bad}:12", f"{bad}:13"]
    assert '"sort"' in problems[0] and "endpoint_id" in problems[1]
