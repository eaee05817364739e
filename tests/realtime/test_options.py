"""The options of a realtime connection, refused before any token request or socket.

``throttle_interval=nan`` (or ``inf``) passed the ``< 0`` check: a NaN interval throttled every
send after the first for ever (a comparison with NaN is False). ``recv(timeout=nan)`` never timed
out, ``recv(timeout="1")`` raised a raw TypeError from the clock arithmetic, and ``client="x"``
was kept until the first send, which failed with an AttributeError.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import (
    AsyncRealtimeConnection,
    Client,
    FalTimeoutError,
    InvalidArgumentError,
    RealtimeConnection,
)
from fal_typed.realtime._protocol import check_throttle_interval
from fal_typed.testing import LocalFal

from ..endpoints import LCM

_NOT_FINITE = [math.nan, math.inf, -math.inf, 10**400]


def _name(value: object) -> str:
    return f"{value!r:.12}"


@pytest.mark.parametrize("value", _NOT_FINITE, ids=_name)
def test_a_throttle_interval_that_is_not_finite_is_refused(value: float) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        RealtimeConnection(LCM, client=Client("k:s"), throttle_interval=value)
    assert caught.value.message.startswith("throttle_interval must be a finite number of seconds")


@given(st.floats(max_value=0, exclude_max=True) | st.sampled_from(_NOT_FINITE))
def test_every_negative_or_non_finite_throttle_interval_is_refused(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^throttle_interval must be"):
        check_throttle_interval(value)


@given(st.floats(min_value=0, max_value=1e9))
def test_a_finite_throttle_interval_is_kept(value: float) -> None:
    assert check_throttle_interval(value) == (value or None)


@pytest.mark.parametrize("kind", [RealtimeConnection, AsyncRealtimeConnection])
@pytest.mark.parametrize("client", ["k:s", 5, object()])
def test_a_client_that_is_not_a_client_is_refused_at_construction(
    kind: type[RealtimeConnection[Any, Any]] | type[AsyncRealtimeConnection[Any, Any]],
    client: object,
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        kind(LCM, client=client)  # type: ignore[arg-type]
    assert caught.value.message == f"client must be a fal_typed.Client, got {type(client).__name__}"


def test_the_generated_module_refuses_a_wrong_client_too() -> None:
    from fal_endpoints import flux_dev

    with pytest.raises(InvalidArgumentError, match=r"^client must be a fal_typed.Client"):
        flux_dev.realtime(client="k:s")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"^client must be a fal_typed.Client"):
        flux_dev.realtime_async(client="k:s")  # type: ignore[arg-type]


_BAD_TIMEOUTS = [math.nan, math.inf, -1, -0.5, True, "1", 10**400]


@pytest.mark.parametrize("timeout", _BAD_TIMEOUTS, ids=_name)
def test_recv_refuses_a_bad_timeout_before_anything_else(timeout: object) -> None:
    conn = RealtimeConnection(LCM, client=Client("k:s"))
    with pytest.raises(InvalidArgumentError, match=r"^timeout must be"):
        conn.recv(timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", _BAD_TIMEOUTS, ids=_name)
async def test_async_recv_refuses_a_bad_timeout_before_anything_else(timeout: object) -> None:
    conn = AsyncRealtimeConnection(LCM, client=Client("k:s"))
    with pytest.raises(InvalidArgumentError, match=r"^timeout must be"):
        await conn.recv(timeout=timeout)  # type: ignore[arg-type]


def test_a_nan_timeout_on_an_open_socket_is_refused_not_waited_for_ever(
    local_fal: LocalFal, local_fal_client: Client
) -> None:
    """Run on a helper thread: before the check, this receive waited for ever."""
    outcome: list[BaseException | None] = []

    def receive(conn: RealtimeConnection[Any, Any]) -> None:
        try:
            conn.recv(timeout=math.nan)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)
        else:
            outcome.append(None)

    with RealtimeConnection(LCM, client=local_fal_client) as conn:
        conn.connect()
        worker = threading.Thread(target=receive, args=(conn,), daemon=True)
        worker.start()
        worker.join(timeout=5)
        assert outcome, "recv(timeout=nan) was still waiting after 5 s"
        assert isinstance(outcome[0], InvalidArgumentError)
        assert outcome[0].message.startswith("timeout must be a finite number of seconds")
        with pytest.raises(FalTimeoutError):  # zero still polls: a result if one is there
            conn.recv(timeout=0)
