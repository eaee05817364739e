"""The upload wire format (files/_protocol.py) function by function: parts, headers, URLs, how
each response is read and what an error built from one may say. The flows over real sockets are
in test_upload.py; these pin the exact rules, each of which a mutation of the module broke while
those tests passed (docs/mutation.md). No network: responses are built as httpx objects."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from fal_typed import Client, FalError, FalHTTPError, ProtocolError
from fal_typed._errors import remember_secrets
from fal_typed._retry import Kind
from fal_typed.files import _protocol as p
from fal_typed.files._source import open_source
from fal_typed.files._token import CdnToken

KEY = "proto-key-id:proto-key-very-secret"
TOKEN = CdnToken(
    token="cdn-token-secret-value",
    token_type="Bearer",
    base_url="https://v3b.fal.media",
    expires_at=datetime.now(timezone.utc) + timedelta(hours=1),
)


@pytest.fixture
def client() -> Client:
    resolved = Client(KEY)
    assert resolved.credentials().key == KEY  # resolved, as before any upload request
    return resolved


def response(
    status: int, body: Any = None, *, text: str | None = None, **headers: str
) -> httpx.Response:
    request = httpx.Request("POST", "https://v3b.fal.media/files/upload")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


# -- parts -------------------------------------------------------------------------------------


def test_parts_cover_every_byte_once_numbered_from_one() -> None:
    assert p.plan_parts(10, 4) == [p.Part(1, 0, 4), p.Part(2, 4, 4), p.Part(3, 8, 2)]
    assert p.plan_parts(8, 4) == [p.Part(1, 0, 4), p.Part(2, 4, 4)]
    assert p.plan_parts(3, 4) == [p.Part(1, 0, 3)]
    assert p.plan_parts(0, 4) == []


# -- headers and URLs ----------------------------------------------------------------------------


def test_headers_of_each_cdn_request() -> None:
    source = open_source(b"\x89PNG\r\n\x1a\n" + bytes(8), file_name="cat é.png")
    lifecycle = {"X-Fal-Object-Lifecycle-Preference": '{"expiration_duration_seconds": 60}'}
    auth = {"Authorization": "Bearer cdn-token-secret-value"}
    assert p.cdn_headers("complete", TOKEN, source, lifecycle) == {
        **auth,
        "Accept": "application/json",
    }
    assert p.cdn_headers("part", TOKEN, source, lifecycle) == {
        **auth,
        "Content-Type": "image/png",
        "Accept-Encoding": "identity",
    }
    assert p.cdn_headers("upload", TOKEN, source, lifecycle) == {
        **auth,
        "Accept": "application/json",
        "Content-Type": "image/png",
        "X-Fal-File-Name": "cat %C3%A9.png",
        **lifecycle,
    }


def test_file_names_in_headers_keep_ascii_punctuation_and_encode_the_rest() -> None:
    kept = " !#$&'()+,;=@[]^`{}~"
    source = open_source(b"x", file_name=f"a{kept}z.txt", content_type="text/plain")
    assert p.cdn_headers("upload", TOKEN, source, {})["X-Fal-File-Name"] == f"a{kept}z.txt"
    other = open_source(b"x", file_name='a"%\x7f.txt', content_type="text/plain")
    assert p.cdn_headers("upload", TOKEN, other, {})["X-Fal-File-Name"] == "a%22%25%7F.txt"


def test_urls_of_each_step() -> None:
    assert p.single_upload_url("https://cdn") == "https://cdn/files/upload"
    assert p.multipart_url(TOKEN) == "https://v3b.fal.media/files/upload/multipart"
    assert p.part_url("https://a/x", "id/1 2", 3) == "https://a/x/multipart/id%2F1%202/3"
    assert p.complete_url("https://a/x", "id/1") == "https://a/x/multipart/id%2F1/complete"


def test_the_complete_body_lists_parts_in_order() -> None:
    assert p.complete_body({2: "b", 1: "a", 10: "c"}) == {
        "parts": [
            {"partNumber": 1, "etag": "a"},
            {"partNumber": 2, "etag": "b"},
            {"partNumber": 10, "etag": "c"},
        ]
    }


def test_a_signed_query_is_a_secret_from_six_characters() -> None:
    assert p.signed_query("https://s/o?X-Sig=abc123") == ("X-Sig=abc123",)
    assert p.signed_query("https://s/o?abcdef") == ("abcdef",)
    assert p.signed_query("https://s/o?abcde") == ()
    assert p.signed_query("https://s/o") == ()


def test_the_storage_initiate_request() -> None:
    source = open_source(b"hello", file_name="a.txt", content_type="text/plain")
    url, options = p.initiate_request("https://rest", source, {"X-Life": "1"})
    assert url == "https://rest/storage/upload/initiate"
    assert options == {
        "params": {"storage_type": "gcs"},
        "json": {"file_name": "a.txt", "content_type": "text/plain"},
        "headers": {"Accept": "application/json", "X-Life": "1"},
        "kind": Kind.STORAGE_INITIATE,  # the retry table's row: retried like an idempotent call
    }


# -- reading responses ---------------------------------------------------------------------------


def test_errors_are_scrubbed_of_the_key_and_the_given_secrets(client: Client) -> None:
    secret = "cdn-token-secret-value"
    echoed = response(
        401,
        {"detail": f"bad {secret} for {KEY}", "nested": [{"t": secret}]},
        **{"x-echo": f"Bearer {secret}"},
    )
    error = p.response_error(client, echoed, (secret,))
    assert isinstance(error, FalHTTPError) and error.status_code == 401
    for text in (error.message, str(error.body), str(error.headers), str(error)):
        assert secret not in text and "proto-key-very-secret" not in text
    assert error.body == {
        "detail": "bad [redacted] for [redacted]",
        "nested": [{"t": "[redacted]"}],
    }
    assert error.headers["x-echo"] == "Bearer [redacted]"


def test_a_secret_holding_a_remembered_secret_is_redacted_whole(client: Client) -> None:
    # Scrubbed in two passes (the remembered ones, then the flow's), the outer secret would be
    # left as "outer-[redacted]-value": its two ends still in the message.
    remember_secrets(("inner-remembered-fragment",), token=True)
    secret = "outer-inner-remembered-fragment-value"
    error = p.response_error(client, response(401, {"detail": f"bad {secret}"}), (secret,))
    assert error.body == {"detail": "bad [redacted]"}
    assert "outer" not in str(error) and "value" not in str(error.body)


def test_an_error_nested_too_deep_to_walk_keeps_its_scrubbed_text() -> None:
    # A client whose key is not in play (a proxy route, or not resolved yet) leaves the body to
    # the flow's own scrubbing, which must not overflow: the text is scrubbed instead.
    secret = "cdn-token-secret-value"
    deep = "[" * 700 + f'"{secret}"' + "]" * 700
    answer = response(500, text=deep, **{"content-type": "application/json"})
    error = p.response_error(Client(KEY), answer, (secret,))
    assert error.body == deep.replace(secret, "[redacted]")


#: Below MIN_SECRET_LENGTH: never remembered process-wide, so only the flow's own pass hides it.
SHORT = "t0k3n"


def test_a_flows_short_secret_is_scrubbed_from_its_own_errors(client: Client) -> None:
    echoed = response(500, {"detail": f"bad {SHORT}", SHORT: [SHORT]}, **{"x-echo": SHORT})
    errors: list[BaseException] = [p.response_error(client, echoed, (SHORT,))]
    for call in (
        lambda: p.json_object(client, echoed, "upload", secrets=(SHORT,)),
        lambda: p.json_object(client, response(200, text=f"<{SHORT}>"), "upload", secrets=(SHORT,)),
        lambda: p.completed_url(client, echoed, "https://a", secrets=(SHORT,)),
        lambda: p.completed_url(client, response(200, text=SHORT), "https://a", secrets=(SHORT,)),
    ):
        with pytest.raises((FalHTTPError, ProtocolError)) as caught:
            call()
        errors.append(caught.value)
    for error in errors:
        assert SHORT not in str(error) and SHORT not in repr(vars(error)), error
    http_error = errors[0]
    assert isinstance(http_error, FalHTTPError)
    assert http_error.body == {"detail": "bad [redacted]", "[redacted]": ["[redacted]"]}
    assert http_error.headers["x-echo"] == "[redacted]"


@pytest.mark.parametrize("how", ["error", "object"])
def test_a_flows_secrets_are_remembered_as_tokens_of_bounded_number(
    client: Client, how: str
) -> None:
    """Each upload brings a new CDN token or signed query: remembered as tokens (the latest
    256), never as keys kept for the life of the process."""
    # random: a word-like token could share eight characters with a key another test used,
    # which the scrub's fragment rule would then redact here too
    secret = f"{uuid.uuid4().hex}{how}"
    if how == "error":
        p.response_error(client, response(500, {"detail": "x"}), (secret,))
    else:
        p.json_object(client, response(200, {"a": 1}), "upload", secrets=(secret,))
    assert secret not in str(FalError(f"still hidden: {secret}"))
    remember_secrets([f"a-later-token-{how}-{n:04d}" for n in range(300)], token=True)
    assert secret in str(FalError(f"forgotten with the older tokens: {secret}"))


def test_without_secrets_the_error_is_the_clients(client: Client) -> None:
    error = p.response_error(
        client, response(500, {"detail": "boom", "x": "a-value-no-test-uses-as-a-token"})
    )
    # nothing to scrub (a value never used as a token: tokens are remembered process-wide)
    assert error.body == {"detail": "boom", "x": "a-value-no-test-uses-as-a-token"}


def test_a_json_object_is_read_with_string_keys(client: Client) -> None:
    assert p.json_object(client, response(200, {"a": 1}), "upload") == {"a": 1}
    with pytest.raises(FalHTTPError):
        p.json_object(client, response(503, {"detail": "x"}), "upload")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a string"', "[" * 5000])
def test_a_body_that_is_not_a_json_object_is_a_protocol_error(client: Client, text: str) -> None:
    secret = "cdn-token-secret-value"
    with pytest.raises(ProtocolError) as caught:
        p.json_object(
            client, response(200, text=f"{text} {secret} {KEY}"), "upload", secrets=(secret,)
        )
    error = caught.value
    assert error.message.startswith("upload: expected a JSON object, got ")
    assert secret not in str(error) and "proto-key-very-secret" not in str(error)
    assert error.text == f"{text} [redacted] [redacted]"


def test_a_long_unreadable_body_is_quoted_to_200_characters(client: Client) -> None:
    with pytest.raises(ProtocolError) as caught:
        p.json_object(client, response(200, text="x" * 500), "upload")
    assert caught.value.message == f"upload: expected a JSON object, got {'x' * 200!r}"
    assert caught.value.text == "x" * 500


def test_the_completed_url(client: Client) -> None:
    initiated = "https://cdn/files/a.bin"
    assert p.completed_url(client, response(200), initiated) == initiated
    assert p.completed_url(client, response(200, {"ok": True}), initiated) == initiated
    confirmed = response(200, {"access_url": "https://cdn/files/b.bin"})
    assert p.completed_url(client, confirmed, initiated) == "https://cdn/files/b.bin"
    with pytest.raises(FalHTTPError):
        p.completed_url(client, response(500), initiated)
    with pytest.raises(ProtocolError, match="multipart complete: expected a JSON object"):
        p.completed_url(client, response(200, text="oops"), initiated)
    with pytest.raises(ProtocolError, match="multipart complete: access_url is not an http"):
        p.completed_url(client, response(200, {"access_url": "ftp://x"}), initiated)


def test_the_completed_url_scrubs_the_flows_secrets(client: Client) -> None:
    secret = "signed-query-secret"
    with pytest.raises(FalHTTPError) as http_error:
        p.completed_url(client, response(500, {"detail": secret}), "https://a", secrets=(secret,))
    with pytest.raises(ProtocolError) as protocol_error:
        p.completed_url(client, response(200, text=secret), "https://a", secrets=(secret,))
    for error in (http_error.value, protocol_error.value):
        assert secret not in str(error) and "[redacted]" in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "upload: the response has no 'access_url'"),
        ({"access_url": ""}, "upload: the response has no 'access_url'"),
        ({"access_url": 5}, "upload: the response has no 'access_url'"),
        ({"access_url": "file:///etc/passwd"}, "upload: access_url is not an http(s) URL"),
    ],
)
def test_an_access_url_must_be_http(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        p.read_access_url(body, "upload")
    assert caught.value.message == message


def test_http_and_https_access_urls_are_read() -> None:
    assert p.read_access_url({"access_url": "http://a/b"}, "x") == "http://a/b"
    assert p.read_access_url({"access_url": "https://a/b"}, "x") == "https://a/b"


def test_a_multipart_initiate_answer() -> None:
    body = {"access_url": "https://cdn/files/x", "uploadId": "u-1"}
    assert p.parse_multipart(body) == ("https://cdn/files/x", "u-1")
    with pytest.raises(ProtocolError) as caught:
        p.parse_multipart({"access_url": "https://cdn/files/x"})
    assert caught.value.message == "multipart initiate: the response has no 'uploadId'"
    with pytest.raises(ProtocolError) as caught:
        p.parse_multipart({"uploadId": "u-1"})
    assert caught.value.message == "multipart initiate: the response has no 'access_url'"


def test_a_part_etag_from_the_header_or_the_body() -> None:
    assert p.part_etag(response(200, {"etag": "body"}, etag='"head"'), 1) == '"head"'
    assert p.part_etag(response(200, {"etag": "body"}), 1) == "body"
    for empty in (
        response(200),
        response(200, text="not json"),
        response(200, {"etag": ""}),
        response(200, [1]),
    ):
        with pytest.raises(ProtocolError) as caught:
            p.part_etag(empty, 7)
        assert caught.value.message == "multipart part 7: the response carries no ETag"


def test_a_storage_initiate_answer() -> None:
    body = {"upload_url": "https://gcs/up?sig=1", "file_url": "http://cdn/f"}
    assert p.parse_initiate(body) == ("https://gcs/up?sig=1", "http://cdn/f")
    with pytest.raises(ProtocolError) as caught:
        p.parse_initiate({"upload_url": "https://gcs/up"})
    assert caught.value.message == "storage initiate: the response has no 'file_url'"
    with pytest.raises(ProtocolError) as caught:
        p.parse_initiate({"file_url": "https://cdn/f"})
    assert caught.value.message == "storage initiate: the response has no 'upload_url'"
    with pytest.raises(ProtocolError) as caught:
        p.parse_initiate({"upload_url": "gs://bucket/" + "o" * 100, "file_url": "https://cdn/f"})
    assert (
        caught.value.message
        == f"storage initiate: {('gs://bucket/' + 'o' * 100)[:80]!r} is not an http(s) URL"
    )
    with pytest.raises(ProtocolError, match="'ftp://cdn/f' is not an http"):
        p.parse_initiate({"upload_url": "https://gcs/up", "file_url": "ftp://cdn/f"})
