"""The fetcher's edge cases, in process, over httpx mock transports (in addition to the
subprocess tests against the local server in tests/cli/test_fetch.py)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from fal_typed.catalog._fetch import FetchSettings, Outcome, fetch_catalog, fetch_endpoints

FAST = FetchSettings(attempts=3, backoff=0.001, max_backoff=0.05)
DOC = {"openapi": "3.0.4", "info": {"x-fal-metadata": {"endpointId": "a/b"}}, "paths": {}}


def doc(endpoint_id: str) -> dict[str, object]:
    """A minimal document of ``endpoint_id`` (a fetched document must name the id asked for)."""
    return {**DOC, "info": {"x-fal-metadata": {"endpointId": endpoint_id}}}


def doc_for(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=doc(request.url.params["endpoint_id"]))


class Recorder:
    def __init__(self) -> None:
        self.retries: list[tuple[int, float, str]] = []
        self.outcomes: list[tuple[str, Outcome]] = []
        self.expected = 0

    def expect(self, count: int) -> None:
        self.expected += count

    def document(self, endpoint_id: str, outcome: Outcome) -> None:
        self.outcomes.append((endpoint_id, outcome))

    def retrying(self, url: str, attempt: int, delay: float, reason: str) -> None:
        self.retries.append((attempt, delay, reason))


def transport(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_retry_after_is_honoured_up_to_the_cap_and_transport_errors_are_retried(
    tmp_path: Path,
) -> None:
    calls: list[int] = []
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            return httpx.Response(429, headers={"Retry-After": later}, json={"detail": "slow down"})
        return httpx.Response(200, json=DOC)

    listener = Recorder()
    report = asyncio.run(
        fetch_endpoints(
            ["a/b"], tmp_path, settings=FAST, listener=listener, transport=transport(handler)
        )
    )

    assert report.added == ["a/b"] and report.ok
    assert [(a, r) for a, _, r in listener.retries] == [(1, "ConnectError"), (2, "HTTP 429")]
    assert listener.retries[1][1] == FAST.max_backoff  # an hour's Retry-After, capped
    assert json.loads((tmp_path / "a__b.json").read_text()) == DOC


def test_the_last_failure_is_reported_with_its_body(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="upstream\nunavailable")

    report = asyncio.run(
        fetch_endpoints(["a/b"], tmp_path, settings=FAST, transport=transport(handler))
    )

    assert report.failed == {"a/b": "HTTP 503: upstream unavailable"}
    assert not list(tmp_path.iterdir())


def test_answers_that_are_not_documents_fail_without_writing(tmp_path: Path) -> None:
    bodies = {"a/json": b"<html>", "a/other": b'{"detail": "no such endpoint"}'}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies[request.url.params["endpoint_id"]])

    report = asyncio.run(
        fetch_endpoints(list(bodies), tmp_path, settings=FAST, transport=transport(handler))
    )

    assert report.failed["a/json"].startswith("response is not JSON")
    assert report.failed["a/other"] == "response is not an OpenAPI document"
    assert not list(tmp_path.glob("*.json"))


def page(models: list[object], cursor: str | None) -> httpx.Response:
    return httpx.Response(
        200, json={"models": models, "next_cursor": cursor, "has_more": cursor is not None}
    )


def test_bad_records_are_skipped_and_a_repeating_cursor_stops_listing(tmp_path: Path) -> None:
    stale = tmp_path / "old__model.json"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text('{"info": {"x-fal-metadata": {"endpointId": "old/model"}}}\n')
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        seen.append(cursor)
        assert (
            request.url.params["expand"] == "openapi-3.0"
            and request.url.params["status"] == "active"
        )
        records: list[object] = [
            {"endpoint_id": "a/b", "openapi": DOC},
            {"endpoint_id": "../evil", "openapi": doc("../evil")},
            {"endpoint_id": "c/d"},
            {
                "endpoint_id": "e/f",
                "openapi": {"error": {"code": "expansion_failed", "message": "boom"}},
            },
            "not a record",
        ]
        return page(records, "Mg==")  # the same cursor on every page

    listener = Recorder()
    report = asyncio.run(
        fetch_catalog(tmp_path, settings=FAST, listener=listener, transport=transport(handler))
    )

    assert seen == [None, "Mg=="]
    assert report.complete is False and "repeated" in report.failed["<catalog>"]
    assert report.removed == [] and stale.exists()  # an incomplete listing removes nothing
    assert report.skipped == {
        "../evil": "invalid endpoint id",
        "c/d": "no OpenAPI document in the record",
        "e/f": "expansion_failed: boom",
        "<record without endpoint_id>": "invalid endpoint id",
    }
    assert report.added == ["a/b"] and report.unchanged == ["a/b"]  # listed on both pages
    assert listener.expected == 10


def test_a_complete_listing_prunes_and_passes_the_category(tmp_path: Path) -> None:
    (tmp_path / "x__gone.json").write_text(
        '{"info": {"x-fal-metadata": {"endpointId": "x/gone", "category": "llm"}}}\n'
    )
    (tmp_path / "x__other.json").write_text(
        '{"info": {"x-fal-metadata": {"endpointId": "x/other", "category": "vision"}}}\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["category"] == "llm"
        if request.url.params.get("cursor") is None:
            return page([{"endpoint_id": "a/b", "openapi": DOC}], "Mg==")
        return page([{"endpoint_id": "c/d", "openapi": doc("c/d")}], None)

    report = asyncio.run(
        fetch_catalog(tmp_path, category="llm", settings=FAST, transport=transport(handler))
    )

    assert report.ok and report.added == ["a/b", "c/d"] and report.removed == ["x/gone"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a__b.json", "c__d.json", "x__other.json"]


def test_a_document_that_cannot_be_written_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "a__blocked.json").mkdir()  # a directory where the document should go

    report = asyncio.run(
        fetch_endpoints(
            ["a/blocked", "a/fine"], tmp_path, settings=FAST, transport=transport(doc_for)
        )
    )

    assert report.added == ["a/fine"]
    assert report.failed["a/blocked"].startswith(f"cannot write {tmp_path / 'a__blocked.json'}")


def test_a_content_length_is_read_by_the_one_rule(tmp_path: Path) -> None:
    """The fetch read Content-Length with int(), which takes '1_000_000_000' and '+1000000000'
    for a length: a small document was refused as larger
    than the limit. Only one value in ASCII digits is a length (_checks.declared_length); any
    other is counted as the body arrives. (h11 refuses such a header; another transport, an
    HTTP/2 one, may not.)"""
    body = json.dumps(DOC).encode()
    lengths = iter(["1_000_000_000", "+1000000000"])

    def handler(request: httpx.Request) -> httpx.Response:
        length = next(lengths)
        return httpx.Response(
            200, headers={"Content-Length": length}, stream=httpx.ByteStream(body)
        )

    for _ in range(2):
        report = asyncio.run(
            fetch_endpoints(
                ["a/b"],
                tmp_path,
                settings=FetchSettings(attempts=1, max_document_bytes=1000),
                transport=transport(handler),
            )
        )
        assert report.ok, report.failed


def test_an_error_answer_echoing_the_key_is_not_quoted_with_it(tmp_path: Path) -> None:
    """fal-typed fetch --key sends the key; an error answer that echoes it (whole, or cut to a
    length) was quoted as it was in the report's reason, which the command prints."""
    key = "0123abcd-key-id:" + "f00d" * 8

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Key {key}"
        return httpx.Response(401, text=f"invalid key {key[:30]} (sent: {key})")

    report = asyncio.run(
        fetch_endpoints(
            ["a/b"],
            tmp_path,
            headers={"Authorization": f"Key {key}"},
            settings=FetchSettings(attempts=1),
            transport=transport(handler),
        )
    )
    reason = report.failed["a/b"]
    assert reason.startswith("HTTP 401: invalid key"), reason
    assert key not in reason and key[:20] not in reason and "f00d" * 8 not in reason


def test_a_catalog_record_s_error_echoing_the_key_is_not_quoted_with_it(tmp_path: Path) -> None:
    """A record's own expansion error (a 200 page) went into ``report.skipped`` as written, which
    the command prints: only an error answer's text was scrubbed."""
    key = "0123abcd-key-id:" + "f00d" * 8

    def handler(request: httpx.Request) -> httpx.Response:
        error = {"code": "expansion_failed", "message": f"invalid key {key}"}
        records = [{"endpoint_id": "a/b", "openapi": {"error": error}}]
        return httpx.Response(200, json={"models": records, "has_more": False})

    report = asyncio.run(
        fetch_catalog(
            tmp_path,
            headers={"Authorization": f"Key {key}"},
            settings=FetchSettings(attempts=1),
            transport=transport(handler),
        )
    )
    reason = report.skipped["a/b"]
    assert reason.startswith("expansion_failed: invalid k") and "[redacted]" in reason, reason
    assert key not in repr(report) and "f00d" * 8 not in reason
