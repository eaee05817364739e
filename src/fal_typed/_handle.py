"""Request handles (sync and async) and ``subscribe``: the typed layer over ``_queue`` / ``_wait``.

A handle is just an endpoint, a request id and a client, so ``endpoint.handle(saved_id)``
rebuilds one that behaves exactly like the handle ``submit`` returned.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import aclosing, closing, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._client import Client, given_or_default
from ._deadline import Deadline
from ._errors import (
    FalError,
    FalHTTPError,
    FalTimeoutError,
    OutputValidationError,
    PossiblyAcceptedError,
)
from ._jupyter import live_callbacks
from ._options import MIN_START_TIMEOUT, Priority, check_positive, check_wait_options
from ._pydantic import validation_error
from ._queue import (
    annotate_errors,
    cancel,
    cancel_async,
    fetch_result,
    fetch_result_async,
    get_status,
    get_status_async,
    is_not_ready,
    submit,
    submit_async,
)
from ._status import Completed, Status
from ._urls import check_request_id
from ._wait import iter_status, iter_status_async

if TYPE_CHECKING:  # pydantic loads with the endpoint's models, at the first call
    from pydantic import BaseModel

    from ._endpoint import Endpoint

__all__ = [
    "AsyncRequestHandle",
    "RequestHandle",
    "call_deadline",
    "parse_output",
    "subscribe",
    "subscribe_async",
]

OutputT = TypeVar("OutputT", bound="BaseModel")

QueueUpdateCallback = Callable[[Status], object]
AsyncQueueUpdateCallback = Callable[[Status], "object | Awaitable[object]"]

#: How long the best-effort cancel after a ``client_timeout`` may take.
_CANCEL_TIMEOUT = 5.0
#: Seconds a request seen COMPLETED before its deadline may take to deliver its result after
#: the deadline: a paid result that was ready in time is fetched, never dropped (nor cancelled).
RESULT_GRACE = 10.0


def parse_output(model: type[OutputT], data: Any, request_id: str | None) -> OutputT:
    """Validate a result into the endpoint's ``Output``; on failure the raw data stays on the error.

    ``data`` already an ``Output`` was validated from the answer's text (the runtime's
    ``output=``) and is returned as it is."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except RecursionError:  # nested past the stack: the data stays on the error all the same
        raise OutputValidationError(
            f"the result is nested too deep to parse into {model.__name__}",
            data=data,
            request_id=request_id,
        ) from None
    except validation_error() as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        )
        raise OutputValidationError(
            f"the result does not match {model.__name__}: {problems}",
            data=data,
            request_id=request_id,
        ) from None


def _deadline(name: str, seconds: float | None) -> Deadline | None:
    return None if seconds is None else Deadline(check_positive(name, seconds))


def call_deadline(client_timeout: float | Deadline | None) -> Deadline | None:
    """The deadline of a call's ``client_timeout`` (one already running, e.g. since its uploads
    began, is kept)."""
    if isinstance(client_timeout, Deadline):
        return client_timeout
    return _deadline("client_timeout", client_timeout)


def _result_deadline(deadline: Deadline | None) -> Deadline | None:
    """The deadline of the result fetch of a request seen COMPLETED in time (see RESULT_GRACE)."""
    if deadline is None:
        return None
    return Deadline(max(deadline.remaining(), RESULT_GRACE))


def _result_timed_out(endpoint_id: str, request_id: str, exc: FalTimeoutError) -> FalTimeoutError:
    return FalTimeoutError(
        f"request {request_id} to {endpoint_id} completed, but its result did not arrive within "
        f"{exc.timeout:g}s; it was not cancelled: fetch it with "
        f"fal_typed.endpoint({endpoint_id!r}).handle({request_id!r}).result()",
        timeout=exc.timeout,
        request_id=request_id,
    )


def _wait_timed_out(endpoint_id: str, request_id: str, exc: FalTimeoutError) -> FalTimeoutError:
    """A handle's ``wait(timeout=)`` ran out: the request goes on (and is billed if it ends)."""
    return FalTimeoutError(
        f"request {request_id} to {endpoint_id} did not complete within the {exc.timeout:g}s "
        "timeout; it was not cancelled and goes on at fal (billed if it completes): wait again, "
        f"or fetch its result later with fal_typed.endpoint({endpoint_id!r})"
        f".handle({request_id!r}).result()",
        timeout=exc.timeout,
        request_id=request_id,
    )


def _timed_out(endpoint_id: str, request_id: str | None, seconds: float) -> FalTimeoutError:
    if request_id is None:
        message = (
            f"submitting to {endpoint_id} did not complete within the {seconds:g}s client_timeout; "
            "no request id came back, so nothing was cancelled"
        )
    else:
        message = (
            f"request {request_id} to {endpoint_id} did not complete within the {seconds:g}s "
            "client_timeout; its cancellation was requested"
        )
    return FalTimeoutError(message, timeout=seconds, request_id=request_id)


def _start_timed_out(endpoint_id: str, request_id: str, seconds: float) -> FalTimeoutError:
    """fal ended the request at the start timeout the ``client_timeout`` set (nothing to cancel)."""
    return FalTimeoutError(
        f"request {request_id} to {endpoint_id} did not start within the {seconds:g}s "
        "client_timeout; fal ended it",
        timeout=seconds,
        request_id=request_id,
    )


def _derived_start_timeout(deadline: Deadline | None, start_timeout: float | None) -> float | None:
    """The ``start_timeout`` a ``client_timeout`` sets when none is given (fal then stops trying
    to start the request too), or None."""
    if deadline is not None and start_timeout is None and deadline.seconds > MIN_START_TIMEOUT:
        return deadline.seconds
    return None


def _ran_out(exc: FalTimeoutError | FalHTTPError, derived_start: bool) -> bool:
    """Whether ``exc`` means a call's ``client_timeout`` ran out: our own deadline, or fal's 504
    for the start timeout it set (the same deadline, noticed first by the server)."""
    if isinstance(exc, FalTimeoutError):
        return True
    user_timeout = exc.headers.get("x-fal-request-timeout-type", "") == "user"
    return derived_start and exc.status_code == 504 and user_timeout


async def _call(callback: Callable[[Any], object], value: object) -> None:
    outcome = callback(value)
    if inspect.isawaitable(outcome):
        await outcome


def _call_sync(name: str, callback: Callable[[Any], object], value: object) -> None:
    """Call a sync call's callback. One that returns an awaitable (a lambda or method calling an
    ``async def``, which no check before the call can tell apart) is told so, and a coroutine is
    closed: it cannot run here, and Python's own "never awaited" says neither which callback
    nor what to do."""
    outcome = callback(value)
    if outcome is not None and inspect.isawaitable(outcome):
        close = getattr(outcome, "close", None)
        if callable(close):
            close()
        warnings.warn(
            f"{name} returned {type(outcome).__name__} {getattr(outcome, '__qualname__', '')}, "
            "which a sync call cannot await: it did not run. Pass it to the async call "
            "(subscribe_async, run_async...), which awaits it, or make the callback do its work "
            "itself.",
            RuntimeWarning,
            stacklevel=2,
        )


class _accepted:
    """Around what follows an accepted submit in ``subscribe``: whatever is raised there (a
    callback's own error, Ctrl+C, a cancelled task, a failure with no id) names the request,
    which fal took and bills and which may still run, so it can be followed or cancelled."""

    __slots__ = ("_endpoint_id", "_request_id")

    def __init__(self, endpoint_id: str, request_id: str) -> None:
        self._endpoint_id = endpoint_id
        self._request_id = request_id

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        if isinstance(exc, FalError):
            if exc.request_id is None:
                exc.request_id = self._request_id
            return
        note = (
            f"{self._endpoint_id} request {self._request_id} was accepted before this was "
            "raised and may still run (and be billed): follow it with status() or result() of "
            "that id, or cancel() it"
        )
        notes: list[str] = list(getattr(exc, "__notes__", ()))
        if note not in notes:
            # PEP 678's notes (Python 3.11 shows them in tracebacks; on 3.10 they are kept)
            setattr(exc, "__notes__", [*notes, note])  # noqa: B010


class RequestHandle(Generic[OutputT]):
    """A request in fal's queue: poll it, follow it, wait for its typed result, or cancel it."""

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        request_id: str,
        *,
        client: Client | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.request_id: str = check_request_id(request_id)
        self.client: Client = given_or_default(client)

    @property
    def endpoint_id(self) -> str:
        return self.endpoint.endpoint_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint_id!r}, request_id={self.request_id!r})"

    def status(self, *, with_logs: bool = False) -> Status:
        """The current status (``logs``, if asked for, are every line so far)."""
        return get_status(self.client, self.endpoint_id, self.request_id, with_logs=with_logs)

    def iter_events(self, *, with_logs: bool = False) -> Iterator[Status]:
        """Each status change until :class:`Completed` (included); logs are the new lines."""
        return iter_status(self.client, self.endpoint_id, self.request_id, with_logs=with_logs)

    def wait(
        self,
        *,
        with_logs: bool = False,
        on_queue_update: QueueUpdateCallback | None = None,
        timeout: float | None = None,
    ) -> OutputT:
        """Wait for completion and return the typed output (or raise the request's error).

        ``timeout`` raises :class:`FalTimeoutError` when it runs out; the request is left running.
        """
        check_wait_options(with_logs, None, on_queue_update, sync=True)
        return _wait(
            self,
            with_logs=with_logs,
            on_queue_update=on_queue_update,
            deadline=_deadline("timeout", timeout),
        )

    def result(self) -> OutputT:
        """The typed output; waits for completion first if the request is still running."""
        try:
            data = fetch_result(
                self.client, self.endpoint_id, self.request_id, output=self.endpoint.Output
            )
        except FalHTTPError as exc:
            if not is_not_ready(exc):
                raise
            return self.wait()
        return parse_output(self.endpoint.Output, data, self.request_id)

    def cancel(self) -> None:
        """Ask fal to cancel the request (a queued one is dropped; a running one may finish)."""
        cancel(self.client, self.endpoint_id, self.request_id)


def _follow(
    handle: RequestHandle[Any],
    *,
    with_logs: bool,
    on_queue_update: QueueUpdateCallback | None,
    deadline: Deadline | None,
) -> Completed | None:
    """Follow the status until completion; the final status."""
    final: Completed | None = None
    events = iter_status(
        handle.client, handle.endpoint_id, handle.request_id, with_logs=with_logs, deadline=deadline
    )
    with annotate_errors(handle.request_id), closing(events):
        for status in events:
            if on_queue_update is not None:
                _call_sync("on_queue_update", on_queue_update, status)
            if isinstance(status, Completed):
                final = status
    return final


def _fetch(
    handle: RequestHandle[OutputT], final: Completed | None, deadline: Deadline | None
) -> OutputT:
    """The typed result of a completed request, given its time to arrive (``RESULT_GRACE``)."""
    try:
        data = fetch_result(
            handle.client,
            handle.endpoint_id,
            handle.request_id,
            completed=final,
            deadline=_result_deadline(deadline),
            output=handle.endpoint.Output,
        )
    except FalTimeoutError as exc:
        raise _result_timed_out(handle.endpoint_id, handle.request_id, exc) from None
    return parse_output(handle.endpoint.Output, data, handle.request_id)


def _wait(
    handle: RequestHandle[OutputT],
    *,
    with_logs: bool,
    on_queue_update: QueueUpdateCallback | None,
    deadline: Deadline | None,
) -> OutputT:
    try:
        final = _follow(
            handle, with_logs=with_logs, on_queue_update=on_queue_update, deadline=deadline
        )
    except FalTimeoutError as exc:
        raise _wait_timed_out(handle.endpoint_id, handle.request_id, exc) from None
    return _fetch(handle, final, deadline)


class AsyncRequestHandle(Generic[OutputT]):
    """Async twin of :class:`RequestHandle`."""

    def __init__(
        self,
        endpoint: Endpoint[Any, OutputT],
        request_id: str,
        *,
        client: Client | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.request_id: str = check_request_id(request_id)
        self.client: Client = given_or_default(client)

    @property
    def endpoint_id(self) -> str:
        return self.endpoint.endpoint_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint_id!r}, request_id={self.request_id!r})"

    async def status(self, *, with_logs: bool = False) -> Status:
        """The current status (``logs``, if asked for, are every line so far)."""
        return await get_status_async(
            self.client, self.endpoint_id, self.request_id, with_logs=with_logs
        )

    def iter_events(self, *, with_logs: bool = False) -> AsyncIterator[Status]:
        """Each status change until :class:`Completed` (included); logs are the new lines."""
        return iter_status_async(
            self.client, self.endpoint_id, self.request_id, with_logs=with_logs
        )

    async def wait(
        self,
        *,
        with_logs: bool = False,
        on_queue_update: AsyncQueueUpdateCallback | None = None,
        timeout: float | None = None,
    ) -> OutputT:
        """Wait for completion and return the typed output (or raise the request's error).

        ``timeout`` raises :class:`FalTimeoutError` when it runs out; the request is left running.
        """
        check_wait_options(with_logs, None, on_queue_update)
        return await _wait_async(
            self,
            with_logs=with_logs,
            on_queue_update=on_queue_update,
            deadline=_deadline("timeout", timeout),
        )

    async def result(self) -> OutputT:
        """The typed output; waits for completion first if the request is still running."""
        try:
            data = await fetch_result_async(
                self.client, self.endpoint_id, self.request_id, output=self.endpoint.Output
            )
        except FalHTTPError as exc:
            if not is_not_ready(exc):
                raise
            return await self.wait()
        return parse_output(self.endpoint.Output, data, self.request_id)

    async def cancel(self) -> None:
        """Ask fal to cancel the request (a queued one is dropped; a running one may finish)."""
        await cancel_async(self.client, self.endpoint_id, self.request_id)


async def _follow_async(
    handle: AsyncRequestHandle[Any],
    *,
    with_logs: bool,
    on_queue_update: AsyncQueueUpdateCallback | None,
    deadline: Deadline | None,
) -> Completed | None:
    """Async twin of :func:`_follow`."""
    final: Completed | None = None
    events = iter_status_async(
        handle.client, handle.endpoint_id, handle.request_id, with_logs=with_logs, deadline=deadline
    )
    with annotate_errors(handle.request_id):
        async with aclosing(events):
            async for status in events:
                if on_queue_update is not None:
                    await _call(on_queue_update, status)
                if isinstance(status, Completed):
                    final = status
    return final


async def _fetch_async(
    handle: AsyncRequestHandle[OutputT], final: Completed | None, deadline: Deadline | None
) -> OutputT:
    """Async twin of :func:`_fetch`."""
    try:
        data = await fetch_result_async(
            handle.client,
            handle.endpoint_id,
            handle.request_id,
            completed=final,
            deadline=_result_deadline(deadline),
            output=handle.endpoint.Output,
        )
    except FalTimeoutError as exc:
        raise _result_timed_out(handle.endpoint_id, handle.request_id, exc) from None
    return parse_output(handle.endpoint.Output, data, handle.request_id)


async def _wait_async(
    handle: AsyncRequestHandle[OutputT],
    *,
    with_logs: bool,
    on_queue_update: AsyncQueueUpdateCallback | None,
    deadline: Deadline | None,
) -> OutputT:
    try:
        final = await _follow_async(
            handle, with_logs=with_logs, on_queue_update=on_queue_update, deadline=deadline
        )
    except FalTimeoutError as exc:
        raise _wait_timed_out(handle.endpoint_id, handle.request_id, exc) from None
    return await _fetch_async(handle, final, deadline)


def subscribe(
    endpoint: Endpoint[Any, OutputT],
    arguments: Mapping[str, Any],
    *,
    client: Client | None,
    with_logs: bool = False,
    on_enqueue: Callable[[str], object] | None = None,
    on_queue_update: QueueUpdateCallback | None = None,
    webhook_url: str | None = None,
    priority: Priority | None = None,
    hint: str | None = None,
    start_timeout: float | None = None,
    client_timeout: float | Deadline | None = None,
    headers: Mapping[str, str] | None = None,
) -> OutputT:
    """Submit, follow the status until completion, and return the typed output.

    ``client_timeout`` bounds the whole call; when it runs out the request is cancelled
    (best-effort) and :class:`FalTimeoutError` carries its id. It also becomes the default
    ``start_timeout`` (fal then stops trying to start the request too).
    """
    client = given_or_default(client)
    # In a Jupyter kernel: live progress by default.
    on_enqueue, on_queue_update = live_callbacks(endpoint.endpoint_id, on_enqueue, on_queue_update)
    deadline = call_deadline(client_timeout)
    derived_start = _derived_start_timeout(deadline, start_timeout)
    start_timeout = derived_start or start_timeout
    try:
        submission = submit(
            client,
            endpoint.endpoint_id,
            arguments,
            webhook_url=webhook_url,
            priority=priority,
            hint=hint,
            start_timeout=start_timeout,
            headers=headers,
            deadline=deadline,
        )
    except PossiblyAcceptedError:
        raise  # a timeout too, after the job may have been queued: it says what to reconcile
    except FalTimeoutError as exc:
        raise _timed_out(endpoint.endpoint_id, None, exc.timeout) from None
    with _accepted(endpoint.endpoint_id, submission.request_id):
        if on_enqueue is not None:
            _call_sync("on_enqueue", on_enqueue, submission.request_id)
        return _followed(
            endpoint,
            RequestHandle(endpoint, submission.request_id, client=client),
            with_logs=with_logs,
            on_queue_update=on_queue_update,
            deadline=deadline,
            derived_start=derived_start,
        )


def _followed(
    endpoint: Endpoint[Any, OutputT],
    handle: RequestHandle[OutputT],
    *,
    with_logs: bool,
    on_queue_update: QueueUpdateCallback | None,
    deadline: Deadline | None,
    derived_start: float | None,
) -> OutputT:
    """:func:`subscribe` once its request was accepted: follow it, then fetch its result."""
    client = handle.client
    try:
        final = _follow(
            handle, with_logs=with_logs, on_queue_update=on_queue_update, deadline=deadline
        )
    except (FalTimeoutError, FalHTTPError) as exc:
        if deadline is None or not _ran_out(exc, derived_start is not None):
            raise
        # Best-effort: the timeout is what the caller must hear about, not a failed cancel.
        with suppress(FalError):
            cancel(
                client,
                endpoint.endpoint_id,
                handle.request_id,
                timeout=_CANCEL_TIMEOUT,
                retry=False,
            )
        raise _timed_out(endpoint.endpoint_id, handle.request_id, deadline.seconds) from None
    # Completed in time: its result is fetched, never cancelled (see RESULT_GRACE).
    try:
        return _fetch(handle, final, deadline)
    except FalHTTPError as exc:
        if deadline is None or not _ran_out(exc, derived_start is not None):
            raise
        raise _start_timed_out(endpoint.endpoint_id, handle.request_id, deadline.seconds) from None


async def subscribe_async(
    endpoint: Endpoint[Any, OutputT],
    arguments: Mapping[str, Any],
    *,
    client: Client | None,
    with_logs: bool = False,
    on_enqueue: Callable[[str], object] | None = None,
    on_queue_update: AsyncQueueUpdateCallback | None = None,
    webhook_url: str | None = None,
    priority: Priority | None = None,
    hint: str | None = None,
    start_timeout: float | None = None,
    client_timeout: float | Deadline | None = None,
    headers: Mapping[str, str] | None = None,
) -> OutputT:
    """Async twin of :func:`subscribe`; callbacks may also return awaitables."""
    client = given_or_default(client)
    # In a Jupyter kernel: live progress by default.
    on_enqueue, on_queue_update = live_callbacks(endpoint.endpoint_id, on_enqueue, on_queue_update)
    deadline = call_deadline(client_timeout)
    derived_start = _derived_start_timeout(deadline, start_timeout)
    start_timeout = derived_start or start_timeout
    try:
        submission = await submit_async(
            client,
            endpoint.endpoint_id,
            arguments,
            webhook_url=webhook_url,
            priority=priority,
            hint=hint,
            start_timeout=start_timeout,
            headers=headers,
            deadline=deadline,
        )
    except PossiblyAcceptedError:
        raise  # a timeout too, after the job may have been queued: it says what to reconcile
    except FalTimeoutError as exc:
        raise _timed_out(endpoint.endpoint_id, None, exc.timeout) from None
    with _accepted(endpoint.endpoint_id, submission.request_id):
        if on_enqueue is not None:
            await _call(on_enqueue, submission.request_id)
        return await _followed_async(
            endpoint,
            AsyncRequestHandle(endpoint, submission.request_id, client=client),
            with_logs=with_logs,
            on_queue_update=on_queue_update,
            deadline=deadline,
            derived_start=derived_start,
        )


async def _followed_async(
    endpoint: Endpoint[Any, OutputT],
    handle: AsyncRequestHandle[OutputT],
    *,
    with_logs: bool,
    on_queue_update: AsyncQueueUpdateCallback | None,
    deadline: Deadline | None,
    derived_start: float | None,
) -> OutputT:
    """Async twin of :func:`_followed`."""
    client = handle.client
    try:
        final = await _follow_async(
            handle, with_logs=with_logs, on_queue_update=on_queue_update, deadline=deadline
        )
    except (FalTimeoutError, FalHTTPError) as exc:
        if deadline is None or not _ran_out(exc, derived_start is not None):
            raise
        # Best-effort: the timeout is what the caller must hear about, not a failed cancel.
        with suppress(FalError):
            await cancel_async(
                client,
                endpoint.endpoint_id,
                handle.request_id,
                timeout=_CANCEL_TIMEOUT,
                retry=False,
            )
        raise _timed_out(endpoint.endpoint_id, handle.request_id, deadline.seconds) from None
    # Completed in time: its result is fetched, never cancelled (see RESULT_GRACE).
    try:
        return await _fetch_async(handle, final, deadline)
    except FalHTTPError as exc:
        if deadline is None or not _ran_out(exc, derived_start is not None):
            raise
        raise _start_timed_out(endpoint.endpoint_id, handle.request_id, deadline.seconds) from None
