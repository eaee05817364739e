"""`RealtimeConnection` / `AsyncRealtimeConnection` against the local server, over real sockets."""

from __future__ import annotations

import logging
import time

import pytest

from fal_typed import (
    AsyncRealtimeConnection,
    AuthenticationError,
    Client,
    FalTimeoutError,
    InputValidationError,
    InvalidArgumentError,
    MissingCredentialsError,
    NotFoundError,
    RealtimeConnection,
    RealtimeError,
)
from fal_typed.testing import Fault, LocalFal
from fal_typed.testing._realtime import RealtimeService

from ..endpoints import LCM, LcmInput, LcmOutput


def test_a_hundred_messages_round_trip_with_typed_results(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        results = []
        for index in range(100):
            conn.send_arguments(LCM.arguments(LcmInput(prompt=f"frame {index}", seed=index)))
            results.append(conn.recv())
    assert all(isinstance(r, LcmOutput) for r in results)
    assert [r.prompt for r in results] == [f"frame {i}" for i in range(100)]
    assert all(r.images and r.images[0].url.startswith("http://127.0.0.1") for r in results)
    (record,) = realtime_server.connections
    assert [i["prompt"] for i in record.inputs] == [f"frame {i}" for i in range(100)]
    assert record.results_sent == 100 and record.path == "fal-ai/fast-lcm-diffusion/realtime"
    assert realtime_server.tokens_issued == 1
    assert record.closed.wait(10) and record.close_reason == "client"


async def test_async_a_hundred_messages_round_trip_with_typed_results(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    async with AsyncRealtimeConnection(LCM, client=local_fal_client) as conn:
        prompts = []
        for index in range(100):
            await conn.send_arguments({"prompt": f"frame {index}"})
            result = await conn.recv()
            assert isinstance(result, LcmOutput)
            prompts.append(result.prompt)
    assert prompts == [f"frame {i}" for i in range(100)]
    assert len(realtime_server.connections) == 1 and realtime_server.tokens_issued == 1


def test_results_can_be_pipelined_and_iterated_until_the_server_closes(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.configure(close_after=5)
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        for index in range(5):
            conn.send_arguments({"prompt": str(index)})
        assert [r.prompt for r in conn] == ["0", "1", "2", "3", "4"]  # ends on the clean close
    assert realtime_server.connections[0].close_reason == "server"


async def test_async_iteration_ends_on_a_clean_close(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.configure(close_after=3)
    async with AsyncRealtimeConnection(LCM, client=local_fal_client) as conn:
        for index in range(3):
            await conn.send_arguments({"prompt": str(index)})
        assert [r.prompt async for r in conn] == ["0", "1", "2"]


def test_x_fal_error_raises_and_the_connection_stays_usable(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.configure(fail_next=1, error="RUNNER_ERROR", reason="out of memory")
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        conn.send_arguments({"prompt": "first"})
        with pytest.raises(RealtimeError) as caught:
            conn.recv()
        conn.send_arguments({"prompt": "second"})
        assert conn.recv().prompt == "second"
    error = caught.value
    assert (error.error, error.reason, error.error_type) == (
        "RUNNER_ERROR",
        "out of memory",
        "RUNNER_ERROR",
    )
    assert error.payload["type"] == "x-fal-error"
    assert len(realtime_server.connections) == 1


async def test_async_x_fal_error_raises(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.configure(fail_next=1)
    async with AsyncRealtimeConnection(LCM, client=local_fal_client) as conn:
        await conn.send_arguments({"prompt": "x"})
        with pytest.raises(RealtimeError, match="INTERNAL_ERROR: injected failure"):
            await conn.recv()


def test_invalid_input_is_an_x_fal_error_naming_the_field(local_fal_client: Client) -> None:
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        conn.send_arguments({"seed": 1})
        with pytest.raises(RealtimeError) as caught:
            conn.recv()
    assert caught.value.error == "VALIDATION_ERROR" and "prompt" in caught.value.reason


def test_x_fal_messages_are_skipped_and_text_frames_are_read(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.configure(meta_messages=True, text_frames=True)
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        for prompt in ("a", "b"):
            conn.send_arguments({"prompt": prompt})
            assert conn.recv().prompt == prompt


def test_a_dropped_connection_is_reopened_by_the_next_send(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        conn.send_arguments({"prompt": "before"})
        assert conn.recv().prompt == "before"
        realtime_server.configure(drop_next=1)
        conn.send_arguments({"prompt": "lost"})
        with pytest.raises(RealtimeError) as caught:
            conn.recv()
        assert (caught.value.error, caught.value.code) == ("CONNECTION_CLOSED", 1006)
        assert not conn.is_open
        conn.send_arguments({"prompt": "after"})
        assert conn.recv().prompt == "after"
    first, second = realtime_server.connections
    assert first.close_reason == "dropped" and [i["prompt"] for i in first.inputs] == [
        "before",
        "lost",
    ]
    assert [i["prompt"] for i in second.inputs] == ["after"]
    assert realtime_server.tokens_issued == 1  # the fresh token was reused


async def test_async_a_dropped_connection_is_reopened_by_the_next_send(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    async with AsyncRealtimeConnection(LCM, client=local_fal_client) as conn:
        realtime_server.configure(drop_next=1)
        await conn.send_arguments({"prompt": "lost"})
        with pytest.raises(RealtimeError, match="CONNECTION_CLOSED"):
            await conn.recv()
        await conn.send_arguments({"prompt": "after"})
        assert (await conn.recv()).prompt == "after"
    assert len(realtime_server.connections) == 2 and realtime_server.tokens_issued == 1


def test_a_socket_the_server_closed_cleanly_is_reopened_by_the_next_send(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.configure(close_after=1)
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        conn.send_arguments({"prompt": "one"})
        assert conn.recv().prompt == "one"
        with pytest.raises(RealtimeError) as caught:
            conn.recv()
        assert caught.value.code == 1000
        conn.send_arguments({"prompt": "two"})
        assert conn.recv().prompt == "two"
    assert len(realtime_server.connections) == 2


def test_an_expired_token_is_refreshed_before_reconnecting(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    realtime_server.token_lifetime = 1.0
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        realtime_server.configure(drop_next=1)
        conn.send_arguments({"prompt": "lost"})
        with pytest.raises(RealtimeError):
            conn.recv()
        time.sleep(1.05)  # let the one-second token expire (no assertion on time)
        conn.send_arguments({"prompt": "after"})
        assert conn.recv().prompt == "after"
    assert realtime_server.tokens_issued == 2
    assert realtime_server.handshakes_refused == 0  # refreshed before use, not after a refusal


async def test_async_a_refused_token_is_replaced_once(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    async with AsyncRealtimeConnection(LCM, client=local_fal_client) as conn:
        realtime_server.configure(drop_next=1)
        await conn.send_arguments({"prompt": "lost"})
        with pytest.raises(RealtimeError):
            await conn.recv()
        realtime_server.rotate_secret()  # the cached token is still "fresh" but now refused
        await conn.send_arguments({"prompt": "after"})
        assert (await conn.recv()).prompt == "after"
    assert realtime_server.handshakes_refused == 1 and realtime_server.tokens_issued == 2


def test_a_refused_token_is_replaced_once(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        realtime_server.configure(drop_next=1)
        conn.send_arguments({"prompt": "lost"})
        with pytest.raises(RealtimeError):
            conn.recv()
        realtime_server.rotate_secret()  # the cached token is still "fresh" but now refused
        conn.send_arguments({"prompt": "after"})
        assert conn.recv().prompt == "after"
    assert realtime_server.handshakes_refused == 1 and realtime_server.tokens_issued == 2


def test_with_the_throttle_a_burst_becomes_a_few_frames_and_the_last_input_wins(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    with RealtimeConnection(LCM, client=local_fal_client, throttle_interval=0.128) as conn:
        for index in range(50):
            conn.send_arguments({"prompt": f"stroke {index}"})
        latest = conn.recv(timeout=10)
        while latest.prompt != "stroke 49":
            latest = conn.recv(timeout=10)
    received = realtime_server.inputs()
    assert len(received) <= 10, f"{len(received)} frames for 50 sends"
    assert received[0]["prompt"] == "stroke 0" and received[-1]["prompt"] == "stroke 49"


async def test_async_with_the_throttle_a_burst_becomes_a_few_frames_and_the_last_input_wins(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    async with AsyncRealtimeConnection(
        LCM, client=local_fal_client, throttle_interval=0.128
    ) as conn:
        for index in range(50):
            await conn.send_arguments({"prompt": f"stroke {index}"})
        latest = await conn.recv(timeout=10)
        while latest.prompt != "stroke 49":
            latest = await conn.recv(timeout=10)
    received = realtime_server.inputs()
    assert len(received) <= 10, f"{len(received)} frames for 50 sends"
    assert received[-1]["prompt"] == "stroke 49"


def test_without_the_throttle_every_send_is_a_frame(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        for index in range(50):
            conn.send_arguments({"prompt": str(index)})
        for _ in range(50):
            conn.recv(timeout=10)
    assert len(realtime_server.inputs()) == 50


def test_max_buffering_is_sent_and_bad_options_fail_before_any_request(
    local_fal: LocalFal, local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    for bad in (
        {"max_buffering": 0},
        {"max_buffering": 61},
        {"throttle_interval": -1.0},
        {"path": "/../x"},
    ):
        with pytest.raises(InvalidArgumentError):
            RealtimeConnection(LCM, client=local_fal_client, **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="endpoint id"):
        RealtimeConnection(type(LCM)("nope", LcmInput, LcmOutput), client=local_fal_client)
    assert local_fal.requests == []
    with RealtimeConnection(LCM, client=local_fal_client, max_buffering=5):
        pass
    assert realtime_server.connections[0].max_buffering == "5"


def test_inputs_msgpack_cannot_carry_fail_before_sending(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    with (
        RealtimeConnection(LCM, client=local_fal_client) as conn,
        pytest.raises(InvalidArgumentError, match="msgpack"),
    ):
        conn.send_arguments({"prompt": object()})
    assert realtime_server.inputs() == []


def test_recv_times_out_with_a_timeout_error(local_fal_client: Client) -> None:
    with RealtimeConnection(LCM, client=local_fal_client) as conn, pytest.raises(FalTimeoutError):
        conn.recv(timeout=0.05)


def test_recv_without_an_open_socket_says_to_send(local_fal_client: Client) -> None:
    conn = RealtimeConnection(LCM, client=local_fal_client)
    with pytest.raises(RealtimeError, match="send a message"):
        conn.recv()
    assert conn.is_open is False


def test_a_closed_connection_refuses_to_send(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    conn = RealtimeConnection(LCM, client=local_fal_client)
    with conn:
        conn.send_arguments({"prompt": "x"})
        conn.recv()
    conn.close()  # idempotent
    with pytest.raises(RealtimeError, match="closed by the caller"):
        conn.send_arguments({"prompt": "y"})
    assert realtime_server.connections[0].closed.wait(10)
    assert realtime_server.connections[0].close_reason == "client"


async def test_async_closed_connection_refuses_to_send(local_fal_client: Client) -> None:
    conn = AsyncRealtimeConnection(LCM, client=local_fal_client)
    await conn.connect()
    await conn.aclose()
    with pytest.raises(RealtimeError, match="closed by the caller"):
        await conn.send_arguments({"prompt": "y"})


def test_an_unknown_app_is_not_found(local_fal_client: Client) -> None:
    from fal_typed import Endpoint

    with pytest.raises(NotFoundError):
        RealtimeConnection(
            Endpoint("nobody/nothing", LcmInput, LcmOutput), client=local_fal_client
        ).connect()


def test_a_rejected_key_fails_at_the_token_request(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    local_fal.inject(
        Fault.response(401, {"detail": "invalid key credentials"}), path="/rest/tokens/"
    )
    with pytest.raises(AuthenticationError):
        RealtimeConnection(LCM, client=local_fal_client).connect()


def test_missing_credentials_fail_before_any_request(
    local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    client = Client(rest_url=local_fal.rest_url, realtime_url=local_fal.realtime_url)
    with pytest.raises(MissingCredentialsError):
        RealtimeConnection(LCM, client=client).connect()
    assert local_fal.requests == []


def test_neither_key_nor_token_appears_in_repr_errors_or_logs(
    local_fal: LocalFal,
    local_fal_client: Client,
    realtime_server: RealtimeService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key_secret = local_fal_client.auth_headers()["Authorization"].split(":")[-1]
    with caplog.at_level(logging.DEBUG, logger="fal_typed.realtime"):
        conn = RealtimeConnection(LCM, client=local_fal_client)
        conn.connect()
        token = conn._tokens.current()  # pyright: ignore[reportPrivateUsage]
        realtime_server.configure(drop_next=1)
        conn.send_arguments({"prompt": "x"})
        with pytest.raises(RealtimeError) as caught:
            conn.recv()
        conn.close()
    assert token
    texts = [repr(conn), str(caught.value), *caplog.messages]
    assert any(
        "fal_jwt_token=***" in m for m in caplog.messages
    )  # the handshake was logged, redacted
    assert not [t for t in texts if token in t or key_secret in t]
    assert repr(conn) == "RealtimeConnection('fal-ai/fast-lcm-diffusion', closed)"


def test_the_generated_module_sends_validated_keyword_inputs(
    local_fal_client: Client, realtime_server: RealtimeService
) -> None:
    from fal_endpoints import fast_lcm_diffusion as lcm

    with lcm.realtime(client=local_fal_client) as conn:
        conn.send(prompt="a fox", seed=42, num_images=1)
        result = conn.recv()
        with pytest.raises(InputValidationError) as caught:
            conn.send(prompt="a fox", num_images="many")  # type: ignore[arg-type]
    assert isinstance(result, lcm.Output) and result.prompt == "a fox"
    assert caught.value.fields == ["num_images"]
    assert realtime_server.inputs() == [{"prompt": "a fox", "seed": 42, "num_images": 1}]


async def test_the_generated_module_async_connection(local_fal_client: Client) -> None:
    from fal_endpoints import fast_lcm_diffusion as lcm

    async with lcm.realtime_async(client=local_fal_client, throttle_interval=0.05) as conn:
        await conn.send(lcm.Input(prompt="an owl"))
        result = await conn.recv()
    assert isinstance(result, lcm.Output) and result.prompt == "an owl"
