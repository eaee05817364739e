"""Host URLs as configuration files and shells give them: a password in the URL, a space, a
control character, a port out of range. Each is refused where the client is built, naming the
option and never echoing the password: a ``user:password@`` URL was kept, sent as Basic
credentials to that host, and shown in the client's repr and in every error naming a URL."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from fal_typed import Client, InvalidArgumentError

HOSTS = ["queue_url", "run_url", "rest_url", "cdn_url", "api_url", "realtime_url"]


def _client(option: str, url: str) -> Client:
    options: dict[str, Any] = {option: url}
    return Client(key="id:secret", **options)


def _url(option: str, rest: str) -> str:
    return f"{'ws' if option == 'realtime_url' else 'http'}://{rest}"


@pytest.mark.parametrize("option", HOSTS)
@pytest.mark.parametrize("userinfo", ["user:s3cr3t-pw@", "s3cr3t-pw@", ":s3cr3t-pw@"])
def test_a_host_url_with_credentials_is_refused_without_showing_them(
    option: str, userinfo: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _client(option, _url(option, f"{userinfo}127.0.0.1:8765"))
    shown = f"{caught.value!s} {caught.value!r}"
    assert caught.value.message.startswith(f"{option} must not carry a user name or password")
    assert "s3cr3t-pw" not in shown and "127.0.0.1:8765" in shown


@pytest.mark.parametrize("option", HOSTS)
@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("127.0.0.1:8765/ q", "must not contain spaces or control characters"),
        ("127.0.0.1:8765/a\tb", "must not contain spaces or control characters"),
        ("127.0.0.1:8765/\x00", "must not contain spaces or control characters"),
        ("127.0.0.1:99999", "has no valid port (99999)"),
    ],
)
def test_a_host_url_that_cannot_be_one_is_refused_naming_the_option(
    option: str, rest: str, message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _client(option, _url(option, rest))
    assert caught.value.message.startswith(f"{option} {message}")


@pytest.mark.parametrize("option", HOSTS)
@pytest.mark.parametrize("around", [" {} ", "{}\n", "{}\r\n"])
def test_a_host_url_with_blanks_around_it_is_read_as_meant(option: str, around: str) -> None:
    given = around.format(_url(option, "127.0.0.1:8765"))
    assert getattr(_client(option, given), option) == given.strip()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:s3cr3t-pw@app.test/api/fal/proxy", "must not carry a user name or password"),
        ("https://app.test/api/fal/ proxy", "must not contain spaces or control characters"),
    ],
)
def test_a_proxy_url_that_cannot_be_one_is_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Client(proxy_url=url)
    assert caught.value.message.startswith(f"proxy_url {message}")
    assert "s3cr3t-pw" not in f"{caught.value!s} {caught.value!r}"


def test_the_command_line_refuses_a_base_url_with_credentials_exit_2() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "fal_typed.cli", "call", "fal-ai/flux/dev", "--prompt", "a"],
        env={"FAL_TYPED_BASE_URL": "http://me:s3cr3t-pw@127.0.0.1:9", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert "must not carry a user name or password" in run.stderr
    assert "s3cr3t-pw" not in run.stderr + run.stdout and "Traceback" not in run.stderr
