"""Helpers of the command-line tests: a served corpus, the local server, and a CLI runner.

Every command runs as a real subprocess (``python -m fal_typed.cli``) against a server bound to
127.0.0.1 on a free port. Tests work on copies of schemas/ in temporary directories.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fal_typed.testing import LocalFal
from fal_typed.testing._catalog import Catalog, CatalogSettings

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"

#: A small corpus with the cases that matter: non-ASCII text, number lexemes (2.50, 0.000001),
#: file, list and enum fields, several categories.
SAMPLE_IDS = (
    "fal-ai/flux/dev",
    "fal-ai/demucs",
    "fal-ai/hyper3d/rodin/v2",
    "alibaba/happy-horse/reference-to-video",
    "fal-ai/turbo-flux-trainer",
    "fal-ai/kling-image/o3/text-to-image",
    "fal-ai/kling-video/o1/image-to-video",
    "fal-ai/bytedance/seed/v2/mini",
    "fal-ai/sam-3/video",
    "fal-ai/meshy/v5/remesh",
    "beatoven/music-generation",
    "fal-ai/qwen-3-guard",
)


def filename(endpoint_id: str) -> str:
    return endpoint_id.replace("/", "__") + ".json"


def copy_corpus(target: Path, ids: Sequence[str] | None = None) -> Path:
    """Copy documents of schemas/ (all, or ``ids``) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    if ids is None:
        for path in SCHEMAS.glob("*.json"):
            shutil.copyfile(path, target / path.name)
    else:
        for endpoint_id in ids:
            shutil.copyfile(SCHEMAS / filename(endpoint_id), target / filename(endpoint_id))
    return target


@dataclass
class LocalServer:
    """The local fal server (``fal``) over a served directory, and its schema URLs' catalog."""

    fal: LocalFal
    served: Path
    catalog: Catalog

    @property
    def base_url(self) -> str:
        return self.fal.base_url

    @property
    def settings(self) -> CatalogSettings:
        return self.catalog.settings


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: no credentials or host overrides, no colours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FAL_", "FORCE_COLOR")) and k not in ("NO_COLOR", "COLUMNS")
    }
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fal_typed.cli", *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, **env: str) -> Run:
    """Run ``fal-typed ARGS`` to completion and capture its output."""
    completed = subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)
