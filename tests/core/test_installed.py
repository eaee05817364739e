"""The index of installed endpoints: what it lists, from where, in which order, and search.

A second ``fal_endpoints`` portion is put on ``sys.path`` before the checkout's, holding packages
as an endpoint wheel (or ``fal-typed add``) installs them: ``<module>/__init__.py``,
``endpoint.json``, ``openapi.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import fal_typed
from fal_typed import EndpointInfo, UnknownEndpointError
from fal_typed._installed import (
    compact_document,
    display_name,
    index_record,
    installed_documents,
    namespace_portions,
    scan,
)
from fal_typed.naming import module_name
from fal_typed.testing import LocalFal

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
NEW_ID = "acme/new-model"


def renamed_document(endpoint_id: str, source: str = "fal-ai/flux/dev") -> bytes:
    """fal-ai/flux/dev's document (text as fal wrote it) under another id."""
    text = (SCHEMAS / (source.replace("/", "__") + ".json")).read_text(encoding="utf-8")
    return text.replace(source, endpoint_id).encode("utf-8")


def install_package(
    portion: Path, endpoint_id: str, *, module_text: str | None = None, description: str = ""
) -> Path:
    """An endpoint package as a wheel installs it (the module is flux_dev's, renamed)."""
    module = module_name(endpoint_id)
    package = portion / module
    package.mkdir(parents=True)
    sources: dict[str, str] = {"__init__.py": module_text or ""}
    if module_text is None:  # flux_dev's member: its calls, models and realtime classes
        member = ROOT / "generated" / "fal_endpoints" / "flux_dev"
        sources = {
            path.name: path.read_text(encoding="utf-8").replace("fal-ai/flux/dev", endpoint_id)
            for path in member.glob("*.py")
        }
    for name, text in sources.items():
        (package / name).write_text(text, encoding="utf-8")
    (package / "py.typed").write_text("")
    document = renamed_document(endpoint_id)
    (package / "openapi.json").write_bytes(compact_document(document))
    about = description or json.loads(document)["info"]["x-fal-metadata"]["about"]
    (package / "endpoint.json").write_bytes(index_record(endpoint_id, "text-to-image", about))
    return package


@pytest.fixture
def portion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A ``fal_endpoints/`` folder first on ``sys.path``, with ``acme/new-model`` installed."""
    site = tmp_path / "site"
    folder = site / "fal_endpoints"
    install_package(folder, NEW_ID)
    monkeypatch.syspath_prepend(str(site))
    yield folder
    sys.modules.pop("fal_endpoints.acme__new_model", None)  # imported from a folder now gone


def test_the_checkout_is_listed_without_importing_endpoint_modules() -> None:
    before = {name for name in sys.modules if name.startswith("fal_endpoints.")}
    infos = fal_typed.installed_endpoints()
    after = {name for name in sys.modules if name.startswith("fal_endpoints.")}
    assert after == before  # nothing imported
    assert len(infos) == len(list(SCHEMAS.glob("*.json")))
    flux = next(i for i in infos if i.endpoint_id == "fal-ai/flux/dev")
    assert flux == EndpointInfo(
        "fal-ai/flux/dev",
        "flux_dev",
        "Flux Dev",
        "text-to-image",
        "FLUX.1 [dev], next generation text-to-image model.",
    )
    assert [i.endpoint_id for i in infos] == sorted(i.endpoint_id for i in infos)


def test_packages_are_listed_from_their_records_in_import_order(portion: Path) -> None:
    assert namespace_portions()[0] == portion
    found = {e.info.endpoint_id: e for e in scan()}
    new = found[NEW_ID]
    assert new.info == EndpointInfo(
        NEW_ID, "acme__new_model", "New Model", "text-to-image", new.info.description
    )
    assert new.portion == portion and new.document == portion / "acme__new_model" / "openapi.json"
    assert installed_documents()[NEW_ID] == new.document
    assert found["fal-ai/flux/dev"].document is None  # the checkout's: schemas/ serves it

    # The first portion holding a module is the one listed, as it is the one imported.
    install_package(portion, "fal-ai/flux/dev", description="The copy that shadows the checkout.")
    flux = {e.info.endpoint_id: e for e in scan()}["fal-ai/flux/dev"]
    assert flux.portion == portion and flux.info.description.startswith("The copy")
    assert sum(1 for e in scan() if e.info.module == "flux_dev") == 1


def test_unsound_records_are_left_out(portion: Path) -> None:
    broken = portion / "broken"
    broken.mkdir()
    (broken / "endpoint.json").write_text("{not json")
    elsewhere = portion / "elsewhere"
    elsewhere.mkdir()  # a record naming another package's id
    (elsewhere / "endpoint.json").write_bytes(index_record("fal-ai/other", None, None))
    hostile = portion / "evil"
    hostile.mkdir()
    (hostile / "endpoint.json").write_text(json.dumps({"endpoint_id": "evil/\x1b[2Jx"}))
    huge = portion / "huge"
    huge.mkdir()
    (huge / "endpoint.json").write_text(json.dumps({"endpoint_id": "a/huge", "d": "x" * 100_000}))
    listed = {e.info.module for e in scan() if e.portion == portion}
    assert listed == {"acme__new_model"}


def test_search_ranks_and_filters(portion: Path) -> None:
    assert fal_typed.search("flux dev")[0].endpoint_id == "fal-ai/flux/dev"
    assert fal_typed.search("FLUX_DEV")[0].module == "flux_dev"  # an exact module name first
    assert fal_typed.search("fal-ai/flux/schnell")[0].endpoint_id == "fal-ai/flux/schnell"
    assert fal_typed.search("new model")[0].endpoint_id == NEW_ID
    seedream = fal_typed.search("bytedance seedream v4 text")
    assert seedream and all("seedream" in i.endpoint_id for i in seedream[:3])
    videos = fal_typed.search("kling", category="image-to-video")
    assert videos and all(i.category == "image-to-video" for i in videos)
    assert all("kling" in (i.endpoint_id + i.description).lower() for i in videos)
    assert fal_typed.search("no-such-word-anywhere") == []
    everything = fal_typed.search()
    assert [i.endpoint_id for i in everything] == sorted(i.endpoint_id for i in everything)
    assert len(everything) == len(fal_typed.installed_endpoints())


def test_a_category_is_matched_in_any_case_and_an_unknown_one_is_said() -> None:
    """A category in another case ('Image-To-Video') listed nothing, as if no endpoint had it;
    one no endpoint has lists nothing, and category_note says so (the CLI prints it)."""
    from fal_typed._installed import category_note

    exact = fal_typed.search("kling", category="image-to-video")
    assert exact and fal_typed.search("kling", category=" Image-To-Video ") == exact
    assert fal_typed.search(category="image-to-vdeo") == []
    installed = fal_typed.installed_endpoints()
    note = category_note("image-to-vdeo", installed)
    assert note is not None and note.startswith(
        "no endpoint listed has the category 'image-to-vdeo': did you mean 'image-to-video'"
    )
    assert "the categories are " in note and "text-to-image" in note
    assert category_note("Image-To-Video", installed) is None
    with pytest.raises(fal_typed.InvalidArgumentError, match="category '' is empty"):
        fal_typed.search(category="")


def test_display_names() -> None:
    assert display_name("fal-ai/flux/dev") == "Flux Dev"
    assert display_name("bytedance/seedream/v4") == "Seedream V4"
    assert display_name("fal-ai/flux-pro/v1.1-ultra") == "Flux Pro V1.1 Ultra"


def test_an_added_package_imports_and_typos_are_suggested(portion: Path) -> None:
    endpoint = fal_typed.endpoint(NEW_ID)
    assert endpoint.endpoint_id == NEW_ID
    assert endpoint.Input.__module__ == "fal_endpoints.acme__new_model._models"
    with pytest.raises(UnknownEndpointError) as caught:
        fal_typed.endpoint("acme/new-modle")
    assert caught.value.suggestions == [NEW_ID]
    message = str(caught.value)
    assert "fal_typed.untyped('acme/new-modle')" in message and "fal-typed add" in message


def test_the_local_server_serves_installed_documents(portion: Path) -> None:
    with LocalFal() as fal:
        assert NEW_ID in fal.endpoint_ids and "fal-ai/flux/dev" in fal.endpoint_ids
        assert "1 installed endpoint package" in fal.schemas_source
        out = fal_typed.endpoint(NEW_ID).subscribe({"prompt": "a cat"}, client=fal.client())
        assert out.images  # type: ignore[attr-defined]
        invalid = httpx.post(
            f"{fal.run_url}/{NEW_ID}",
            json={"prompt": "a cat", "num_images": 99},
            headers={"Authorization": "Key k"},
        )
        assert invalid.status_code == 422  # validated against the installed document
        document = httpx.get(
            f"{fal.base_url}/fal/api/openapi/queue/openapi.json", params={"endpoint_id": NEW_ID}
        )
        assert document.status_code == 200
        assert document.json()["info"]["x-fal-metadata"]["endpointId"] == NEW_ID
        listed = httpx.get(f"{fal.api_url}/v1/models", params={"endpoint_id": NEW_ID}).json()
        assert [m["endpoint_id"] for m in listed["models"]] == [NEW_ID]

    with LocalFal(SCHEMAS) as explicit:  # a folder given: that folder only
        assert NEW_ID not in explicit.endpoint_ids


@pytest.mark.parametrize("typed", ["FAL-AI/FLUX/DEV", "Fal-Ai/Flux/Dev", "fal-ai/flux/devv"])
def test_a_typo_in_any_case_is_answered_with_the_id_meant(typed: str) -> None:
    with pytest.raises(UnknownEndpointError) as caught:
        fal_typed.endpoint(typed)
    assert caught.value.suggestions[0] == "fal-ai/flux/dev"
