"""``_wallclock``'s rules over real sockets (each kills a mutant that survived, issue 12).

A call follows how far its requests got through httpcore's ``trace`` extension; a trace the
application set on its own ``httpx`` client (by a request hook) must still see every event, with
its name and details, sync and async. Against a scripted peer on 127.0.0.1 (tests/peers/sse.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fal_typed import Client, FalTimeoutError, ProtocolError, RetryPolicy
from fal_typed._bounded import Interrupter
from fal_typed._deadline import Deadline
from fal_typed._queue import submit, submit_async
from fal_typed._wallclock import (  # pyright: ignore[reportPrivateUsage]
    _ARMED,
    _close_delimited,
    settle,
    within,
)

from ..peers.sse import KEY, ScriptedPeer, ok_json, serving

RID = "6f1c3a4e-0c7d-4a51-9b8e-2d4f5a6b7c8d"
APP = "tests/paid"
MODES = ["sync", "async"]
WRITTEN = "http11.send_request_body.complete"


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        scripted.script = ok_json({"request_id": RID})
        yield scripted


def _client(url: str, **http: Any) -> Client:
    policy = RetryPolicy(max_attempts=1)
    return Client(KEY, queue_url=url, run_url=url, retry=policy, backup_hosts={}, **http)


@pytest.mark.parametrize("mode", MODES)
def test_a_trace_the_application_set_still_sees_every_event(peer: ScriptedPeer, mode: str) -> None:
    seen: list[tuple[str, object]] = []
    if mode == "sync":

        def trace(name: str, info: dict[str, object]) -> None:
            seen.append((name, info))

        def hook(request: httpx.Request) -> None:
            request.extensions["trace"] = trace

        with (
            httpx.Client(event_hooks={"request": [hook]}) as http,
            _client(peer.url, http_client=http) as client,
        ):
            done = submit(client, APP, {"prompt": "x"}, deadline=Deadline(30.0))
    else:

        async def atrace(name: str, info: dict[str, object]) -> None:
            seen.append((name, info))

        async def ahook(request: httpx.Request) -> None:
            request.extensions["trace"] = atrace

        async def main() -> Any:
            async with (
                httpx.AsyncClient(event_hooks={"request": [ahook]}) as http,
                _client(peer.url, async_http_client=http) as client,
            ):
                return await submit_async(client, APP, {"prompt": "x"}, deadline=Deadline(30.0))

        done = asyncio.run(main())
    assert done.request_id == RID
    names = [name for name, _ in seen]
    assert WRITTEN in names, names
    assert names.index("http11.send_request_headers.started") < names.index(WRITTEN)
    assert all(isinstance(info, dict) for _, info in seen)
    assert json.loads(peer.last().body) == {"prompt": "x"}


@pytest.mark.parametrize("with_deadline", [False, True])
def test_a_request_is_traced_only_when_a_deadline_can_cut_it(
    peer: ScriptedPeer, with_deadline: bool
) -> None:
    """Following a request costs a trace callback per phase: a call with no deadline, which
    nothing can cut, sends its requests as the application made them."""
    traces: list[object] = []

    def saw(response: httpx.Response) -> None:
        traces.append(response.request.extensions.get("trace"))

    with (
        httpx.Client(event_hooks={"response": [saw]}) as http,
        _client(peer.url, http_client=http) as client,
    ):
        deadline = Deadline(30.0) if with_deadline else None
        assert submit(client, APP, {"prompt": "x"}, deadline=deadline).request_id == RID
    assert len(traces) == 1
    assert (traces[0] is not None) is with_deadline


# -- within: only a FalError the shutdown caused becomes the deadline's error -------------------


def _read_then_outlive_the_deadline(client: Client, url: str, seconds: float) -> None:
    """Inside ``within``: a whole answer read, then the deadline passes (its alarm fires on a
    socket already read from, as a race with the end of a call can make it)."""
    response = client.http.get(url)
    assert response.status_code == 200
    time.sleep(seconds + 0.3)  # the alarm, due at ``seconds``, has fired by now


def test_a_block_that_ends_well_after_its_alarm_fired_is_no_timeout(peer: ScriptedPeer) -> None:
    from fal_typed._wallclock import within

    with _client(peer.url) as client:
        deadline = Deadline(0.2)
        with within(client.http, deadline, "GET x"):
            _read_then_outlive_the_deadline(client, f"{peer.url}/x", 0.2)
        assert deadline.expired  # and nothing was raised: the call's result stands


def test_an_error_not_from_fal_typed_passes_through_a_fired_alarm(peer: ScriptedPeer) -> None:
    from fal_typed._wallclock import within

    with (
        _client(peer.url) as client,
        pytest.raises(LookupError, match="the caller's own"),
        within(client.http, Deadline(0.2), "GET x"),
    ):
        _read_then_outlive_the_deadline(client, f"{peer.url}/x", 0.2)
        raise LookupError("the caller's own")


# -- settle: the deadline ends once an answer is read whole ----------------------------------------


def _answer(headers: dict[str, str], http_version: bytes = b"HTTP/1.1") -> httpx.Response:
    """An answer with exactly ``headers`` (no length added) over ``http_version``."""
    return httpx.Response(
        200,
        headers=headers,
        stream=httpx.ByteStream(b"{}"),
        extensions={"http_version": http_version},
    )


@pytest.mark.parametrize(
    ("headers", "http_version", "delimited_by_close"),
    [
        ({}, b"HTTP/1.1", True),
        ({}, b"HTTP/1.0", True),
        ({"Content-Length": "2"}, b"HTTP/1.1", False),
        ({"Transfer-Encoding": "Chunked"}, b"HTTP/1.1", False),
        ({"Transfer-Encoding": "gzip, chunked"}, b"HTTP/1.1", False),
        ({"Transfer-Encoding": "gzip"}, b"HTTP/1.1", True),
        ({}, b"HTTP/2", False),
    ],
)
def test_only_an_http_1_body_with_neither_length_nor_chunks_ends_with_its_connection(
    headers: dict[str, str], http_version: bytes, delimited_by_close: bool
) -> None:
    assert _close_delimited(_answer(headers, http_version)) is delimited_by_close


class _Fired:
    """An interrupter whose deadline's shutdown already happened."""

    fired = True

    def cancel(self) -> None:
        pass


def _fired_on(answer: httpx.Response) -> None:
    """Within a ``within`` block: the deadline's shutdown fired on ``answer``."""
    armed = _ARMED.get()
    assert armed is not None
    armed.interrupters.append((answer, _Fired()))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_a_settled_answer_keeps_the_error_of_what_follows_it() -> None:
    """After its answer is settled, a failure in the block (parsing a paid answer) is its own
    error, even though the deadline's shutdown had fired: it is not traded for the deadline's."""
    failure = ProtocolError("the answer is not valid JSON", text="{")
    with httpx.Client() as http:
        with pytest.raises(ProtocolError), within(http, Deadline(30), "POST http://x/app"):
            answer = _answer({"Content-Length": "2"})
            _fired_on(answer)
            settle(answer)
            raise failure
        # the rule settle lifts: a fired shutdown is the cause
        with (
            pytest.raises(FalTimeoutError) as caught,
            within(http, Deadline(30), "POST http://x/app"),
        ):
            _fired_on(_answer({"Content-Length": "2"}))
            raise failure
        assert str(caught.value).startswith("POST http://x/app did not complete within 30s")


def test_a_close_delimited_answer_the_shutdown_fired_on_is_the_deadline_s_error() -> None:
    with (
        httpx.Client() as http,
        pytest.raises(FalTimeoutError) as caught,
        within(http, Deadline(30), "POST http://x/app"),
    ):
        answer = _answer({})
        _fired_on(answer)
        settle(answer)
    assert str(caught.value).startswith("POST http://x/app did not complete within 30s")


def test_settling_an_answer_no_shutdown_fired_on_raises_nothing() -> None:
    with httpx.Client() as http:
        with within(http, Deadline(30), "POST http://x/app"):
            answer = _answer({})  # close-delimited, but read whole in time
            settle(answer)  # not one of the block's answers: nothing to settle
            armed = _ARMED.get()
            assert armed is not None
            armed.interrupters.append((answer, Interrupter(answer, Deadline(30))))
            settle(answer)
            assert armed.interrupters == []
        settle(answer)  # outside any block
