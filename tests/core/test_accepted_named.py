"""Whatever ends a ``subscribe`` after its submit was accepted names the request.

fal took the request and bills it, and it may still run: a callback's own error, Ctrl+C or a
cancelled task carries a note naming it (and a library error without an id gets it), so the
paid job can be followed or cancelled. Against the local fal server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, FalError, Status
from fal_typed.testing import LocalFal

ID = "fal-ai/flux/dev"


class Boom(Exception):
    pass


def _accepted(local_fal: LocalFal) -> str:
    [submit] = local_fal.requests_for("submit")
    assert submit.request_id is not None
    return submit.request_id


def _names(exc: BaseException, request_id: str) -> bool:
    return any(
        request_id in note and "was accepted" in note for note in getattr(exc, "__notes__", ())
    )


@pytest.mark.parametrize("where", ["on_enqueue", "on_queue_update"])
@pytest.mark.parametrize("raised", [Boom, KeyboardInterrupt])
def test_an_error_raised_by_a_callback_names_the_accepted_request(
    local_fal: LocalFal, client: Client, where: str, raised: type[BaseException]
) -> None:
    local_fal.configure(ID, processing_time=0.2)

    def callback(_: Any) -> None:
        raise raised("from the caller's own code")

    with pytest.raises(raised) as caught:
        flux_dev.subscribe(prompt="a cat", client=client, **{where: callback})
    assert _names(caught.value, _accepted(local_fal))
    assert str(caught.value) == "from the caller's own code"  # the error itself is untouched


@pytest.mark.parametrize("where", ["on_enqueue", "on_queue_update"])
def test_async_a_callback_s_error_names_the_accepted_request(
    local_fal: LocalFal, client: Client, where: str
) -> None:
    local_fal.configure(ID, processing_time=0.2)

    async def callback(_: Any) -> None:
        raise Boom("async callback")

    async def main() -> None:
        async with client:
            await flux_dev.subscribe_async(prompt="a cat", client=client, **{where: callback})

    with pytest.raises(Boom) as caught:
        asyncio.run(main())
    assert _names(caught.value, _accepted(local_fal))


def test_a_cancelled_task_names_the_accepted_request(local_fal: LocalFal, client: Client) -> None:
    local_fal.configure(ID, processing_time=5.0)
    seen: list[Status] = []

    async def main() -> None:
        async with client:
            task = asyncio.ensure_future(
                flux_dev.subscribe_async(prompt="a cat", client=client, on_queue_update=seen.append)
            )
            while not seen:
                await asyncio.sleep(0.01)
            task.cancel()
            await task

    with pytest.raises(asyncio.CancelledError) as caught:
        asyncio.run(asyncio.wait_for(main(), 30))
    assert _names(caught.value, _accepted(local_fal))


@pytest.mark.parametrize("where", ["on_enqueue", "on_queue_update"])
def test_a_library_error_without_an_id_gets_the_accepted_one(
    local_fal: LocalFal, client: Client, where: str
) -> None:
    local_fal.configure(ID, processing_time=0.2)

    def callback(_: Any) -> None:
        raise FalError("a library error raised with no id")

    with pytest.raises(FalError) as caught:
        flux_dev.subscribe(prompt="a cat", client=client, **{where: callback})
    assert caught.value.request_id == _accepted(local_fal)
