"""Generated modules pass basedpyright (strict) and mypy (strict, pydantic plugin).

The whole package takes minutes to check on two cores, so the suite checks a sample that covers
every shape the generator emits; ``make typecheck-generated`` checks all of it (CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codegen_helpers import GENERATED, PACKAGE, REPO, corpus, every_nth

SPECIAL = [
    "flux_dev",  # the README example
    "heygen_v3_video_agent",  # huge enums behind type aliases
    "bria__video_background_removal_realtime",  # a discriminated union output (RootModel)
    "openrouter__router_openai_v1_chat_completions",  # missing input schema: open input
    "fooocus",  # list-typed alias, object defaults in descriptions
    "bria__fibo_lite_generate",  # components used on both sides
    "sam_3_3d_objects",  # a default dropped as invalid
]
SAMPLE = sorted({*SPECIAL, *(e.module for e in every_nth(corpus(), 12))})
FILES = [str(PACKAGE / f"{module}.py") for module in SAMPLE]


def test_sample_passes_basedpyright_strict(tmp_path: Path) -> None:
    config = {
        "include": FILES,
        "pythonVersion": "3.10",
        "typeCheckingMode": "strict",
        "reportMissingTypeStubs": False,
        "extraPaths": [str(REPO / "src"), str(GENERATED)],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "basedpyright", "--outputjson", "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    problems = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    assert problems == [], "\n".join(problems[:30])
    assert report["summary"]["filesAnalyzed"] >= len(FILES)


def test_sample_passes_mypy_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), *FILES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
