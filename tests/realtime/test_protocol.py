"""The realtime wire format, without a socket: URLs, frames, errors, validation, log redaction."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import msgpack  # type: ignore[import-untyped]
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Close
from websockets.http11 import Response

from fal_typed import (
    AuthenticationError,
    FalConnectionError,
    FalTimeoutError,
    InvalidArgumentError,
    NotFoundError,
)
from fal_typed.realtime._protocol import (
    RealtimeError,
    check_max_buffering,
    check_path,
    check_throttle_interval,
    closed_error,
    count_objects,
    decode_frame,
    encode_frame,
    handshake_error,
    is_clean_close,
    realtime_url,
    redact_token,
    socket_logger,
)


def test_url_appends_the_path_and_token() -> None:
    url = realtime_url("wss://fal.run", "fal-ai/fast-lcm-diffusion", "/realtime", "a.b.c", None)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "wss",
        "fal.run",
        "/fal-ai/fast-lcm-diffusion/realtime",
    )
    assert parse_qs(parts.query) == {"fal_jwt_token": ["a.b.c"]}


def test_url_keeps_a_base_prefix_and_sends_max_buffering() -> None:
    url = realtime_url("ws://127.0.0.1:9/run/", "workflows/me/flow", "realtime", "t", 7)
    parts = urlsplit(url)
    assert parts.path == "/run/workflows/me/flow/realtime"
    assert parse_qs(parts.query) == {"fal_jwt_token": ["t"], "max_buffering": ["7"]}


def test_url_does_not_repeat_a_path_the_id_already_ends_with() -> None:
    url = realtime_url("wss://fal.run", "decart/lucy2-vton/realtime", "/realtime", "t", None)
    assert urlsplit(url).path == "/decart/lucy2-vton/realtime"


def test_url_with_an_empty_path_is_the_app_itself() -> None:
    assert (
        urlsplit(realtime_url("wss://fal.run", "fal-ai/app", "", "t", None)).path == "/fal-ai/app"
    )


def test_url_of_a_legacy_id_uses_the_owner_and_app() -> None:
    url = realtime_url("wss://fal.run", "110602490-lcm", "/realtime", "t", None)
    assert urlsplit(url).path == "/110602490/lcm/realtime"


@pytest.mark.parametrize("path", ["", "/realtime", "realtime", "/a/b_c-d.e", "/ws/"])
def test_good_paths_are_kept(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize("path", ["/../x", "/a b", "/a?b=1", "/.hidden", 3])
def test_bad_paths_are_rejected(path: object) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid path"):
        check_path(path)  # type: ignore[arg-type]


def test_token_is_url_encoded() -> None:
    url = realtime_url("wss://fal.run", "fal-ai/app", "/realtime", "a+b/c=&d", None)
    assert parse_qs(urlsplit(url).query)["fal_jwt_token"] == ["a+b/c=&d"]


def test_redact_token_hides_every_occurrence() -> None:
    text = "GET /x?fal_jwt_token=aaa.bbb.ccc&max_buffering=2 and fal_jwt_token=zzz"
    redacted = redact_token(text)
    assert "aaa.bbb.ccc" not in redacted and "zzz" not in redacted
    assert redacted == "GET /x?fal_jwt_token=***&max_buffering=2 and fal_jwt_token=***"


@pytest.mark.parametrize("value", [0, 61, -1, 2.5, True, "3"])
def test_max_buffering_out_of_range_is_rejected(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="max_buffering"):
        check_max_buffering(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, 1, 60])
def test_max_buffering_in_range_is_kept(value: int | None) -> None:
    assert check_max_buffering(value) == value


@pytest.mark.parametrize("value", [-0.1, True, "0.1"])
def test_bad_throttle_interval_is_rejected(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="throttle_interval"):
        check_throttle_interval(value)  # type: ignore[arg-type]


def test_zero_throttle_means_none() -> None:
    assert check_throttle_interval(0) is None
    assert check_throttle_interval(None) is None
    assert check_throttle_interval(0.128) == 0.128


def test_encode_frame_is_msgpack_with_binary_values() -> None:
    frame = encode_frame({"prompt": "a cat", "image": b"\x89PNG", "n": 2})
    assert msgpack.unpackb(frame, raw=False) == {"prompt": "a cat", "image": b"\x89PNG", "n": 2}


def test_decode_binary_and_text_results() -> None:
    assert decode_frame(msgpack.packb({"images": [1]})) == {"images": [1]}
    assert decode_frame(json.dumps({"images": [2]})) == {"images": [2]}


def test_meta_messages_and_idle_notices_are_skipped() -> None:
    assert decode_frame(json.dumps({"type": "x-fal-message", "message": "warming up"})) is None
    assert decode_frame(msgpack.packb({"type": "x-fal-message"})) is None
    assert (
        decode_frame(json.dumps({"type": "x-fal-error", "error": "TIMEOUT", "reason": "idle"}))
        is None
    )


def test_x_fal_error_raises_with_its_fields() -> None:
    frame = json.dumps(
        {"type": "x-fal-error", "error": "VALIDATION_ERROR", "reason": "prompt: required"}
    )
    with pytest.raises(RealtimeError) as caught:
        decode_frame(frame)
    error = caught.value
    assert (error.error, error.reason, error.error_type) == (
        "VALIDATION_ERROR",
        "prompt: required",
        "VALIDATION_ERROR",
    )
    assert error.payload["type"] == "x-fal-error"
    assert str(error).startswith("VALIDATION_ERROR: prompt: required")


def test_gateway_unauthorized_raises() -> None:
    with pytest.raises(RealtimeError) as caught:
        decode_frame(json.dumps({"status": "error", "error": "Unauthorized"}))
    assert caught.value.error == "Unauthorized"


def test_a_result_with_an_error_status_field_is_still_a_result() -> None:
    assert (
        decode_frame(json.dumps({"status": "error", "error": "model said no", "images": []}))
        is not None
    )


@pytest.mark.parametrize("frame", [b"\xc1", "not json", json.dumps([1, 2]), msgpack.packb("text")])
def test_undecodable_or_non_object_frames_raise(frame: bytes | str) -> None:
    with pytest.raises(RealtimeError) as caught:
        decode_frame(frame)
    assert caught.value.error == "INVALID_FRAME"


def _rejection(status: int, body: bytes) -> InvalidStatus:
    return InvalidStatus(Response(status, "x", Headers({"x-fal-request-id": "req-1"}), body))


def test_handshake_rejections_become_typed_http_errors() -> None:
    error = handshake_error(_rejection(401, b'{"detail": "token expired"}'))
    assert isinstance(error, AuthenticationError)
    assert (
        error.status_code == 401
        and error.message == "token expired"
        and error.request_id == "req-1"
    )
    assert isinstance(handshake_error(_rejection(404, b"no such app")), NotFoundError)


def test_refused_connections_become_connection_errors() -> None:
    assert isinstance(handshake_error(ConnectionRefusedError(111, "refused")), FalConnectionError)


def test_a_handshake_out_of_time_is_a_timeout_naming_the_limit() -> None:
    error = handshake_error(TimeoutError(), open_timeout=2.5)
    assert isinstance(error, FalTimeoutError) and error.timeout == 2.5
    assert "within 2.5s (Limits.realtime_open_timeout)" in str(error)


def test_closed_errors_carry_the_close_code() -> None:
    clean = closed_error(ConnectionClosedOK(Close(1000, "bye"), Close(1000, "bye"), True))
    dropped = closed_error(ConnectionClosedError(None, None))
    assert (clean.code, clean.reason, is_clean_close(clean)) == (1000, "bye", True)
    assert (dropped.code, is_clean_close(dropped)) == (1006, False)
    assert dropped.error == "CONNECTION_CLOSED"


def test_socket_logger_redacts_the_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = socket_logger()
    assert socket_logger() is logger and len(logger.filters) == 1  # attached once
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.debug("> GET %s HTTP/1.1", "/fal-ai/app/realtime?fal_jwt_token=secret.jwt.value")
    assert caplog.messages == ["> GET /fal-ai/app/realtime?fal_jwt_token=*** HTTP/1.1"]


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": [1, 2.5, None, True, "x" * 300, b"y" * 70_000]},
        [{"k": {"n": [[], {}]}}] * 3,
        {"big": 2**40, "neg": -(2**40), "ext": msgpack.ExtType(5, b"abcd")},
        list(range(70_000)),
    ],
)
def test_count_objects_counts_every_msgpack_container_key_and_value(value: object) -> None:
    def count(item: object) -> int:
        if isinstance(item, dict):
            return 1 + sum(count(k) + count(v) for k, v in item.items())
        if isinstance(item, list):
            return 1 + sum(count(v) for v in item)
        return 1

    frame = msgpack.packb(value, use_bin_type=True)
    assert count_objects(frame, 10**9) == count(value)
    assert count_objects(frame, 0) == 1  # stops counting past the limit


def test_count_objects_bounds_json_text_from_above() -> None:
    text = json.dumps({"a": [1, 2, {"b": "c"}], "d": None})
    assert count_objects(text, 100) >= 10  # 3 keys and 7 values


def test_decode_frame_refuses_more_objects_than_allowed() -> None:
    frame = msgpack.packb([{}] * 50)
    assert decode_frame(msgpack.packb({"maps": [{}] * 50}), max_objects=200) is not None
    with pytest.raises(RealtimeError) as caught:
        decode_frame(frame, max_objects=10)
    assert caught.value.error == "TOO_MANY_OBJECTS"


def test_error_frames_are_scrubbed_of_the_given_secrets_and_tokens() -> None:
    frame = json.dumps(
        {
            "type": "x-fal-error",
            "error": "BAD",
            "reason": "key s3cret-key-value, url wss://h/a?fal_jwt_token=abc.def.ghi&x=1",
            "s3cret-key-value": "as a key",
        }
    )
    with pytest.raises(RealtimeError) as caught:
        decode_frame(frame, secrets=("s3cret-key-value",))
    error = caught.value
    assert error.reason == "key [redacted], url wss://h/a?fal_jwt_token=***&x=1"
    assert error.payload["[redacted]"] == "as a key"
    assert "s3cret" not in str(error) and "abc.def" not in str(error)


def test_handshake_errors_never_show_the_url_or_the_token() -> None:
    url = "ws://h/app/realtime?fal_jwt_token=abc.def.ghi"
    error = handshake_error(InvalidURI(url, "bad"), secrets=("abc.def.ghi",))
    assert "abc.def" not in str(error) and "fal_jwt_token" not in str(error)
    body = json.dumps({"detail": "nope", "url": url}).encode()
    rejected = handshake_error(_rejection(403, body), secrets=("abc.def.ghi",))
    assert "abc.def" not in json.dumps(rejected.body)  # type: ignore[attr-defined]


def test_a_close_reason_is_scrubbed_and_a_1009_names_the_limit() -> None:
    echoed = closed_error(
        ConnectionClosedError(Close(1008, "bad tok-123456 key"), None), secrets=("tok-123456",)
    )
    assert echoed.reason == "bad [redacted] key"
    too_big = closed_error(
        ConnectionClosedError(None, Close(1009, "frame too big")), max_frame_bytes=1024
    )
    assert "Limits.max_realtime_frame_bytes" in too_big.reason and too_big.code == 1009
