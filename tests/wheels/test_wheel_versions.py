"""Endpoint wheel versions from the schema's git history: what each kind of change bumps, the
changelog in the README, and builds that are byte-identical in any clone."""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _wheel_support import ROOT, copy_project, fake_module
from packaging.requirements import Requirement

from tests.catalog.documents import commit, document, git, init_repo, write
from wheels import Layout, build_wheels, bump_version, endpoint_histories

FLUX = "fal-ai__flux__dev.json"
DAY = 86_400
T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC


@pytest.mark.parametrize(
    ("level", "expected"), [("major", "2.0.0"), ("minor", "1.5.0"), ("patch", "1.4.3")]
)
def test_bumps(level: Any, expected: str) -> None:
    assert bump_version("1.4.2", level) == expected


class Repo:
    """A checkout shaped like this one (pyproject, runtime, templates) whose schemas/ holds
    fal-ai/flux/dev's document, edited and committed one change at a time."""

    def __init__(self, root: Path) -> None:
        self.root = copy_project(init_repo(root))
        member = root / "generated" / "fal_endpoints" / "flux_dev"
        member.mkdir(parents=True)
        (member / "__init__.py").write_text(fake_module("fal-ai/flux/dev"), encoding="utf-8")
        (member / "py.typed").write_text("", encoding="utf-8")
        self.schemas = root / "schemas"
        self.document: dict[str, Any] = json.loads((ROOT / "schemas" / FLUX).read_bytes())
        self.time = T0
        self.save()

    @property
    def path(self) -> Path:
        return self.schemas / FLUX

    @property
    def input(self) -> dict[str, Any]:
        return self.document["components"]["schemas"]["FluxDevInput"]["properties"]

    def save(self) -> None:
        self.path.write_text(json.dumps(self.document, indent=2) + "\n", encoding="utf-8")

    def change(self, edit: Callable[[dict[str, Any]], None], message: str) -> str:
        edit(self.document)
        self.save()
        self.time += DAY
        return commit(self.root, message, self.time)

    def set_runtime(self, version: str, message: str) -> str:
        pyproject = self.root / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8").replace(
            f'version = "{self.runtime}"', f'version = "{version}"', 1
        )
        pyproject.write_text(text, encoding="utf-8")
        self.time += DAY
        return commit(self.root, message, self.time)

    @property
    def runtime(self) -> str:
        text = (self.root / "pyproject.toml").read_text(encoding="utf-8")
        return text.split('version = "', 1)[1].split('"', 1)[0]

    def version(self) -> str:
        return endpoint_histories([self.path], self.runtime)[self.path.resolve()].version


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    created = Repo(tmp_path / "repo")
    commit(created.root, "flux/dev", T0)
    return created


def test_each_kind_of_change_gives_the_next_version_it_calls_for(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert repo.version() == "1.0.0"
    git(repo.root, "commit", "-q", "--allow-empty", "-m", "nothing", when=T0 + 1)
    assert repo.version() == "1.0.0"

    def describe(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["FluxDevInput"]["properties"]["seed"]["description"] = "Seed."

    repo.change(describe, "docs only")
    assert repo.version() == "1.0.1"
    repo.change(lambda d: repo.input.update(style={"type": "string"}), "an optional input")
    assert repo.version() == "1.1.0"
    repo.change(lambda d: repo.input["num_inference_steps"].update(default=40), "a default")
    assert repo.version() == "1.2.0"
    repo.change(lambda d: repo.input.pop("sync_mode"), "an input removed")
    assert repo.version() == "2.0.0"
    repo.set_runtime("0.1.1", "fal-typed 0.1.1")
    assert repo.version() == "2.0.1"

    def reorder(doc: dict[str, Any]) -> None:
        doc["info"] = dict(reversed(list(doc["info"].items())))

    repo.change(reorder, "key order")
    assert repo.version() == "2.0.2"

    # Uncommitted: the working tree's document gets the next version by the same rule.
    output = repo.document["components"]["schemas"]["FluxDevOutput"]["properties"]
    output.pop("prompt")
    repo.save()
    assert repo.version() == "3.0.0"

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(repo.time + DAY))
    layout = Layout(root=repo.root, out_dir=repo.root / "dist")
    (wheel,) = build_wheels(layout, ["fal-ai/flux/dev"]).endpoints
    assert wheel.version == "3.0.0" and wheel.path.name.startswith("fal_endpoints_flux_dev-3.0.0-")
    with zipfile.ZipFile(wheel.path) as archive:
        metadata = archive.read("fal_endpoints_flux_dev-3.0.0.dist-info/METADATA").decode()
    (requires,) = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert str(Requirement(requires.split(":", 1)[1])) == "fal-typed<0.2,>=0.1.1"
    changelog = metadata.split("## Changelog\n", 1)[1].split("## Provenance", 1)[0]
    headings = [line for line in changelog.splitlines() if line.startswith("### ")]
    assert headings == [
        "### 3.0.0 (not committed yet)",
        "### 2.0.2 (2026-01-07)",
        "### 2.0.1 (2026-01-06)",
        "### 2.0.0 (2026-01-05)",
        "### 1.2.0 (2026-01-04)",
        "### 1.1.0 (2026-01-03)",
        "### 1.0.1 (2026-01-02)",
        "### 1.0.0 (2026-01-01)",
    ]
    for expected in (
        "**Breaking for readers**\n\n- output field `prompt` removed (was string)",
        "The schema's text changed; its API did not.",
        "Generated with fal-typed 0.1.1; the schema did not change.",
        "**Breaking for callers**\n\n- input field `sync_mode` removed (was boolean)",
        "- input `num_inference_steps`: default changed from 28 to 40",
        "**Compatible**\n\n- input field `style` added (string, optional)",
        "**Docs only**\n\n- input `seed`: description changed",
        "First version.",
    ):
        assert expected in changelog
    assert "pin `fal-endpoints-flux-dev~=3.0`" in metadata
    assert "pin `fal-endpoints-flux-dev~=3.0.0`" in metadata


def test_rebuilds_and_other_clones_give_byte_identical_wheels(repo: Repo, tmp_path: Path) -> None:
    repo.change(lambda d: repo.input.update(style={"type": "string"}), "an optional input")
    repo.change(lambda d: repo.input.pop("sync_mode"), "an input removed")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo.root), str(clone))
    outputs: list[Path] = []
    for root, out in ((repo.root, "out-1"), (repo.root, "out-2"), (clone, "out-clone")):
        report = build_wheels(Layout(root=root, out_dir=tmp_path / out), ["fal-ai/flux/dev"])
        assert [w.version for w in report.endpoints] == ["2.0.0"]
        outputs.append(tmp_path / out)
    names = sorted(p.name for p in outputs[0].iterdir())
    assert names == [
        "fal_endpoints_flux_dev-2.0.0-py3-none-any.whl",
        "fal_typed-0.1.0-py3-none-any.whl",
    ]
    for other in outputs[1:]:
        assert sorted(p.name for p in other.iterdir()) == names
        for name in names:
            assert (other / name).read_bytes() == (outputs[0] / name).read_bytes(), (other, name)


def test_a_document_removed_and_added_back_continues_its_versions(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo")
    schemas = root / "schemas"
    base = document({"prompt": {"type": "string"}, "seed": {"type": "integer"}})
    path = write(schemas, base)
    commit(root, "a", T0)
    path.unlink()
    commit(root, "a is gone", T0 + DAY)
    assert not path.exists()
    histories = endpoint_histories([path], "0.1.0")
    assert histories[path.resolve()].version == "1.0.0"  # gone from the tree: no new version
    smaller = copy.deepcopy(base)
    del smaller["components"]["schemas"]["ExampleInput"]["properties"]["seed"]
    write(schemas, smaller)
    commit(root, "a is back, without seed", T0 + 2 * DAY)
    history = endpoint_histories([path], "0.1.0")[path.resolve()]
    assert [(r.version, r.kind) for r in history.releases] == [
        ("1.0.0", "first"),
        ("2.0.0", "schema"),
    ]
    assert history.current.diff is not None and history.current.diff.breaking


def test_a_runtime_release_before_a_document_exists_does_not_bump_it(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo")
    (root / "pyproject.toml").write_text('[project]\nversion = "0.1.0"\n', encoding="utf-8")
    commit(root, "runtime 0.1.0", T0)
    (root / "pyproject.toml").write_text('[project]\nversion = "0.2.0"\n', encoding="utf-8")
    commit(root, "runtime 0.2.0", T0 + DAY)
    path = write(root / "schemas", document())
    commit(root, "a document", T0 + 2 * DAY)
    assert endpoint_histories([path], "0.2.0")[path.resolve()].version == "1.0.0"
    (root / "pyproject.toml").write_text('[project]\nversion = "0.3.0"\n', encoding="utf-8")
    commit(root, "runtime 0.3.0", T0 + 3 * DAY)
    history = endpoint_histories([path], "0.3.0")[path.resolve()]
    assert [(r.version, r.kind, r.runtime) for r in history.releases] == [
        ("1.0.0", "first", "0.2.0"),
        ("1.0.1", "runtime", "0.3.0"),
    ]
    # building with an uncommitted runtime version is one more regeneration
    assert endpoint_histories([path], "0.4.0")[path.resolve()].version == "1.0.2"
