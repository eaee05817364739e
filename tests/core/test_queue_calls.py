"""The queue module's calls, as sent on the wire (each kills a mutant that survived, issue 12).

A status poll asks for logs only when told to; a cancel is retried after an answer that proves
it was not received, unless the caller turned retries off; a result call holds its deadline
(nothing sent once it has passed, a trickled answer cut at it) and takes a failure's
``error_type`` from the final status; a submit that may have been accepted names its endpoint.
Against a scripted peer on 127.0.0.1 (tests/peers/sse.py), sync and async.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed import (
    Client,
    Completed,
    FalHTTPError,
    FalTimeoutError,
    PossiblyAcceptedError,
    ProtocolError,
    Queued,
    RetryPolicy,
    ServerError,
)
from fal_typed._deadline import Deadline
from fal_typed._options import request_headers
from fal_typed._queue import (
    cancel,
    cancel_async,
    fetch_result,
    fetch_result_async,
    get_status,
    get_status_async,
    is_not_ready,
    submit,
    submit_async,
)

from ..peers.sse import KEY, Exchange, ScriptedPeer, serving

RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
APP = "tests/paid"
NGINX = b"<html><center><h1>503 Service Unavailable</h1></center><hr><center>nginx</center></html>"
MODES = ["sync", "async"]


class Recorder:
    """Answers each request with the next of ``answers`` (the last repeats); keeps the paths."""

    def __init__(
        self, peer: ScriptedPeer, answers: list[tuple[int, bytes, dict[str, str]]]
    ) -> None:
        self.answers = answers
        self.paths: list[str] = []
        peer.script = self.route

    async def route(self, exchange: Exchange) -> None:
        status, body, headers = self.answers[min(len(self.paths), len(self.answers) - 1)]
        self.paths.append(f"{exchange.method} {exchange.path}")
        await exchange.answer(status, body, headers)


def ok(body: Any) -> tuple[int, bytes, dict[str, str]]:
    return 200, json.dumps(body).encode(), {"Content-Type": "application/json"}


INGRESS_503 = (503, NGINX, {"Content-Type": "text/html"})


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def client_of(url: str) -> Client:
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, jitter=0.0)
    return Client(KEY, queue_url=url, run_url=url, retry=policy, backup_hosts={})


def call(mode: str, client: Client, sync: Any, asynchronous: Any, **kwargs: Any) -> Any:
    if mode == "sync":
        with client:
            return sync(client, APP, RID, **kwargs)

    async def main() -> Any:
        async with client:
            return await asynchronous(client, APP, RID, **kwargs)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
def test_a_status_poll_asks_for_logs_only_when_told(peer: ScriptedPeer, mode: str) -> None:
    seen = Recorder(peer, [ok({"status": "IN_QUEUE", "queue_position": 3})])
    plain = call(mode, client_of(peer.url), get_status, get_status_async)
    logged = call(mode, client_of(peer.url), get_status, get_status_async, with_logs=True)
    assert plain == Queued(position=3) and logged == Queued(position=3)
    assert seen.paths == [
        f"GET /{APP}/requests/{RID}/status?logs=0",
        f"GET /{APP}/requests/{RID}/status?logs=1",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_cancel_refused_by_the_ingress_is_sent_again(peer: ScriptedPeer, mode: str) -> None:
    seen = Recorder(peer, [INGRESS_503, ok({"status": "CANCELLATION_REQUESTED"})])
    assert call(mode, client_of(peer.url), cancel, cancel_async) is None
    assert seen.paths == [f"PUT /{APP}/requests/{RID}/cancel"] * 2


@pytest.mark.parametrize("mode", MODES)
def test_a_cancel_without_retries_is_sent_once(peer: ScriptedPeer, mode: str) -> None:
    seen = Recorder(peer, [INGRESS_503, ok({"status": "CANCELLATION_REQUESTED"})])
    with pytest.raises(ServerError) as caught:
        call(mode, client_of(peer.url), cancel, cancel_async, retry=False)
    assert caught.value.request_id == RID
    assert seen.paths == [f"PUT /{APP}/requests/{RID}/cancel"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("which", ["status", "result"])
def test_nothing_is_sent_once_the_deadline_has_passed(
    peer: ScriptedPeer, mode: str, which: str
) -> None:
    seen = Recorder(peer, [ok({"status": "COMPLETED"})])
    sync, asynchronous = {
        "status": (get_status, get_status_async),
        "result": (fetch_result, fetch_result_async),
    }[which]
    with pytest.raises(FalTimeoutError) as caught:
        call(mode, client_of(peer.url), sync, asynchronous, deadline=Deadline(0.0))
    assert seen.paths == []
    assert caught.value.message.startswith(f"GET {peer.url}/{APP}/requests/{RID}")


@pytest.mark.parametrize("mode", MODES)
def test_a_result_trickled_past_the_deadline_is_cut_and_named(
    peer: ScriptedPeer, mode: str
) -> None:
    body = b'{"a": 1' + b" " * 40 + b"}"

    async def trickle(exchange: Exchange) -> None:
        await exchange.head(
            200, {"Content-Type": "application/json", "Content-Length": str(len(body))}
        )
        for byte in range(len(body)):
            if exchange.closed:
                return
            await exchange.write(body[byte : byte + 1])
            await asyncio.sleep(0.1)

    peer.script = trickle
    with pytest.raises(FalTimeoutError) as caught:
        call(mode, client_of(peer.url), fetch_result, fetch_result_async, deadline=Deadline(1.0))
    assert caught.value.message.startswith(f"GET {peer.url}/{APP}/requests/{RID}")
    assert caught.value.request_id == RID


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_without_a_type_takes_the_final_status_s(peer: ScriptedPeer, mode: str) -> None:
    Recorder(peer, [(500, b'{"detail": "boom"}', {"Content-Type": "application/json"})])
    final = Completed(error="boom", error_type="runner_crashed")
    with pytest.raises(ServerError) as caught:
        call(mode, client_of(peer.url), fetch_result, fetch_result_async, completed=final)
    assert caught.value.error_type == "runner_crashed"
    assert caught.value.request_id == RID


@pytest.mark.parametrize("mode", MODES)
def test_a_submit_that_may_have_been_accepted_names_its_endpoint(
    peer: ScriptedPeer, mode: str
) -> None:
    async def vanish(exchange: Exchange) -> None:
        exchange.close()

    peer.script = vanish
    with pytest.raises(PossiblyAcceptedError) as caught:
        if mode == "sync":
            with client_of(peer.url) as client:
                submit(client, APP, {"prompt": "x"})
        else:

            async def main() -> None:
                async with client_of(peer.url) as client:
                    await submit_async(client, APP, {"prompt": "x"})

            asyncio.run(main())
    assert caught.value.endpoint_id == APP


def submitted(mode: str, client: Client, **options: Any) -> Any:
    if mode == "sync":
        with client:
            return submit(client, APP, {"prompt": "x"}, **options)

    async def main() -> Any:
        async with client:
            return await submit_async(client, APP, {"prompt": "x"}, **options)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
def test_a_submit_sends_every_option_it_was_given(peer: ScriptedPeer, mode: str) -> None:
    options: dict[str, Any] = {
        "priority": "low",
        "hint": "warm-runner",
        "start_timeout": 30.0,
        "headers": {"X-Trace": "t-1"},
    }
    Recorder(peer, [ok({"request_id": RID, "queue_position": 2})])
    done = submitted(mode, client_of(peer.url), **options)
    assert (done.request_id, done.queue_position) == (RID, 2)
    sent = {k.lower(): v for k, v in peer.last().headers.items()}
    wanted = request_headers(**options)
    assert len(wanted) >= 4
    for name, value in wanted.items():
        assert sent.get(name.lower()) == value, name


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_submit_is_sent_once_the_deadline_has_passed(peer: ScriptedPeer, mode: str) -> None:
    seen = Recorder(peer, [ok({"request_id": RID})])
    with pytest.raises(FalTimeoutError):
        submitted(mode, client_of(peer.url), deadline=Deadline(0.0))
    assert seen.paths == []


@pytest.mark.parametrize("mode", MODES)
def test_a_submit_answer_trickled_past_the_deadline_is_cut_and_named(
    peer: ScriptedPeer, mode: str
) -> None:
    body = b'{"request_id": "' + RID.encode() + b'"' + b" " * 40 + b"}"

    async def trickle(exchange: Exchange) -> None:
        await exchange.head(
            200, {"Content-Type": "application/json", "Content-Length": str(len(body))}
        )
        for byte in range(len(body)):
            if exchange.closed:
                return
            await exchange.write(body[byte : byte + 1])
            await asyncio.sleep(0.1)

    peer.script = trickle
    # Answered 200, the job is queued: cut before its id, the submit is possibly accepted (with
    # the deadline's message), never a plain timeout.
    with pytest.raises(PossiblyAcceptedError) as caught:
        submitted(mode, client_of(peer.url), deadline=Deadline(1.0))
    assert caught.value.message.startswith(f"POST {peer.url}/{APP}")
    assert "did not complete within 1s" in caught.value.message
    assert caught.value.status_code == 200 and caught.value.endpoint_id == APP


@pytest.mark.parametrize("mode", MODES)
def test_a_submit_answer_without_an_id_keeps_the_header_id_and_text(
    peer: ScriptedPeer, mode: str
) -> None:
    text = b'{"queued": true}'
    Recorder(peer, [(200, text, {"Content-Type": "application/json", "x-fal-request-id": RID})])
    with pytest.raises(PossiblyAcceptedError) as caught:
        submitted(mode, client_of(peer.url))
    assert caught.value.request_id == RID
    assert caught.value.text == text.decode()


@pytest.mark.parametrize("mode", MODES)
def test_an_unreadable_result_names_the_answer_it_came_from(peer: ScriptedPeer, mode: str) -> None:
    Recorder(peer, [(200, b"{not json", {"Content-Type": "application/json"})])
    with pytest.raises(ProtocolError) as caught:
        call(mode, client_of(peer.url), fetch_result, fetch_result_async)
    assert f"the answer of /{APP}/requests/{RID}" in caught.value.message
    assert caught.value.request_id == RID


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["status", "result", "submit"])
def test_a_peer_that_never_answers_is_given_up_at_the_deadline(
    peer: ScriptedPeer, mode: str, which: str
) -> None:
    """The call's deadline (1s), not the client's longer read timeout (10s), ends the wait."""

    async def hold(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    peer.script = hold
    client = Client(
        KEY, queue_url=peer.url, run_url=peer.url, retry=RetryPolicy.disabled(), timeout=10.0
    )
    with pytest.raises(FalTimeoutError) as caught:
        if which == "submit":
            submitted(mode, client, deadline=Deadline(1.0))
        else:
            sync, asynchronous = {
                "status": (get_status, get_status_async),
                "result": (fetch_result, fetch_result_async),
            }[which]
            call(mode, client, sync, asynchronous, deadline=Deadline(1.0))
    assert caught.value.message.startswith("POST " if which == "submit" else "GET ")


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_status_poll_names_the_request(peer: ScriptedPeer, mode: str) -> None:
    Recorder(peer, [(500, b'{"detail": "boom"}', {"Content-Type": "application/json"})])
    with pytest.raises(ServerError) as caught:
        call(mode, client_of(peer.url), get_status, get_status_async)
    assert caught.value.request_id == RID


CALLS = {
    "submit": ("POST", submit, submit_async),
    "status": ("GET", get_status, get_status_async),
    "result": ("GET", fetch_result, fetch_result_async),
}


def called(mode: str, client: Client, which: str, **kwargs: Any) -> Any:
    _, sync, asynchronous = CALLS[which]
    if which == "submit":
        return submitted(mode, client, **kwargs)
    return call(mode, client, sync, asynchronous, **kwargs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", sorted(CALLS))
def test_a_close_delimited_answer_cut_at_the_deadline_is_the_deadline_s_error(
    peer: ScriptedPeer, mode: str, which: str
) -> None:
    """Without a Content-Length, the end of the body is the end of the connection: the
    deadline's cut looks like a short, complete answer. It is the deadline's error naming the
    call, never a ProtocolError about the truncated JSON (nor the truncated value itself); for
    a submit, whose 200 means the job was queued, it is PossiblyAcceptedError.

    The answer takes ~4.5 s; the deadline is 2 s, long beside the 50 ms pauses, so only the
    cut at the deadline ends the call (not one pause outlasting the per-read timeout)."""
    body = (
        {
            "submit": b'{"request_id": "' + RID.encode() + b'", "queue_position": 1',
            "status": b'{"status": "IN_QUEUE", "queue_position": 1',
            "result": b'{"a": 1',
        }[which]
        + b" " * 80
        + b"}"
    )

    async def trickle(exchange: Exchange) -> None:
        await exchange.head(200, {"Content-Type": "application/json", "Connection": "close"})
        for byte in range(len(body)):
            if exchange.closed:
                return
            await exchange.write(body[byte : byte + 1])
            await asyncio.sleep(0.05)
        exchange.close()

    peer.script = trickle
    with pytest.raises(FalTimeoutError if which != "submit" else PossiblyAcceptedError) as caught:
        called(mode, client_of(peer.url), which, deadline=Deadline(2.0))
    method = CALLS[which][0]
    assert caught.value.message.startswith(f"{method} {peer.url}/{APP}")
    if which != "submit":
        assert caught.value.message.endswith("did not complete within 2s")
        return
    # A submit answered 200 was accepted (and paid for): cut before its request id, it is
    # possibly accepted, never a plain timeout that invites sending it again.
    error = caught.value
    assert isinstance(error, PossiblyAcceptedError)
    assert "did not complete within 2s" in error.message and "accepted" in error.message
    assert (error.status_code, error.endpoint_id, error.method) == (200, APP, "POST")
    assert error.payload_sha256 is not None and error.payload_size


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("position", ["2", 2.5, [2], None])
def test_a_queue_position_that_is_not_an_integer_is_dropped(
    peer: ScriptedPeer, mode: str, position: Any
) -> None:
    Recorder(peer, [ok({"request_id": RID, "queue_position": position})])
    done = submitted(mode, client_of(peer.url))
    assert (done.request_id, done.queue_position) == (RID, None)


@pytest.mark.parametrize("mode", MODES)
def test_a_submit_answer_without_an_id_quotes_its_first_200_characters(
    peer: ScriptedPeer, mode: str
) -> None:
    """A 200 to a submit is a request fal took: with no id to follow it by, it is possibly
    accepted (never a plain failure inviting a second submit), its whole text kept."""
    text = "<html>" + "".join(chr(ord("a") + i % 26) for i in range(294))
    Recorder(peer, [(200, text.encode(), {"Content-Type": "text/html"})])
    with pytest.raises(PossiblyAcceptedError) as caught:
        submitted(mode, client_of(peer.url))
    assert caught.value.message == (
        f"submit answered 200 but its answer has no request_id: {text[:200] + '...'!r} "
        "(check the request history or your webhook before sending it again)"
    )
    assert caught.value.text == text
    assert (caught.value.status_code, caught.value.endpoint_id) == (200, APP)
    assert caught.value.payload_sha256 is not None and caught.value.payload_size


class Timeouts:
    """An httpx event hook keeping the read timeout each request was sent with."""

    def __init__(self) -> None:
        self.reads: list[float | None] = []

    def sync(self, request: httpx.Request) -> None:
        self.reads.append(request.extensions["timeout"]["read"])

    async def asynchronous(self, request: httpx.Request) -> None:
        self.sync(request)


@pytest.mark.parametrize("mode", MODES)
def test_a_cancel_is_sent_with_the_timeout_it_was_given(peer: ScriptedPeer, mode: str) -> None:
    """``cancel(timeout=)`` (the wait's own cancel on a deadline uses a short one) bounds the
    request, not the client's longer timeout."""
    Recorder(peer, [ok({"status": "CANCELLATION_REQUESTED"})])
    seen = Timeouts()
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, jitter=0.0)
    if mode == "sync":
        with (
            httpx.Client(event_hooks={"request": [seen.sync]}) as http,
            Client(KEY, queue_url=peer.url, http_client=http, retry=policy, timeout=40.0) as client,
        ):
            cancel(client, APP, RID, timeout=2.5)
            cancel(client, APP, RID)
    else:

        async def main() -> None:
            async with (
                httpx.AsyncClient(event_hooks={"request": [seen.asynchronous]}) as http,
                Client(
                    KEY, queue_url=peer.url, async_http_client=http, retry=policy, timeout=40.0
                ) as client,
            ):
                await cancel_async(client, APP, RID, timeout=2.5)
                await cancel_async(client, APP, RID)

        asyncio.run(main())
    assert seen.reads == [2.5, 40.0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "body", [b"{not json", b'{"status": "SOMEWHERE_ELSE"}'], ids=["invalid JSON", "no status"]
)
def test_an_unreadable_status_names_the_request(peer: ScriptedPeer, mode: str, body: bytes) -> None:
    Recorder(peer, [(200, body, {"Content-Type": "application/json"})])
    with pytest.raises(ProtocolError) as caught:
        call(mode, client_of(peer.url), get_status, get_status_async)
    assert caught.value.request_id == RID


@pytest.mark.parametrize("mode", MODES)
def test_a_result_answered_202_is_a_not_ready_202_saying_so(peer: ScriptedPeer, mode: str) -> None:
    """Waiters poll again on it, but a handle that saw COMPLETED raises it as it is: it must read
    as what fal answered (202, still in progress), for the request asked about."""
    Recorder(peer, [(202, b'{"status": "IN_PROGRESS"}', {"Content-Type": "application/json"})])
    with pytest.raises(FalHTTPError) as caught:
        call(mode, client_of(peer.url), fetch_result, fetch_result_async)
    error = caught.value
    assert is_not_ready(error)
    assert (error.status_code, error.message, error.body) == (
        202,
        "Request is still in progress",
        None,
    )
    assert error.request_id == RID
