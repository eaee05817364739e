"""A claim records whether its handler finished: a delivery in progress elsewhere (another
process, a receiver that died) is answered 409 so fal retries it, never "duplicate" (lost); a
handled one is never handled twice because a claim was evicted, cancelled or failed to record."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.routing import Route

from fal_typed import OutputModel
from fal_typed import webhooks as wh

from .helpers import jwks_of, make_delivery, serve


class _Output(OutputModel):
    text: str
    seed: int


def _app(key: Ed25519PrivateKey, store: wh.IdempotencyStore, handled: list[str]) -> Starlette:
    endpoint = wh.webhook_endpoint(
        _Output,
        lambda result: handled.append(result.request_id),
        verifier=wh.WebhookVerifier(jwks=jwks_of(key)),
        deduplicator=wh.Deduplicator(store, lease=60),
    )
    return Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])


def _post(base: str, key: Ed25519PrivateKey, request_id: str) -> httpx.Response:
    body, headers = make_delivery(key, {"text": "hi", "seed": 1}, request_id=request_id)
    return httpx.post(
        f"{base}/hook", content=body, headers={**headers, "Content-Type": "application/json"}
    )


# -- another process handles it, or died handling it: SQLite shared by processes --------------

_HOLDER = """
import sys
import threading
from fal_typed import webhooks as wh
dedup = wh.Deduplicator(wh.SQLiteIdempotencyStore(sys.argv[1]), lease=float(sys.argv[3]))
with dedup.handling(sys.argv[2]) as claimed:
    print(claimed, flush=True)
    how = sys.stdin.readline().strip()  # the handler runs until told how it ends
    if how == "crash":
        import os
        os._exit(9)
    if how == "fail":
        raise SystemExit(3)
print("done", flush=True)
"""


def _holder(path: Path, request_id: str, lease: float = 60) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), request_id, str(lease)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "first\n"
    return child


def _end(child: subprocess.Popen[str], how: str) -> int:
    child.communicate(f"{how}\n", timeout=60)
    return child.returncode


def test_a_retry_reaching_a_process_while_another_handles_it_is_answered_409(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    """Two receiver processes on one SQLite file: fal's retry reaching the second while the
    first still ran the handler was answered 200 'duplicate' (fal stopped); when that handler
    then failed, the delivery was lost. It is 409 now; the retry after the failure is handled,
    and one after a success is a duplicate."""
    path = tmp_path / "claims.db"
    handled: list[str] = []
    with wh.SQLiteIdempotencyStore(path) as store, serve(_app(signing_key, store, handled)) as base:
        failing = _holder(path, "r-fails")
        busy = _post(base, signing_key, "r-fails")
        assert busy.status_code == 409 and busy.json()["status"] == "in_progress"
        assert _end(failing, "fail") == 3
        assert _post(base, signing_key, "r-fails").json()["status"] == "ok"

        succeeding = _holder(path, "r-succeeds")
        assert _post(base, signing_key, "r-succeeds").status_code == 409
        assert _end(succeeding, "succeed") == 0
        assert _post(base, signing_key, "r-succeeds").json()["status"] == "duplicate"
    assert handled == ["r-fails"]


def test_a_retry_after_a_restart_within_the_lease_is_answered_409_not_duplicate(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    """A receiver died mid-handler and came back within the lease: the retry was answered
    'duplicate' and the delivery lost. It is answered 409 (fal retries until the lease lapses)."""
    path = tmp_path / "claims.db"
    assert _end(_holder(path, "r-crash"), "crash") == 9
    handled: list[str] = []
    with wh.SQLiteIdempotencyStore(path) as store, serve(_app(signing_key, store, handled)) as base:
        retry = _post(base, signing_key, "r-crash")
    assert retry.status_code == 409 and retry.json()["status"] == "in_progress"
    assert handled == []


def test_a_handler_running_past_the_lease_keeps_its_claim_from_other_processes(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    """A claim held for the lease only: a handler running longer (a slow download, say) lost
    it, and fal's retry reaching another process was handled a second time. The claim is
    renewed while its handler runs."""
    path = tmp_path / "claims.db"
    handled: list[str] = []
    with wh.SQLiteIdempotencyStore(path) as store, serve(_app(signing_key, store, handled)) as base:
        slow = _holder(path, "r-slow", lease=1.5)
        time.sleep(4.0)  # more than two leases: renewed by a thread waking every 0.5 s
        assert _post(base, signing_key, "r-slow").status_code == 409
        assert _end(slow, "succeed") == 0
        assert _post(base, signing_key, "r-slow").json()["status"] == "duplicate"
    assert handled == []


_CLAIMER = """
import json, sys
from fal_typed import webhooks as wh
store = wh.SQLiteIdempotencyStore(sys.argv[1])
sys.stdin.readline()  # start together
print(json.dumps({k: store.claim(k, 60) for k in map(str, range(int(sys.argv[2])))}))
"""


def test_processes_claiming_together_each_get_a_key_first_once_and_busy_otherwise(
    tmp_path: Path,
) -> None:
    path, keys = tmp_path / "claims.db", 150
    wh.SQLiteIdempotencyStore(path).close()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path), str(keys)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    answers: list[dict[str, str]] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        answers.append(json.loads(out))
    for key in map(str, range(keys)):
        assert sorted(a[key] for a in answers) == ["busy", "busy", "busy", "first"]


def test_a_claims_file_of_the_old_schema_is_migrated_and_its_rows_read_sensibly(
    tmp_path: Path,
) -> None:
    """Rows written before completion was recorded: one holding longer than the lease was
    completed (a claim in progress held for the lease only), one holding less may be in
    progress. The column is added in place; new rows record it."""
    path = tmp_path / "old.db"
    now = time.time()
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE fal_webhook_claims (key TEXT PRIMARY KEY, expires_at REAL NOT NULL)"
        )
        old.executemany(
            "INSERT INTO fal_webhook_claims VALUES (?, ?)",
            [("handled", now + 86_000), ("in-progress", now + 300), ("lapsed", now - 1)],
        )
    old.close()
    with wh.SQLiteIdempotencyStore(path) as store:
        assert store.claim("handled", 600) == "duplicate"
        assert store.claim("in-progress", 600) == "busy"
        assert store.claim("lapsed", 600) == "first"
        assert store.claim("lapsed", 600) == "busy"
        store.complete("lapsed", 3600)
        assert store.claim("lapsed", 600) == "duplicate"
        assert store.add("new", 3600) and store.claim("new", 600) == "duplicate"
    with wh.SQLiteIdempotencyStore(path) as reopened:  # migrated once: opens as it is
        assert reopened.claim("in-progress", 600) == "busy"


def test_a_handled_claim_is_recorded_even_if_its_lease_lapsed_meanwhile(tmp_path: Path) -> None:
    """complete() only updated a live row: a handler outlasting its lease, with the row swept
    meanwhile, left nothing recorded, and a replay was handled a second time."""
    with wh.SQLiteIdempotencyStore(tmp_path / "c.db") as store:
        assert store.add("slow", 0.05)  # held for the lease while handled
        time.sleep(0.1)
        store.discard("slow")  # lapsed, swept
        store.complete("slow", 3600)
        assert not store.add("slow", 60)


def test_a_late_renewal_keeps_a_claim_nobody_took_meanwhile(tmp_path: Path) -> None:
    """The renewal of a claim whose handler still runs, arriving after its lease (a loaded
    machine, the wall clock set forward), was dropped: the next retry was handled again."""
    with wh.SQLiteIdempotencyStore(tmp_path / "c.db") as store:
        assert store.claim("r", 0.05) == "first"
        time.sleep(0.1)
        store.extend("r", 60)
        assert store.claim("r", 60) == "busy"
        store.complete("r", 3600)
        store.extend("r", 1)  # completed: left as it is
        assert store.claim("r", 60) == "duplicate"


# -- the in-memory store: mixed durations ------------------------------------------------------


def test_memory_store_evicts_an_expired_short_claim_behind_a_long_one() -> None:
    """Eviction stopped at the first live entry: a lapsed lease behind a day-long claim stayed."""
    store = wh.MemoryIdempotencyStore()
    assert store.add("long", 3600)
    assert store.add("short", 0.05)
    time.sleep(0.1)
    assert len(store) == 1


def test_memory_store_makes_room_from_expired_claims_before_live_ones() -> None:
    """At max_entries the oldest entry went, live or not: a handled claim was dropped while an
    expired one stayed, and its replay was handled twice."""
    store = wh.MemoryIdempotencyStore(max_entries=2)
    assert store.add("handled", 3600)
    assert store.add("short", 0.05)
    time.sleep(0.1)
    assert store.add("new", 3600)
    assert not store.add("handled", 3600)


def test_memory_store_never_drops_a_claim_in_progress_to_make_room() -> None:
    """Past max_entries the oldest went: a claim in progress (shared by two deduplicators, say
    two endpoints) was dropped, and the same delivery was handled twice at once."""
    store = wh.MemoryIdempotencyStore(max_entries=2)
    one, other = wh.Deduplicator(store), wh.Deduplicator(store)
    with one.handling("in-progress") as first:
        assert first == "first"
        for key in ("a", "b", "c"):
            with other.handling(key) as claimed:
                assert claimed == "first"
        with other.handling("in-progress") as meanwhile:
            assert meanwhile == "busy"
        assert len(store) == 2
    with other.handling("in-progress") as later:
        assert later == "duplicate"
    full = wh.MemoryIdempotencyStore(max_entries=1)
    assert full.claim("x", 60) == "first"
    with pytest.raises(RuntimeError, match="max_entries=1"):
        full.claim("y", 60)
    assert full.claim("x", 60) == "busy"


def test_memory_store_memory_stays_bounded_with_churn() -> None:
    store = wh.MemoryIdempotencyStore(max_entries=50)
    for n in range(5000):
        key = f"k{n}"
        assert store.claim(key, 60) == "first"
        if n % 2:
            store.complete(key, 3600)
        else:
            store.discard(key)
    assert len(store) == 50
    assert len(store._done) + len(store._busy) <= 2 * 50 + 64  # pyright: ignore[reportPrivateUsage]


# -- cancelled handlers, failing stores --------------------------------------------------------


class _SlowStore:
    """A networked store: each call takes a while."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.inner = wh.MemoryIdempotencyStore()

    async def add(self, key: str, ttl: float) -> bool:
        return self.inner.add(key, ttl)

    async def claim(self, key: str, lease: float) -> wh.Claimed:
        return self.inner.claim(key, lease)

    async def discard(self, key: str) -> None:
        await asyncio.sleep(self.delay)
        self.inner.discard(key)

    async def complete(self, key: str, ttl: float) -> None:
        await asyncio.sleep(self.delay)
        self.inner.complete(key, ttl)

    async def extend(self, key: str, lease: float) -> None:
        await asyncio.sleep(self.delay)
        self.inner.extend(key, lease)


async def test_a_cancelled_handler_still_gives_its_claim_back() -> None:
    """Under a cancelled scope the await of discard() was cancelled too: the claim stayed in
    progress, and fal's retries were refused until the lease lapsed."""
    store = _SlowStore(0.05)
    dedup = wh.Deduplicator(store)
    with anyio.move_on_after(0.05):
        async with dedup.handling_async("r") as claimed:
            assert claimed == "first"
            await anyio.sleep(10)
    assert store.inner.add("r", 60)  # given back


async def test_a_cancellation_while_completing_still_records_the_delivery_handled() -> None:
    """complete() cancelled left a lease-long claim: after it, a replay was handled twice."""
    store = _SlowStore(0.3)
    dedup = wh.Deduplicator(store, lease=1)
    with anyio.move_on_after(0.05):
        async with dedup.handling_async("r") as claimed:
            assert claimed == "first"
    await anyio.sleep(1.2)  # past the lease
    assert not store.inner.add("r", 60)  # still recorded: handled


async def test_a_claim_is_renewed_while_its_async_handler_runs_past_the_lease() -> None:
    """With an async store (renewed by a task) and a sync one (by a thread), a handler outlasting
    the lease kept its claim in progress: another deduplicator sharing the store sees 'busy'."""
    slow = _SlowStore(0.01)
    shared = wh.MemoryIdempotencyStore()
    for store, peek in ((slow, slow.inner), (shared, shared)):
        dedup = wh.Deduplicator(store, lease=1)
        async with dedup.handling_async("r") as claimed:
            assert claimed == "first"
            await anyio.sleep(2.5)  # past two leases
            assert peek.claim("r", 60) == "busy"
        assert peek.claim("r", 60) == "duplicate"


class _Broken(wh.MemoryIdempotencyStore):
    def discard(self, key: str) -> None:
        raise OSError("store unreachable")

    def complete(self, key: str, ttl: float) -> None:
        raise OSError("store unreachable")


def test_a_store_failing_to_complete_or_release_is_logged_and_the_outcome_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing complete() turned a handled delivery into an error (fal retried it, handled
    again after the lease); a failing discard() replaced the handler's own exception."""
    dedup = wh.Deduplicator(_Broken())
    with caplog.at_level(logging.ERROR, "fal_typed.webhooks"), dedup.handling("ok") as claimed:
        assert claimed == "first"
    assert "webhook request ok was handled, but its claim could not be completed" in caplog.text
    with pytest.raises(ValueError, match="the handler's"), dedup.handling("bad"):
        raise ValueError("the handler's")
    assert "could not give back the claim of webhook request bad" in caplog.text


def test_a_store_whose_claim_answers_nonsense_is_refused_before_the_handler() -> None:
    class Odd(wh.MemoryIdempotencyStore):
        def claim(self, key: str, lease: float) -> wh.Claimed:
            return True  # type: ignore[return-value]

    refused = pytest.raises(TypeError, match="must return 'first', 'duplicate' or 'busy'")
    with refused, wh.Deduplicator(Odd()).handling("r"):
        pytest.fail("the handler ran")


def test_the_renewer_thread_ends_once_no_claim_is_held() -> None:
    """It slept a third of the lease (200 s by default) before seeing nothing was left: every
    deduplicator that handled a delivery kept a thread that long."""
    dedup = wh.Deduplicator(lease=60)
    with dedup.handling("r") as claimed:
        assert claimed == "first"
        assert any(t.name == "fal-claims-renewer" for t in threading.enumerate())
    deadline = time.monotonic() + 5
    while any(t.name == "fal-claims-renewer" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the renewer thread outlived the last claim"
        time.sleep(0.01)


# -- renewal capped, completion not cut by asyncio, bounded; the renewer's lifecycle ----------


async def test_a_hung_handler_keeps_its_claim_renewed_for_max_hold_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The claim of a hung handler was renewed for ever: every retry of fal's, in every process,
    was answered busy until fal gave up, and the delivery was lost. Renewal stops after
    max_hold (logged): the claim lapses and another process can handle the delivery."""
    slow = _SlowStore(0.01)
    shared = wh.MemoryIdempotencyStore()
    with caplog.at_level(logging.ERROR, "fal_typed.webhooks"):
        for store, peek in ((slow, slow.inner), (shared, shared)):
            dedup = wh.Deduplicator(store, lease=1, max_hold=1)
            async with dedup.handling_async("r") as claimed:
                assert claimed == "first"
                await anyio.sleep(0.5)
                assert peek.claim("r", 60) == "busy"  # renewed within max_hold
                await anyio.sleep(3.0)  # max_hold, then a lease, passed
                assert peek.claim("r", 60) == "first"  # lapsed: another process may handle it
            peek.discard("r")
    assert caplog.text.count("has run for max_hold=1 s") == 2


def test_max_hold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_hold"):
        wh.Deduplicator(max_hold=0)


async def test_asyncio_cancellation_does_not_cut_completing_or_giving_back_a_claim() -> None:
    """anyio's shield does not stop asyncio's own Task.cancel (asyncio.timeout, a server's
    shutdown): complete() cut mid-way left a claim in progress (handled twice once its lease
    lapsed), and discard() cut left fal's retries refused for the lease."""
    store = _SlowStore(0.3)
    dedup = wh.Deduplicator(store, lease=30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1), dedup.handling_async("done") as claimed:
            assert claimed == "first"  # handled at once: the timeout falls in complete()
    assert store.inner.claim("done", 60) == "duplicate"

    async def handler() -> None:
        async with dedup.handling_async("failed") as claimed:
            assert claimed == "first"
            await asyncio.sleep(10)

    task = asyncio.get_running_loop().create_task(handler())
    await asyncio.sleep(0.1)
    task.cancel()  # the handler is cut: its claim is given back...
    await asyncio.sleep(0.1)
    task.cancel()  # ...and that is not cut by a second cancellation
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.inner.claim("failed", 60) == "first"


async def test_a_hung_store_does_not_hold_the_request_past_the_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """complete()/discard() shielded without a deadline: a store that never answered made the
    request hang, and nothing could cancel it. They are bounded by the lease, and logged."""
    store = _SlowStore(20)
    dedup = wh.Deduplicator(store, lease=0.5)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, "fal_typed.webhooks"):
        async with dedup.handling_async("ok") as claimed:
            assert claimed == "first"
        with pytest.raises(ValueError, match="the handler's"):
            async with dedup.handling_async("bad"):
                raise ValueError("the handler's")
    assert time.monotonic() - started < 5
    assert "webhook request ok was handled, but its claim could not be completed" in caplog.text
    assert "could not give back the claim of webhook request bad" in caplog.text


def test_a_renewer_thread_that_failed_to_start_does_not_disable_renewal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The renewer was recorded before it started: when start() failed (no thread left), every
    later claim of that deduplicator believed one ran, and none was ever renewed."""
    dedup = wh.Deduplicator(lease=60)
    start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError, match="can't start new thread"), dedup.handling("r1"):
        pytest.fail("the handler ran without its claim renewed")
    monkeypatch.setattr(threading.Thread, "start", start)
    assert dedup.store.claim("r1", 60) == "first"  # type: ignore[attr-defined]  # given back
    with dedup.handling("r2") as claimed:
        assert claimed == "first"
        assert any(t.name == "fal-claims-renewer" for t in threading.enumerate())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_inherit_the_parents_handlers() -> None:
    """After os.fork the child kept the parent's in-process state: a delivery the parent was
    handling was answered busy in the child for ever (no handler there would finish it), and
    the parent's renewer thread, absent in the child, was believed running."""
    dedup = wh.Deduplicator(lease=60)
    with dedup.handling("r") as claimed:
        assert claimed == "first"
        pid = os.fork()
        if pid == 0:  # the child: its own store copy holds "r" too, so take another id
            ok = False
            try:
                dedup.store.discard("r")
                with dedup.handling("r") as again:
                    ok = again == "first" and any(
                        t.name == "fal-claims-renewer" for t in threading.enumerate()
                    )
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_store_whose_methods_cannot_be_used_is_refused_naming_the_method() -> None:
    """claim() without complete(), extend() without claim() were silently ignored: the store's
    author believed claims in progress were told apart, or renewed."""

    class ClaimOnly:
        def add(self, key: str, ttl: float) -> bool:
            return True

        def discard(self, key: str) -> None:
            pass

        def claim(self, key: str, lease: float) -> wh.Claimed:
            return "first"

    class ExtendOnly(ClaimOnly):
        claim = None  # type: ignore[assignment]

        def extend(self, key: str, lease: float) -> None:
            pass

    with pytest.raises(TypeError, match=r"ClaimOnly has claim\(\) but no complete\(\)"):
        wh.Deduplicator(ClaimOnly())
    with pytest.raises(TypeError, match=r"ExtendOnly has extend\(\) but no claim\(\)"):
        wh.Deduplicator(ExtendOnly())


def test_a_sync_extend_returning_an_awaitable_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Odd(wh.MemoryIdempotencyStore):
        def extend(self, key: str, lease: float) -> None:
            async def later() -> None:
                super(Odd, self).extend(key, lease)

            return later()  # type: ignore[return-value]

    dedup = wh.Deduplicator(Odd(), lease=0.6)
    with caplog.at_level(logging.WARNING, "fal_typed.webhooks"), dedup.handling("r"):
        time.sleep(1.5)  # several renewals
    assert caplog.text.count("Odd.extend() returned an awaitable") == 1


async def test_an_async_extend_outside_asyncio_is_warned_about_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Under another event loop (trio: not installed here, so this module is told it runs one)
    an async extend() was silently not run: claims were not renewed, and nobody knew."""
    from fal_typed.webhooks import _idempotency

    class _Trio:
        @staticmethod
        def current_async_library() -> str:
            return "trio"

    monkeypatch.setattr(_idempotency, "sniffio", _Trio)
    store = _SlowStore(0.01)
    dedup = wh.Deduplicator(store, lease=60)
    with caplog.at_level(logging.WARNING, "fal_typed.webhooks"):
        for request_id in ("r1", "r2"):
            async with dedup.handling_async(request_id) as claimed:
                assert claimed == "first"
            assert store.inner.claim(request_id, 60) == "duplicate"  # completed all the same
    assert caplog.text.count("_SlowStore.extend() is a coroutine function") == 1
