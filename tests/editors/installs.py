"""What the editor tests share: the sample endpoints and one way of installing the project.

(A module of its own, not the conftest: test modules import it by name, and a bare ``conftest``
could be another directory's.)
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from _venv import Venv

REPO = Path(__file__).resolve().parents[2]

# Enums and a model-or-enum union; nested models and lists of them; file fields.
ENDPOINT_IDS = ("fal-ai/flux/dev", "fal-ai/flux-general", "fal-ai/kling-video/o1/image-to-video")
SCHEMA_EPOCH = "1767225600"  # the documents are copied outside git: their version stamp


@dataclass(frozen=True)
class Install:
    """One way of installing: the venv whose python type checkers resolve imports with, and
    the environment variables that way needs (a checkout on PYTHONPATH needs them)."""

    name: str
    venv: Venv
    pythonpath: tuple[Path, ...] = ()
    mypy_path: tuple[Path, ...] = ()

    def env(self) -> dict[str, str]:
        extra: dict[str, str] = {}
        if self.pythonpath:
            extra["PYTHONPATH"] = os.pathsep.join(map(str, self.pythonpath))
        if self.mypy_path:
            extra["MYPYPATH"] = os.pathsep.join(map(str, self.mypy_path))
        return self.venv.env(**extra)

    def module_file(self, module: str) -> Path:
        """Where this install's python imports ``fal_endpoints.<module>`` from."""
        done = subprocess.run(
            [str(self.venv.python), "-c", f"import fal_endpoints.{module} as m; print(m.__file__)"],
            env=self.env(),
            cwd=self.venv.path,
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(done.stdout.strip())
