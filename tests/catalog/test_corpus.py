"""The corpus format and atomic writes that ``fetch`` relies on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fal_typed.catalog._corpus import (
    RawNumber,
    document_filename,
    dumps_document,
    iter_document_paths,
    loads_document,
    read_info,
    remove_debris,
    write_atomic,
)

from ..cli.helpers import SCHEMAS


def test_every_corpus_document_round_trips_byte_for_byte() -> None:
    paths = list(iter_document_paths(SCHEMAS))
    assert len(paths) >= 1000
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert dumps_document(loads_document(text)) == text, path.name


def test_number_lexemes_and_key_order_are_kept() -> None:
    document = loads_document(
        '{"b": 2.50, "a": [1e-7, 0.000001, -0, 10], "c": {"z": 1.0, "y": null}}'
    )

    assert list(document) == ["b", "a", "c"]
    assert isinstance(document["b"], RawNumber)
    assert dumps_document(document) == (
        '{\n  "b": 2.50,\n  "a": [\n    1e-7,\n    0.000001,\n    -0,\n    10\n  ],\n'
        '  "c": {\n    "z": 1.0,\n    "y": null\n  }\n}\n'
    )


def test_non_ascii_is_written_unescaped_and_empty_containers_inline() -> None:
    assert dumps_document(loads_document('{"t": "caf\\u00e9 \\"q\\"", "e": {}, "l": []}')) == (
        '{\n  "t": "café \\"q\\"",\n  "e": {},\n  "l": []\n}\n'
    )


@pytest.mark.parametrize(
    ("endpoint_id", "name"),
    [
        ("fal-ai/flux/dev", "fal-ai__flux__dev.json"),
        ("CassetteAI/music-generator", "CassetteAI__music-generator.json"),
        ("fal-ai/wan/v2.2-a14b/text-to-video", "fal-ai__wan__v2.2-a14b__text-to-video.json"),
    ],
)
def test_document_filename(endpoint_id: str, name: str) -> None:
    assert document_filename(endpoint_id) == name


@pytest.mark.parametrize(
    "endpoint_id", ["flux", "fal-ai/../etc", "fal-ai//dev", "/fal-ai/flux", "fal ai/x", "a/b\\c"]
)
def test_ids_that_cannot_name_a_file_are_refused(endpoint_id: str) -> None:
    with pytest.raises(ValueError, match="invalid endpoint id"):
        document_filename(endpoint_id)


def test_a_failed_write_keeps_the_old_document_and_leaves_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a__b.json"
    target.write_bytes(b'{"old": 1}\n')

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        write_atomic(target, b'{"new": 2}\n')

    assert target.read_bytes() == b'{"old": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a__b.json"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "a__b.json"

    write_atomic(target, b"{}\n")

    assert target.read_bytes() == b"{}\n"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_debris_is_never_a_document_and_is_removed(tmp_path: Path) -> None:
    (tmp_path / "a__b.json").write_text("{}\n")
    (tmp_path / ".fal-typed-a__b.json.x1y2.tmp").write_text('{"half": ')
    (tmp_path / ".hidden.json").write_text("{}\n")
    (tmp_path / "README.md").write_text("notes\n")

    assert [p.name for p in iter_document_paths(tmp_path)] == ["a__b.json"]
    assert remove_debris(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden.json", "README.md", "a__b.json"]


def test_read_info_takes_id_category_and_about_from_the_metadata(tmp_path: Path) -> None:
    info = read_info(SCHEMAS / "fal-ai__flux__dev.json")
    assert (info.endpoint_id, info.category) == ("fal-ai/flux/dev", "text-to-image")
    assert info.about.startswith("FLUX.1 [dev]")

    bare = tmp_path / "owner__app.json"
    bare.write_text('{"openapi": "3.0.4"}\n')
    assert (read_info(bare).endpoint_id, read_info(bare).category) == ("owner/app", "unknown")

    broken = tmp_path / "owner__broken.json"
    broken.write_text('{"openapi": ')
    with pytest.raises(ValueError, match=r"owner__broken\.json"):
        read_info(broken)
