"""Queue rules no other test held (each kills a hand-made mutant that survived, issue 12):

- the result call's 202 (a status, not the output: wait) and its 400s (only "in progress" waits);
- a ``Completed`` with only ``error_type`` is a failure;
- a malformed request id from the server is a ProtocolError naming it;
- a POST that never left the machine (connection refused) is not "possibly accepted".

Over real sockets, against a scripted peer on 127.0.0.1 (tests/peers/sse.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from fal_typed import (
    Client,
    Completed,
    FalConnectionError,
    FalHTTPError,
    PossiblyAcceptedError,
    RetryPolicy,
    untyped,
)
from fal_typed._status import parse_status

from ..peers.sse import KEY, Exchange, ScriptedPeer, serving

RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
ENDPOINT = untyped("tests/paid")
OUTPUT = {"images": [{"url": "https://v3.fal.media/files/a.png"}]}
MODES = ["sync", "async"]


class Peer:
    """Answers from per-route lists (the last answer repeats), recording each route's hits.
    An answer is ``(status, body)`` with fal's id header, or ``(status, body, headers)``."""

    def __init__(self, peer: ScriptedPeer) -> None:
        self.answers: dict[str, list[tuple[Any, ...]]] = {
            "submit": [(200, {"request_id": RID})],
            "stream": [(404, {"detail": "no stream"})],
            "status": [(200, {"status": "COMPLETED"})],
            "result": [(200, OUTPUT)],
        }
        self.hits: dict[str, int] = dict.fromkeys(self.answers, 0)
        peer.script = self.route

    async def route(self, exchange: Exchange) -> None:
        path = exchange.path.partition("?")[0]
        if exchange.method == "POST":
            name = "submit"
        elif path.endswith("/status/stream"):
            name = "stream"
        elif path.endswith("/status"):
            name = "status"
        else:
            name = "result"
        answers = self.answers[name]
        status, body, *given = answers[min(self.hits[name], len(answers) - 1)]
        self.hits[name] += 1
        headers = given[0] if given else {"x-fal-request-id": RID}
        await exchange.answer(
            status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
        )


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def client_of(url: str) -> Client:
    return Client(
        KEY,
        queue_url=url,
        run_url=url,
        retry=RetryPolicy(max_attempts=1),
        backup_hosts={},
        poll_interval=0.02,
    )


def result(mode: str, client: Client) -> Any:
    if mode == "sync":
        with client:
            return ENDPOINT.result(RID, client=client)

    async def main() -> Any:
        async with client:
            return await ENDPOINT.result_async(RID, client=client)

    return asyncio.run(main())


# -- the result call -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_202_result_is_a_status_so_the_call_waits_for_the_output(
    peer: ScriptedPeer, mode: str
) -> None:
    routes = Peer(peer)
    routes.answers["result"] = [(202, {"status": "IN_QUEUE", "queue_position": 0}), (200, OUTPUT)]
    out = result(mode, client_of(peer.url))
    assert out["images"] == OUTPUT["images"]  # not the status body taken for the output
    assert routes.hits["result"] == 2 and routes.hits["status"] >= 1


@pytest.mark.parametrize("mode", MODES)
def test_a_still_in_progress_400_waits_for_the_output(peer: ScriptedPeer, mode: str) -> None:
    routes = Peer(peer)
    routes.answers["result"] = [(400, {"detail": "Request is still in progress"}), (200, OUTPUT)]
    assert result(mode, client_of(peer.url))["images"] == OUTPUT["images"]
    assert routes.hits["result"] == 2


@pytest.mark.parametrize("mode", MODES)
def test_any_other_400_is_raised_without_waiting(peer: ScriptedPeer, mode: str) -> None:
    routes = Peer(peer)
    routes.answers["result"] = [(400, {"detail": "Image too large"}), (200, OUTPUT)]
    with pytest.raises(FalHTTPError) as caught:
        result(mode, client_of(peer.url))
    assert caught.value.status_code == 400 and caught.value.request_id == RID
    assert "Image too large" in str(caught.value)
    assert routes.hits == {"submit": 0, "stream": 0, "status": 0, "result": 1}


# -- what counts as a failure ----------------------------------------------------------------------


def test_a_completed_with_only_an_error_type_is_a_failure() -> None:
    assert Completed(error_type="runner_failed").failed
    assert Completed(error="boom").failed
    assert not Completed().failed
    parsed = parse_status({"status": "COMPLETED", "error_type": "runner_failed"})
    assert isinstance(parsed, Completed) and parsed.failed and parsed.error is None


# -- a malformed request id ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bad", ["../../admin", "a b", "", "x" * 300, f"{{{RID}}}", f"{RID}\n"])
@pytest.mark.parametrize("header", [RID, None, "not an id"])
def test_a_malformed_request_id_from_the_server_is_possibly_accepted_keeping_what_names_it(
    peer: ScriptedPeer, mode: str, bad: str, header: str | None
) -> None:
    """The submit was answered 200: fal took it. Its header id (when it is one) and the
    answer's text are kept, so the paid request can still be followed or reconciled."""
    routes = Peer(peer)
    headers = {} if header is None else {"x-fal-request-id": header}
    routes.answers["submit"] = [(200, {"request_id": bad}, headers)]
    client = client_of(peer.url)
    with pytest.raises(PossiblyAcceptedError, match="has a malformed request_id") as caught:
        if mode == "sync":
            with client:
                ENDPOINT.submit({"prompt": "x"}, client=client)
        else:
            asyncio.run(ENDPOINT.submit_async({"prompt": "x"}, client=client))
    assert caught.value.request_id == (RID if header == RID else None)
    assert caught.value.text is not None and json.loads(caught.value.text) == {"request_id": bad}
    assert caught.value.status_code == 200 and caught.value.payload_sha256 is not None
    assert routes.hits["submit"] == 1 and routes.hits["status"] == routes.hits["result"] == 0


# -- a POST that never left the machine -----------------------------------------------------------------


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("call", ["submit", "run", "subscribe"])
def test_a_post_refused_at_connect_is_not_possibly_accepted(mode: str, call: str) -> None:
    client = client_of(closed_port_url())
    with pytest.raises(FalConnectionError) as caught:
        if mode == "sync":
            with client:
                getattr(ENDPOINT, call)({"prompt": "x"}, client=client)
        else:

            async def main() -> None:
                async with client:
                    await getattr(ENDPOINT, f"{call}_async")({"prompt": "x"}, client=client)

            asyncio.run(main())
    assert not isinstance(caught.value, PossiblyAcceptedError), caught.value


# -- the body a submit sends ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_submit_sends_its_body_encoded_once_or_refuses_it_naming_the_endpoint(
    peer: ScriptedPeer, mode: str
) -> None:
    """The bytes on the wire are the compact strict JSON, with its content type; a body JSON
    cannot carry is refused before anything is sent, naming the endpoint and the field."""
    from fal_typed import InputValidationError
    from fal_typed._queue import submit, submit_async

    routes = Peer(peer)

    def send(body: dict[str, Any]) -> Any:
        client = client_of(peer.url)
        if mode == "sync":
            with client:
                return submit(client, "tests/paid", body)

        async def main() -> Any:
            async with client:
                return await submit_async(client, "tests/paid", body)

        return asyncio.run(main())

    with pytest.raises(InputValidationError) as caught:
        send({"prompt": "a cat", "scale": float("nan")})
    assert caught.value.endpoint_id == "tests/paid"
    assert caught.value.fields == ["scale"]
    assert routes.hits["submit"] == 0
    assert send({"prompt": "a cat", "n": 1}).request_id == RID
    sent = peer.last()
    assert sent.body == b'{"prompt":"a cat","n":1}'
    assert sent.headers.get("content-type") == "application/json"
