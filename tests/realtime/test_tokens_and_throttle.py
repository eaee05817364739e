"""Realtime tokens (client cache and server signer) and the send throttles, without a socket."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fal_typed import FalError
from fal_typed.realtime._throttle import AsyncThrottle, Throttle
from fal_typed.realtime._token import RealtimeToken, _jwt_expiry, parse_token_response  # pyright: ignore[reportPrivateUsage]
from fal_typed.testing._jwt import TokenError, TokenSigner


@pytest.mark.parametrize(
    "answer", ["tok", {"token": "tok"}, {"detail": "tok"}, {"token": "tok", "detail": "ignored"}]
)
def test_token_answers_in_every_known_shape(answer: object) -> None:
    assert parse_token_response(answer) == "tok"


@pytest.mark.parametrize("answer", [None, "", {}, {"token": 5}, ["tok"]])
def test_token_answer_without_a_token_is_an_error(answer: object) -> None:
    with pytest.raises(FalError, match="without a token"):
        parse_token_response(answer)


def test_expiry_is_read_from_the_jwt() -> None:
    token = TokenSigner().issue(["app"], 50.0, now=1000.0)
    assert _jwt_expiry(token) == 1050.0
    assert _jwt_expiry("not-a-jwt") is None
    assert _jwt_expiry("a.%%%.c") is None


def test_a_token_is_refreshed_once_nine_tenths_of_its_life_are_gone() -> None:
    token = RealtimeToken("t", issued_at=0.0, expires_at=100.0)
    assert token.fresh(89.9)
    assert not token.fresh(90.0)
    assert "t'" not in repr(token)  # the value itself is never shown


def test_signer_accepts_its_own_fresh_token_for_the_right_app() -> None:
    signer = TokenSigner()
    claims = signer.check(signer.issue(["fast-lcm-diffusion"], 120.0), "fast-lcm-diffusion")
    assert claims["allowed_apps"] == ["fast-lcm-diffusion"]


def test_signer_rejects_expired_foreign_forged_and_missing_tokens() -> None:
    signer = TokenSigner()
    token = signer.issue(["app"], 10.0, now=0.0)
    with pytest.raises(TokenError, match="expired"):
        signer.check(token, "app", now=10.0)
    with pytest.raises(TokenError, match="not valid for app"):
        signer.check(signer.issue(["other"], 10.0), "app")
    with pytest.raises(TokenError, match="signature"):
        TokenSigner().check(signer.issue(["app"], 10.0), "app")
    with pytest.raises(TokenError, match="missing"):
        signer.check(None, "app")
    with pytest.raises(TokenError, match="malformed"):
        signer.check("abc", "app")


class _Recorder:
    """A send function that records frames and signals each one."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.sent = threading.Condition()

    def send(self, frame: bytes) -> None:
        with self.sent:
            self.frames.append(frame)
            self.sent.notify_all()

    def wait_for(self, count: int) -> list[bytes]:
        with self.sent:
            assert self.sent.wait_for(lambda: len(self.frames) >= count, timeout=10)
            return list(self.frames)


def test_sync_throttle_sends_the_first_frame_and_only_the_last_of_a_burst() -> None:
    recorder = _Recorder()
    throttle = Throttle(0.5, recorder.send)
    for index in range(50):
        throttle.submit(b"%d" % index)
    assert recorder.frames == [b"0"]  # the leading frame went out at once
    assert recorder.wait_for(2) == [b"0", b"49"]
    throttle.cancel()


def test_sync_throttle_cancel_drops_the_pending_frame() -> None:
    recorder = _Recorder()
    throttle = Throttle(30.0, recorder.send)
    throttle.submit(b"first")
    throttle.submit(b"dropped")
    throttle.cancel()
    assert recorder.frames == [b"first"]


def test_sync_throttle_reports_a_failed_background_send() -> None:
    failed = threading.Event()
    calls: list[bytes] = []

    def send(frame: bytes) -> None:
        calls.append(frame)
        if len(calls) == 2:
            failed.set()
            raise ConnectionError("gone")

    throttle = Throttle(0.05, send)
    throttle.submit(b"a")
    throttle.submit(b"b")
    assert failed.wait(10)
    with pytest.raises(ConnectionError, match="gone"):
        for _ in range(1000):  # the error is stored just after the failing call returns
            throttle.raise_error()
            threading.Event().wait(0.01)
    throttle.raise_error()  # raised once only


async def test_async_throttle_sends_the_first_frame_and_only_the_last_of_a_burst() -> None:
    frames: list[bytes] = []
    second = asyncio.Event()

    async def send(frame: bytes) -> None:
        frames.append(frame)
        if len(frames) == 2:
            second.set()

    throttle = AsyncThrottle(0.5, send)
    for index in range(50):
        await throttle.submit(b"%d" % index)
    assert frames == [b"0"]
    await asyncio.wait_for(second.wait(), 10)
    assert frames == [b"0", b"49"]
    throttle.cancel()


async def test_async_throttle_cancel_drops_the_pending_frame() -> None:
    frames: list[bytes] = []

    async def send(frame: bytes) -> None:
        frames.append(frame)

    throttle = AsyncThrottle(30.0, send)
    await throttle.submit(b"first")
    await throttle.submit(b"dropped")
    throttle.cancel()
    await asyncio.sleep(0)
    assert frames == [b"first"]
