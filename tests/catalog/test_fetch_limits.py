"""Every fetch limit and check, against a hostile catalog server over real sockets (127.0.0.1).

Each test plays one attack (see tests/catalog/hostile.py) and asserts that the fetch ends, says
why in its report, writes nothing the attacker sent past the check, and keeps fetching the rest.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from starlette.responses import Response

from fal_typed import InvalidArgumentError
from fal_typed.catalog import FetchReport, FetchSettings, fetch_catalog, fetch_endpoints

from .hostile import HostileCatalog, document, json_answer, nested, page, raw_answer, record

FAST = FetchSettings(attempts=2, backoff=0.001, max_backoff=0.01)
ESC = "\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x9b31m"


@pytest.fixture
def hostile() -> Iterator[HostileCatalog]:
    with HostileCatalog() as server:
        yield server


def fetch_ids(
    server: HostileCatalog, ids: list[str], target: Path, settings: FetchSettings = FAST
) -> FetchReport:
    return asyncio.run(
        fetch_endpoints(ids, target, openapi_url=server.openapi_url, settings=settings)
    )


def fetch_all(server: HostileCatalog, target: Path, settings: FetchSettings = FAST) -> FetchReport:
    return asyncio.run(fetch_catalog(target, api_url=server.api_url, settings=settings))


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def keep(directory: Path, endpoint_id: str) -> Path:
    """A document already in ``directory`` that an incomplete listing must not prune."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (endpoint_id.replace("/", "__") + ".json")
    path.write_text(json.dumps(document(endpoint_id)) + "\n", encoding="utf-8")
    return path


# -- the catalog listing: pages, documents, cursors --------------------------------------------


def test_endless_paging_with_fresh_cursors_stops_at_max_pages(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    def pages(cursor: str | None) -> Response:
        n = int(cursor or 0) + 1
        return page([record(f"fal-ai/m{n}", document(f"fal-ai/m{n}"))], str(n))

    hostile.pages = pages
    stale = keep(tmp_path, "fal-ai/old")

    report = fetch_all(hostile, tmp_path, FetchSettings(attempts=1, max_pages=20))

    assert len(hostile.requests) == 20
    assert report.failed == {"<catalog>": "listing stopped: more than 20 pages (the limit)"}
    assert not report.complete and report.removed == [] and stale.exists()
    assert len(report.added) == 20  # what was listed before the limit is kept


def test_records_past_max_documents_are_not_written(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    def pages(cursor: str | None) -> Response:
        start = int(cursor or 0)
        ids = [f"fal-ai/m{n:04d}" for n in range(start, start + 50)]
        return page([record(i, document(i)) for i in ids], str(start + 50))

    hostile.pages = pages

    report = fetch_all(hostile, tmp_path, FetchSettings(attempts=1, max_documents=120))

    assert len(hostile.requests) == 3
    assert report.failed["<catalog>"] == "listing stopped: more than 120 documents (the limit)"
    assert len(report.added) == 120 and len(files(tmp_path)) == 120


def test_a_cursor_seen_before_stops_the_listing_even_pages_later(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    loop = {None: "A", "A": "B", "B": "C", "C": "A"}  # A -> B -> C -> A ...
    hostile.pages = lambda cursor: page([], loop[cursor])

    report = fetch_all(hostile, tmp_path)

    cursors = [parse_qs(query).get("cursor", [None])[0] for query in hostile.requests]
    assert cursors == [None, "A", "B", "C"]
    assert report.failed["<catalog>"] == (
        "listing stopped: the cursor 'A' repeated: the catalog pages in a loop"
    )


def test_a_cursor_that_is_no_short_string_stops_the_listing(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    hostile.pages = lambda cursor: page([], "x" * 5000)

    report = fetch_all(hostile, tmp_path)

    assert len(hostile.requests) == 1
    assert (
        "the next cursor is not a string of at most 4096 characters" in report.failed["<catalog>"]
    )


# -- one answer: time, size, nesting ------------------------------------------------------------


def test_a_trickled_document_is_cut_at_the_response_timeout(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    """One byte every 5 s never trips a per-read timeout; the whole answer has a deadline."""
    hostile.documents["fal-ai/slow"] = hostile.trickle(
        json.dumps(document("fal-ai/slow")).encode(), 5.0
    )
    hostile.documents["fal-ai/fine"] = json_answer(document("fal-ai/fine"))
    started = time.monotonic()

    report = fetch_ids(
        hostile,
        ["fal-ai/slow", "fal-ai/fine"],
        tmp_path,
        FetchSettings(attempts=3, response_timeout=1.0),
    )

    elapsed = time.monotonic() - started
    assert report.failed == {"fal-ai/slow": "no whole answer within 1 s"}
    assert report.added == ["fal-ai/fine"] and files(tmp_path) == ["fal-ai__fine.json"]
    assert hostile.sent < 3  # cut after its first byte or so, and not retried
    assert elapsed < 60  # it would take minutes to trickle the whole document


def test_a_document_without_end_is_cut_at_the_default_size_limit(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    hostile.documents["fal-ai/huge"] = hostile.stream(limit=512 * 2**20)  # chunked, no length

    report = fetch_ids(hostile, ["fal-ai/huge"], tmp_path, FetchSettings(attempts=1))

    assert report.failed == {"fal-ai/huge": "the answer is larger than 8,388,608 bytes"}
    assert files(tmp_path) == []
    assert hostile.sent < 64 * 2**20  # the client stopped reading long before 512 MiB


def test_a_declared_oversized_document_is_refused_before_its_body(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    hostile.documents["fal-ai/huge"] = hostile.stream(limit=10 * 2**20, declare=True)

    report = fetch_ids(
        hostile, ["fal-ai/huge"], tmp_path, FetchSettings(attempts=1, max_document_bytes=2**20)
    )

    assert report.failed == {"fal-ai/huge": "the answer is larger than 1,048,576 bytes"}
    assert hostile.sent < 5 * 2**20


def test_a_catalog_page_over_its_size_limit_stops_the_listing(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    big = document("fal-ai/big", padding="x" * 300_000)
    hostile.pages = lambda cursor: page([record("fal-ai/big", big)], None)

    report = fetch_all(hostile, tmp_path, FetchSettings(attempts=1, max_page_bytes=100_000))

    assert report.failed["<catalog>"] == (
        "listing stopped: the answer is larger than 100,000 bytes"
    )
    assert files(tmp_path) == []


def test_a_catalog_record_over_the_document_limit_fails_alone(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    big = document("fal-ai/big", padding="x" * 300_000)
    hostile.pages = lambda cursor: page(
        [record("fal-ai/big", big), record("fal-ai/fine", document("fal-ai/fine"))], None
    )

    report = fetch_all(hostile, tmp_path, FetchSettings(attempts=1, max_document_bytes=100_000))

    assert report.failed == {"fal-ai/big": "the document is larger than 100,000 bytes"}
    assert report.added == ["fal-ai/fine"] and report.complete


@pytest.mark.parametrize("depth", [100, 5_000])
def test_deeply_nested_documents_fail_alone(
    hostile: HostileCatalog, tmp_path: Path, depth: int
) -> None:
    hostile.documents["fal-ai/deep"] = raw_answer(nested(depth))
    hostile.documents["fal-ai/fine"] = json_answer(document("fal-ai/fine"))

    report = fetch_ids(hostile, ["fal-ai/deep", "fal-ai/fine"], tmp_path)

    assert report.failed == {"fal-ai/deep": "the response is nested deeper than 64 levels"}
    assert report.added == ["fal-ai/fine"]


def test_a_deep_catalog_record_fails_alone_and_a_page_too_deep_to_read_stops_the_listing(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    deep = json.loads(nested(200))
    hostile.pages = lambda cursor: page(
        [record("fal-ai/deep", deep), record("fal-ai/fine", document("fal-ai/fine"))], None
    )

    report = fetch_all(hostile, tmp_path)

    assert report.failed == {"fal-ai/deep": "the document is nested deeper than 64 levels"}
    assert report.added == ["fal-ai/fine"] and report.complete

    body = json.dumps({"models": [record("fal-ai/deep", "@")], "has_more": False})
    hostile.pages = lambda cursor: Response(
        body.replace('"@"', nested(5_000)), media_type="application/json"
    )

    again = fetch_all(hostile, tmp_path)

    assert again.failed == {"<catalog>": "listing stopped: the response is nested too deeply"}
    assert not again.complete and again.removed == []


# -- ids: the document must be the one asked for, and one file holds one id ---------------------


def test_a_document_naming_another_id_is_refused_and_nothing_is_written(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    existing = keep(tmp_path, "fal-ai/flux/dev")
    before = existing.read_bytes()
    hostile.documents["fal-ai/flux/dev"] = json_answer(document("fal-ai/evil"))
    hostile.documents["fal-ai/anonymous"] = json_answer({"openapi": "3.0.4", "paths": {}})

    report = fetch_ids(hostile, ["fal-ai/flux/dev", "fal-ai/anonymous"], tmp_path)

    assert report.failed == {
        "fal-ai/flux/dev": "the document is for 'fal-ai/evil', not 'fal-ai/flux/dev'",
        "fal-ai/anonymous": "the document names no endpoint id (info.x-fal-metadata.endpointId)",
    }
    assert existing.read_bytes() == before and files(tmp_path) == ["fal-ai__flux__dev.json"]


def test_a_catalog_record_whose_document_names_another_id_is_refused(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    hostile.pages = lambda cursor: page(
        [
            record("fal-ai/flux/dev", document("fal-ai/evil")),
            record("fal-ai/fine", document("fal-ai/fine")),
        ],
        None,
    )

    report = fetch_all(hostile, tmp_path)

    assert report.failed == {
        "fal-ai/flux/dev": "the document is for 'fal-ai/evil', not 'fal-ai/flux/dev'"
    }
    assert report.added == ["fal-ai/fine"] and report.removed == []  # not written, then pruned
    assert files(tmp_path) == ["fal-ai__fine.json"]


def test_ids_sharing_a_file_name_never_replace_each_other(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    hostile.pages = lambda cursor: page(
        [record("a__b/c", document("a__b/c")), record("a/b/c", document("a/b/c"))], None
    )

    report = fetch_all(hostile, tmp_path)

    assert report.added == ["a__b/c"]
    assert report.failed == {
        "a/b/c": "its file name a__b__c.json is already taken by a__b/c in this fetch"
    }
    assert json.loads((tmp_path / "a__b__c.json").read_text())["info"]["title"] == "a__b/c"

    # A file naming one id is never overwritten with the document of the other.
    hostile.documents["a/b/c"] = json_answer(document("a/b/c"))

    later = fetch_ids(hostile, ["a/b/c"], tmp_path)

    assert later.failed == {
        "a/b/c": "a__b__c.json holds the document of 'a__b/c', which shares its file name: kept"
    }
    assert json.loads((tmp_path / "a__b__c.json").read_text())["info"]["title"] == "a__b/c"


def test_ids_that_would_share_a_file_are_refused_before_any_request(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"would share the file a__b__c\.json"):
        fetch_ids(hostile, ["a__b/c", "a/b/c"], tmp_path)
    assert hostile.requests == []


def test_catalog_ids_outside_the_grammar_are_skipped_and_never_name_a_file(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    bad = [
        "fal-ai/x\n",
        "fal-ai/x\x00",
        "fal-ai/..",
        "fal-ai/x y",
        "fal-ai/é",
        42,
        "a/" + "b" * 300,
    ]
    hostile.pages = lambda cursor: page([record(i, document(str(i))) for i in bad], None)

    report = fetch_all(hostile, tmp_path)

    assert set(report.skipped.values()) == {"invalid endpoint id"} and len(report.skipped) == 7
    assert files(tmp_path) == [] and report.complete


# -- what the server writes never reaches a terminal raw ----------------------------------------


def test_text_from_the_server_is_made_printable_in_every_reason(
    hostile: HostileCatalog, tmp_path: Path
) -> None:
    hostile.documents["fal-ai/err"] = raw_answer(f"{ESC} not found", status=404)
    hostile.documents["fal-ai/other"] = json_answer(document(f"fal-ai/{ESC}"))

    report = fetch_ids(hostile, ["fal-ai/err", "fal-ai/other"], tmp_path)

    assert report.failed["fal-ai/err"] == "HTTP 404: click not found"
    assert report.failed["fal-ai/other"] == "the document is for 'fal-ai/click', not 'fal-ai/other'"

    hostile.pages = lambda cursor: page(
        [
            record(f"fal-ai/{ESC}", document("x/y")),
            record("fal-ai/e", {"error": {"code": ESC, "message": f"boom{ESC}"}}),
        ],
        None,
    )
    listed = fetch_all(hostile, tmp_path)

    assert listed.skipped == {
        "fal-ai/click": "invalid endpoint id",
        "fal-ai/e": "click: boomclick",
    }
    shown = json.dumps([report.failed, listed.skipped], ensure_ascii=False)
    assert not any(c in shown for c in "\x1b\x07\x9b")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 2.5}, "concurrency must be an int, got float"),
        ({"attempts": True}, "attempts must be an int, got bool"),
        ({"max_depth": 2.5}, "max_depth must be an int, got float"),
        ({"max_pages": 0}, "max_pages must be >= 1, got 0"),
        ({"backoff": -1}, "backoff must be >= 0 seconds, got -1"),
        ({"max_backoff": float("nan")}, "max_backoff must be a finite number of seconds"),
        ({"timeout": float("-inf")}, "timeout must be a finite number of seconds, got -inf"),
        ({"timeout": 0}, "timeout must be > 0 seconds, got 0"),
        ({"response_timeout": 10**400}, "response_timeout must be a finite number of seconds"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_settings_are_checked_by_the_shared_rules_naming_the_option(
    options: dict[str, object], message: str
) -> None:
    """FetchSettings had its own copy of the checks: 2.5 requests in flight, 1.5 attempts and an
    int no float holds were taken, and one message named backoff, max_backoff and timeout at
    once. It is still a ValueError (InvalidArgumentError is one)."""
    with pytest.raises(InvalidArgumentError) as caught:
        FetchSettings(**options)  # type: ignore[arg-type]
    assert caught.value.message.startswith(message)
    assert isinstance(caught.value, ValueError)
