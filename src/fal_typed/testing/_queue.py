"""The queue: each submitted request moves IN_QUEUE -> IN_PROGRESS -> COMPLETED on the event loop.

A request's life is one asyncio task driven by its :class:`~._controls.Behaviour` (taken when it
was submitted): count the queue position down, emit logs while processing, then complete with an
:class:`~._produce.Outcome`. Every change bumps the request's ``version`` and wakes whoever waits
on it (the status stream). Completion hooks (webhook delivery) run as separate tasks, so a slow
hook never delays the status. Everything here runs on the server's loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final, Literal

from ._controls import Behaviour, Controls, Failure, LogLine
from ._endpoints import app_root
from ._produce import Outcome, Producer

__all__ = ["CompletedRequest", "CompletionHook", "QueueFullError", "QueuedRequest", "RequestQueue"]

logger = logging.getLogger("fal_typed.testing")

QueueStatus = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]

_CANCELLED: Final = Failure(499, "Request was cancelled", error_type="client_cancelled")
_START_TIMEOUT: Final = Failure(
    504,
    "Request timed out",
    error_type="request_timeout",
    headers={"x-fal-request-timeout-type": "user"},
)


@dataclass(frozen=True)
class CompletedRequest:
    """What completion hooks receive: the request, its ``fal_webhook`` URL and its outcome.

    ``payload`` is the result body (the output, or the error body when ``ok`` is False).
    """

    request_id: str
    gateway_request_id: str
    endpoint_id: str
    webhook_url: str | None
    status_code: int
    payload: Any
    ok: bool
    error: str | None
    error_type: str | None


CompletionHook = Callable[[CompletedRequest], Awaitable[None] | None]


class QueueFullError(Exception):
    """The server holds ``max_requests`` requests and none has completed yet."""


def log_entry(line: LogLine) -> dict[str, Any]:
    """A fal log entry (``message, level, source, timestamp``) for a configured line."""
    timestamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(line, str):
        return {"message": line, "level": "INFO", "source": "USER", "timestamp": timestamp}
    return {
        "message": str(line.get("message", "")),
        "level": str(line.get("level", "INFO")).upper(),
        "source": str(line.get("source", "USER")),
        "timestamp": str(line.get("timestamp", timestamp)),
    }


class QueuedRequest:
    """One queued request: its state, cumulative logs and (once completed) its outcome."""

    def __init__(
        self,
        endpoint_id: str,
        arguments: Any,
        *,
        behaviour: Behaviour,
        webhook_url: str | None = None,
        start_timeout: float | None = None,
        rejection: Outcome | None = None,
        owner: str | None = None,
    ) -> None:
        self.request_id: str = str(uuid.uuid4())
        self.owner = owner
        self.endpoint_id = endpoint_id
        self.app_root: str = app_root(endpoint_id)
        self.arguments = arguments
        self.behaviour = behaviour
        self.webhook_url = webhook_url
        self.start_timeout = start_timeout
        self.rejection = rejection
        self.status: QueueStatus = "IN_QUEUE"
        self.position: int = behaviour.queue_position
        self.logs: list[dict[str, Any]] = []
        self.outcome: Outcome | None = None
        self.metrics: dict[str, Any] = {}
        self.version: int = 0
        self.cancel_requested = False
        self.started_at: float | None = None
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.released: asyncio.Event = asyncio.Event()

    def __repr__(self) -> str:
        return f"QueuedRequest({self.request_id!r}, {self.endpoint_id!r}, {self.status})"

    def touch(self) -> None:
        """Record a change and wake every waiter."""
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for_change(self, seen: int) -> None:
        """Return once ``version`` differs from ``seen``."""
        while self.version == seen:
            await self._changed.wait()

    def release(self) -> None:
        self.released.set()

    def status_body(
        self, urls: Mapping[str, str], *, logs: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """The status JSON (PROTOCOL.md section 1): every key Python clients index is present."""
        outcome = self.outcome
        failed = outcome is not None and not outcome.ok
        return {
            "status": self.status,
            "request_id": self.request_id,
            **urls,
            "queue_position": self.position if self.status == "IN_QUEUE" else None,
            "logs": logs,
            "metrics": dict(self.metrics),
            "error": outcome.error if failed and outcome is not None else None,
            "error_type": outcome.error_type if failed and outcome is not None else None,
        }


class RequestQueue:
    """The requests of one server, bounded to ``max_requests`` (oldest completed ones dropped)."""

    def __init__(
        self,
        producer: Producer,
        controls: Controls,
        hooks: list[CompletionHook],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        *,
        max_requests: int = 10_000,
    ) -> None:
        self.producer = producer
        self.controls = controls
        self.hooks = hooks
        self._spawn = spawn
        self.max_requests = max_requests
        self.closed: bool = False
        self._requests: OrderedDict[str, QueuedRequest] = OrderedDict()
        self._active: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._requests)

    def get(self, request_id: str) -> QueuedRequest | None:
        return self._requests.get(request_id)

    def active(self, owner: str) -> int:
        """Unfinished requests submitted with ``owner``'s key (for ``max_concurrent_per_key``)."""
        return self._active[owner]

    def waiting(self, endpoint_id: str) -> int:
        """Requests of ``endpoint_id`` still IN_QUEUE (for ``fal_max_queue_length``)."""
        return sum(
            1
            for r in self._requests.values()
            if r.endpoint_id == endpoint_id and r.status == "IN_QUEUE"
        )

    def submit(
        self,
        endpoint_id: str,
        arguments: Any,
        *,
        webhook_url: str | None = None,
        start_timeout: float | None = None,
        rejection: Outcome | None = None,
        owner: str | None = None,
    ) -> QueuedRequest:
        """Enqueue a request and start its life; ``rejection`` is the outcome it will end with
        (e.g. a 422 for invalid input, which fal reports at the result, not at submit)."""
        if self.closed:
            raise QueueFullError("the server is stopping")
        self._make_room()
        request = QueuedRequest(
            endpoint_id,
            arguments,
            behaviour=self.controls.behaviour(endpoint_id),
            webhook_url=webhook_url,
            start_timeout=start_timeout,
            rejection=rejection,
            owner=owner,
        )
        if owner is not None:
            self._active[owner] += 1
        self._requests[request.request_id] = request
        request.task = self._spawn(self._live(request))
        return request

    def cancel(self, request_id: str) -> Literal["requested", "completed", "missing"]:
        request = self._requests.get(request_id)
        if request is None:
            return "missing"
        if request.status == "COMPLETED":
            return "completed"
        if request.status == "IN_QUEUE" or request.behaviour.honour_cancel:
            request.cancel_requested = True
            if request.task is not None:
                request.task.cancel()
        return "requested"

    def release(self, request_id: str | None = None) -> int:
        """Let held requests go (all of them, or one); returns how many were released."""
        if request_id is None:
            targets = [r for r in self._requests.values() if r.status != "COMPLETED"]
        else:
            one = self._requests.get(request_id)
            targets = [one] if one is not None else []
        for request in targets:
            request.release()
        return len(targets)

    async def clear(self) -> None:
        """Cancel every live request and forget them all."""
        await self._cancel_all()
        self._requests.clear()
        self._active.clear()

    async def close(self) -> None:
        """Stop for good: cancel live requests and wake every waiter (streams then end)."""
        self.closed = True
        await self._cancel_all()
        for request in self._requests.values():
            request.touch()

    async def _cancel_all(self) -> None:
        tasks = [
            r.task for r in self._requests.values() if r.task is not None and not r.task.done()
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _make_room(self) -> None:
        while len(self._requests) >= self.max_requests:
            victim = next(
                (rid for rid, r in self._requests.items() if r.status == "COMPLETED"), None
            )
            if victim is None:
                raise QueueFullError(
                    f"the local server already holds {self.max_requests} unfinished requests"
                )
            del self._requests[victim]

    # -- a request's life ----------------------------------------------------------------------

    async def _live(self, request: QueuedRequest) -> None:
        try:
            try:
                await asyncio.wait_for(self._wait_in_queue(request), request.start_timeout)
            except asyncio.TimeoutError:
                self._complete(request, Outcome.from_failure(_START_TIMEOUT))
                return
            request.status = "IN_PROGRESS"
            request.started_at = time.monotonic()
            request.touch()
            await self._process(request)
            outcome = request.rejection or await self.producer.produce(
                request.endpoint_id, request.arguments
            )
            self._complete(request, outcome)
        except asyncio.CancelledError:
            if request.cancel_requested and not self.closed:
                self._complete(request, Outcome.from_failure(_CANCELLED))
                return
            raise

    @staticmethod
    async def _wait_in_queue(request: QueuedRequest) -> None:
        behaviour = request.behaviour
        for position in range(behaviour.queue_position, -1, -1):
            if position != request.position:
                request.position = position
                request.touch()
            if behaviour.queue_step > 0:
                await asyncio.sleep(behaviour.queue_step)
        if behaviour.hold == "queue":
            await request.released.wait()

    @staticmethod
    async def _process(request: QueuedRequest) -> None:
        behaviour = request.behaviour
        interval = behaviour.processing_time / (len(behaviour.logs) + 1)
        for line in behaviour.logs:
            if interval > 0:
                await asyncio.sleep(interval)
            request.logs.append(log_entry(line))
            request.touch()
        if interval > 0:
            await asyncio.sleep(interval)
        if behaviour.hold == "progress":
            await request.released.wait()

    def _complete(self, request: QueuedRequest, outcome: Outcome) -> None:
        if request.status == "COMPLETED":
            return
        request.outcome = outcome
        request.status = "COMPLETED"
        if request.owner is not None:
            self._active[request.owner] -= 1
        elapsed = (
            None if request.started_at is None else round(time.monotonic() - request.started_at, 6)
        )
        request.metrics = {"inference_time": elapsed}
        request.touch()
        event = CompletedRequest(
            request_id=request.request_id,
            gateway_request_id=request.request_id,
            endpoint_id=request.endpoint_id,
            webhook_url=request.webhook_url,
            status_code=outcome.status_code,
            payload=outcome.body,
            ok=outcome.ok,
            error=outcome.error,
            error_type=outcome.error_type,
        )
        for hook in list(self.hooks):
            self._spawn(_run_hook(hook, event))


async def _run_hook(hook: CompletionHook, event: CompletedRequest) -> None:
    try:
        result = hook(event)
        if result is not None:
            await result
    except Exception:
        logger.exception("a completion hook failed for request %s", event.request_id)
