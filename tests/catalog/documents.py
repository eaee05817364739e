"""Small fal OpenAPI documents built in code, shaped like the corpus's, for the diff tests."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.codegen.codegen_helpers import fal_document

ENDPOINT = "fal-ai/example"


def document(
    input_properties: Mapping[str, Any] | None = None,
    output_properties: Mapping[str, Any] | None = None,
    *,
    input_required: Sequence[str] = (),
    output_required: Sequence[str] = (),
    components: Mapping[str, Any] | None = None,
    endpoint_id: str = ENDPOINT,
    about: str = "An example endpoint.",
) -> dict[str, Any]:
    """A queue document whose input is ``ExampleInput`` and output ``ExampleOutput``."""

    def model(title: str, properties: Mapping[str, Any], required: Sequence[str]) -> Any:
        return {
            "type": "object",
            "title": title,
            "properties": dict(properties),
            "required": list(required),
        }

    return fal_document(
        endpoint_id,
        model("ExampleInput", input_properties or {"prompt": {"type": "string"}}, input_required),
        model("ExampleOutput", output_properties or {"seed": {"type": "integer"}}, output_required),
        copy.deepcopy(dict(components or {})),
        input_name="ExampleInput",
        output_name="ExampleOutput",
        about=about,
    )


def dumps(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()


FILE = {
    "type": "object",
    "title": "File",
    "properties": {
        "url": {"type": "string", "description": "Where the file is."},
        "content_type": {"type": "string"},
        "file_name": {"type": "string"},
        "file_size": {"type": "integer"},
        "file_data": {"type": "string", "format": "binary"},
    },
    "required": ["url"],
}


def git(repo: Path, *args: str, when: int | None = None) -> str:
    """Run git in ``repo`` with a fixed identity (and clock, for commits made at ``when``)."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def init_repo(repo: Path) -> Path:
    """An empty repository on branch ``main``."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    return repo


def commit(repo: Path, message: str, when: int) -> str:
    """Commit everything in ``repo`` at Unix time ``when``; return the commit id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "--no-gpg-sign", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD").strip()


def write(directory: Path, doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` into ``directory`` under its corpus file name."""
    endpoint_id = doc["info"]["x-fal-metadata"]["endpointId"]
    path = directory / (endpoint_id.replace("/", "__") + ".json")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps(doc))
    return path
