"""Every cell of the retry table, over real sockets, sync and async.

For each request kind the client sends through ``Client.request`` and each outcome a peer or
the network can produce, a hostile peer on 127.0.0.1 (``tests/peers/http.py``) answers with
that outcome and counts what it received. A retried cell must end in success with exactly one
more request received; a cell sent once must raise the table's error, and the peer must have
received the request at most once: a paid POST is never sent twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fal_typed import (
    AsyncStream,
    Client,
    FalConnectionError,
    FalHTTPError,
    FalTimeoutError,
    PossiblyAcceptedError,
    PossiblyAcceptedTimeoutError,
    RetryPolicy,
    Stream,
)
from fal_typed._queue import (
    cancel,
    cancel_async,
    fetch_result,
    fetch_result_async,
    get_status,
    get_status_async,
    submit,
    submit_async,
)
from fal_typed._retry import Kind, Outcome, decide
from fal_typed._run import run, run_async
from fal_typed.files._token import cached_token, cached_token_async
from fal_typed.realtime._token import TokenCache
from tests.endpoints import LCM
from tests.peers.http import (
    KEY,
    SERVED_OUTCOMES,
    UNRESOLVABLE_URL,
    OutcomePeer,
    refused_url,
    serving_outcomes,
)

ID = "fal-ai/flux/dev"
RID = "0b5d4e2a-1c3f-4a6b-9d8e-7f6a5b4c3d2e"
ATTEMPTS = 3


@dataclass(frozen=True)
class Call:
    sync: Callable[[Client], Any]
    async_: Callable[[Client], Awaitable[Any]]
    good: Any


def _token_answer(url: str) -> dict[str, str]:
    return {
        "token": "cdn-token-abcdef123456",
        "token_type": "Bearer",
        "base_url": url,
        "expires_at": "2099-01-01T00:00:00Z",
    }


CALLS: dict[Kind, Call] = {
    Kind.SUBMIT: Call(
        lambda c: submit(c, ID, {"prompt": "a cat"}),
        lambda c: submit_async(c, ID, {"prompt": "a cat"}),
        {"request_id": RID},
    ),
    Kind.RUN: Call(
        lambda c: run(c, ID, {"prompt": "a cat"}, timeout=2.0),
        lambda c: run_async(c, ID, {"prompt": "a cat"}, timeout=2.0),
        {"images": []},
    ),
    Kind.STATUS: Call(
        lambda c: get_status(c, ID, RID),
        lambda c: get_status_async(c, ID, RID),
        {"status": "IN_QUEUE", "queue_position": 0},
    ),
    Kind.RESULT: Call(
        lambda c: fetch_result(c, ID, RID),
        lambda c: fetch_result_async(c, ID, RID),
        {"images": []},
    ),
    Kind.CANCEL: Call(
        lambda c: cancel(c, ID, RID),
        lambda c: cancel_async(c, ID, RID),
        {"status": "CANCELLATION_REQUESTED"},
    ),
    Kind.UPLOAD_TOKEN: Call(cached_token, cached_token_async, None),
    Kind.REALTIME_TOKEN: Call(
        lambda c: TokenCache("fal-ai/fast-lcm").get(c),
        lambda c: TokenCache("fal-ai/fast-lcm").aget(c),
        {"token": "rt-token-abcdef123456"},
    ),
}

STREAM_OUTPUT = {"images": [{"url": "https://v3.fal.media/files/a.png"}], "seed": 7, "prompt": "x"}


def _sse_answer(output: Any) -> Any:
    async def script(exchange: Any) -> None:
        body = f"data: {json.dumps(output)}\n\n".encode()
        await exchange.answer(200, body, {"Content-Type": "text/event-stream"})

    return script


async def _stream_async(client: Client) -> Any:
    return await AsyncStream(LCM, {"prompt": "x"}, client=client).result()


CALLS[Kind.STREAM] = Call(
    lambda c: Stream(LCM, {"prompt": "x"}, client=c).result(),
    _stream_async,
    _sse_answer(STREAM_OUTPUT),
)


def _client(url: str) -> Client:
    return Client(
        key=KEY,
        queue_url=url,
        run_url=url,
        rest_url=url,
        cdn_url=url,
        timeout=httpx.Timeout(5.0, read=0.5),
        retry=RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.001, max_delay=0.01),
        backup_hosts={},
    )


def _call(kind: Kind, mode: str, client: Client) -> Any:
    call = CALLS[kind]
    if mode == "sync":
        return call.sync(client)

    async def go() -> Any:
        async with client:
            return await call.async_(client)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def peer() -> Any:
    with serving_outcomes() as p:
        yield p


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("outcome", SERVED_OUTCOMES, ids=[o.name for o in SERVED_OUTCOMES])
@pytest.mark.parametrize("kind", list(CALLS), ids=[k.name for k in CALLS])
def test_served_cell(peer: OutcomePeer, kind: Kind, outcome: Outcome, mode: str) -> None:
    decision = decide(kind, outcome)
    good = CALLS[kind].good if CALLS[kind].good is not None else _token_answer(peer.url)
    expected = decision.error
    retried = decision.retry
    peer.set(outcome, times=1 if retried else ATTEMPTS + 1, good=good)
    client = _client(peer.url)
    seen = 0 if outcome is Outcome.RESET_BEFORE_SENT else 1
    if retried:
        _call(kind, mode, client)
        assert (peer.faults, peer.received) == (1, seen + 1)
    else:
        with pytest.raises(expected) as info:
            _call(kind, mode, client)
        assert peer.faults == 1, "sent again although the table says once"
        assert peer.received == seen
        if expected is PossiblyAcceptedError:
            error = info.value
            assert isinstance(error, PossiblyAcceptedError)
            assert error.payload_sha256 is not None and error.sent_at is not None
            assert error.failed_at is not None and error.failed_at >= error.sent_at
            if kind in (Kind.SUBMIT, Kind.RUN):
                assert error.endpoint_id == ID
        if outcome is Outcome.FAL_5XX_NAMED and kind in (Kind.SUBMIT, Kind.RUN, Kind.STREAM):
            # the id named is kept, to follow it by (a by-id call keeps its own)
            assert isinstance(info.value, FalHTTPError)
            assert info.value.request_id == "f0e1d2c3-0000-4000-8000-000000000001"
    client.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", list(CALLS), ids=[k.name for k in CALLS])
def test_refused_connect_cell(kind: Kind, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    decision = decide(kind, Outcome.CONNECT_FAILED)
    assert decision.retry
    caplog.set_level("INFO", logger="fal_typed")
    with pytest.raises(decision.error, match=f"after {ATTEMPTS} attempts") as info:
        _call(kind, mode, _client(refused_url()))
    assert not isinstance(info.value, PossiblyAcceptedError)  # it never left the machine
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == ATTEMPTS - 1


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", list(CALLS), ids=[k.name for k in CALLS])
def test_dns_failure_cell(kind: Kind, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    """Not retried: fails at once, naming the host and saying nothing was sent."""
    decision = decide(kind, Outcome.DNS_FAILURE)
    assert not decision.retry and decision.error is FalConnectionError
    caplog.set_level("INFO", logger="fal_typed")
    with pytest.raises(FalConnectionError) as info:
        _call(kind, mode, _client(UNRESOLVABLE_URL))
    assert not isinstance(info.value, PossiblyAcceptedError)
    message = str(info.value)
    assert "fal-typed-retry-table.invalid" in message and "nothing was sent" in message
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


#: The rule of docs/guarantees.md, written out independently of the table it checks.
NOT_IDEMPOTENT = {
    Kind.SUBMIT,
    Kind.RUN,
    Kind.STREAM,
    Kind.UPLOAD_INITIATE,
    Kind.UPLOAD_COMPLETE,
    Kind.OTHER_POST,
}
PROVES_NOT_RECEIVED = {
    Outcome.CONNECT_FAILED,
    Outcome.NOT_WRITTEN,
    Outcome.RATE_LIMITED,
    Outcome.RATE_LIMITED_RETRY_AFTER,
    Outcome.RETRY_STATUS,
    Outcome.INGRESS_503,
}
AMBIGUOUS = {
    Outcome.RESET_BEFORE_SENT,
    Outcome.RESET_AFTER_SENT,
    Outcome.READ_TIMEOUT,
    Outcome.INGRESS_502,
    Outcome.INGRESS_504,
}
FINAL = {Outcome.DNS_FAILURE, Outcome.CLIENT_4XX, Outcome.START_TIMEOUT}
PAID = {Kind.SUBMIT, Kind.RUN, Kind.STREAM}
STORAGE = {
    Kind.UPLOAD_PART,
    Kind.UPLOAD_SINGLE,
    Kind.UPLOAD_INITIATE,
    Kind.UPLOAD_COMPLETE,
    Kind.DOWNLOAD,
}


@pytest.mark.parametrize("kind", list(Kind), ids=[k.name for k in Kind])
def test_the_table_follows_the_documented_rule(kind: Kind) -> None:
    for outcome in Outcome:
        decision = decide(kind, outcome)
        if outcome is Outcome.DEADLINE_AFTER_SENT:
            assert not decision.retry, (kind, outcome)
            cut = PossiblyAcceptedTimeoutError if kind in PAID else FalTimeoutError
            assert decision.error is cut, (kind, outcome)
        elif outcome in FINAL:
            assert not decision.retry, (kind, outcome)
        elif outcome in (Outcome.FAL_5XX, Outcome.FAL_5XX_NAMED):
            assert decision.retry is (kind in STORAGE), (kind, outcome)
        elif kind in NOT_IDEMPOTENT and outcome in AMBIGUOUS:
            assert not decision.retry, (kind, outcome)
            assert decision.error is PossiblyAcceptedError, (kind, outcome)
        else:
            assert outcome in PROVES_NOT_RECEIVED or kind not in NOT_IDEMPOTENT
            assert decision.retry, (kind, outcome)
            assert decision.error is not PossiblyAcceptedError, (kind, outcome)
