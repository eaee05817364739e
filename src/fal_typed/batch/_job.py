"""``Job`` and ``AsyncJob``: a batch run as the caller sees it, rows arriving as they finish.

A job starts when it is first iterated or waited for. The sync ``Job`` runs the async runner on
a thread of its own and hands rows over through a bounded queue (a slow consumer slows the batch
down instead of piling rows up in memory). Leaving the ``for`` loop early stops the batch
gracefully; its journal is consistent at every instant anyway, so the same call resumes it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Final

import httpx

from .._bounded import ACCEPT_ENCODING
from .._client import Client
from ._journal import Journal
from ._rows import Rows
from ._runner import RowResult, Runner, Summary, WebhookMode
from ._webhook import WebhookReceiver

__all__ = ["AsyncJob", "Job", "JobRun", "batch_client"]

_QUEUE_SIZE: Final = 1024
_DONE: Final = object()

RunnerFactory = Callable[
    [Client, Callable[[RowResult], Awaitable[None]], "WebhookMode | None"], Runner
]


def batch_client(client: Client, concurrency: int) -> tuple[Client, httpx.AsyncClient]:
    """``client`` with its own connection pool, sized for ``concurrency`` requests in flight,
    each waiting on a status stream, plus the submits and result fetches around them."""
    # Idle connections are dropped after 2 s, before servers drop them (uvicorn after 5 s,
    # nginx after 75 s): a submit sent on a connection the server is closing fails after it was
    # written, and would have to be reported as possibly accepted.
    limits = httpx.Limits(
        max_connections=concurrency * 2 + 16,
        max_keepalive_connections=concurrency + 16,
        keepalive_expiry=2.0,
    )
    http = httpx.AsyncClient(
        timeout=client.timeout,
        limits=limits,
        headers={"User-Agent": _ua(), "Accept-Encoding": ACCEPT_ENCODING},
    )
    sized = object.__new__(Client)
    sized.__dict__.update(client.__dict__)
    sized.__dict__["_user_async_http"] = http
    return sized, http


def _ua() -> str:
    from .._client import user_agent

    return user_agent()


class JobRun:
    """One run of a runner, shared by the sync and async jobs: the sized connection pool, the
    webhook receiver (if any), then the runner itself."""

    def __init__(
        self,
        make_runner: RunnerFactory,
        client: Client,
        concurrency: int,
        rows: Rows | None,
        *,
        receiver: WebhookReceiver | None = None,
        webhook_url: str | None = None,
        webhook_timeout: float = 600.0,
        close_journal: Journal | None = None,
    ) -> None:
        self._make_runner = make_runner
        self._close_journal = close_journal
        self._client = client
        self._concurrency = concurrency
        self._rows = rows
        self._receiver = receiver
        self._webhook_url = webhook_url
        self._webhook_timeout = webhook_timeout
        self.runner: Runner | None = None

    async def main(self, on_row: Callable[[RowResult], Awaitable[None]]) -> Summary:
        client, http = batch_client(self._client, self._concurrency)
        receiver = self._receiver
        try:
            webhook: WebhookMode | None = None
            if receiver is not None:
                loop = asyncio.get_running_loop()
                await asyncio.to_thread(receiver.start, self._deliver, loop)
                webhook = WebhookMode(self._webhook_url or receiver.url, self._webhook_timeout)
            elif self._webhook_url is not None:
                webhook = WebhookMode(self._webhook_url, self._webhook_timeout)
            self.runner = self._make_runner(client, on_row, webhook)
            return await self.runner.run(self._rows)
        finally:
            if receiver is not None:
                await asyncio.to_thread(receiver.stop)
            await http.aclose()
            if self._close_journal is not None:
                self._close_journal.close()

    def _deliver(self, request_id: str, outcome: Any) -> None:
        if self.runner is not None:
            self.runner.deliver(request_id, outcome)


class Job:
    """A batch run (sync): iterate it for rows as they finish, or :meth:`wait` for the end."""

    def __init__(self, run: JobRun, journal: Journal) -> None:
        self._run = run
        self.journal = journal
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._summary: Summary | None = None
        self._error: BaseException | None = None
        self._drained = False

    def __repr__(self) -> str:
        state = "finished" if self._summary else "running" if self._thread else "not started"
        return f"Job({self.journal!r}, {state})"

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._thread_main, name="fal-batch", daemon=True)
        self._thread.start()

    def _thread_main(self) -> None:
        async def on_row(row: RowResult) -> None:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                await asyncio.to_thread(self._queue.put, row)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            try:
                self._summary = await self._run.main(on_row)
            except BaseException as exc:
                self._error = exc
            finally:
                await asyncio.to_thread(self._queue.put, _DONE)

        asyncio.run(main())

    def __iter__(self) -> Iterator[RowResult]:
        if self._drained:
            return
        self._start()
        finished = False
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    finished = True
                    break
                yield item
        finally:
            if not finished:
                self.stop()
                self._drain()
            self._drained = True
            self._join()

    def _drain(self) -> None:
        while self._queue.get() is not _DONE:
            pass

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        """Stop gracefully (from any thread): nothing new is sent; the journal keeps the rest."""
        runner, loop = self._run.runner, self._loop
        if runner is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(runner.stop)

    def wait(self) -> Summary:
        """Run to the end (rows not iterated are skipped) and return the summary."""
        if not self._drained:
            self._start()
            try:
                self._drain()
            except KeyboardInterrupt:
                self.stop()
                self._drain()
                self._drained = True
                self._join()
                raise
            self._drained = True
            self._join()
        assert self._summary is not None
        return self._summary

    def summary(self) -> Summary:
        """The summary of the run (running it first if it has not run)."""
        return self.wait()


class AsyncJob:
    """A batch run (async): ``async for`` its rows as they finish, or ``await job.wait()``."""

    def __init__(self, run: JobRun, journal: Journal) -> None:
        self._run = run
        self.journal = journal
        self._queue: asyncio.Queue[Any] | None = None
        self._task: asyncio.Task[Summary] | None = None
        self._drained = False

    def __repr__(self) -> str:
        return f"AsyncJob({self.journal!r})"

    def _start(self) -> asyncio.Task[Summary]:
        if self._task is None:
            q: asyncio.Queue[Any] = asyncio.Queue(maxsize=_QUEUE_SIZE)
            self._queue = q

            async def on_row(row: RowResult) -> None:
                await q.put(row)

            async def main() -> Summary:
                try:
                    return await self._run.main(on_row)
                finally:
                    await q.put(_DONE)

            self._task = asyncio.create_task(main())
        return self._task

    async def __aiter__(self) -> AsyncIterator[RowResult]:
        if self._drained:
            return
        task = self._start()
        assert self._queue is not None
        finished = False
        try:
            while True:
                item = await self._queue.get()
                if item is _DONE:
                    finished = True
                    break
                yield item
        finally:
            if not finished:
                self.stop()
                while await self._queue.get() is not _DONE:
                    pass
            self._drained = True
        await task

    def stop(self) -> None:
        """Stop gracefully: nothing new is sent; the journal keeps the rest."""
        if self._run.runner is not None:
            self._run.runner.stop()

    async def wait(self) -> Summary:
        """Run to the end and return the summary."""
        task = self._start()
        if not self._drained:
            assert self._queue is not None
            while await self._queue.get() is not _DONE:
                pass
            self._drained = True
        return await task

    async def summary(self) -> Summary:
        """The summary of the run (running it first if it has not run)."""
        return await self.wait()
