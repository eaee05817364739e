"""Deliveries of the same request id are handled once; failures give the claim back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.routing import Route

from fal_typed import OutputModel
from fal_typed import webhooks as wh

from .helpers import jwks_of, make_delivery, serve


def test_memory_store_claims_once_and_expires() -> None:
    store = wh.MemoryIdempotencyStore()
    assert store.add("a", 60) is True
    assert store.add("a", 60) is False
    assert store.add("b", 0.05) is True
    time.sleep(0.1)
    assert store.add("b", 60) is True  # expired, claimable again
    assert len(store) == 2
    store.discard("a")
    assert store.add("a", 60) is True


def test_memory_store_is_bounded() -> None:
    store = wh.MemoryIdempotencyStore(max_entries=100)
    for n in range(1000):
        assert store.add(f"k{n}", 3600)
    assert len(store) == 100
    assert store.add("k999", 3600) is False  # the newest are kept
    assert store.add("k0", 3600) is True  # the oldest were evicted
    with pytest.raises(ValueError, match="max_entries"):
        wh.MemoryIdempotencyStore(max_entries=0)


def test_memory_store_claims_are_atomic_across_threads() -> None:
    store = wh.MemoryIdempotencyStore()
    wins: list[bool] = []
    barrier = threading.Barrier(16)

    def claim() -> None:
        barrier.wait()
        wins.append(store.add("same", 60))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(wins) == [False] * 15 + [True]


def test_once_handles_first_delivery_only_and_releases_on_failure() -> None:
    dedup = wh.Deduplicator()
    handled: list[str] = []
    for _ in range(3):
        with dedup.once("req-1") as first:
            if first:
                handled.append("req-1")
    assert handled == ["req-1"]
    with pytest.raises(RuntimeError), dedup.once("req-2") as first:
        assert first
        raise RuntimeError("handler failed")
    with dedup.once("req-2") as first:
        assert first  # the failed attempt gave its claim back


def test_deduplicator_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="ttl"):
        wh.Deduplicator(ttl=0)
    assert "MemoryIdempotencyStore" in repr(wh.Deduplicator())


class _AsyncStore:
    """A networked store's shape: coroutine methods."""

    def __init__(self) -> None:
        self.keys: dict[str, float] = {}

    async def add(self, key: str, ttl: float) -> bool:
        await asyncio.sleep(0)
        if key in self.keys:
            return False
        self.keys[key] = ttl
        return True

    async def discard(self, key: str) -> None:
        self.keys.pop(key, None)


async def test_async_store_is_awaited_and_sync_use_is_refused() -> None:
    store = _AsyncStore()
    assert isinstance(store, wh.IdempotencyStore)
    dedup = wh.Deduplicator(store, ttl=120)
    assert await dedup.claim_async("r") is True
    assert await dedup.claim_async("r") is False
    assert store.keys == {"r": 120}
    with pytest.raises(RuntimeError):
        async with dedup.once_async("s") as first:
            assert first
            raise RuntimeError("boom")
    assert "s" not in store.keys
    async with dedup.once_async("s") as first:
        assert first
    with pytest.raises(TypeError, match="claim_async"):
        dedup.claim("t")
    with pytest.raises(TypeError, match="release_async"):
        dedup.release("t")


async def test_sync_store_works_from_async_code() -> None:
    dedup = wh.Deduplicator()
    results = await asyncio.gather(*(dedup.claim_async("x") for _ in range(10)))
    assert results.count(True) == 1
    await dedup.release_async("x")
    assert await dedup.claim_async("x")


@pytest.mark.parametrize("kind", ["claims", "registry"])
def test_a_sqlite_store_through_a_second_name_of_its_file_is_refused(
    tmp_path: Path, kind: str
) -> None:
    """Through a hard link, SQLite keeps another log and other locks: a claim made (and not yet
    checkpointed) through one name was not seen through the other, so two receiver processes
    each handled the same delivery."""
    make = wh.SQLiteIdempotencyStore if kind == "claims" else wh.SQLiteRequestRegistry
    first = make(tmp_path / "hooks.db")
    try:
        if isinstance(first, wh.SQLiteIdempotencyStore):
            assert first.add("req-1", 60)
        os.link(tmp_path / "hooks.db", tmp_path / "other.db")
        with pytest.raises(ValueError, match="has 2 names"):
            make(tmp_path / "other.db")
    finally:
        first.close()
    (tmp_path / "other.db").unlink()
    with make(tmp_path / "hooks.db") as again:  # one name again: opened as before
        if isinstance(again, wh.SQLiteIdempotencyStore):
            assert not again.add("req-1", 60)


class _Output(OutputModel):
    text: str
    seed: int


def _post(url: str, delivery: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = delivery
    return httpx.post(
        url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=30
    )


def test_a_duplicate_arriving_while_the_first_is_handled_is_tried_again_not_acknowledged(
    signing_key: Ed25519PrivateKey,
) -> None:
    """fal sends a delivery again when the first attempt outlasts its timeout (15 s), while the
    handler still runs. That duplicate was answered 200 'duplicate' (fal stopped), and when the
    handler then failed, its 500 went to an attempt fal had given up on: the paid result was
    never handled. It is now answered 409 (fal tries again), and that retry is handled."""
    entered, go_on = threading.Event(), threading.Event()
    handled: list[str] = []
    calls = {"n": 0}

    def handler(result: wh.WebhookResult[_Output]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            entered.set()
            assert go_on.wait(10)
            raise RuntimeError("the first handler fails after a while")
        handled.append(result.request_id)

    endpoint = wh.webhook_endpoint(
        _Output, handler, verifier=wh.WebhookVerifier(jwks=jwks_of(signing_key))
    )
    app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])
    delivery = make_delivery(signing_key, {"text": "hi", "seed": 1}, request_id="r-slow")
    with serve(app) as base, concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, f"{base}/hook", delivery)
        assert entered.wait(10)
        again = _post(f"{base}/hook", delivery)  # fal's retry, the first still running
        assert again.status_code == 409 and again.json()["status"] == "in_progress"
        go_on.set()
        assert first.result(10).status_code == 500
        retried = _post(f"{base}/hook", delivery)
    assert retried.status_code == 200 and retried.json()["status"] == "ok"
    assert handled == ["r-slow"]


_CRASH = """
import os, sys
from fal_typed import webhooks as wh
dedup = wh.Deduplicator(wh.SQLiteIdempotencyStore(sys.argv[1]), lease=1.0)
with dedup.handling("r-crash") as claimed:
    assert claimed == "first"
    print("handling", flush=True)
    os._exit(9)  # the receiver dies mid-handler: nothing after this runs
"""


def test_a_receiver_that_died_mid_handler_handles_the_retry_after_the_lease(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    """A claim that outlived its receiver answered every later retry 'duplicate' for the whole
    TTL (a day): the delivery was never handled. It holds only ``lease`` seconds until its
    handler succeeds, and a day once it has."""
    store = tmp_path / "claims.db"
    died = subprocess.run(
        [sys.executable, "-c", _CRASH, str(store)], capture_output=True, text=True, timeout=60
    )
    assert died.returncode == 9 and died.stdout == "handling\n", died.stderr
    handled: list[str] = []
    dedup = wh.Deduplicator(wh.SQLiteIdempotencyStore(store), lease=1.0)
    endpoint = wh.webhook_endpoint(
        _Output,
        lambda result: handled.append(result.request_id),
        verifier=wh.WebhookVerifier(jwks=jwks_of(signing_key)),
        deduplicator=dedup,
    )
    app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])
    with serve(app) as base:
        time.sleep(1.5)  # the dead receiver's lease lapses
        delivery = make_delivery(signing_key, {"text": "hi", "seed": 1}, request_id="r-crash")
        assert _post(f"{base}/hook", delivery).json()["status"] == "ok"
        time.sleep(1.5)  # handled: held for the TTL now, not the lease
        replay = make_delivery(signing_key, {"text": "hi", "seed": 1}, request_id="r-crash")
        assert _post(f"{base}/hook", replay).json()["status"] == "duplicate"
    assert handled == ["r-crash"]


class _NoRenewal(wh.MemoryIdempotencyStore):
    """A store that cannot renew claims: past the lease, only the in-process guard is left."""

    extend = None  # type: ignore[assignment]


def test_once_holds_a_claim_for_the_lease_while_handling_and_the_ttl_once_handled() -> None:
    dedup = wh.Deduplicator(_NoRenewal(), lease=0.05)
    entered, go_on = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with pytest.raises(RuntimeError), dedup.once("r-1") as claimed:
            assert claimed
            entered.set()
            assert go_on.wait(10)
            raise RuntimeError("the handler failed")

    worker = threading.Thread(target=first)
    worker.start()
    assert entered.wait(10)
    time.sleep(0.1)  # past the store's lease: only this process knows it is being handled
    with dedup.once("r-1") as again:
        seen.append(again)
    go_on.set()
    worker.join(10)
    with dedup.once("r-1") as retried:  # the failure gave the claim back
        seen.append(retried)
    time.sleep(0.1)  # handled: held for the TTL (a day), not the lease
    with dedup.once("r-1") as replayed:
        seen.append(replayed)
    assert seen == [False, True, False]
