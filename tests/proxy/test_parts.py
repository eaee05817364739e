"""The proxy's smaller parts on their own: scrubbing streamed bodies, counting per-caller limits,
the headers that go up and come back, and the client-side transport (with httpx's
MockTransport, in addition to the real-socket tests)."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.datastructures import Headers
from starlette.types import Message

from fal_typed import InvalidArgumentError
from fal_typed._checks import declared_length
from fal_typed._proxy_transport import PROXY_AUTHORIZATION, ProxyRoute, ProxyTransport
from fal_typed.proxy import CORS, CallerLimits, FalProxy, anyone
from fal_typed.proxy._forward import request_headers, response_headers
from fal_typed.proxy._limits import Limiter
from fal_typed.proxy._redact import Secrets
from fal_typed.proxy._refusal import Refused

from ..webhooks.helpers import NOT_A_LENGTH

KEY = "key-id-123:key-secret-456789"


def scrub(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    secrets = Secrets()
    secrets.add((KEY, KEY.partition(":")[2]))
    redactor = secrets.redactor()
    sent = [redactor.feed(chunk) for chunk in chunks]
    return sent, b"".join(sent) + redactor.flush()


@pytest.mark.parametrize("cut", range(1, len(KEY) + 12))
def test_a_secret_split_across_chunks_is_still_scrubbed(cut: int) -> None:
    body = f'data: {{"echo": "{KEY}"}}\n\n'.encode()
    _, whole = scrub([body[:cut], body[cut:]])
    assert whole == b'data: {"echo": "[redacted]"}\n\n'


def test_the_secret_half_alone_is_scrubbed_and_events_are_not_held_back() -> None:
    secret = KEY.partition(":")[2].encode()
    sent, whole = scrub([b"data: {}\n\n", b"x" + secret + b"y\n\n"])
    assert sent[0] == b"data: {}\n\n"  # nothing of a complete event is delayed
    assert whole == b"data: {}\n\nx[redacted]y\n\n"


SECRET = KEY.partition(":")[2]
#: An echo cut to a length (its start, its end), and text of two bytes a character.
CUT_ECHO = f'{{"a": "{SECRET[:11]}", "b": "café {SECRET[-9:]}"}}'.encode()


@pytest.mark.parametrize("cut", range(1, len(CUT_ECHO)))
def test_a_cut_key_split_across_chunks_is_still_scrubbed(cut: int) -> None:
    """The starts and ends of a key that errors and logs lose are lost here too, wherever the
    chunks break; the other bytes come through as they were (a UTF-8 character split too)."""
    sent, whole = scrub([CUT_ECHO[:cut], CUT_ECHO[cut:]])
    assert whole == '{"a": "[redacted]", "b": "café [redacted]"}'.encode()
    assert all(SECRET[:8].encode() not in part for part in sent)


def test_the_end_held_back_is_only_what_may_be_a_secret() -> None:
    secrets = Secrets()
    secrets.add((KEY, SECRET))
    redactor = secrets.redactor()
    assert redactor.feed(b'{"seed": 1, "x": "key-se') == b'{"seed": 1, "x": "'
    assert redactor.feed(b'cret-4"}') == b'[redacted]"}'  # a start of 10: no accident
    assert redactor.flush() == b""


def test_only_the_latest_cdn_tokens_are_kept_the_keys_for_good() -> None:
    """The proxy learns a CDN token per key every hour or so and kept each for ever: every
    header and body chunk was scrubbed of a list that grew as long as the proxy ran (each
    token also made the next scrubber costlier to build). Tokens are kept as ``_errors``
    keeps them, the latest :data:`MAX_TOKENS`; a token used again counts as the latest."""
    from fal_typed.proxy._redact import MAX_TOKENS

    secrets = Secrets()
    secrets.add((KEY, SECRET))
    tokens = [f"cdn-token-{i:04d}-abcdefghijkl" for i in range(MAX_TOKENS + 50)]
    for token in tokens[:-1]:
        secrets.add((token,), token=True)
    secrets.add((tokens[0],), token=True)  # in use again: kept
    secrets.add((tokens[-1],), token=True)
    assert len(secrets.values) == MAX_TOKENS + 2
    assert {KEY, SECRET, tokens[0], tokens[-1]} <= set(secrets.values)
    assert tokens[1] not in secrets.values
    body = f"{KEY} {tokens[0]} {tokens[-1]}".encode()
    redactor = secrets.redactor()
    assert redactor.feed(body) + redactor.flush() == b"[redacted] [redacted] [redacted]"


def test_a_known_key_remembered_again_changes_nothing() -> None:
    """A proxy with a key resolver makes a Credentials per request, which remembers its key:
    the forms of every key ever remembered were worked out again each time, in time growing
    with them."""
    from fal_typed import _errors
    from fal_typed._errors import remember_secrets

    remember_secrets((KEY, SECRET))
    before = (_errors._secrets, _errors._fragmented)  # pyright: ignore[reportPrivateUsage]
    remember_secrets((KEY, SECRET))
    after = (_errors._secrets, _errors._fragmented)  # pyright: ignore[reportPrivateUsage]
    assert after[0] is before[0] and after[1] is before[1]


def test_nothing_to_scrub_passes_unchanged() -> None:
    assert Secrets().redactor().feed(b"key-id-123") == b"key-id-123"


def test_requests_per_minute_and_concurrency() -> None:
    limiter = Limiter(CallerLimits(requests_per_minute=2, concurrent_requests=3))
    limiter.enter("a", billed=True)
    limiter.enter("a", billed=True)
    with pytest.raises(Refused) as refused:
        limiter.enter("a", billed=True)
    assert refused.value.status == 429 and refused.value.error_type == "rate_limited"
    assert 59 <= int(refused.value.headers["Retry-After"]) <= 60
    limiter.enter("a", billed=False)  # not billed: not counted per minute
    with pytest.raises(Refused) as busy:
        limiter.enter("a", billed=False)  # but it is open: 3 at once
    assert busy.value.error_type == "concurrent_requests_limit"
    assert limiter.open_requests("a") == 3
    limiter.enter("b", billed=True)  # another caller
    for _ in range(3):
        limiter.leave("a")
    assert limiter.open_requests("a") == 0
    limiter.enter("a", billed=False)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_limits_must_be_positive_integers(value: object) -> None:
    with pytest.raises(InvalidArgumentError):
        CallerLimits(requests_per_minute=value)  # pyright: ignore[reportArgumentType]


def test_cors_settings_are_checked() -> None:
    with pytest.raises(InvalidArgumentError):
        CORS(origins="https://app.example.com")
    with pytest.raises(InvalidArgumentError):
        CORS(origins=["*"], allow_credentials=True)


def test_headers_going_up_are_fals_and_the_proxys_credential() -> None:
    incoming = Headers(
        {
            "authorization": "Bearer app-session",
            "cookie": "s=1",
            "x-fal-target-url": "https://fal.run/x",
            "x-fal-queue-priority": "low",
            "content-type": "application/json",
            "content-length": "12",
            "accept-encoding": "identity",
            "x-forwarded-for": "10.0.0.1",
        }
    )
    up = request_headers(incoming, "Key the-key", streamed_body=True)
    assert up["authorization"] == "Key the-key"
    assert up["x-fal-queue-priority"] == "low" and up["content-length"] == "12"
    assert up["accept-encoding"] == "identity"
    assert not {"cookie", "x-fal-target-url", "x-forwarded-for"} & set(up)
    assert "content-length" not in request_headers(incoming, "Key k", streamed_body=False)


@pytest.mark.parametrize("values", NOT_A_LENGTH)
def test_a_content_length_that_is_no_single_length_is_not_relayed(values: list[bytes]) -> None:
    incoming = Headers(raw=[(b"content-length", value) for value in values])
    assert declared_length(incoming.getlist("content-length")) is None
    assert "content-length" not in request_headers(incoming, "Key k", streamed_body=True)


def test_one_length_in_digits_is_relayed() -> None:
    incoming = Headers(raw=[(b"content-length", b"12"), (b"content-length", b"12")])
    assert declared_length(incoming.getlist("content-length")) == 12
    assert request_headers(incoming, "Key k", streamed_body=True)["content-length"] == "12"


@pytest.mark.parametrize("values", NOT_A_LENGTH)
async def test_an_input_with_no_single_length_is_counted_as_it_arrives(
    values: list[bytes],
) -> None:
    """The input of a billed call is read whole: a length that is none neither crashes the
    proxy nor lets a larger input through."""
    proxy = FalProxy(
        authenticate=anyone,
        key="key-id:key-secret",
        upstream="http://127.0.0.1:9",
        allowed_endpoints=["fal-ai/flux/dev"],
        max_input_bytes=8,
    )
    headers = [(b"x-fal-target-url", b"https://fal.run/fal-ai/flux/dev")]
    scope = {
        "type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"",
        "headers": headers + [(b"content-length", value) for value in values],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "scheme": "http",
        "http_version": "1.1", "root_path": "",
    }  # fmt: skip
    chunks = [b'{"prompt":', b'"a cat"}']
    sent: list[Message] = []

    async def receive() -> Message:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    await proxy(scope, receive, send)
    await proxy.aclose()
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error_type"] == "proxy_input_too_large"


def test_headers_coming_back_are_scrubbed_and_the_apps_own_apply() -> None:
    secrets = Secrets()
    secrets.add((KEY,))
    upstream = httpx.Headers(
        [
            ("content-type", "text/event-stream"),
            ("content-length", "10"),
            ("content-encoding", "gzip"),
            ("set-cookie", "fal=1"),
            ("access-control-allow-origin", "*"),
            ("connection", "keep-alive"),
            ("x-fal-request-id", "r-1"),
            ("x-debug", f"auth Key {KEY}"),
        ]
    )
    back = dict(response_headers(upstream, secrets))
    assert back == {
        b"content-type": b"text/event-stream",
        b"x-fal-request-id": b"r-1",
        b"x-debug": b"auth Key [redacted]",
        b"x-accel-buffering": b"no",
    }


@pytest.mark.parametrize(
    "value",
    [
        "caf\u00e9 \u20ac.png".encode(),  # UTF-8 past latin-1: encoding it back raised
        "caf\u00e9.png".encode(),  # UTF-8 within latin-1: came back as other bytes
        b"caf\xe9.png",  # latin-1 itself
        bytes(range(0x80, 0x100)),  # every obs-text byte
        b"plain ascii",
    ],
)
def test_header_values_come_back_byte_for_byte(value: bytes) -> None:
    secrets = Secrets()
    secrets.add((KEY,))
    upstream = httpx.Headers([(b"x-fal-file-name", value), (b"x-echo", value + KEY.encode())])
    back = dict(response_headers(upstream, secrets))
    assert back[b"x-fal-file-name"] == value
    assert back[b"x-echo"] == value + b"[redacted]"


def test_the_transport_sends_credentialed_requests_to_the_proxy() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    route = ProxyRoute("https://app.example.com/api/fal/proxy", {"X-App": "1"})
    assert "'X-App'" in repr(route) and "'1'" not in repr(route)  # names, never values
    with httpx.Client(transport=ProxyTransport(route, httpx.MockTransport(handler))) as http:
        http.post(
            "https://queue.fal.run/fal-ai/flux/dev?fal_webhook=x",
            json={"prompt": "a cat"},
            headers={"Authorization": PROXY_AUTHORIZATION, "X-Fal-Queue-Priority": "low"},
        )
        http.put(
            "https://v3b.fal.media/files/b/k/multipart/u/1",
            content=iter([b"ab", b"cd"]),
            headers={"Authorization": "Bearer stand-in"},
        )
        http.get("https://v3b.fal.media/files/b/k/cat.png")  # no credential: direct
    proxied, part, download = sent
    assert str(proxied.url) == "https://app.example.com/api/fal/proxy"
    assert proxied.headers["host"] == "app.example.com"
    assert (
        proxied.headers["x-fal-target-url"] == "https://queue.fal.run/fal-ai/flux/dev?fal_webhook=x"
    )
    assert "authorization" not in proxied.headers
    assert proxied.headers["x-app"] == "1" and proxied.headers["x-fal-queue-priority"] == "low"
    assert json.loads(proxied.content) == {"prompt": "a cat"}
    assert part.read() == b"abcd" and "authorization" not in part.headers
    assert str(download.url) == "https://v3b.fal.media/files/b/k/cat.png"
    assert "x-fal-target-url" not in download.headers
