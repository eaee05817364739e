"""An ``async def`` callback given to a sync wait (``subscribe``, ``handle.wait``) is refused
before anything is sent: the sync call can only call it, which makes a coroutine that is never
awaited, so the caller's code never ran (a "never awaited" warning at best). The async twins
take them, and await them."""

from __future__ import annotations

import asyncio
import functools
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
