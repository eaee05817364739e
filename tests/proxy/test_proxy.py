"""FalProxy over real sockets, spoken to as fal's clients speak to it (raw HTTP here): what it
refuses (and never forwards), what it adds and strips, and how it streams."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from fal_typed.proxy import CORS, STAND_IN_TOKEN, BillableCall, CallerLimits
from fal_typed.testing import Failure, Fault, LocalFal

from .conftest import (
    ALICE,
    BOB,
    ENDPOINT,
    FORBIDDEN_ENDPOINT,
    KEY_SECRET,
    PROXY_KEY,
    ProxyFactory,
    ServedProxy,
)

QUEUE = "https://queue.fal.run"
RUN = "https://fal.run"


def call(
    served: ServedProxy,
    target: str | None,
    *,
    method: str = "POST",
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    sent = {**ALICE, **(headers or {})}
    if target is not None:
        sent["x-fal-target-url"] = target
    return httpx.request(
        method, served.url, headers=sent, json=json_body, content=content, timeout=30
    )


def submit_url(endpoint_id: str = ENDPOINT) -> str:
    return f"{QUEUE}/{endpoint_id}"


# -- refusals: each answered by the proxy in fal's error shape, nothing forwarded --------------


@pytest.mark.parametrize(
    ("target", "method", "status", "error_type"),
    [
        (None, "POST", 400, "proxy_invalid_target"),
        ("not a url", "POST", 400, "proxy_invalid_target"),
        ("https://example.com/fal-ai/flux/dev", "POST", 403, "proxy_target_not_allowed"),
        ("https://fal.run.example.com/fal-ai/flux/dev", "POST", 403, "proxy_target_not_allowed"),
        ("http://queue.fal.run/fal-ai/flux/dev", "POST", 403, "proxy_target_not_allowed"),
        ("https://queue.fal.run:8443/fal-ai/flux/dev", "POST", 403, "proxy_target_not_allowed"),
        ("https://user:pw@queue.fal.run/fal-ai/flux/dev", "POST", 400, "proxy_invalid_target"),
        ("https://queue.fal.run/fal-ai%2Fflux/dev", "POST", 400, "proxy_invalid_target"),
        ("https://api.fal.ai/v1/models/requests/payloads", "POST", 403, "proxy_target_not_allowed"),
        ("https://rest.fal.ai/tokens/", "POST", 403, "proxy_target_not_allowed"),
        ("https://v3.fal.media/files/b/x/cat.png", "GET", 405, "proxy_method_not_allowed"),
        (submit_url(), "DELETE", 405, "proxy_method_not_allowed"),
        (submit_url(), "GET", 405, "proxy_method_not_allowed"),
        (f"{QUEUE}/fal-ai/flux/requests/abc/cancel", "GET", 405, "proxy_method_not_allowed"),
        (submit_url(FORBIDDEN_ENDPOINT), "POST", 403, "proxy_endpoint_not_allowed"),
        (f"{RUN}/{FORBIDDEN_ENDPOINT}", "POST", 403, "proxy_endpoint_not_allowed"),
        (f"{RUN}/fal-ai/flux-pro/v1.1/stream", "POST", 403, "proxy_endpoint_not_allowed"),
        (f"{QUEUE}/fal-ai/flux-pro/requests/abc/status", "GET", 403, "proxy_endpoint_not_allowed"),
    ],
)
def test_refused_targets_are_never_forwarded(
    served: ServedProxy,
    upstream: LocalFal,
    target: str | None,
    method: str,
    status: int,
    error_type: str,
) -> None:
    response = call(served, target, method=method, json_body={"prompt": "a cat"})
    assert response.status_code == status, response.text
    assert response.json()["error_type"] == error_type
    assert response.headers["x-fal-error-type"] == error_type
    assert upstream.requests == []
    [record] = served.calls.wait()
    assert record.forwarded is False and record.error_type == error_type


@pytest.mark.parametrize("session", [None, "Bearer someone-else", "Key " + PROXY_KEY])
def test_unauthenticated_callers_are_refused(
    served: ServedProxy, upstream: LocalFal, session: str | None
) -> None:
    headers = {"x-fal-target-url": submit_url()}
    if session is not None:
        headers["Authorization"] = session
    response = httpx.post(served.url, headers=headers, json={"prompt": "a cat"}, timeout=30)
    assert response.status_code == 401
    assert response.json() == {"detail": "not authenticated", "error_type": "proxy_unauthorized"}
    assert upstream.requests == []


def test_invalid_input_gets_fals_422_and_is_never_forwarded(
    served: ServedProxy, upstream: LocalFal
) -> None:
    response = call(served, submit_url(), json_body={"prompt": 42, "num_images": "many", "x": 1})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {
        ("body", "prompt"),
        ("body", "num_images"),
        ("body", "x"),
    }
    assert all(set(d) == {"loc", "msg", "type"} for d in detail)
    # Missing required fields, a body that is no JSON object, and /stream are checked alike.
    assert call(served, submit_url(), json_body={}).status_code == 422
    assert call(served, submit_url(), content=b"[1, 2]").status_code == 422
    assert call(served, f"{RUN}/{ENDPOINT}/stream", json_body={"prompt": 1}).status_code == 422
    assert upstream.requests == []


def test_validation_can_be_turned_off(serve_proxy: ProxyFactory, upstream: LocalFal) -> None:
    served = serve_proxy(validate_inputs=False)
    response = call(served, submit_url(), json_body={"prompt": 42})
    # The local server validates too: fal's own 422 comes back, from upstream this time.
    assert response.status_code in (200, 422)
    assert len(upstream.requests_for("submit")) == 1


def test_oversized_inputs_are_refused_unread(serve_proxy: ProxyFactory, upstream: LocalFal) -> None:
    served = serve_proxy(max_input_bytes=1024)
    response = call(served, submit_url(), json_body={"prompt": "x" * 4096})
    assert response.status_code == 413
    assert response.json()["error_type"] == "proxy_input_too_large"
    assert upstream.requests == []


def test_an_input_that_stops_arriving_is_refused_at_the_write_timeout(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    """Nothing upstream bounds the wait for a model input (fal is not called yet): a caller
    that stops sending it is answered 408 once a pause passes the write timeout."""
    served = serve_proxy(timeout=httpx.Timeout(30.0, read=None, write=0.2))
    url = httpx.URL(served.url)
    head = (
        f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: {ALICE['Authorization']}\r\nx-fal-target-url: {submit_url()}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port or 80), timeout=30) as sock:
        sock.sendall(head.encode() + b'{"prompt": "a c')  # and nothing more
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"error_type":"proxy_input_timeout"' in answer
    assert upstream.requests == []


def _dribble(served: ServedProxy, target: str, *, every: float, within: float) -> bytes:
    """POST a body of 10,000 declared bytes to the proxy one byte every ``every`` seconds (each
    pause well within the write timeout) until it answers, for at most ``within`` seconds;
    what it answered (b"" if nothing)."""
    import select

    url = httpx.URL(served.url)
    head = (
        f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: {ALICE['Authorization']}\r\nx-fal-target-url: {target}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 10000\r\n\r\n"
    )
    answer = b""
    ends = time.monotonic() + within
    with socket.create_connection((url.host, url.port or 80), timeout=30) as sock:
        sock.sendall(head.encode())
        while time.monotonic() < ends and not answer.rstrip().endswith(b"}"):
            readable, _, _ = select.select([sock], [], [], every)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
            elif not answer:
                try:
                    sock.sendall(b"{")
                except OSError:
                    break
    return answer


@pytest.mark.parametrize(
    "target",
    [submit_url(), "https://v3.fal.media/files/upload"],
    ids=["model input", "relayed upload"],
)
def test_a_body_sent_a_byte_per_pause_is_refused_at_body_timeout(
    serve_proxy: ProxyFactory, upstream: LocalFal, target: str
) -> None:
    """A caller that sends a byte just before each pause would pass the write timeout never
    pauses too long, and held the call (and its slot) for as long as it liked: the whole body
    must arrive within body_timeout. A model input is read whole before fal is called; an
    upload is relayed as it comes, and httpx bounds each write to fal, not the wait for the
    caller's next byte."""
    served = serve_proxy(timeout=httpx.Timeout(30.0, read=None, write=1.0), body_timeout=1.5)
    started = time.monotonic()
    answer = _dribble(served, target, every=0.1, within=10.0)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"error_type":"proxy_input_timeout"' in answer
    assert b"did not arrive in full within 1.5 s" in answer
    assert time.monotonic() - started < 8.0
    assert upstream.requests_for("submit") == []


def test_a_relayed_upload_that_stops_arriving_is_refused_at_the_write_timeout(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    """An upload is relayed as it arrives; httpx's write timeout bounds each write to fal, not
    the wait for the caller's next piece, so a caller that stopped sending held the call."""
    served = serve_proxy(timeout=httpx.Timeout(30.0, read=None, write=0.3))
    url = httpx.URL(served.url)
    head = (
        f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: {ALICE['Authorization']}\r\n"
        "x-fal-target-url: https://v3.fal.media/files/upload\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port or 80), timeout=10) as sock:
        sock.sendall(head.encode() + b"half of it")  # and nothing more
        answer = b""
        while not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"nothing came for 0.3 s" in answer


def test_body_timeout_is_checked_where_given(upstream: LocalFal) -> None:
    from fal_typed import InvalidArgumentError
    from fal_typed.proxy import FalProxy, anyone

    for wrong in (0, -1.0, float("nan"), float("inf"), "30", True):
        with pytest.raises(InvalidArgumentError, match="body_timeout"):
            FalProxy(authenticate=anyone, key=PROXY_KEY, allowed_endpoints=[], body_timeout=wrong)


# -- what goes up, and what comes back -----------------------------------------------------------


class _Kept(list[bytes]):
    """A recorder's list that keeps nothing."""

    def append(self, item: bytes) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


def test_a_small_compressed_answer_that_inflates_large_is_streamed_not_held(
    serve_proxy: ProxyFactory,
) -> None:
    """The proxy sends fal's answers on decoded (to scrub them), and asked for them compressed
    (httpx's default Accept-Encoding): a small gzip answer was inflated in the proxy's memory
    whole, 64 KiB into 64 MiB here (a GiB for 1 MiB), as one chunk. It now asks for identity;
    and a body of small declared length is held whole only up to its bound (its length may be
    an encoded one), streamed past it."""
    import gzip
    import tracemalloc

    from starlette.applications import Starlette
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    from ..webhooks.helpers import serve

    inflated = 64 * 2**20
    bomb = gzip.compress(b"\0" * inflated, compresslevel=9)
    assert len(bomb) < 2**20

    async def answer(request: Any) -> Response:  # in this process: tracemalloc sees it too
        if "gzip" not in request.headers.get("accept-encoding", ""):  # as a server does
            piece = b"\0" * 2**16
            pieces = (piece for _ in range(inflated // len(piece)))
            length = {"Content-Length": str(inflated)}
            return StreamingResponse(pieces, media_type="application/json", headers=length)
        headers = {"Content-Encoding": "gzip"}
        return Response(bomb, media_type="application/json", headers=headers)

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET"])])
    with serve(app) as base:
        served = serve_proxy(upstream=base)
        served.recorder.sent = _Kept()  # the test's recorder would hold every byte sent
        tracemalloc.start()
        try:
            with httpx.stream(
                "GET",
                served.url,
                headers={**ALICE, "x-fal-target-url": f"{QUEUE}/fal-ai/flux/requests/abc/status"},
                timeout=60,
            ) as response:
                size = sum(len(chunk) for chunk in response.iter_raw())
                declared = response.headers.get("content-length")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 200 and size == inflated
    assert declared is None  # streamed
    assert peak < inflated // 4, peak


def test_the_proxy_adds_its_key_and_forwards_only_fals_headers(
    served: ServedProxy, upstream: LocalFal
) -> None:
    response = call(
        served,
        submit_url() + "?fal_webhook=https%3A%2F%2Fexample.com%2Fhook",
        json_body={"prompt": "a cat"},
        headers={
            "X-Fal-Queue-Priority": "low",
            "X-Fal-Request-Timeout": "30",
            "Cookie": "session=secret-cookie",
            "X-App-Internal": "no",
            "User-Agent": "my-front-end/1.0",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["x-fal-request-id"] == body["request_id"]
    [submit] = upstream.requests_for("submit")
    # The local server takes only Key <PROXY_KEY>: the proxy's key got it in, not the session.
    assert submit.headers["authorization"] == "Key <redacted>"
    assert submit.headers["x-fal-queue-priority"] == "low"
    assert submit.headers["x-fal-request-timeout"] == "30"
    assert submit.headers["user-agent"] == "my-front-end/1.0"
    assert submit.headers["x-fal-client-proxy"].startswith("fal-typed/")
    assert "cookie" not in submit.headers and "x-app-internal" not in submit.headers
    assert "x-fal-target-url" not in submit.headers
    assert submit.query["fal_webhook"] == "https://example.com/hook"
    assert submit.json() == {"prompt": "a cat"}
    [record] = served.calls.wait()
    assert record.forwarded and record.caller == "alice" and record.endpoint_id == ENDPOINT
    assert record.operation == "submit" and record.request_id == body["request_id"]
    assert record.status_code == 200 and record.error_type is None
    assert record.target == submit_url() + "?fal_webhook=https%3A%2F%2Fexample.com%2Fhook"


def test_upstream_urls_are_accepted_as_the_fal_urls_they_stand_for(
    served: ServedProxy, upstream: LocalFal
) -> None:
    """The local server answers with its own URLs (response_url...): following them works."""
    submitted = call(served, submit_url(), json_body={"prompt": "a cat"}).json()
    assert submitted["status_url"].startswith(upstream.base_url)
    status = call(served, submitted["status_url"], method="GET")
    assert (
        status.status_code in (200, 202) and status.json()["request_id"] == submitted["request_id"]
    )
    assert (
        served.calls.wait(2)[-1].target
        == f"{QUEUE}/fal-ai/flux/requests/{submitted['request_id']}/status"
    )


def test_secrets_echoed_by_fal_are_scrubbed(served: ServedProxy, upstream: LocalFal) -> None:
    @upstream.handler(ENDPOINT)
    def echo(arguments: dict[str, Any]) -> dict[str, Any]:  # pyright: ignore[reportUnusedFunction]
        # (No word a test elsewhere used as a secret, such as "secret": every secret the
        # process remembers is scrubbed, and the tests share the process.)
        return {"images": [], "seed": 1, "prompt": f"key={PROXY_KEY} half={KEY_SECRET}"}

    response = call(served, f"{RUN}/{ENDPOINT}", json_body={"prompt": "a cat"})
    assert response.status_code == 200
    assert response.json()["prompt"] == "key=[redacted] half=[redacted]"

    upstream.configure(ENDPOINT, failure=Failure(500, f"bad credentials {PROXY_KEY}"))
    upstream.remove_handler(ENDPOINT)
    failed = call(served, f"{RUN}/{ENDPOINT}", json_body={"prompt": "a cat"})
    assert failed.status_code == 500 and PROXY_KEY not in failed.text
    assert "bad credentials [redacted]" in failed.text
    returned = served.recorder.text()
    assert PROXY_KEY.encode() not in returned and KEY_SECRET.encode() not in returned


def test_cut_and_escaped_keys_echoed_by_fal_are_scrubbed(
    served: ServedProxy, upstream: LocalFal
) -> None:
    """As errors and logs are: an echo cut to a length, or percent-encoded, was relayed."""
    echoes = {
        "start": KEY_SECRET[:12],
        "end": KEY_SECRET[-10:],
        "quoted": quote(PROXY_KEY, safe=""),
        "cut_quoted": quote(PROXY_KEY, safe="")[:-3],
    }

    @upstream.handler(ENDPOINT)
    def echo(arguments: dict[str, Any]) -> dict[str, Any]:  # pyright: ignore[reportUnusedFunction]
        return {"images": [], "seed": 1, **echoes}

    response = call(served, f"{RUN}/{ENDPOINT}", json_body={"prompt": "a cat"})
    assert response.status_code == 200
    body = response.json()
    assert body["start"] == body["end"] == "[redacted]"
    # The key's id is no secret (fal's messages name it): what is left of the quoted key.
    assert body["quoted"] == body["cut_quoted"] == "[redacted]id%3A[redacted]"
    returned = served.recorder.text()
    windows = {KEY_SECRET[i : i + 8] for i in range(len(KEY_SECRET) - 7)}
    assert not [w for w in windows if w.encode() in returned]


def test_status_stream_events_are_relayed_as_they_happen(
    served: ServedProxy, upstream: LocalFal
) -> None:
    upstream.configure(ENDPOINT, hold="progress", logs=["step one"])
    submitted = call(served, submit_url(), json_body={"prompt": "a cat"}).json()
    target = f"{QUEUE}/fal-ai/flux/requests/{submitted['request_id']}/status/stream?logs=1"
    headers = {**ALICE, "x-fal-target-url": target, "Accept": "text/event-stream"}
    with httpx.stream("GET", served.url, headers=headers, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        # The request is parked upstream: this event came through before the stream ended.
        assert json.loads(first[5:])["status"] in ("IN_QUEUE", "IN_PROGRESS")
        assert upstream.release(submitted["request_id"]) == 1
        rest = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert rest[-1]["status"] == "COMPLETED"


def test_a_caller_that_leaves_cancels_the_upstream_stream(
    served: ServedProxy, upstream: LocalFal
) -> None:
    upstream.streams.configure(ENDPOINT, partial_events=50, interval=0.05)
    headers = {**ALICE, "x-fal-target-url": f"{RUN}/{ENDPOINT}/stream"}
    with httpx.stream(
        "POST", served.url, headers=headers, json={"prompt": "a cat"}, timeout=30
    ) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))
    # Closed after one event: the proxy drops the upstream stream too.
    [record] = upstream.streams.wait_for_record()
    assert record.finished.wait(10)
    assert record.outcome == "disconnected" and record.events_sent < 51
    [call_record] = served.calls.wait()
    assert call_record.status_code == 499 and call_record.error_type == "client_disconnected"


def test_cdn_token_requests_get_a_stand_in(served: ServedProxy, upstream: LocalFal) -> None:
    response = call(
        served, "https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3", json_body={}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == STAND_IN_TOKEN and body["token_type"] == "Bearer"
    assert body["base_url"] == "https://v3.fal.media"  # fal's URL, mapped back from upstream
    # The proxy fetched a real token for itself, once, with its key.
    assert len(upstream.requests_for("storage.token")) == 1
    call(served, "https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3", json_body={})
    assert len(upstream.requests_for("storage.token")) == 1  # cached


def test_uploads_stream_through_with_the_proxys_cdn_token(
    served: ServedProxy, upstream: LocalFal
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    response = call(
        served,
        "https://v3.fal.media/files/upload",
        content=data,
        headers={"Content-Type": "application/octet-stream", "X-Fal-File-Name": "blob.bin"},
    )
    assert response.status_code == 200, response.text
    url = response.json()["access_url"]
    assert httpx.get(url, timeout=30).content == data
    [upload] = upstream.requests_for("storage.upload")
    assert upload.headers["authorization"] == "Bearer <redacted>"  # a CDN token, not the key
    assert upload.headers["x-fal-file-name"] == "blob.bin"
    assert served.calls.wait()[-1].request_bytes == len(data)


@pytest.mark.parametrize(
    "name", ["caf\u00e9.bin".encode("latin-1"), "\u00fc\u00df\u00ff.bin".encode("latin-1")]
)
def test_a_header_a_browser_sends_beyond_ascii_goes_up_as_sent(
    served: ServedProxy, upstream: LocalFal, name: bytes
) -> None:
    """A browser may send any latin-1 byte in a header (fetch's ByteString): the proxy passes
    it on as it came (httpx took the text for ASCII and raised, a 500)."""
    response = call(
        served,
        "https://v3.fal.media/files/upload",
        content=b"data",
        headers={"Content-Type": "application/octet-stream", "X-Fal-File-Name": name},  # type: ignore[dict-item]
    )
    assert response.status_code == 200, response.text
    [upload] = upstream.requests_for("storage.upload")
    assert upload.headers["x-fal-file-name"] == name.decode("latin-1")


# -- limits and hooks --------------------------------------------------------------------------


def test_requests_per_minute_count_billed_calls_per_caller(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    served = serve_proxy(limits=CallerLimits(requests_per_minute=2))
    ids = [call(served, submit_url(), json_body={"prompt": "a"}).json()["request_id"] for _ in "ab"]
    refused = call(served, submit_url(), json_body={"prompt": "a"})
    assert refused.status_code == 429
    assert refused.json()["error_type"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Status polls are not billed calls; another caller has its own count.
    status = call(served, f"{QUEUE}/fal-ai/flux/requests/{ids[0]}/status", method="GET")
    assert status.status_code in (200, 202)
    assert call(served, submit_url(), json_body={"prompt": "a"}, headers=BOB).status_code == 200
    assert len(upstream.requests_for("submit")) == 3


def test_concurrent_requests_are_limited_per_caller(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    served = serve_proxy(limits=CallerLimits(concurrent_requests=1))
    upstream.configure(ENDPOINT, hold="progress")
    submitted = call(served, submit_url(), json_body={"prompt": "a cat"}).json()
    target = f"{QUEUE}/fal-ai/flux/requests/{submitted['request_id']}/status/stream"
    headers = {**ALICE, "x-fal-target-url": target}
    with httpx.stream("GET", served.url, headers=headers, timeout=30) as open_stream:
        assert open_stream.status_code == 200
        busy = call(served, submit_url(), json_body={"prompt": "a cat"})
        assert busy.status_code == 429
        assert busy.json()["error_type"] == "concurrent_requests_limit"
        assert call(served, submit_url(), json_body={"prompt": "b"}, headers=BOB).status_code == 200
        upstream.release()
        open_stream.read()
    assert call(served, submit_url(), json_body={"prompt": "a cat"}).status_code == 200


def test_spend_cap_sees_each_billed_call_and_may_refuse_it(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    seen: list[BillableCall] = []

    async def spend_cap(billable: BillableCall) -> bool:
        seen.append(billable)
        return billable.caller != "bob"

    served = serve_proxy(spend_cap=spend_cap)
    assert call(served, submit_url(), json_body={"prompt": "a cat"}).status_code == 200
    refused = call(served, f"{RUN}/{ENDPOINT}", json_body={"prompt": "a dog"}, headers=BOB)
    assert refused.status_code == 402
    assert refused.json()["error_type"] == "spend_cap_exceeded"
    assert [(b.caller, b.endpoint_id, b.operation, b.input) for b in seen] == [
        ("alice", ENDPOINT, "submit", {"prompt": "a cat"}),
        ("bob", ENDPOINT, "run", {"prompt": "a dog"}),
    ]
    assert upstream.requests_for("run") == []


def test_an_input_nested_too_deep_to_parse_reaches_spend_cap_as_no_object(
    serve_proxy: ProxyFactory, upstream: LocalFal
) -> None:
    """Without validation the input is parsed only for ``spend_cap``: ``json.loads`` raised
    RecursionError on a value nested a few thousand deep, a 500 out of the app (and a traceback
    in the server's log) for 20 KB of brackets. It is now no JSON object, like invalid JSON."""
    seen: list[object] = []

    def spend_cap(billable: BillableCall) -> bool:
        seen.append(billable.input)
        return False

    served = serve_proxy(validate_inputs=False, spend_cap=spend_cap)
    deep = b'{"prompt": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = call(
        served, submit_url(), content=deep, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 402
    assert seen == [None]
    assert upstream.requests_for("submit") == []


def test_on_call_failures_are_logged_not_returned(
    serve_proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("meter down")

    served = serve_proxy(on_call=broken)
    assert call(served, submit_url(), json_body={"prompt": "a cat"}).status_code == 200
    # The hook runs once the answer is sent: its failure is logged just after.
    deadline = time.monotonic() + 10
    while not any("on_call hook failed" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the hook's failure was not logged"
        time.sleep(0.01)


def test_key_from_a_resolver_or_the_environment(
    serve_proxy: ProxyFactory, upstream: LocalFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def per_request(request: Any) -> str:
        asked.append(request.headers["x-fal-target-url"])
        return PROXY_KEY

    assert call(serve_proxy(key=per_request), submit_url(), json_body={"prompt": "a"}).is_success
    assert asked == [submit_url()]

    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setenv("FAL_KEY_ID", PROXY_KEY.partition(":")[0])
    monkeypatch.setenv("FAL_KEY_SECRET", KEY_SECRET)
    assert call(serve_proxy(key=None), submit_url(), json_body={"prompt": "a"}).is_success

    monkeypatch.delenv("FAL_KEY_ID")
    missing = call(serve_proxy(key=None), submit_url(), json_body={"prompt": "a"})
    assert missing.status_code == 500
    assert missing.json()["error_type"] == "proxy_missing_credentials"
    assert len(upstream.requests_for("submit")) == 2


def test_cors_preflight_and_exposed_headers(serve_proxy: ProxyFactory) -> None:
    served = serve_proxy(cors=CORS(origins=["https://app.example.com"], allow_credentials=True))
    preflight = httpx.options(
        served.url,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-fal-target-url, content-type, authorization",
        },
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-fal-target-url" in preflight.headers["access-control-allow-headers"].lower()
    other = httpx.options(
        served.url,
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert other.status_code == 400
    response = call(
        served,
        submit_url(),
        json_body={"prompt": "a"},
        headers={"Origin": "https://app.example.com"},
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-fal-request-id" in response.headers["access-control-expose-headers"]


def test_unreachable_upstream_is_a_502(serve_proxy: ProxyFactory) -> None:
    served = serve_proxy(upstream="http://127.0.0.1:9")
    response = call(served, submit_url(), json_body={"prompt": "a cat"})
    assert response.status_code == 502
    assert response.json()["error_type"] == "proxy_upstream_unreachable"


def test_an_answer_lost_after_sending_is_not_reported_as_retryable(
    served: ServedProxy, upstream: LocalFal
) -> None:
    """fal accepted the submit and the connection broke before its answer: 500, which fal's
    clients do not retry for a submit, so the paid request is not sent twice."""
    upstream.inject(Fault.reset(after_handler=True), on="submit")
    response = call(served, submit_url(), json_body={"prompt": "a cat"})
    assert response.status_code == 500
    assert response.json()["error_type"] == "proxy_upstream_lost"
    assert "may have been accepted" in response.json()["detail"]
    assert len(upstream.requests_for("submit")) == 1


def test_a_stream_fal_breaks_off_is_cut_for_the_caller_too(
    served: ServedProxy, upstream: LocalFal
) -> None:
    upstream.configure(ENDPOINT, hold="progress")
    submitted = call(served, submit_url(), json_body={"prompt": "a cat"}).json()
    upstream.inject(Fault.drop(after_chunks=1), on="status_stream")  # cut after one event
    target = f"{QUEUE}/fal-ai/flux/requests/{submitted['request_id']}/status/stream"
    headers = {**ALICE, "x-fal-target-url": target}
    with httpx.stream("GET", served.url, headers=headers, timeout=30) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))
        upstream.release()  # the next event is where fal's stream breaks off
        with pytest.raises(httpx.RemoteProtocolError):  # not a clean, complete-looking end
            for _ in lines:
                pass
    [*_, record] = served.calls.wait(2)
    assert record.error_type == "proxy_upstream_interrupted"


def test_concurrent_callers_share_the_proxy(served: ServedProxy, upstream: LocalFal) -> None:
    results: list[int] = []

    def one(index: int) -> None:
        headers = ALICE if index % 2 else BOB
        results.append(
            call(
                served, f"{RUN}/{ENDPOINT}", json_body={"prompt": f"#{index}"}, headers=headers
            ).status_code
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 16
    assert len(upstream.requests_for("run")) == 16
