"""The target's host must be a plain DNS name (LDH labels) before it is judged one of fal's: a
suffix test alone forwarded 'evil.com\\.fal.run' and 'evil_host.fal.run' with the key. Each
target below is sent to a real FalProxy on 127.0.0.1 as fal's clients send it; the refused ones
reach nothing (the local fal server behind the proxy records no request)."""

from __future__ import annotations

import httpx
import pytest

from fal_typed._hosts import Hosts
from fal_typed.proxy import DEFAULT_ALLOWED_URLS
from fal_typed.proxy._refusal import Refused
from fal_typed.proxy._targets import Upstream, is_fal_host, is_host_name, read_target, url_patterns
from fal_typed.testing import LocalFal

from .conftest import ALICE, ENDPOINT, ServedProxy

PATH = f"/{ENDPOINT}"
LABEL_63 = "a" * 63

# (id, the x-fal-target-url header as sent, bytes for what is not ASCII)
ODD_HOSTS: list[tuple[str, str]] = [
    ("backslash", "https://evil.com\\.fal.run"),
    ("backslash-encoded", "https://evil.com%5c.fal.run"),
    ("underscore", "https://evil_host.fal.run"),
    ("empty-label", "https://queue..fal.run"),
    ("leading-dot", "https://.fal.run"),
    ("trailing-dot", "https://queue.fal.run."),
    ("percent-dot", "https://evil%2ecom.fal.run"),
    ("percent-nul", "https://evil.com%00.fal.run"),
    ("percent-slash", "https://evil.com%2f.fal.run"),
    ("semicolon", "https://evil.com;.fal.run"),
    ("asterisk", "https://a*b.fal.run"),
    ("hyphen-first", "https://-evil.fal.run"),
    ("hyphen-last", "https://evil-.fal.run"),
    ("label-64", f"https://{'a' * 64}.fal.run"),
    ("name-254", "https://" + f"{LABEL_63}." * 3 + "a" * 54 + ".fal.run"),
    ("unicode", "https://f\u00e4l.fal.run"),
    ("punycode", "https://xn--fl-via.fal.run"),
    ("ideographic-stop", "https://queue\u3002fal.run"),
    ("fullwidth", "https://queue.\uff46\uff41\uff4c.run"),
    ("ipv6", "https://[::1]"),
]


def _post(served: ServedProxy, target: str) -> httpx.Response:
    # A header value that is not ASCII goes out as its UTF-8 bytes, as a browser would send it.
    value: str | bytes = target if target.isascii() else target.encode()
    headers: dict[str, str | bytes] = {**ALICE, "x-fal-target-url": value}
    return httpx.post(served.url, headers=headers, json={"prompt": "a cat"}, timeout=30)


@pytest.mark.parametrize("host", [h for _, h in ODD_HOSTS], ids=[i for i, _ in ODD_HOSTS])
def test_a_target_host_that_is_not_a_plain_host_name_is_refused_unsent(
    served: ServedProxy, upstream: LocalFal, host: str
) -> None:
    answer = _post(served, host + PATH)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_type"] == "proxy_invalid_target"
    assert answer.headers["x-fal-error-type"] == "proxy_invalid_target"
    assert upstream.requests == []
    [record] = served.calls.wait()
    assert record.forwarded is False


@pytest.mark.parametrize(
    "host", ["https://QUEUE.FAL.RUN", "https://Queue.Fal.Run"], ids=["upper", "mixed"]
)
def test_letter_case_is_not_a_difference(
    served: ServedProxy, upstream: LocalFal, host: str
) -> None:
    """Host names are case-insensitive: an upper-case queue host is the queue, forwarded (with
    the key: the local server only lets the proxy's key in) and recorded lower-case."""
    answer = _post(served, host + PATH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["request_id"]
    [record] = served.calls.wait()
    assert record.forwarded is True and record.operation == "submit"
    assert record.target == f"https://queue.fal.run{PATH}"
    assert len(upstream.requests) == 1


FAL = Upstream(Hosts())
DEFAULTS = url_patterns(DEFAULT_ALLOWED_URLS)


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("queue.fal.run", True),
        ("QUEUE.FAL.RUN", True),
        ("v3b.fal.media", True),
        ("a-b.c-d.fal.run", True),
        ("0.fal.run", True),
        (f"{LABEL_63}.fal.run", True),
        (f"{LABEL_63}." * 3 + "a" * 61, True),  # 253 characters
        (f"{LABEL_63}." * 3 + "a" * 62, False),  # 254
        (f"{'a' * 64}.fal.run", False),
        ("", False),
        (".", False),
        ("fal.run.", False),
        (".fal.run", False),
        ("a..fal.run", False),
        ("-a.fal.run", False),
        ("a-.fal.run", False),
        ("a_b.fal.run", False),
        ("a\\b.fal.run", False),
        ("a%2eb.fal.run", False),
        ("a b.fal.run", False),
        ("f\u00e4l.run", False),
        ("fal.run\n", False),
        ("::1", False),
    ],
)
def test_host_names_are_ldh_labels(host: str, valid: bool) -> None:
    assert is_host_name(host) is valid
    assert is_fal_host(host) is (valid and host.lower().endswith((".fal.run", ".fal.media")))


def test_a_63_character_label_under_fal_run_is_a_fal_host() -> None:
    """The limits are the DNS's own: a label of 63 is fine (checked without forwarding)."""
    target = read_target(f"https://{LABEL_63}.fal.run{PATH}", "POST", DEFAULTS, FAL)
    assert target.operation == "run" and target.url.host == f"{LABEL_63}.fal.run"


def test_a_pattern_with_an_odd_host_is_refused_when_the_proxy_is_built() -> None:
    for pattern in ("evil_host.fal.run/**", "fal.run./**", "a..fal.run/**", "*.fal.run./**"):
        with pytest.raises(ValueError, match="does not name a host on fal's domains"):
            url_patterns([pattern])


def test_the_refusal_says_what_is_wrong() -> None:
    with pytest.raises(Refused) as refused:
        read_target("https://evil_host.fal.run/x", "POST", DEFAULTS, FAL)
    assert refused.value.status == 400
    assert "'evil_host.fal.run' is not a plain host name" in str(refused.value)
