"""Key resolution (fal-client's order) and the rule that a key never shows in any repr, log or error."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import cast

import httpx
import pytest
import respx

from fal_typed import (
    AuthenticationError,
    Client,
    FalConnectionError,
    InvalidArgumentError,
    MissingCredentialsError,
    RetryPolicy,
)
from fal_typed._auth import check_key, redact, redact_json, resolve_credentials
from fal_typed._errors import remember_secrets

KEY = "0f1e2d3c-key-id:9a8b7c6d5e4f-very-secret"
SECRET = KEY.split(":")[1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_explicit_key_wins_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FAL_KEY", "env-key-value")
    client = Client(key=KEY)
    assert client.auth_headers() == {"Authorization": f"Key {KEY}"}
    assert client.credentials().source == "argument"


def test_fal_key_wins_over_key_id_and_secret(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FAL_KEY", "env-key-value")
    clean_env.setenv("FAL_KEY_ID", "the-id")
    clean_env.setenv("FAL_KEY_SECRET", "the-secret")
    assert Client().auth_headers() == {"Authorization": "Key env-key-value"}


def test_key_id_and_secret_are_joined(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FAL_KEY_ID", "the-id")
    clean_env.setenv("FAL_KEY_SECRET", "the-secret")
    client = Client()
    assert client.auth_headers() == {"Authorization": "Key the-id:the-secret"}
    assert client.credentials().source == "FAL_KEY_ID/FAL_KEY_SECRET"


def test_key_id_without_secret_is_not_a_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FAL_KEY_ID", "the-id")
    with pytest.raises(MissingCredentialsError, match="FAL_KEY"):
        resolve_credentials(None)


def test_missing_key_fails_at_the_first_call_not_before(clean_env: pytest.MonkeyPatch) -> None:
    client = Client(queue_url="http://127.0.0.1:9/queue")  # constructing is fine
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__startswith="http://127.0.0.1:9/").respond(200, json={})
        with pytest.raises(MissingCredentialsError, match="FAL_KEY"):
            client.request("POST", "http://127.0.0.1:9/queue/fal-ai/flux/dev", json={})
        assert not route.called  # nothing was sent without a key


def test_key_is_resolved_lazily_and_then_cached(clean_env: pytest.MonkeyPatch) -> None:
    client = Client()
    clean_env.setenv("FAL_KEY", "set-after-construction")
    assert client.auth_headers()["Authorization"] == "Key set-after-construction"
    clean_env.setenv("FAL_KEY", "changed-later")
    assert client.auth_headers()["Authorization"] == "Key set-after-construction"


def test_importing_and_the_default_client_need_no_key() -> None:
    code = (
        "import fal_typed; c = fal_typed.default_client(); print(repr(c));"
        "\ntry:\n    c.auth_headers()\nexcept fal_typed.MissingCredentialsError as e:\n    print('missing:', e)"
    )
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "missing: no fal API key found" in out.stdout


@pytest.mark.parametrize("bad", ["", "   ", "with space:x", "line\nbreak"])
def test_malformed_explicit_keys_are_rejected_without_echoing_them(bad: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        Client(key=bad)
    if bad.strip():
        assert bad.strip() not in str(info.value)


def test_reprs_never_show_the_key() -> None:
    client = Client(key=KEY)
    assert KEY not in repr(client) and SECRET not in repr(client)
    client.auth_headers()
    assert KEY not in repr(client) and SECRET not in repr(client)
    assert "argument" in repr(client)
    credentials = client.credentials()
    assert SECRET not in repr(credentials) and SECRET not in str(credentials)


def test_a_key_echoed_by_the_server_is_scrubbed_from_the_error() -> None:
    client = Client(key=KEY, retry=RetryPolicy.disabled())
    echo = {"detail": f"invalid key credentials: {KEY}", "error_type": "auth", "echo": [SECRET]}
    with respx.mock() as mock:
        mock.get("https://queue.fal.run/x").respond(401, json=echo, headers={"x-echo": KEY})
        with pytest.raises(AuthenticationError) as info:
            client.request("GET", "https://queue.fal.run/x")
    error = info.value
    for text in (str(error), repr(error), repr(error.body), repr(error.headers), error.message):
        assert SECRET not in text
    assert error.error_type == "auth"
    assert "[redacted]" in error.message


def test_no_log_line_contains_the_key(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(key=KEY, retry=RetryPolicy(max_attempts=3, base_delay=0, jitter=0))
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    with respx.mock() as mock:
        mock.get("https://queue.fal.run/y").mock(
            side_effect=[
                httpx.Response(429, text=f"slow down {KEY}"),
                httpx.ConnectError(f"refused {KEY}"),
            ]
        )
        mock.get("https://queue.falrun.com/y").mock(return_value=httpx.Response(200, json={}))
        client.request("GET", "https://queue.fal.run/y")
    assert any("retrying GET" in r.getMessage() for r in caplog.records)
    assert any("trying its backup" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()


def test_transport_errors_do_not_carry_the_key() -> None:
    client = Client(key=KEY, retry=RetryPolicy.disabled())
    with pytest.raises(FalConnectionError) as info:
        client.request("GET", "http://127.0.0.1:9/unreachable")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_user_agent_and_authorization_are_sent() -> None:
    client = Client(key=KEY)
    with respx.mock() as mock:
        route = mock.get("https://queue.fal.run/z").respond(200, json={})
        client.request("GET", "https://queue.fal.run/z")
    sent = route.calls.last.request.headers
    assert sent["authorization"] == f"Key {KEY}"
    assert sent["user-agent"].startswith("fal-typed/")


# -- exact messages and edges (each pins a rule a mutation of _auth.py broke) --------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (5, "key must be a string, not int"),
        ("  ", "key must be a non-empty string"),
        ("id:se cret", "key must not contain whitespace or line breaks"),
        ("id:se\tcret", "key must not contain whitespace or line breaks"),
        # a header carries ASCII only: httpx's own error would quote the whole key
        (
            "id:se\u200bcret",
            "key must be printable ASCII: it holds another character (pasted in with it?)",
        ),
        (
            "id:s\u00e9cret",
            "key must be printable ASCII: it holds another character (pasted in with it?)",
        ),
        (
            "id:se\x01cret",
            "key must be printable ASCII: it holds another character (pasted in with it?)",
        ),
    ],
)
def test_key_checks_say_what_is_wrong(bad: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check_key(bad)
    assert caught.value.message == message


@pytest.mark.parametrize("source", ["argument", "FAL_KEY", "FAL_KEY_ID/FAL_KEY_SECRET"])
def test_a_key_with_a_character_a_header_cannot_carry_is_refused_without_showing_it(
    source: str, clean_env: pytest.MonkeyPatch
) -> None:
    key = "sk_live_0123456789abcdef\u200b"
    with pytest.raises(InvalidArgumentError) as caught:
        if source == "argument":
            Client(key=key)
        elif source == "FAL_KEY":
            resolve_credentials(None, {"FAL_KEY": key})
        else:
            resolve_credentials(None, {"FAL_KEY_ID": "id", "FAL_KEY_SECRET": key})
    shown = f"{caught.value!s} {caught.value!r} {caught.value.args!r}"
    assert "printable ASCII" in shown and "0123456789abcdef" not in shown


def test_a_key_may_hold_any_visible_character() -> None:
    assert check_key(" XkeyX:sXcret ") == "XkeyX:sXcret"


def test_the_given_environment_is_used_and_named(clean_env: pytest.MonkeyPatch) -> None:
    credentials = resolve_credentials(None, {"FAL_KEY": " given-key "})
    assert (credentials.key, credentials.source) == ("given-key", "FAL_KEY")
    with pytest.raises(MissingCredentialsError):
        resolve_credentials(None, {"FAL_KEY_SECRET": "only-a-secret"})


def test_redaction_skips_empty_secrets_and_keeps_structure() -> None:
    assert redact("plain text", ["", "absent-secret"]) == "plain text"
    assert redact_json(["x-" + SECRET, 3, {"k": SECRET}], (SECRET,)) == [
        "x-[redacted]",
        3,
        {"k": "[redacted]"},
    ]


@pytest.mark.parametrize("depth", [900, 5000])
def test_redaction_of_a_value_nested_too_deep_to_walk_never_raises_nor_shows_the_secret(
    depth: int,
) -> None:
    deep: list[object] = [SECRET]
    for _ in range(depth):
        deep = [deep]
    scrubbed = redact_json({SECRET: deep}, (SECRET,))
    # walked without recursion, so the check itself cannot overflow
    strings: list[str] = []
    stack: list[object] = [scrubbed]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings.append(item)
        elif isinstance(item, dict):
            mapping = cast("dict[object, object]", item)
            stack += [*mapping, *mapping.values()]
        elif isinstance(item, list):
            stack += cast("list[object]", item)
    assert strings and not any(SECRET in s for s in strings)


@pytest.mark.parametrize("given_first", [True, False])
def test_a_secret_inside_another_is_never_left_around_it(given_first: bool) -> None:
    # One pass, longest first, over the remembered and the given secrets: whichever holds the
    # other is redacted whole, whichever list it came from.
    outer, inner = "outer-secret-holding-fragment-inside", "fragment-inside"
    remember_secrets([inner if given_first else outer], token=True)
    given = [outer if given_first else inner]
    text = f"a {outer} and a {inner}"
    assert redact(text, given) == "a [redacted] and a [redacted]"
    assert redact_json({"k": [text]}, given) == {"k": ["a [redacted] and a [redacted]"]}


# -- keys as they arrive from .env files and shells: quoted, half given, named by their source --


def _resolve(source: str, key: str) -> object:
    if source == "argument":
        return Client(key=key)
    if source == "FAL_KEY":
        return resolve_credentials(None, {"FAL_KEY": key})
    key_id, _, secret = key.partition(":")
    return resolve_credentials(None, {"FAL_KEY_ID": key_id, "FAL_KEY_SECRET": secret})


@pytest.mark.parametrize(
    ("source", "named"),
    [("argument", "key"), ("FAL_KEY", "FAL_KEY"), ("pair", "FAL_KEY_ID:FAL_KEY_SECRET")],
)
@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_key_wrapped_in_quotes_is_refused_naming_where_it_came_from(
    source: str, named: str, quote: str, clean_env: pytest.MonkeyPatch
) -> None:
    key = f"{quote}sk_id_0123:sk_secret_456789abcdef{quote}"
    with pytest.raises(InvalidArgumentError) as caught:
        _resolve(source, key)
    assert caught.value.message.startswith(f"{named} is wrapped in quotes: remove them")
    assert "456789abcdef" not in f"{caught.value!s} {caught.value!r}"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("id:se cret", "FAL_KEY must not contain whitespace or line breaks"),
        ("id:s\u00e9cret", "FAL_KEY must be printable ASCII"),
    ],
)
def test_a_bad_fal_key_is_named_as_fal_key(
    bad: str, message: str, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        resolve_credentials(None, {"FAL_KEY": bad})
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    ("environ", "detail"),
    [
        ({"FAL_KEY_ID": "id"}, "(FAL_KEY_ID is set but FAL_KEY_SECRET is not"),
        (
            {"FAL_KEY_ID": "id", "FAL_KEY_SECRET": " "},
            "(FAL_KEY_ID is set but FAL_KEY_SECRET is not",
        ),
        ({"FAL_KEY_SECRET": "secret"}, "(FAL_KEY_SECRET is set but FAL_KEY_ID is not"),
        ({"FAL_KEY": " \n"}, "(FAL_KEY is set but blank)"),
    ],
)
def test_half_a_key_in_the_environment_is_said(
    environ: dict[str, str], detail: str, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MissingCredentialsError) as caught:
        resolve_credentials(None, environ)
    assert detail in str(caught.value)
    assert "secret" not in str(caught.value).replace("FAL_KEY_SECRET", "").replace("id:secret", "")


def test_a_key_with_quotes_inside_it_is_not_refused() -> None:
    assert check_key('id:se"cret') == 'id:se"cret'
