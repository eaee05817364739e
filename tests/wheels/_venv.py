"""Fresh virtual environments that install offline, from local wheels only.

Shared by the wheel tests and tests/editors: pip gets no package index, only the directories
given (built wheels, and this environment's own distributions repacked by ``_installed_wheels``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from _installed_wheels import dependency_closure, repack

__all__ = ["Venv", "create_venv", "repack_closure"]


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment and the local directories pip installs from."""

    path: Path
    find_links: tuple[Path, ...]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        (site,) = (self.path / "lib").glob("python3.*/site-packages")
        return site

    def env(self, **extra: str) -> dict[str, str]:
        """An environment whose ``python`` is this venv's (how type checkers find packages)."""
        return {
            "PATH": f"{self.path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "VIRTUAL_ENV": str(self.path),
            "HOME": str(self.path),
            **extra,
        }

    def pip(self, *args: str) -> str:
        links = [arg for path in self.find_links for arg in ("--find-links", str(path))]
        command = [str(self.python), "-m", "pip", *args]
        if args[0] == "install":
            command += ["--no-index", *links]
        done = subprocess.run(
            [*command, "--disable-pip-version-check"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def installed(self) -> set[str]:
        listing: list[dict[str, str]] = json.loads(self.pip("list", "--format=json"))
        return {entry["name"].lower() for entry in listing}


def create_venv(path: Path, find_links: Iterable[Path]) -> Venv:
    """A new, empty venv at ``path`` (no system site-packages: nothing leaks in from here)."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return Venv(path, tuple(find_links))


def repack_closure(requirements: Iterable[str], out: Path) -> Path:
    """Wheels of ``requirements`` and everything they need, from this environment, in ``out``."""
    for dist in dependency_closure(requirements):
        repack(dist, out)
    return out
