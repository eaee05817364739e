"""The proxy's own options, refused at construction with the option named.

Before: ``max_input_bytes`` took 1.5, True and NaN (a NaN limit let every body through, since
``len(body) > nan`` is False) and raised a raw TypeError for ``"5"``; ``allowed_endpoints=5`` /
``allowed_urls=5`` raised a raw TypeError, and ``bytes`` were read as a list of ints;
``validate_inputs="no"`` switched validation on; ``CORS`` took any ``max_age`` (NaN, -1, "5",
True) and any ``allow_credentials`` / ``origins`` entries, which surfaced in Starlette's
middleware or as a malformed preflight answer.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import InvalidArgumentError
from fal_typed.proxy import CORS, FalProxy, anyone


def _proxy(**options: object) -> FalProxy:
    settings: dict[str, object] = {
        "authenticate": anyone,
        "allowed_endpoints": ["fal-ai/flux/dev"],
        "key": "id:secret",
        **options,
    }
    return FalProxy(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1.5, 1024.0, True, math.nan, "5", None])
def test_max_input_bytes_must_be_an_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _proxy(max_input_bytes=value)
    assert caught.value.message == f"max_input_bytes must be an int, got {type(value).__name__}"


@given(st.integers(max_value=0))
def test_max_input_bytes_must_be_positive(value: int) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^max_input_bytes must be >= 1, got "):
        _proxy(max_input_bytes=value)


def test_a_valid_max_input_bytes_is_kept() -> None:
    assert _proxy(max_input_bytes=1)._max_input == 1  # pyright: ignore[reportPrivateUsage]


@pytest.mark.parametrize("option", ["allowed_endpoints", "allowed_urls"])
@pytest.mark.parametrize("value", [5, 1.5, object()])
def test_a_list_option_given_a_non_iterable_is_refused(option: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _proxy(**{option: value})
    assert caught.value.message.startswith(f"{option} must be a list of ")
    assert caught.value.message.endswith(f"got {type(value).__name__}")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("allowed_endpoints", "fal-ai/flux/dev"),
        ("allowed_endpoints", b"fal-ai/flux/dev"),
        ("allowed_urls", "fal.run/*"),
        ("allowed_urls", b"fal.run/*"),
    ],
)
def test_a_list_option_given_one_string_is_refused(option: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _proxy(**{option: value})
    assert caught.value.message.startswith(f"{option} must be a list of ")
    assert "not one string" in caught.value.message


@pytest.mark.parametrize("value", ["no", 0, 1, None])
def test_validate_inputs_must_be_a_bool(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _proxy(validate_inputs=value)
    assert (
        caught.value.message == f"validate_inputs must be True or False, got {type(value).__name__}"
    )


@pytest.mark.parametrize("value", [1.5, True, "600", None, math.nan])
def test_cors_max_age_must_be_an_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        CORS(origins=["https://app.example.com"], max_age=value)  # type: ignore[arg-type]
    assert caught.value.message == f"CORS max_age must be an int, got {type(value).__name__}"


@given(st.integers(max_value=-1))
def test_cors_max_age_must_not_be_negative(value: int) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^CORS max_age must be >= 0, got "):
        CORS(origins=["https://app.example.com"], max_age=value)


def test_cors_max_age_zero_is_kept() -> None:
    assert CORS(origins=["https://app.example.com"], max_age=0).max_age == 0


@pytest.mark.parametrize("value", ["no", 1, None])
def test_cors_allow_credentials_must_be_a_bool(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        CORS(origins=["https://app.example.com"], allow_credentials=value)  # type: ignore[arg-type]
    assert caught.value.message == (
        f"CORS allow_credentials must be True or False, got {type(value).__name__}"
    )


@pytest.mark.parametrize("value", [5, None, b"https://app.example.com"])
def test_cors_origins_must_be_a_list(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^CORS origins must be a list of origins"):
        CORS(origins=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("entry", [5, None, b"https://app.example.com", "", " "])
def test_cors_origins_must_be_strings(entry: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^CORS origins must be non-empty strings"):
        CORS(origins=["https://app.example.com", entry])  # type: ignore[list-item]


def test_cors_keeps_valid_settings() -> None:
    cors = CORS(
        origins=("https://a.example", "https://b.example"), allow_credentials=True, max_age=1
    )
    assert cors.origins == ("https://a.example", "https://b.example")
    assert cors.allow_credentials is True and cors.max_age == 1


# Origins no browser sends as written (Origin is compared exactly), and null, which any page can
# send from a sandboxed frame: each refused where CORS is built, saying what to write instead.
UNMATCHABLE_ORIGINS = [
    ("https://app.example.com/", "write 'https://app.example.com'"),
    ("https://app.example.com/app", "write 'https://app.example.com'"),
    ("https://App.Example.com", "write 'https://app.example.com'"),
    ("HTTPS://app.example.com", "write 'https://app.example.com'"),
    ("https://app.example.com.", "write 'https://app.example.com'"),
    ("https://app.example.com:443", "write 'https://app.example.com'"),
    ("http://localhost:80", "write 'http://localhost'"),
    ("https://app.example.com?x=1", "write 'https://app.example.com'"),
    (" https://app.example.com", "write 'https://app.example.com'"),
    ("https://b\u00fccher.example", "punycode"),
    ("https://user:pw@app.example.com", "holds credentials"),
    ("app.example.com", "is not an origin"),
    ("https://", "is not an origin"),
    ("https://app.example.com:99999", "is not an origin"),
    ("null", "Origin: null"),
    ("Null", "Origin: null"),
]


@pytest.mark.parametrize(("origin", "says"), UNMATCHABLE_ORIGINS)
def test_an_origin_no_browser_sends_is_refused(origin: str, says: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        CORS(origins=["https://ok.example", origin])
    assert caught.value.message.startswith(f"CORS origin {origin!r} ")
    assert says in caught.value.message


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://app.example.com",
        "http://localhost:3000",
        "http://127.0.0.1:8080",
        "http://[::1]:5173",
        "https://xn--bcher-kva.example",
        "capacitor://localhost",
        "https://app.example.com:8443",
    ],
)
def test_an_origin_as_browsers_send_it_is_kept(origin: str) -> None:
    assert CORS(origins=[origin]).origins == [origin]
