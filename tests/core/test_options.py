"""Bad call options fail with a clear InvalidArgumentError before any request is sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from fal_typed import (
    Client,
    Endpoint,
    InputModel,
    InvalidArgumentError,
    OutputModel,
    set_default_client,
)
from fal_typed._client import given_or_default
from fal_typed._options import request_headers, webhook_params


class In(InputModel):
    prompt: str


class Out(OutputModel):
    text: str = ""


endpoint = Endpoint("fal-ai/flux/dev", In, Out)
client = Client(key="opts-test-key-123456")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": "high"}, "priority must be 'normal' or 'low'"),
        ({"start_timeout": 1}, "start_timeout must be more than 1 second"),
        ({"start_timeout": 0.5}, "start_timeout must be more than 1 second"),
        ({"start_timeout": -3}, "start_timeout must be > 0 seconds, got -3"),
        ({"start_timeout": "30"}, "start_timeout must be a number"),
        ({"start_timeout": True}, "start_timeout must be a number"),
        ({"start_timeout": float("inf")}, "start_timeout must be a finite number of seconds"),
        ({"hint": ""}, "hint must be a non-empty string"),
        ({"hint": "a\nb"}, "hint must not contain line breaks"),
        ({"headers": {"X-Ok": "1", "Bad Name": "v"}}, "invalid header name"),
        ({"headers": {"X-Inject": "a\r\nEvil: 1"}}, "must not contain line breaks"),
        ({"headers": {"X-Num": 3}}, "must be a string"),
        ({"webhook_url": "example.com/hook"}, "webhook_url must be an absolute http\\(s\\) URL"),
        (
            {"webhook_url": "ftp://example.com/hook"},
            "webhook_url must be an absolute http\\(s\\) URL",
        ),
        ({"client_timeout": 0}, "client_timeout must be > 0 seconds, got 0"),
        ({"client_timeout": "10"}, "client_timeout must be a number"),
        # httpx sends header text as ASCII; its own error would quote the value
        ({"hint": "gpu-\u00e9"}, "hint must be ASCII"),
        ({"headers": {"X-Tok": "caf\u00e9"}}, "header 'X-Tok' must be ASCII"),
        ({"headers": {"X-\u00e9": "v"}}, "header name must be ASCII"),
        ({"webhook_url": "http://exa mple.com/"}, "webhook_url must not contain spaces"),
        ({"webhook_url": "https://example.com/\x7f"}, "control characters"),
        # a callback that cannot be called would fail once the request was queued
        ({"on_enqueue": 5}, "on_enqueue must be callable, got int"),
        ({"on_queue_update": "print"}, "on_queue_update must be callable, got str"),
        ({"with_logs": "no"}, "with_logs must be True or False, got str"),
        ({"with_logs": 1}, "with_logs must be True or False, got int"),
        # framing, routing and credentials are the client's: a Host of the caller's choosing
        # would hand the key to another virtual host, a Content-Length break the framing
        *(
            ({"headers": {name: "x"}}, f"header '{name}' cannot be set through headers")
            for name in (
                "Host",
                "CONTENT-LENGTH",
                "transfer-encoding",
                "Connection",
                "Upgrade",
                "Expect",
                "Authorization",
                "proxy-authorization",
            )
        ),
        ({"headers": {"X-A(b)": "v"}}, "invalid header name 'X-A\\(b\\)'"),
    ],
)
def test_bad_subscribe_options_fail_before_any_request(
    options: dict[str, Any], message: str
) -> None:
    with respx.mock() as mock, pytest.raises(InvalidArgumentError, match=message):
        endpoint.subscribe({"prompt": "x"}, client=client, **options)
    assert not mock.calls


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be > 0 seconds, got 0"),
        ({"start_timeout": 1.0}, "more than 1 second"),
        ({"hint": 5}, "hint must be a string"),
        ({"hint": "\u200bgpu"}, "hint must be ASCII"),
        ({"headers": {"X-Tok": "\u00e9"}}, "must be ASCII"),
    ],
)
def test_bad_run_options_fail_before_any_request(options: dict[str, Any], message: str) -> None:
    with respx.mock() as mock, pytest.raises(InvalidArgumentError, match=message):
        endpoint.run({"prompt": "x"}, client=client, **options)
    assert not mock.calls


async def test_bad_async_options_fail_before_any_request() -> None:
    with respx.mock() as mock:
        with pytest.raises(InvalidArgumentError, match="priority"):
            await endpoint.subscribe_async({"prompt": "x"}, client=client, priority="urgent")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="webhook_url"):
            await endpoint.submit_async({"prompt": "x"}, client=client, webhook_url="nope")
        with pytest.raises(InvalidArgumentError, match="timeout"):
            await endpoint.run_async({"prompt": "x"}, client=client, timeout=-1)
    assert not mock.calls


@pytest.mark.parametrize(
    "call", ["run", "submit", "subscribe", "stream", "status", "result", "cancel", "handle"]
)
@pytest.mark.parametrize(
    ("bad", "named"),
    [("abc", "str"), (object(), "object"), (Client, "type")],
    ids=["str", "object", "class"],
)
def test_a_client_that_is_not_a_client_is_named_before_anything_is_sent(
    call: str, bad: object, named: str
) -> None:
    by_id = call in ("status", "result", "cancel", "handle")
    with respx.mock() as mock, pytest.raises(InvalidArgumentError) as caught:
        getattr(endpoint, call)("req-1" if by_id else {"prompt": "x"}, client=bad)
    assert caught.value.message == f"client must be a fal_typed.Client, got {named}"
    assert not mock.calls


def test_no_client_is_the_default_client_and_a_client_is_itself() -> None:
    mine = Client(key="opts-test-key-654321")
    set_default_client(mine)
    try:
        assert given_or_default(None) is mine
        assert given_or_default(client) is client
    finally:
        set_default_client(None)


@pytest.mark.parametrize("call", ["run_async", "submit_async", "subscribe_async"])
async def test_an_async_call_names_a_client_that_is_not_one(call: str) -> None:
    with respx.mock() as mock, pytest.raises(InvalidArgumentError, match="got str"):
        await getattr(endpoint, call)({"prompt": "x"}, client="abc")
    assert not mock.calls


@pytest.mark.parametrize(
    ("call", "options", "message"),
    [
        ("status", {"with_logs": "no"}, "with_logs must be True or False, got str"),
        ("iter_events", {"with_logs": 1}, "with_logs must be True or False, got int"),
        ("wait", {"with_logs": "yes"}, "with_logs must be True or False, got str"),
        ("wait", {"on_queue_update": 5}, "on_queue_update must be callable, got int"),
    ],
)
def test_a_handle_s_wait_options_are_checked_before_any_request(
    call: str, options: dict[str, Any], message: str
) -> None:
    """Every path a status takes (a poll, the stream, a wait) checks its options alike."""
    handle = endpoint.handle("req-1", client=client)
    with respx.mock() as mock, pytest.raises(InvalidArgumentError) as caught:
        outcome = getattr(handle, call)(**options)
        if call == "iter_events":
            next(outcome)
    assert caught.value.message == message
    assert not mock.calls


@pytest.mark.parametrize("call", ["status", "result", "cancel", "handle"])
def test_bad_request_ids_fail_before_any_request(call: str) -> None:
    with respx.mock() as mock, pytest.raises(InvalidArgumentError, match="invalid request id"):
        getattr(endpoint, call)("../../etc/passwd", client=client)
    assert not mock.calls


def test_a_bad_endpoint_id_fails_before_any_request() -> None:
    bad = Endpoint("flux", In, Out)
    with (
        respx.mock() as mock,
        pytest.raises(InvalidArgumentError, match="invalid endpoint id 'flux'"),
    ):
        bad.subscribe({"prompt": "x"}, client=client)
    assert not mock.calls


def test_headers_mapping_of_options() -> None:
    assert request_headers(
        priority="low", hint="gpu-a", start_timeout=30, headers={"X-Fal-Store-IO": "0"}
    ) == {
        "X-Fal-Store-IO": "0",
        "X-Fal-Queue-Priority": "low",
        "X-Fal-Runner-Hint": "gpu-a",
        "X-Fal-Request-Timeout": "30.0",
    }
    # Explicit options win over the same header given by hand.
    assert (
        request_headers(priority="normal", headers={"X-Fal-Queue-Priority": "low"})[
            "X-Fal-Queue-Priority"
        ]
        == "normal"
    )
    assert request_headers() == {}
    assert webhook_params("https://example.com/hook?a=1") == {
        "fal_webhook": "https://example.com/hook?a=1"
    }
    assert webhook_params(None) == {}


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: request_headers(headers={"X-A": 3}), "header 'X-A' must be a string, got int"),
        (lambda: request_headers(headers={3: "a"}), "header name must be a string, got int"),
        (lambda: request_headers(headers=[("X-A", "a")]), "headers must be a mapping, got list"),
        (lambda: request_headers(hint="  "), "hint must be a non-empty string"),
        (
            lambda: request_headers(start_timeout="5"),
            "start_timeout must be a number of seconds, got str",
        ),
        (lambda: webhook_params(3), "webhook_url must be a string, got int"),
        (
            lambda: webhook_params("http://[::1"),
            "webhook_url is not a valid URL: Invalid port: ':1'",
        ),
        (
            lambda: webhook_params("http://[zz]/"),
            "webhook_url is not a valid URL: Invalid IPv6 address: '[zz]'",
        ),
    ],
    ids=[
        "header-value",
        "header-name",
        "headers",
        "hint",
        "start-timeout",
        "webhook-type",
        "webhook-port",
        "webhook-ipv6",
    ],
)
def test_each_refusal_says_exactly_what_is_wrong(check: Any, message: str) -> None:
    """The message names the option and what it was given (its type, or the parser's reason)."""
    with pytest.raises(InvalidArgumentError) as caught:
        check()
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": "30"}, "timeout must be a number of seconds, got str"),
        ({"timeout": float("nan")}, "timeout must be a finite number of seconds, got nan"),
        ({"timeout": True}, "timeout must be a number of seconds, got bool"),
        ({"timeout": 0}, "timeout must be > 0 seconds, got 0"),
        (
            {"timeout": httpx.Timeout(5.0, read=float("inf"))},
            "timeout.read must be a finite number of seconds",
        ),
        ({"poll_interval": float("nan")}, "poll_interval must be a finite number of seconds"),
        ({"poll_interval": "1"}, "poll_interval must be a number of seconds, got str"),
        ({"retry": 5}, "retry must be a fal_typed.RetryPolicy, got int"),
        ({"http_client": "x"}, "http_client must be an httpx.Client, got str"),
        (
            {"http_client": httpx.AsyncClient()},
            "http_client must be an httpx.Client, got AsyncClient",
        ),
        ({"async_http_client": httpx.Client()}, "async_http_client must be an httpx.AsyncClient"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_client_s_options_are_checked_when_it_is_built(
    options: dict[str, Any], message: str
) -> None:
    """Clients are built from configuration: a wrong kind fails at once, naming the option,
    never as a raw TypeError or AttributeError at the first call (or the first 429)."""
    with pytest.raises(InvalidArgumentError) as caught:
        Client(key="opts-test-key-123456", **options)
    assert caught.value.message.startswith(message)


def test_a_client_s_timeout_may_be_none_or_an_httpx_timeout() -> None:
    assert Client(key="opts-test-key-123456", timeout=None).timeout == httpx.Timeout(None)
    given = httpx.Timeout(5.0, read=None)
    assert Client(key="opts-test-key-123456", timeout=given).timeout is given
