"""The guides' Python examples run: every ```python block of each guide below, in order, in one
namespace, against the local fal server made the default client (as a reader with a key would run
them against fal). Blocks titled ``fal-client`` show the other client's code and are not run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fal_typed
from fal_typed import Client
from fal_typed.testing import LocalFal

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
GUIDES = [
    "index.md",
    "quickstart.md",
    "migrating-from-fal-client.md",
    "streaming.md",
    "notebooks.md",
    "any-endpoint.md",
    "local-server.md",
    "files.md",
]
#: The local files a guide's examples read, made in the directory they run in (as a reader has
#: their own clip.mp4 beside their script).
FILES: dict[str, dict[str, bytes]] = {
    "files.md": {
        "clip.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(64),
        "a.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64),
        "edges.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
    },
}


def blocks(guide: str) -> list[str]:
    return [
        code for info, code in BLOCK.findall((DOCS / guide).read_text()) if "fal-client" not in info
    ]


@pytest.fixture
def run_guide(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    fal_typed.set_default_client(local_fal_client)

    def run(guide: str) -> dict[str, Any]:
        for name, content in FILES.get(guide, {}).items():
            (tmp_path / name).write_bytes(content)
        namespace: dict[str, Any] = {"__name__": guide}
        for number, code in enumerate(blocks(guide), 1):
            exec(
                compile(code, f"{DOCS / guide}:block{number}", "exec", dont_inherit=True), namespace
            )
        return namespace

    try:
        yield run
    finally:
        fal_typed.set_default_client(None)


@pytest.mark.parametrize("guide", GUIDES)
def test_every_block_of_the_guide_runs(guide: str, run_guide: Any) -> None:
    assert blocks(guide), f"{guide} has no Python example"
    run_guide(guide)


def test_the_quickstart_results_are_typed(
    run_guide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("quickstart.md")
    flux_dev = namespace["flux_dev"]
    assert isinstance(namespace["out"], flux_dev.Output)
    assert Path("cat.jpg").stat().st_size > 0
    assert "['num_images', 'output_format']" in capsys.readouterr().out


def test_the_migration_example_refuses_bad_input_before_sending(
    run_guide: Any, local_fal: LocalFal, capsys: pytest.CaptureFixture[str]
) -> None:
    run_guide("migrating-from-fal-client.md")
    out = capsys.readouterr().out
    assert "before sending: ['num_inference_steps']" in out
    assert "sampling" not in out  # the local server's default behaviour has no logs


def test_a_hand_described_endpoint_keeps_what_it_does_not_describe(
    run_guide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("any-endpoint.md")
    out = namespace["out"]
    assert type(out).__name__ == "NewModelOutput" and out.images
    assert "seed" in (out.model_extra or {})
    assert "['fal-ai/flux/dev'" in capsys.readouterr().out  # the typo's suggestions


#: Signatures the local server's guide writes out, and what they document.
SIGNATURE = re.compile(r"`(Fault\.\w+|Failure|LocalFal|inject)\(([^`]*)\)`")


def _top_level_names(arguments: str) -> list[str]:
    """The parameter names of a written-out signature or call (``a, b=1, *, c=None``): each
    argument's name before its top-level ``=``, or the argument itself when it is a name."""
    names: list[str] = []
    depth, current = 0, ""
    for char in arguments + ",":
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            name = current.split("=", 1)[0].strip() if "=" in current else current.strip()
            if name.isidentifier():
                names.append(name)
            current = ""
        else:
            current += char
    return names


def test_the_local_server_guide_names_real_parameters() -> None:
    """Every parameter the guide writes in a signature exists: a renamed keyword
    (``status`` for ``status_code``) fails here, not in a reader's code."""
    import inspect

    from fal_typed.testing import Failure, Fault

    owners: dict[str, Any] = {"Failure": Failure, "LocalFal": LocalFal, "inject": LocalFal.inject}
    text = " ".join((DOCS / "local-server.md").read_text(encoding="utf-8").split())
    found = SIGNATURE.findall(text)
    assert len(found) >= 10, found
    wrong: list[str] = []
    for owner, arguments in found:
        target = (
            getattr(Fault, owner.split(".", 1)[1]) if owner.startswith("Fault.") else owners[owner]
        )
        parameters = inspect.signature(target).parameters
        wrong += [
            f"{owner}: {name}" for name in _top_level_names(arguments) if name not in parameters
        ]
    assert wrong == []
