"""No error path shows a credential: a sweep against a server echoing them back.

The server answers each request kind with the request's own Authorization value (the API key,
or the CDN token) echoed in a plain-text body, a JSON value, a JSON object *key* and a header,
under a 200 whose body is not what the protocol expects, a 4xx and a 5xx. Whatever is raised,
the key, its secret half and the CDN token appear in no ``str``, ``repr``, ``body``, ``text``,
``headers`` of the error or its causes, nor in any log record at DEBUG: fal_typed's, httpx's or
httpcore's (whose trace prints every answer's raw headers, the echo included).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from fal_typed import Client, FalError, RetryPolicy
from fal_typed._errors import MIN_FRAGMENT_LENGTH
from fal_typed._queue import cancel, fetch_result, get_status, submit, submit_async
from fal_typed._run import run, run_async
from fal_typed.files import UploadSettings, upload
from fal_typed.files._token import cached_token
from fal_typed.realtime._token import TokenCache
from tests.peers.http import ECHO_SHAPES, KEY, echo_script
from tests.peers.sse import Exchange, ScriptedPeer, serving

ID = "fal-ai/flux/dev"
RID = "0b5d4e2a-1c3f-4a6b-9d8e-7f6a5b4c3d2e"
CDN_TOKEN = "cdn-token-0123456789abcdef"
SECRETS = (KEY, KEY.partition(":")[2], CDN_TOKEN)


def _client(url: str) -> Client:
    return Client(
        key=KEY,
        queue_url=url,
        run_url=url,
        rest_url=url,
        cdn_url=url,
        retry=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001),
        backup_hosts={},
    )


def _upload(client: Client) -> Any:
    return upload(b"hello", "text/plain", client=client, settings=UploadSettings(fallback=False))


CALLS: dict[str, Callable[[Client], Any]] = {
    "submit": lambda c: submit(c, ID, {"prompt": "a cat"}),
    "submit_async": lambda c: asyncio.run(submit_async(c, ID, {"prompt": "a cat"})),
    "run": lambda c: run(c, ID, {"prompt": "a cat"}),
    "run_async": lambda c: asyncio.run(run_async(c, ID, {"prompt": "a cat"})),
    "status": lambda c: get_status(c, ID, RID),
    "result": lambda c: fetch_result(c, ID, RID),
    "cancel": lambda c: cancel(c, ID, RID),
    "cdn_token": cached_token,
    "realtime_token": lambda c: TokenCache("fal-ai/fast-lcm").get(c),
    "upload": _upload,
}


def _routed(status: int, shape: str) -> Any:
    """Echo everywhere, but hand out a good CDN token, so the upload reaches the CDN and the
    token is what is echoed there."""
    echo = echo_script(status, shape)

    async def script(exchange: Exchange) -> None:
        if exchange.path.startswith("/storage/auth/token") and "upload" in _current:
            body = {
                "token": CDN_TOKEN,
                "token_type": "Bearer",
                "base_url": _current["upload"],
                "expires_at": "2099-01-01T00:00:00Z",
            }
            await exchange.answer(200, json.dumps(body).encode(), {"Content-Type": "x/json"})
            return
        await echo(exchange)

    return script


_current: dict[str, str] = {}


def _texts(exc: BaseException) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current)]
        for name in ("body", "text", "headers", "message", "url"):
            if hasattr(current, name):
                texts.append(repr(getattr(current, name)))
        current = current.__cause__ or current.__context__
    return texts


@pytest.fixture(scope="module")
def peer() -> Any:
    with serving() as p:
        yield p


@pytest.mark.parametrize("shape", ECHO_SHAPES)
@pytest.mark.parametrize("status", [200, 400, 401, 500, 503])
@pytest.mark.parametrize("call", list(CALLS))
def test_no_credential_in_any_error(
    peer: ScriptedPeer, call: str, status: int, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")  # every logger: fal_typed, httpx and httpcore's trace
    peer.script = _routed(status, shape)
    _current.clear()
    if call == "upload":
        _current["upload"] = peer.url
    client = _client(peer.url)
    try:
        CALLS[call](client)
    except FalError as exc:
        texts = _texts(exc)
    else:
        if status == 200:  # any JSON is a result, any answer a cancel: nothing to leak into
            pytest.skip(f"a 200 is a success for {call}")
        raise AssertionError(f"{call} accepted a {status} {shape} echo")
    finally:
        client.close()
    records = caplog.records
    assert any(r.name.startswith("httpcore") for r in records)  # the trace ran, headers and all
    texts += [r.getMessage() for r in records] + [repr(r.args) for r in records]
    for secret in SECRETS:
        leaks = [t for t in texts if any(part in t for part in _cut_ends(secret))]
        assert not leaks, f"{secret[:8]}... leaked by {call} ({status}, {shape}): {leaks[0][:300]}"


def _cut_ends(secret: str) -> tuple[str, str]:
    """The shortest start and end of ``secret`` a cut echo may not leave (the scrub's least)."""
    return secret[:MIN_FRAGMENT_LENGTH], secret[-MIN_FRAGMENT_LENGTH:]


NAMED_LOGGERS = (
    "fal_typed",
    "fal_typed.upload",
    "fal_typed.webhooks",
    "fal_typed.proxy",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def test_every_logger_that_could_carry_the_key_scrubs_it(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    _client("http://127.0.0.1:9").credentials()  # resolving a key remembers it
    caplog.set_level("DEBUG")
    for name in NAMED_LOGGERS:
        logging.getLogger(name).warning("peer said %s", f"Key {KEY}")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == len(NAMED_LOGGERS)
    assert all("[redacted]" in m and KEY.partition(":")[2] not in m for m in messages)


def test_short_lived_tokens_are_remembered_up_to_a_bound() -> None:
    from fal_typed._errors import remember_secrets, scrub

    _client("http://127.0.0.1:9").credentials()
    first = "token-0000-abcdef"
    remember_secrets((first,), token=True)
    assert scrub(first) == "[redacted]"
    for n in range(1, 300):
        remember_secrets((f"token-{n:04d}-abcdef",), token=True)
    assert scrub(first) == first  # the oldest forgotten: the set cannot grow for ever
    assert scrub("token-0299-abcdef") == "[redacted]"
    assert scrub(KEY) == "[redacted]"  # keys are never forgotten


def test_scrubbing_keeps_the_shape_of_what_an_error_holds() -> None:
    _client("http://127.0.0.1:9").credentials()
    error = FalError("x")
    error.missing = ("a", f"b {KEY}")  # pyright: ignore[reportAttributeAccessIssue]
    error.listed = ["a", {KEY: [KEY]}]  # pyright: ignore[reportAttributeAccessIssue]
    assert error.missing == ("a", "b [redacted]")  # pyright: ignore[reportAttributeAccessIssue]
    assert error.listed == ["a", {"[redacted]": ["[redacted]"]}]  # pyright: ignore[reportAttributeAccessIssue]
