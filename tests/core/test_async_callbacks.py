"""An ``async def`` callback given to a sync wait (``subscribe``, ``handle.wait``) is refused
before anything is sent: the sync call can only call it, which makes a coroutine that is never
awaited, so the caller's code never ran (a "never awaited" warning at best). The async twins
take them, and await them.

A plain callable that *returns* a coroutine (a lambda calling an ``async def``) cannot be told
apart before the call: when it returns one, the coroutine is closed and a warning names the
callback and what to do; before, only Python's bare "coroutine ... was never awaited" said
anything, and the paid call went on either way (as it still does)."""

from __future__ import annotations

import asyncio
import functools
import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import InvalidArgumentError, Status
from fal_typed.testing import LocalFal


async def _on_update(status: Status) -> None:
    await asyncio.sleep(0)


async def _on_enqueue(request_id: str, tag: str = "") -> None:
    await asyncio.sleep(0)


class _AsyncCallable:
    async def __call__(self, value: object) -> None:
        await asyncio.sleep(0)


ASYNC_CALLBACKS: list[tuple[str, Callable[[], Any]]] = [
    ("async def", lambda: _on_update),
    ("partial of async def", lambda: functools.partial(_on_enqueue, tag="x")),
    ("object with async __call__", _AsyncCallable),
]
_IDS = [case[0] for case in ASYNC_CALLBACKS]


@pytest.mark.parametrize(("what", "make"), ASYNC_CALLBACKS, ids=_IDS)
@pytest.mark.parametrize("option", ["on_enqueue", "on_queue_update"])
def test_subscribe_refuses_an_async_callback_before_sending(
    local_fal: LocalFal, what: str, make: Callable[[], Any], option: str
) -> None:
    with local_fal.client() as client, pytest.raises(InvalidArgumentError) as caught:
        flux_dev.subscribe(prompt="a cat", client=client, **{option: make()})
    assert caught.value.message.startswith(
        f"{option} is an async function, which this call cannot await: use the call's _async twin"
    )
    assert local_fal.requests == []


@pytest.mark.parametrize(("what", "make"), ASYNC_CALLBACKS, ids=_IDS)
def test_a_handle_s_sync_wait_refuses_an_async_callback(
    local_fal: LocalFal, what: str, make: Callable[[], Any]
) -> None:
    with local_fal.client() as client:
        handle = flux_dev.submit(prompt="a cat", client=client)
        sent = len(local_fal.requests)
        with pytest.raises(InvalidArgumentError, match="on_queue_update is an async function"):
            handle.wait(on_queue_update=make())
        assert len(local_fal.requests) == sent  # refused before any status request
        assert handle.wait().images  # the request is still there to wait for


def test_the_async_twin_awaits_async_callbacks(local_fal: LocalFal) -> None:
    seen: list[object] = []

    async def on_enqueue(request_id: str) -> None:
        seen.append(request_id)

    async def on_update(status: Status) -> None:
        seen.append(type(status).__name__)

    async def main() -> None:
        with local_fal.client() as client:
            await flux_dev.subscribe_async(
                prompt="a cat", client=client, on_enqueue=on_enqueue, on_queue_update=on_update
            )

    asyncio.run(main())
    assert isinstance(seen[0], str) and seen[-1] == "Completed"


@pytest.mark.parametrize("option", ["on_enqueue", "on_queue_update"])
def test_a_plain_callback_returning_a_coroutine_is_named_and_the_result_kept(
    local_fal: LocalFal, option: str
) -> None:
    ran: list[object] = []

    async def notify(value: object) -> None:
        ran.append(value)

    with local_fal.client() as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        returns_coroutine: Callable[[Any], object] = lambda value: notify(value)  # noqa: E731
        callbacks: dict[str, Any] = {option: returns_coroutine}
        out = flux_dev.subscribe(prompt="a cat", client=client, **callbacks)
        gc.collect()  # a coroutine left unclosed warns "never awaited" when collected
    assert out.images  # the paid result is returned all the same
    assert ran == []
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    ours = [m for m in messages if m.startswith(f"{option} returned coroutine ")]
    assert ours and "which a sync call cannot await: it did not run" in ours[0]
    assert "subscribe_async" in ours[0]
    assert not [m for m in messages if "was never awaited" in m]
