"""``_attempts``'s rules over real sockets (each kills a mutant that survived, issue 12).

- A policy's own ``retry_statuses`` decide which statuses are retried.
- An answer below 400 that is not a success (a redirect not followed) is raised as that answer.
- The back-off counts each outcome on its own (answers and transport failures alike): a
  different outcome starts its schedule again.
- Each retry, and each retry ``max_elapsed`` forbids, is logged: method, URL, why, the figures.
- A deadline that ends a back-off names the call.
- A possibly-accepted error says what happened, with the method and the URL of the request; a
  submit the deadline cut after sending says why it may have been accepted.
- A transport failure is named with its type and message (or its type alone when it has none),
  with the attempt count only when there was more than one; a host name that does not resolve
  is quoted, and the error says nothing was sent; a fault of our own is raised at once.
- An error the application's own hook raised without its request is still possibly accepted.

Against a scripted peer on 127.0.0.1 (tests/peers/sse.py), a refused port and an unresolvable
``.invalid`` name; sync and async.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed import (
    Client,
    FalConnectionError,
    FalHTTPError,
    FalTimeoutError,
    PossiblyAcceptedError,
    RetryPolicy,
)
from fal_typed._deadline import Deadline
from fal_typed._queue import submit, submit_async

from ..peers.sse import KEY, Exchange, ScriptedPeer, serving

MODES = ["sync", "async"]
APP = "tests/paid"
NGINX = b"<html><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></html>"
Answer = tuple[int, bytes, dict[str, str]]
OK: Answer = (200, b"{}", {"Content-Type": "application/json"})
RATE_LIMITED: Answer = (429, b'{"detail": "slow down"}', {"Content-Type": "application/json"})
INGRESS_503: Answer = (503, NGINX, {"Content-Type": "text/html"})
GATEWAY_502: Answer = (502, NGINX, {"Content-Type": "text/html"})
TEAPOT: Answer = (418, b'{"detail": "teapot"}', {"Content-Type": "application/json"})
ADVICE = "(check the request history or your webhook before sending it again)"


class Answers:
    """Answers each request with the next of ``answers`` (the last repeats)."""

    def __init__(self, peer: ScriptedPeer, *answers: Answer) -> None:
        self.answers = answers
        self.seen = 0
        peer.script = self.route

    async def route(self, exchange: Exchange) -> None:
        status, body, headers = self.answers[min(self.seen, len(self.answers) - 1)]
        self.seen += 1
        await exchange.answer(status, body, headers)


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def client_of(url: str, policy: RetryPolicy | None = None, **options: Any) -> Client:
    policy = policy or RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=1.0, jitter=0.0)
    return Client(KEY, queue_url=url, run_url=url, retry=policy, backup_hosts={}, **options)


def send(mode: str, client: Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    if mode == "sync":
        with client:
            return client.request(method, url, **kwargs)

    async def main() -> httpx.Response:
        async with client:
            return await client.arequest(method, url, **kwargs)

    return asyncio.run(main())


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for r in caplog.records if (m := r.getMessage()).startswith("fal_typed: retrying")]


# -- the decision and the back-off ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_policy_s_own_retry_statuses_are_retried(peer: ScriptedPeer, mode: str) -> None:
    seen = Answers(peer, TEAPOT, OK)
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, retry_statuses=frozenset({418}))
    assert send(mode, client_of(peer.url, policy), "GET", f"{peer.url}/x").status_code == 200
    assert seen.seen == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_not_followed_is_raised_as_that_answer(peer: ScriptedPeer, mode: str) -> None:
    seen = Answers(peer, (302, b"moved", {"Content-Type": "text/plain"}))  # no Location
    with pytest.raises(FalHTTPError) as caught:
        send(mode, client_of(peer.url), "GET", f"{peer.url}/x")
    assert caught.value.status_code == 302
    assert seen.seen == 1


@pytest.mark.parametrize("mode", MODES)
def test_each_outcome_keeps_its_own_back_off(
    peer: ScriptedPeer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """429, 503, 429: each a first of its outcome since the last, so each waits the base delay
    (one count for all would double it: 0.01, 0.02, 0.04)."""
    caplog.set_level(logging.INFO, logger="fal_typed")
    Answers(peer, RATE_LIMITED, INGRESS_503, RATE_LIMITED, OK)
    url = f"{peer.url}/x"
    assert send(mode, client_of(peer.url), "GET", url).status_code == 200
    assert retry_logs(caplog) == [
        f"fal_typed: retrying GET {url} in 0.01s after HTTP 429 (attempt 2 of 5)",
        f"fal_typed: retrying GET {url} in 0.01s after HTTP 503 (attempt 3 of 5)",
        f"fal_typed: retrying GET {url} in 0.01s after HTTP 429 (attempt 4 of 5)",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_the_same_outcome_doubles_its_back_off(
    peer: ScriptedPeer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fal_typed")
    Answers(peer, INGRESS_503, INGRESS_503, OK)
    url = f"{peer.url}/x"
    assert send(mode, client_of(peer.url), "GET", url).status_code == 200
    delays = [m.split(" in ")[1].split("s ")[0] for m in retry_logs(caplog)]
    assert delays == ["0.01", "0.02"]


@pytest.mark.parametrize("mode", MODES)
def test_a_retry_max_elapsed_forbids_is_logged_and_not_made(
    peer: ScriptedPeer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fal_typed")
    seen = Answers(peer, INGRESS_503, OK)
    policy = RetryPolicy(max_attempts=3, base_delay=5.0, jitter=0.0, max_elapsed=2.5)
    url = f"{peer.url}/x"
    with pytest.raises(FalHTTPError) as caught:
        send(mode, client_of(peer.url, policy), "GET", url)
    assert caught.value.status_code == 503 and seen.seen == 1
    assert [r.getMessage() for r in caplog.records if "not retrying" in r.getMessage()] == [
        f"fal_typed: not retrying GET {url} after HTTP 503: max_elapsed (2.5s) would be passed"
    ]
    assert retry_logs(caplog) == []


# -- the errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_post_a_gateway_answered_says_so_and_names_the_request(
    peer: ScriptedPeer, mode: str
) -> None:
    Answers(peer, GATEWAY_502, OK)
    url = f"{peer.url}/app/x"
    with pytest.raises(PossiblyAcceptedError) as caught:
        send(mode, client_of(peer.url), "POST", url, json={"a": 1})
    error = caught.value
    assert error.message == (
        f"POST {url} answered HTTP 502 by a gateway (no x-fal-request-id), which can come after"
        f" fal accepted the request; fal may have accepted it, so it was not sent again {ADVICE}"
    )
    assert (error.method, error.url, error.status_code) == ("POST", url, 502)
    assert error.payload_size == len(b'{"a":1}')


@pytest.mark.parametrize("mode", MODES)
def test_a_post_cut_after_sending_names_the_failure(peer: ScriptedPeer, mode: str) -> None:
    async def vanish(exchange: Exchange) -> None:
        exchange.close()

    peer.script = vanish
    url = f"{peer.url}/app/x"
    with pytest.raises(PossiblyAcceptedError) as caught:
        send(mode, client_of(peer.url), "POST", url, json={"a": 1})
    error = caught.value
    assert error.message == (
        f"POST {url} failed after the request was sent (RemoteProtocolError: Server"
        " disconnected without sending a response.); fal may have accepted it, so it was not"
        f" sent again {ADVICE}"
    )
    assert (error.method, error.url, error.status_code) == ("POST", url, None)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port bound but not listening: every connection to it is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attempts", [1, 3])
def test_a_connection_failure_counts_its_attempts_only_when_retried(
    refused_url: str, mode: str, attempts: int
) -> None:
    policy = RetryPolicy(max_attempts=attempts, base_delay=0.0)
    url = f"{refused_url}/x"
    with pytest.raises(FalConnectionError) as caught:
        send(mode, client_of(refused_url, policy), "GET", url)
    tried = " after 3 attempts" if attempts == 3 else ""
    assert caught.value.message.startswith(f"GET {url} failed{tried}: ConnectError: ")
    assert len(caught.value.message) > len(f"GET {url} failed{tried}: ConnectError: ")


def test_a_failure_without_a_message_is_named_by_its_type(peer: ScriptedPeer) -> None:
    """An async read timeout (anyio's) carries no message: the type alone names it."""

    async def silent(exchange: Exchange) -> None:
        await exchange.until_client_leaves()

    peer.script = silent
    url = f"{peer.url}/x"
    client = client_of(peer.url, RetryPolicy(max_attempts=1), timeout=httpx.Timeout(5.0, read=0.5))
    with pytest.raises(FalConnectionError) as caught:
        send("async", client, "GET", url)
    assert caught.value.message == f"GET {url} failed: ReadTimeout"


@pytest.mark.parametrize("mode", MODES)
def test_an_unresolvable_host_is_quoted_and_nothing_was_sent(mode: str) -> None:
    url = "http://fal-typed-attempts.invalid/x"
    with pytest.raises(FalConnectionError) as caught:
        send(mode, client_of(url), "GET", url)
    message = caught.value.message
    assert message.startswith(
        f"GET {url}: cannot resolve the host name 'fal-typed-attempts.invalid' (ConnectError"
    )
    assert message.endswith("); nothing was sent")


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_raised_without_its_request_is_possibly_accepted_without_a_digest(
    peer: ScriptedPeer, mode: str
) -> None:
    """The application's own request hook raised httpx's error, with no request attached."""
    Answers(peer, OK)
    url = f"{peer.url}/app/x"

    def refuse(request: httpx.Request) -> None:
        raise httpx.ReadError("the application's hook gave up")

    async def arefuse(request: httpx.Request) -> None:
        refuse(request)

    if mode == "sync":
        http: Any = httpx.Client(event_hooks={"request": [refuse]})
        client = client_of(peer.url, http_client=http)
    else:
        http = httpx.AsyncClient(event_hooks={"request": [arefuse]})
        client = client_of(peer.url, async_http_client=http)
    with pytest.raises(PossiblyAcceptedError) as caught:
        send(mode, client, "POST", url, json={"a": 1})
    error = caught.value
    assert "(ReadError: the application's hook gave up)" in error.message
    assert (error.payload_sha256, error.payload_size) == (None, None)
    assert (error.method, error.url) == ("POST", url)


@pytest.mark.parametrize("mode", MODES)
def test_each_transport_failure_keeps_its_own_back_off_and_is_named(
    peer: ScriptedPeer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A reset, then a read timeout: two outcomes, each the first of its kind (one count for
    both would double the second wait); each retry names the failure's type."""
    caplog.set_level(logging.INFO, logger="fal_typed")
    seen: list[int] = []

    async def script(exchange: Exchange) -> None:
        seen.append(len(seen))
        if len(seen) == 1:
            exchange.close()
        elif len(seen) == 2:
            await exchange.until_client_leaves()
        else:
            await exchange.answer(*OK)

    peer.script = script
    url = f"{peer.url}/x"
    client = client_of(peer.url, timeout=httpx.Timeout(5.0, read=1.0))
    assert send(mode, client, "GET", url).status_code == 200
    assert retry_logs(caplog) == [
        f"fal_typed: retrying GET {url} in 0.01s after RemoteProtocolError (attempt 2 of 5)",
        f"fal_typed: retrying GET {url} in 0.01s after ReadTimeout (attempt 3 of 5)",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_fault_of_our_own_is_raised_at_once(mode: str) -> None:
    """A URL httpx cannot send (no outcome in the table) is not retried: it is named, once."""
    url = "ftp://127.0.0.1/x"
    with pytest.raises(FalConnectionError) as caught:
        send(mode, client_of("http://127.0.0.1"), "GET", url)
    assert caught.value.message.startswith(f"GET {url} failed: UnsupportedProtocol: ")


@pytest.mark.parametrize("mode", MODES)
def test_a_deadline_that_ends_the_back_off_names_the_call(peer: ScriptedPeer, mode: str) -> None:
    seen = Answers(peer, (*RATE_LIMITED[:2], {**RATE_LIMITED[2], "Retry-After": "30"}))
    url = f"{peer.url}/x"
    with pytest.raises(FalTimeoutError) as caught:
        send(mode, client_of(peer.url), "GET", url, deadline=Deadline(2.0))
    assert caught.value.message.startswith(f"GET {url} did not complete within 2s")
    assert seen.seen == 1


def _submit(mode: str, client: Client, deadline: float) -> Any:
    if mode == "sync":
        with client:
            return submit(client, APP, {"a": 1}, deadline=Deadline(deadline))

    async def main() -> Any:
        async with client:
            return await submit_async(client, APP, {"a": 1}, deadline=Deadline(deadline))

    return asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answered", [True, False], ids=["answered", "unanswered"])
def test_a_submit_the_deadline_cut_after_sending_says_why_it_may_be_accepted(
    peer: ScriptedPeer, mode: str, answered: bool
) -> None:
    async def script(exchange: Exchange) -> None:
        if answered:
            await exchange.head(200, {"Content-Type": "application/json", "Content-Length": "9"})
            await exchange.write(b"{")
        await exchange.until_client_leaves()

    peer.script = script
    with pytest.raises(PossiblyAcceptedError) as caught:
        _submit(mode, client_of(peer.url), 1.0)
    why = (
        "fal answered HTTP 200, so it was accepted, but its answer was not read whole"
        if answered
        else "the request was sent and no answer came, so fal may have accepted it"
    )
    url = f"{peer.url}/{APP}"
    assert caught.value.message == f"POST {url} did not complete within 1s: {why} {ADVICE}"
