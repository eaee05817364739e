"""Client rules no other test held (each kills a mutant of ``_client.py`` that survived, issue 12).

- A client's repr says where its key comes from (given, from the environment, not yet read),
  never the key; a proxied client names its proxy.
- fal-client's ``FAL_RUN_HOST`` / ``FAL_QUEUE_RUN_HOST`` choose the default client's hosts.
- ``set_default_client`` accepts a Client or None, nothing else.
- A failover to a backup host is logged naming both hosts and why.
- A request whose body is a one-shot stream is sent once, never retried (it cannot be resent).

Over real sockets (a scripted peer on 127.0.0.1, tests/peers/sse.py) where it is a request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given as given_examples
from hypothesis import settings
from hypothesis import strategies as st

import fal_typed
from fal_typed import (
    Client,
    FalConnectionError,
    FalTimeoutError,
    InvalidArgumentError,
    Limits,
    PossiblyAcceptedError,
    RetryPolicy,
    ServerError,
)
from fal_typed._client import (
    _client_from_environment,  # pyright: ignore[reportPrivateUsage]
)
from fal_typed._deadline import Deadline

from ..peers.sse import KEY, Exchange, ScriptedPeer, serving

ENV_KEYS = ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "FAL_TYPED_BASE_URL")
NGINX = b"<html><center><h1>503 Service Unavailable</h1></center><hr><center>nginx</center></html>"


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*ENV_KEYS, "FAL_RUN_HOST", "FAL_QUEUE_RUN_HOST"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- repr -------------------------------------------------------------------------------------------


def test_the_repr_says_where_the_key_comes_from_never_the_key(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    hosts = "queue_url='https://queue.fal.run', run_url='https://fal.run'"
    given = Client(key="id-123:secret-456")
    assert repr(given) == f"Client({hosts}, key=<given>)"
    given.credentials()
    assert repr(given) == f"Client({hosts}, key=<from argument>)"
    from_environment = Client()
    assert repr(from_environment) == f"Client({hosts}, key=<from environment, unresolved>)"
    bare_environment.setenv("FAL_KEY", "id-789:secret-000")
    from_environment.credentials()
    assert repr(from_environment) == f"Client({hosts}, key=<from FAL_KEY>)"
    assert "secret" not in repr(given) + repr(from_environment)


def test_a_proxied_client_s_repr_names_its_proxy() -> None:
    client = Client(proxy_url="https://my-app.example/api/fal/proxy")
    assert repr(client) == (
        "Client(queue_url='https://queue.fal.run', "
        "proxy_url='https://my-app.example/api/fal/proxy')"
    )


# -- the default client -----------------------------------------------------------------------------


def test_the_default_client_uses_fal_client_s_host_variables(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    plain = _client_from_environment()
    assert (plain.queue_url, plain.run_url, plain.realtime_url) == (
        "https://queue.fal.run",
        "https://fal.run",
        "wss://fal.run",
    )
    bare_environment.setenv("FAL_RUN_HOST", " run.example.test ")
    run_only = _client_from_environment()
    assert (run_only.queue_url, run_only.run_url, run_only.realtime_url) == (
        "https://queue.run.example.test",
        "https://run.example.test",
        "wss://run.example.test",
    )
    bare_environment.setenv("FAL_QUEUE_RUN_HOST", " q.example.test ")
    both = _client_from_environment()
    assert (both.queue_url, both.run_url) == ("https://q.example.test", "https://run.example.test")
    bare_environment.setenv("FAL_RUN_HOST", "  ")  # blank: the default host
    assert _client_from_environment().run_url == "https://fal.run"


@pytest.mark.parametrize("name", ["FAL_RUN_HOST", "FAL_QUEUE_RUN_HOST"])
@pytest.mark.parametrize("value", ["https://fal.run", "fal run", "wss://fal.run/x"])
def test_a_host_variable_with_a_scheme_or_spaces_is_refused_naming_it(
    bare_environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """FAL_RUN_HOST=https://fal.run made the queue URL https://queue.https://fal.run, reported
    as the unknown host 'queue.https' at the first call; a space was blamed on queue_url."""
    bare_environment.setenv(name, value)
    with pytest.raises(InvalidArgumentError) as caught:
        _client_from_environment()
    assert caught.value.message == (
        f"{name} must be a host name such as fal.run (no scheme or spaces), got {value!r}"
    )


@pytest.mark.parametrize(
    "value", ["127.0.0.1:8443", "gw.corp/fal", "fal_mock:8000", "fal.run.", "f\u00e4l.example"]
)
def test_what_fal_client_takes_after_https_is_taken(
    bare_environment: pytest.MonkeyPatch, value: str
) -> None:
    """fal-client builds https://{FAL_RUN_HOST}/: a port, a path prefix behind a gateway, a
    compose service name with '_' or a trailing dot work there, and were refused here."""
    bare_environment.setenv("FAL_RUN_HOST", value)
    client = _client_from_environment()
    assert client.run_url == f"https://{value}" and client.queue_url == f"https://queue.{value}"


def test_a_host_variable_making_no_url_is_named_with_the_url_check_s_words(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    bare_environment.setenv("FAL_QUEUE_RUN_HOST", "q.example:99999")
    with pytest.raises(InvalidArgumentError) as caught:
        _client_from_environment()
    assert caught.value.message.startswith("FAL_QUEUE_RUN_HOST makes no valid URL: queue_url ")
    assert "99999" in caught.value.message and str(caught.value).count("error_type=") == 1


def test_a_wrapped_error_says_its_kind_once(bare_environment: pytest.MonkeyPatch) -> None:
    """An error quoting another quoted its str, so '(error_type=invalid_argument)' came twice."""
    from fal_typed._local import client_from_environment

    bare_environment.setenv("FAL_TYPED_BASE_URL", "localhost:8765")
    with pytest.raises(InvalidArgumentError) as caught:
        client_from_environment()
    assert str(caught.value).count("error_type=") == 1, str(caught.value)
    assert caught.value.message.startswith("FAL_TYPED_BASE_URL='localhost:8765': local server URL")


def test_the_default_client_is_built_once_and_replaceable(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    fal_typed.set_default_client(None)
    try:
        first = fal_typed.default_client()
        assert fal_typed.default_client() is first
        mine = Client(key="id-1:secret-1")
        fal_typed.set_default_client(mine)
        assert fal_typed.default_client() is mine
        with pytest.raises(InvalidArgumentError, match=r"expected a fal_typed\.Client, got str"):
            fal_typed.set_default_client("https://fal.run")  # type: ignore[arg-type]
        assert fal_typed.default_client() is mine
        fal_typed.set_default_client(None)
        rebuilt = fal_typed.default_client()
        assert rebuilt is not mine and rebuilt is not first
    finally:
        fal_typed.set_default_client(None)


# -- over a socket ----------------------------------------------------------------------------------


@pytest.fixture
def peer() -> Iterator[ScriptedPeer]:
    with serving() as scripted:
        yield scripted


def closed_port() -> str:
    """A loopback address nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_a_failover_is_logged_naming_both_hosts_and_why(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    async def ok(exchange: Exchange) -> None:
        await exchange.answer(200, b"{}", {"Content-Type": "application/json"})

    peer.script = ok
    dead = closed_port()
    live = peer.url.removeprefix("http://")
    client = Client(KEY, queue_url=f"http://{dead}", backup_hosts={dead: live})
    with client, caplog.at_level(logging.WARNING, "fal_typed"):
        assert client.request("GET", f"http://{dead}/app/x").json() == {}
    records = [r.getMessage() for r in caplog.records if r.name == "fal_typed"]
    assert records == [
        f"fal_typed: cannot connect to http://{dead}/app/x (ConnectError); "
        f"trying its backup http://{live}/app/x"
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_one_shot_body_is_sent_once_even_when_a_retry_would_be_safe(
    peer: ScriptedPeer, mode: str
) -> None:
    """An ingress 503 proves the request was not received, so a replayable body is sent again
    (the other test below); a streamed one cannot be, so the 503 is raised."""
    seen: list[str] = []

    async def refuse(exchange: Exchange) -> None:
        seen.append(f"{exchange.method} {exchange.path}")
        await exchange.answer(503, NGINX, {"Content-Type": "text/html"})

    peer.script = refuse
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, jitter=0.0)
    client = Client(KEY, queue_url=peer.url, retry=policy, backup_hosts={})
    url = f"{peer.url}/app/upload"
    with pytest.raises(ServerError):
        if mode == "sync":
            with client:
                client.request("PUT", url, content=iter([b"part-1", b"part-2"]))
        else:

            async def parts() -> AsyncIterator[bytes]:
                yield b"part-1"
                yield b"part-2"

            async def main() -> None:
                async with client:
                    await client.arequest("PUT", url, content=parts())

            asyncio.run(main())
    assert seen == ["PUT /app/upload"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_replayable_body_refused_by_the_ingress_is_sent_again(
    peer: ScriptedPeer, mode: str
) -> None:
    seen: list[bytes] = []

    async def refuse_then_accept(exchange: Exchange) -> None:
        seen.append(exchange.body)
        if len(seen) == 1:
            await exchange.answer(503, NGINX, {"Content-Type": "text/html"})
        else:
            await exchange.answer(200, b"{}", {"Content-Type": "application/json"})

    peer.script = refuse_then_accept
    policy = RetryPolicy(max_attempts=3, base_delay=0.0, jitter=0.0)
    client = Client(KEY, queue_url=peer.url, retry=policy, backup_hosts={})
    url = f"{peer.url}/app/upload"
    if mode == "sync":
        with client:
            client.request("PUT", url, content=b"part-1part-2")
    else:

        async def main() -> None:
            async with client:
                await client.arequest("PUT", url, content=b"part-1part-2")

        asyncio.run(main())
    assert seen == [b"part-1part-2"] * 2


class Exchanges:
    """Answers each request with the next of ``answers`` (the last repeats); keeps what came."""

    def __init__(self, peer: ScriptedPeer, *answers: tuple[int, bytes, str]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        peer.script = self.route

    async def route(self, exchange: Exchange) -> None:
        status, body, content_type = self.answers[min(len(self.seen), len(self.answers) - 1)]
        headers = {k.lower(): v for k, v in exchange.headers.items()}
        self.seen.append((exchange.method, exchange.path, headers, exchange.body))
        await exchange.answer(status, body, {"Content-Type": content_type})


OK = (200, b"{}", "application/json")
GATEWAY_502 = (502, b"<html><h1>502 Bad Gateway</h1></html>", "text/html")


def send(mode: str, client: Client, method: str, url: str, **options: Any) -> None:
    if mode == "sync":
        with client:
            client.request(method, url, **options)
        return

    async def main() -> None:
        async with client:
            await client.arequest(method, url, **options)

    asyncio.run(main())


def client_of(peer: ScriptedPeer, **options: Any) -> Client:
    options.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=0.0, jitter=0.0))
    return Client(KEY, queue_url=peer.url, backup_hosts={}, **options)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("body", "sent"),
    [({"content": b"payload"}, b"payload"), ({"json": {"a": [1, "b"]}}, b'{"a":[1,"b"]}')],
)
def test_a_request_carries_its_headers_query_and_body(
    peer: ScriptedPeer, mode: str, body: dict[str, Any], sent: bytes
) -> None:
    seen = Exchanges(peer, OK)
    options = {"headers": {"X-Trace": "t-1"}, "params": {"page": "2"}, **body}
    send(mode, client_of(peer), "PUT", f"{peer.url}/app/x", **options)
    ((method, path, headers, received),) = seen.seen
    assert (method, path, received) == ("PUT", "/app/x?page=2", sent)
    assert headers["x-trace"] == "t-1" and headers["authorization"] == f"Key {KEY}"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_url_s_own_query_is_kept_without_params(peer: ScriptedPeer, mode: str) -> None:
    seen = Exchanges(peer, OK)
    send(mode, client_of(peer), "GET", f"{peer.url}/app/x?own=1")
    assert [path for _, path, _, _ in seen.seen] == ["/app/x?own=1"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("idempotent", [True, None])
def test_a_post_is_resent_after_a_gateway_502_only_when_declared_idempotent(
    peer: ScriptedPeer, mode: str, idempotent: bool | None
) -> None:
    """A gateway 502 may come after fal accepted the POST: sent again only when the caller
    says a repeat is harmless."""
    seen = Exchanges(peer, GATEWAY_502, OK)
    url = f"{peer.url}/app/x"
    if idempotent:
        send(mode, client_of(peer), "POST", url, json={"a": 1}, idempotent=True)
        assert len(seen.seen) == 2
    else:
        with pytest.raises(PossiblyAcceptedError):
            send(mode, client_of(peer), "POST", url, json={"a": 1})
        assert len(seen.seen) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_nothing_is_sent_once_the_call_s_deadline_has_passed(peer: ScriptedPeer, mode: str) -> None:
    seen = Exchanges(peer, OK)
    url = f"{peer.url}/app/x"
    with pytest.raises(FalTimeoutError, match=r"^GET http://127\.0\.0\.1:\d+/app/x did not"):
        send(mode, client_of(peer), "GET", url, deadline=Deadline(0.0))
    assert seen.seen == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_each_attempt_s_timeouts_are_clipped_to_the_call_s_deadline(
    peer: ScriptedPeer, mode: str
) -> None:
    """Read from an httpx request hook: what httpx was told, not how long anything took."""
    Exchanges(peer, OK)
    reads: list[float] = []

    def hook(request: httpx.Request) -> None:
        reads.append(request.extensions["timeout"]["read"])

    async def ahook(request: httpx.Request) -> None:
        hook(request)

    url = f"{peer.url}/app/x"
    if mode == "sync":
        with httpx.Client(event_hooks={"request": [hook]}) as http:
            send(mode, client_of(peer, http_client=http, timeout=60.0), "GET", url)
            send(
                mode,
                client_of(peer, http_client=http, timeout=60.0),
                "GET",
                url,
                deadline=Deadline(20.0),
            )
    else:

        async def main() -> None:
            async with httpx.AsyncClient(event_hooks={"request": [ahook]}) as http:
                for deadline in (None, Deadline(20.0)):
                    async with client_of(peer, async_http_client=http, timeout=60.0) as client:
                        await client.arequest("GET", url, deadline=deadline)

        asyncio.run(main())
    assert reads[0] == 60.0 and 10.0 < reads[1] <= 20.0


def test_redact_scrubs_the_key_once_it_is_in_use() -> None:
    """Nothing is known before the key is read (a client may never read it); after, the key
    is scrubbed from any text the client is asked to show (CLI messages, URLs, previews)."""
    client = Client(key="id-123:secret-456")
    text = "echoed Key id-123:secret-456 back"
    assert client.redact(text) == text
    client.credentials()
    assert "secret-456" not in client.redact(text)
    # Not "secret": a test that used the key "id:secret" leaves that word remembered (for
    # every error of the process), and the order of tests is not fixed.
    assert client.redact("nothing to hide") == "nothing to hide"


@pytest.mark.parametrize(
    ("backed_up", "connect", "sent"),
    [(False, 60.0, 60.0), (True, 60.0, 5.0), (True, None, 5.0), (True, 1.0, 1.0)],
)
def test_a_backed_up_host_gets_a_short_connect_timeout(
    peer: ScriptedPeer, backed_up: bool, connect: float | None, sent: float
) -> None:
    """A host with a backup is given at most 5 s to accept the connection, so the backup still
    has time; other phases, and hosts without a backup, keep the client's timeouts."""
    Exchanges(peer, OK)
    seen: list[dict[str, float | None]] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.extensions["timeout"])

    own = peer.url.removeprefix("http://")
    backups = {own: closed_port()} if backed_up else {}
    timeout = httpx.Timeout(60.0, connect=connect)
    with (
        httpx.Client(event_hooks={"request": [hook]}) as http,
        Client(
            KEY, queue_url=peer.url, http_client=http, timeout=timeout, backup_hosts=backups
        ) as c,
    ):
        c.request("GET", f"{peer.url}/app/x")
    assert seen == [{"connect": sent, "read": 60.0, "write": 60.0, "pool": 60.0}]


def test_a_one_shot_body_is_not_sent_to_the_backup_host(peer: ScriptedPeer) -> None:
    seen = Exchanges(peer, OK)
    dead = closed_port()
    live = peer.url.removeprefix("http://")
    client = Client(KEY, queue_url=f"http://{dead}", backup_hosts={dead: live})
    with client, pytest.raises(FalConnectionError, match="ConnectError"):
        client.request("PUT", f"http://{dead}/app/x", content=iter([b"part-1"]))
    assert seen.seen == []


# -- options checked at construction ------------------------------------------------------------


@pytest.mark.parametrize("value", [5, None, "", "   "])
def test_a_base_url_must_be_a_non_empty_string(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="id-1:secret-1", queue_url=value)  # type: ignore[arg-type]
    assert caught.value.message == "queue_url must be a non-empty URL string"


def test_a_base_url_names_the_schemes_it_may_use_and_loses_trailing_slashes() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="id-1:secret-1", realtime_url="https://fal.run")
    assert caught.value.message == (
        "realtime_url must be an absolute ws/wss URL, got 'https://fal.run'"
    )
    client = Client(key="id-1:secret-1", queue_url=" http://127.0.0.1:8765/PREFIX// ")
    assert client.queue_url == "http://127.0.0.1:8765/PREFIX"


@pytest.mark.parametrize("value", [0, -1.0])
def test_a_timeout_must_be_positive(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=f"timeout must be > 0 seconds, got {value}"):
        Client(key="id-1:secret-1", timeout=value)


def test_a_timeout_is_any_positive_number_or_none() -> None:
    assert Client(key="id-1:secret-1", timeout=0.5).timeout == httpx.Timeout(0.5)
    assert Client(key="id-1:secret-1", timeout=30).timeout == httpx.Timeout(30)
    assert Client(key="id-1:secret-1", timeout=None).timeout == httpx.Timeout(None)


def test_backup_hosts_are_checked_and_lower_cased() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="id-1:secret-1", backup_hosts=["fal.run"])  # type: ignore[arg-type]
    assert caught.value.message == "backup_hosts must map host names to host names"
    client = Client(key="id-1:secret-1", backup_hosts={"Queue.Example.TEST": "Backup.Example.TEST"})
    assert client.backup_hosts == {"queue.example.test": "backup.example.test"}


def test_the_headers_every_request_carries() -> None:
    from fal_typed._client import user_agent
    from fal_typed._proxy_transport import PROXY_AUTHORIZATION

    client = Client(key="id-1:secret-1")
    assert client.auth_headers() == {"Authorization": "Key id-1:secret-1"}
    assert client.request_headers({"X-Trace": "t-1"}) == {
        "User-Agent": user_agent(),
        "Authorization": "Key id-1:secret-1",
        "X-Trace": "t-1",
    }
    assert client.request_headers({"User-Agent": "mine/1"})["User-Agent"] == "mine/1"
    proxied = Client(proxy_url="https://my-app.example/api/fal/proxy")
    assert proxied.auth_headers() == {"Authorization": PROXY_AUTHORIZATION}


def test_the_auth_headers_through_our_httpx_clients_are_built_once_and_never_shared_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Built at the first request, then the same read-only mapping; a call's own headers are
    merged into a new one, leaving it as it was. A key not found yet is looked for again."""
    from fal_typed import MissingCredentialsError

    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    client = Client()
    http = client.http
    for _ in range(2):  # a failure is not remembered
        with pytest.raises(MissingCredentialsError):
            client.headers_for(http)
    monkeypatch.setenv("FAL_KEY", "id-2:secret-2")
    first = client.headers_for(http)
    assert first == {"Authorization": "Key id-2:secret-2"}
    assert client.headers_for(http) is first
    merged = client.headers_for(http, {"X-Trace": "t-1", "Authorization": "Key other"})
    assert merged == {"Authorization": "Key other", "X-Trace": "t-1"}
    assert first == {"Authorization": "Key id-2:secret-2"} and client.headers_for(http) is first
    assert client.headers_for(http, {}) is first
    client.close()


def test_a_request_s_own_timeout_replaces_the_client_s(peer: ScriptedPeer) -> None:
    Exchanges(peer, OK)
    reads: list[float | None] = []

    def hook(request: httpx.Request) -> None:
        reads.append(request.extensions["timeout"]["read"])

    with (
        httpx.Client(event_hooks={"request": [hook]}) as http,
        client_of(peer, http_client=http, timeout=60.0) as client,
    ):
        client.request("GET", f"{peer.url}/app/x", timeout=2.5)
    assert reads == [2.5]


def test_an_async_request_s_own_timeout_replaces_the_client_s(peer: ScriptedPeer) -> None:
    Exchanges(peer, OK)
    reads: list[float | None] = []

    async def hook(request: httpx.Request) -> None:
        reads.append(request.extensions["timeout"]["read"])

    async def main() -> None:
        async with (
            httpx.AsyncClient(event_hooks={"request": [hook]}) as http,
            client_of(peer, async_http_client=http, timeout=60.0) as client,
        ):
            await client.arequest("GET", f"{peer.url}/app/x", timeout=2.5)

    asyncio.run(main())
    assert reads == [2.5]


def test_the_default_hosts_are_fal_s() -> None:
    client = Client(key="id-1:secret-1")
    assert (client.rest_url, client.cdn_url) == ("https://rest.fal.ai", "https://v3.fal.media")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_httpx_error_that_is_not_a_transport_failure_names_the_call(
    peer: ScriptedPeer, mode: str
) -> None:
    async def redirect_loop(exchange: Exchange) -> None:
        await exchange.answer(302, b"", {"Location": exchange.path})

    peer.script = redirect_loop
    url = f"{peer.url}/app/x"
    with pytest.raises(FalConnectionError) as caught:
        if mode == "sync":
            with httpx.Client(follow_redirects=True, max_redirects=2) as http:
                send(mode, client_of(peer, http_client=http), "GET", url)
        else:

            async def main() -> None:
                async with (
                    httpx.AsyncClient(follow_redirects=True, max_redirects=2) as http,
                    client_of(peer, async_http_client=http) as client,
                ):
                    await client.arequest("GET", url)

            asyncio.run(main())
    assert caught.value.message == (
        f"GET {url} failed: TooManyRedirects: Exceeded maximum allowed redirects."
    )


def test_an_httpx_error_without_a_message_is_named_by_its_type() -> None:
    client = Client(key="id-1:secret-1")
    error = client._http_failure(httpx.DecodingError(""), "GET", "https://fal.run/app")  # pyright: ignore[reportPrivateUsage]
    assert error.message == "GET https://fal.run/app failed: DecodingError"


@pytest.mark.parametrize("option", ["queue_url", "run_url", "rest_url", "cdn_url", "api_url"])
def test_each_base_url_is_checked_under_its_own_name(option: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="id-1:secret-1", **{option: "ftp://example.test"})  # pyright: ignore[reportArgumentType]
    assert caught.value.message == (
        f"{option} must be an absolute http/https URL, got 'ftp://example.test'"
    )
    client = Client(key="id-1:secret-1", **{option: "http://127.0.0.1:1/base/"})  # pyright: ignore[reportArgumentType]
    assert getattr(client, option) == "http://127.0.0.1:1/base"


def test_the_other_defaults() -> None:
    client = Client(key="id-1:secret-1")
    assert (client.realtime_url, client.poll_interval) == ("wss://fal.run", 0.1)
    assert client.limits == Limits()
    mine = Limits(max_json_depth=50)
    assert Client(key="id-1:secret-1", limits=mine).limits is mine
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="id-1:secret-1", limits=3)  # type: ignore[arg-type]
    assert caught.value.message == "limits must be a fal_typed.Limits, got 3"


def test_proxy_options_are_checked_together() -> None:
    with pytest.raises(InvalidArgumentError) as needs:
        Client(key="id-1:secret-1", proxy_headers={"X-App": "1"})
    assert needs.value.message == "proxy_headers needs proxy_url"
    for blank in ("", "   ", 5):
        with pytest.raises(InvalidArgumentError) as caught:
            Client(proxy_url=blank)  # type: ignore[arg-type]
        assert caught.value.message == "proxy_url must be a non-empty URL string"
    with pytest.raises(InvalidArgumentError) as keyed:
        Client(key="id-1:secret-1", proxy_url="https://app.example/proxy")
    assert keyed.value.message == (
        "a client with proxy_url holds no key: the proxy adds it (pass your app's own "
        "credentials in proxy_headers)"
    )
    for given in ({"http_client": httpx.Client()}, {"async_http_client": httpx.AsyncClient()}):
        with pytest.raises(InvalidArgumentError) as routed:
            Client(proxy_url="https://app.example/proxy", **given)  # type: ignore[arg-type]
        assert routed.value.message == (
            "proxy_url routes the client's own httpx clients; it cannot re-route ones passed in"
        )
    proxied = Client(proxy_url="https://app.example/proxy", proxy_headers={"X-App": "1"})
    assert proxied.backup_hosts == {}  # the proxy, not the client, chooses fal's hosts
    assert Client(key="id-1:secret-1").backup_hosts != {}


# -- the per-call CPU rework: what it must not change ----------------------------------------------


@pytest.mark.parametrize("backup", ["x:notaport", "exa\x00mple", "\u00e9\u00e9.example"])
def test_a_backup_that_cannot_be_a_host_is_refused_when_the_client_is_built(backup: str) -> None:
    """A backup is put in a URL only when a connect fails: a bad one is caught at construction,
    not as a stray error in the middle of a failover."""
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="id-1:secret-1", backup_hosts={"fal.run": backup})
    assert caught.value.message == f"backup_hosts: {backup!r} is not a host name"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("given", ["none", "one", "both"])
def test_every_request_carries_fal_typed_s_user_agent_once(
    peer: ScriptedPeer, mode: str, given: str
) -> None:
    """Through our httpx clients (which carry the User-Agent) and through the application's
    (which do not: the one of the call's kind given, or both), sync and async: one
    User-Agent, fal-typed's, with the key and the call's own headers."""
    from fal_typed._client import user_agent

    seen = Exchanges(peer, OK)
    url = f"{peer.url}/app/x"

    async def main() -> None:
        async with httpx.AsyncClient() as async_http:
            with httpx.Client() as http:
                options: dict[str, Any] = {}
                if given == "both" or (given == "one" and mode == "sync"):
                    options["http_client"] = http
                if given == "both" or (given == "one" and mode == "async"):
                    options["async_http_client"] = async_http
                async with client_of(peer, **options) as client:
                    if mode == "sync":
                        client.request("GET", url, headers={"X-Trace": "t-1"})
                    else:
                        await client.arequest("GET", url, headers={"X-Trace": "t-1"})

    asyncio.run(main())
    ((_, _, headers, _),) = seen.seen
    assert headers["user-agent"] == user_agent()
    assert headers["authorization"] == f"Key {KEY}" and headers["x-trace"] == "t-1"


def test_a_client_s_own_httpx_clients_are_reused_until_closed() -> None:
    client = Client(key="id-1:secret-1")
    first = client.http
    assert client.http is first
    client.close()
    assert first.is_closed
    again = client.http
    assert again is not first and not again.is_closed
    client.close()

    async def main() -> None:
        async_first = client.async_http
        assert client.async_http is async_first
        await async_first.aclose()
        async_again = client.async_http
        assert async_again is not async_first and not async_again.is_closed
        await client.aclose()

    asyncio.run(main())


def test_a_host_s_backup_is_found_by_its_netloc_whatever_the_url_s_case_and_default_port() -> None:
    from fal_typed._client import _netloc  # pyright: ignore[reportPrivateUsage]

    assert _netloc("https://Queue.Fal.Run:443/app/x?q=1") == "queue.fal.run"
    assert _netloc("http://Host.Example:8443/p") == "host.example:8443"
    assert _netloc("//Host.Example/no-scheme") == "host.example"


def test_an_origin_is_parsed_once_and_its_netloc_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx parses URLs in Python: each request's origin is parsed the first time only."""
    from fal_typed import _client  # pyright: ignore[reportPrivateUsage]

    memo = _client._NETLOCS  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setitem(memo, "http://memo.example", "remembered.example")
    assert _client._netloc("http://memo.example/app/x") == "remembered.example"  # pyright: ignore[reportPrivateUsage]
    monkeypatch.delitem(memo, "http://Fresh.Example:8080", raising=False)
    assert _client._netloc("http://Fresh.Example:8080/a?b") == "fresh.example:8080"  # pyright: ignore[reportPrivateUsage]
    assert memo["http://Fresh.Example:8080"] == "fresh.example:8080"


def test_the_remembered_netlocs_stay_bounded() -> None:
    from fal_typed import _client  # pyright: ignore[reportPrivateUsage]

    for n in range(_client._MAX_NETLOCS + 44):  # pyright: ignore[reportPrivateUsage]
        assert _client._netloc(f"http://h{n}.example/x") == f"h{n}.example"  # pyright: ignore[reportPrivateUsage]
        assert len(_client._NETLOCS) <= 256  # pyright: ignore[reportPrivateUsage]
    assert _client._netloc("http://h0.example/y") == "h0.example"  # pyright: ignore[reportPrivateUsage]


# -- parsed URLs ----------------------------------------------------------------------------------

_PATH = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_QUERY = st.dictionaries(_PATH.filter(bool), _PATH, max_size=3)


@given_examples(path=_PATH, own_query=st.sampled_from(["", "?own=1", "?a=%20b&c"]), params=_QUERY)
@settings(max_examples=200, deadline=None)
def test_a_parsed_url_is_the_url_httpx_would_send(
    path: str, own_query: str, params: dict[str, str]
) -> None:
    """The URL a request is sent to, parsed once and remembered, with its query: the same as
    httpx builds from the string and ``params`` (percent-encoding and all; ``params`` replace
    a query the URL has, and without them it is kept)."""
    from fal_typed._client import parsed_url

    url = f"http://127.0.0.1:8123/queue/{path}{own_query}"
    query = tuple(params.items())
    with httpx.Client() as http:
        try:
            expected = http.build_request("GET", url, params=params or None).url
        except httpx.InvalidURL as refused:  # a control character: refused alike
            with pytest.raises(httpx.InvalidURL, match=re.escape(str(refused))):
                parsed_url(url, query)
            return
    assert parsed_url(url, query) == expected
    assert str(parsed_url(url, query)) == str(expected)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_url_asked_again_is_not_parsed_again(peer: ScriptedPeer, mode: str) -> None:
    """A client sends most requests to few URLs (a status polled, an endpoint's submit): each
    URL and query is parsed the first time only, and sent as the same ``httpx.URL``."""
    from fal_typed._client import parsed_url

    seen = Exchanges(peer, OK)
    client = client_of(peer)
    url = f"{peer.url}/app/requests/r-1/status"
    parsed_url.cache_clear()

    async def poll_async() -> None:
        async with client:
            for _ in range(3):
                await client.arequest("GET", url, params={"logs": "0"})

    if mode == "sync":
        with client:
            for _ in range(3):
                client.request("GET", url, params={"logs": "0"})
    else:
        asyncio.run(poll_async())
    assert [path for _, path, _, _ in seen.seen] == ["/app/requests/r-1/status?logs=0"] * 3
    info = parsed_url.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    assert parsed_url(url, (("logs", "0"),)) is parsed_url(url, (("logs", "0"),))


def test_the_remembered_urls_stay_bounded() -> None:
    from fal_typed._client import parsed_url

    for n in range(300):
        parsed_url(f"http://127.0.0.1/{n}", ())
    assert parsed_url.cache_info().currsize <= 256


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_query_httpx_takes_but_cannot_be_remembered_is_still_sent(
    peer: ScriptedPeer, mode: str
) -> None:
    """A list of values for one name (httpx's form for a repeated name) cannot key the cache:
    it is parsed for the request, as httpx would, not refused."""
    seen = Exchanges(peer, OK)
    params: Any = {"tag": ["a", "b"], "page": "2"}
    send(mode, client_of(peer), "GET", f"{peer.url}/app/x", params=params)
    assert [path for _, path, _, _ in seen.seen] == ["/app/x?tag=a&tag=b&page=2"]
