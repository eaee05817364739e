"""docs/webhooks.md is executed: every ```python / ```py block runs, in order, in one namespace,
against the local server made the default client (receiver.py's blocks are also the module
``receiver`` that test_receiver.py imports)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import fal_typed
from fal_typed import Client, FalValidationError
from fal_typed import webhooks as wh
from fal_typed.testing import Failure, LocalFal

from ..docs.guides import forget_files, python_blocks, run_blocks


@pytest.fixture
def doc(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    local_fal: LocalFal,
    local_fal_client: Client,
) -> Iterator[dict[str, Any]]:
    """The namespace left by running every Python block of the page (in a temporary working
    directory: the page's SQLite file lands there), the local server's client the default one
    (the page's first call submits with the default client)."""
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks("webhooks.md")
    assert len(blocks) == 7, "the page's executable examples changed: update this test"
    assert [b.file for b in blocks if b.file] == ["receiver", "receiver", "test_receiver"]
    fal_typed.set_default_client(local_fal_client)
    try:
        yield run_blocks(blocks, {"__name__": "docs_webhooks"})
    finally:
        forget_files(blocks)
        fal_typed.set_default_client(None)


def test_receiver_example_runs_end_to_end(
    doc: dict[str, Any], local_fal: LocalFal, local_fal_client: Client
) -> None:
    doc["test_flux_result_arrives_typed_and_verified"](local_fal, local_fal_client)
    assert len(doc["IMAGES"]) == 1 and doc["FAILURES"] == {}


def test_receiver_example_records_failures_typed(
    doc: dict[str, Any], local_fal: LocalFal, local_fal_client: Client
) -> None:
    detail = [{"loc": ["body", "prompt"], "msg": "not allowed", "type": "content_policy_violation"}]
    local_fal.configure("fal-ai/flux/dev", failure=Failure(422, detail))
    flux_dev = doc["flux_dev"]
    app = doc["create_app"](wh.WebhookVerifier(client=local_fal_client))
    with doc["serving"](app) as base_url:
        handle = flux_dev.submit(
            prompt="x", webhook_url=f"{base_url}/fal/webhook", client=local_fal_client
        )
        doc["wait_for"](lambda: handle.request_id in doc["FAILURES"])
    error = doc["FAILURES"][handle.request_id]
    assert isinstance(error, FalValidationError) and error.fields == ["prompt"]


def test_framework_free_handler(
    doc: dict[str, Any],
    local_fal: LocalFal,
    local_fal_client: Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc["verifier"] = wh.WebhookVerifier(
        client=local_fal_client
    )  # the page's verifier trusts fal's keys
    dispatcher = local_fal.webhooks
    dispatcher.configure(retries=0)
    handle = doc["flux_dev"].submit(
        prompt="x", webhook_url="http://127.0.0.1:9/unused", client=local_fal_client
    )
    [attempt] = dispatcher.wait_for(handle.request_id)  # delivery failed; its signed bytes are kept
    handle_fal_webhook = doc["handle_fal_webhook"]
    assert handle_fal_webhook(attempt.body, attempt.headers) == 200
    assert (
        handle_fal_webhook(attempt.body, attempt.headers) == 200
    )  # a duplicate: not processed again
    assert capsys.readouterr().out.count(handle.request_id) == 1
    assert handle_fal_webhook(attempt.body + b" ", attempt.headers) == 401
    assert handle_fal_webhook(attempt.body, {}) == 401


def test_framework_free_handler_answers_a_delivery_being_handled_409(
    doc: dict[str, Any], local_fal: LocalFal, local_fal_client: Client
) -> None:
    """The page's handler used once(): a retry arriving while a thread of a WSGI server still
    handled the first was answered 200 (fal stopped); had that handler then failed, the paid
    result was lost. It is answered 409 now, so fal retries it."""
    doc["verifier"] = wh.WebhookVerifier(client=local_fal_client)
    dispatcher = local_fal.webhooks
    dispatcher.configure(retries=0)
    handle = doc["flux_dev"].submit(
        prompt="x", webhook_url="http://127.0.0.1:9/unused", client=local_fal_client
    )
    [attempt] = dispatcher.wait_for(handle.request_id)
    entered, go_on = threading.Event(), threading.Event()

    def slow_print(*_: object) -> None:  # the page's handling step, taking a while
        entered.set()
        assert go_on.wait(10)

    doc["print"] = slow_print
    handle_fal_webhook = doc["handle_fal_webhook"]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(handle_fal_webhook, attempt.body, attempt.headers)
        assert entered.wait(10)
        assert handle_fal_webhook(attempt.body, attempt.headers) == 409
        go_on.set()
        assert first.result(10) == 200
    assert handle_fal_webhook(attempt.body, attempt.headers) == 200


class _FakeRedis:
    """The redis.asyncio calls the page's store uses, with their semantics (values as bytes)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[bytes, int]] = {}

    async def set(
        self, name: str, value: str, *, nx: bool = False, ex: int | None = None
    ) -> bool | None:
        if nx and name in self.values:
            return None
        self.values[name] = (value.encode(), ex or 0)
        return True

    async def get(self, name: str) -> bytes | None:
        held = self.values.get(name)
        return None if held is None else held[0]

    async def delete(self, name: str) -> int:
        return 1 if self.values.pop(name, None) is not None else 0

    async def eval(self, script: str, numkeys: int, name: str, seconds: int) -> int:
        assert numkeys == 1 and "== 'busy'" in script and "'EXPIRE'" in script
        held = self.values.get(name)
        if held is None or held[0] != b"busy":
            return 0
        self.values[name] = (held[0], seconds)
        return 1


def test_redis_store_example(doc: dict[str, Any]) -> None:
    redis = _FakeRedis()
    dedup = wh.Deduplicator(doc["RedisIdempotencyStore"](redis), ttl=3600)

    async def scenario() -> list[bool]:
        first = await dedup.claim_async("req-1")
        again = await dedup.claim_async("req-1")
        await dedup.release_async("req-1")
        return [first, again, await dedup.claim_async("req-1")]

    assert asyncio.run(scenario()) == [True, False, True]
    assert redis.values == {"fal-webhook:req-1": (b"done", 3600)}


def test_redis_store_example_tells_a_delivery_in_progress_elsewhere_from_one_handled(
    doc: dict[str, Any],
) -> None:
    """Two receiver processes sharing the page's store: a retry reaching the second while the
    first handles the delivery is 'busy' (answered 409, fal retries), not 'duplicate' (200, fal
    stops: were the first to fail, the delivery would be lost)."""
    redis = _FakeRedis()
    one, other = (
        wh.Deduplicator(doc["RedisIdempotencyStore"](redis), ttl=3600, lease=60) for _ in range(2)
    )

    async def scenario() -> list[str]:
        seen: list[str] = []
        async with one.handling_async("req-1") as first:
            seen.append(first)
            assert redis.values["fal-webhook:req-1"] == (b"busy", 60)
            async with other.handling_async("req-1") as meanwhile:
                seen.append(meanwhile)
        async with other.handling_async("req-1") as later:
            seen.append(later)
        return seen

    assert asyncio.run(scenario()) == ["first", "busy", "duplicate"]
    assert redis.values == {"fal-webhook:req-1": (b"done", 3600)}

    store = doc["RedisIdempotencyStore"](redis)

    async def extended() -> list[tuple[bytes, int]]:
        await store.extend("req-1", 60)  # completed: left as it is
        await store.claim("req-2", 60)
        await store.extend("req-2", 90)  # in progress: renewed
        return [redis.values["fal-webhook:req-1"], redis.values["fal-webhook:req-2"]]

    assert asyncio.run(extended()) == [(b"done", 3600), (b"busy", 90)]


def test_strict_receiver_example_keeps_claims_and_accepts_only_its_own_requests(
    doc: dict[str, Any], local_fal: LocalFal, local_fal_client: Client, tmp_path: Path
) -> None:
    flux_dev = doc["flux_dev"]
    app = doc["create_strict_app"](wh.WebhookVerifier(client=local_fal_client))
    with doc["serving"](app) as base_url:
        hook = f"{base_url}/fal/webhook"
        mine = doc["submit_flux"]("a lighthouse", hook, client=local_fal_client)
        doc["wait_for"](lambda: mine in doc["IMAGES"])
        foreign = flux_dev.submit(prompt="x", webhook_url=hook, client=local_fal_client)
        attempts = local_fal.webhooks.wait_for(foreign.request_id)
    assert attempts[0].status_code == 403 and foreign.request_id not in doc["IMAGES"]
    [delivered] = local_fal.webhooks.wait_for(mine)
    restarted = doc["create_strict_app"](wh.WebhookVerifier(client=local_fal_client))
    with doc["serving"](restarted) as base_url:  # a replay after a restart
        replay = httpx.post(
            f"{base_url}/fal/webhook", content=delivered.body, headers=delivered.headers
        )
    assert replay.json() == {"status": "duplicate", "request_id": mine}
    assert (tmp_path / "fal-webhooks.db").exists()
