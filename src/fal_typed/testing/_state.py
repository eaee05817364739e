"""Everything one local server knows, shared by its routes and by :class:`~.LocalFal`.

Route modules get this object; it is also the backend the streaming and realtime services use
(``auth_error``, ``find_endpoint``, ``input_errors``, ``output``). Modules that add features hook
in here: ``completion_hooks`` (called with every :class:`~._queue.CompletedRequest`),
``reset_callbacks`` (on :meth:`LocalFal.reset`), ``close_callbacks`` (async, on stop) and
``extensions`` (their controller objects, by name, for tests to reach).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._errors import InvalidArgumentError
from .._hosts import LOCAL_PLATFORM_PREFIX
from ._controls import Controls, Failure
from ._endpoints import EndpointCatalog, resolve_endpoint, split_path
from ._faults import FaultBook
from ._filestore import FileStore
from ._json import as_dict
from ._keycheck import auth_error
from ._produce import Producer
from ._queue import CompletionHook, RequestQueue
from ._requestlog import RequestLog

__all__ = ["ServerState"]

logger = logging.getLogger("fal_typed.testing")


class ServerState:
    """See the module docstring. ``base_url`` is set once the server knows its port."""

    def __init__(
        self,
        schemas_dir: str | os.PathLike[str] | None,
        *,
        documents: Mapping[str, Path] | None = None,
        key: str | None = None,
        max_requests: int = 10_000,
    ) -> None:
        self.key: str | None = key
        self.base_url: str = "http://127.0.0.1"
        self.catalog: EndpointCatalog = EndpointCatalog(schemas_dir, documents)
        self.controls: Controls = Controls()
        self.faults: FaultBook = FaultBook()
        self.log: RequestLog = RequestLog()
        self.files: FileStore = FileStore()
        self.producer: Producer = Producer(
            self.catalog, self.controls, self.files, lambda: self.cdn_url
        )
        self.completion_hooks: list[CompletionHook] = []
        self.reset_callbacks: list[Callable[[], None]] = []
        self.close_callbacks: list[Callable[[], Awaitable[None]]] = []
        self.extensions: dict[str, object] = {}
        self.route_names: frozenset[str] = frozenset()
        """The names of the served routes (``queue.submit``, ``run``...), known once built."""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.queue: RequestQueue = RequestQueue(
            self.producer,
            self.controls,
            self.completion_hooks,
            self.spawn,
            max_requests=max_requests,
        )

    # -- URLs ----------------------------------------------------------------------------------

    @property
    def queue_url(self) -> str:
        return f"{self.base_url}/queue"

    @property
    def run_url(self) -> str:
        return f"{self.base_url}/run"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/rest"

    @property
    def cdn_url(self) -> str:
        return f"{self.base_url}/cdn"

    @property
    def realtime_url(self) -> str:
        return "ws" + self.base_url[len("http") :] + "/run"

    @property
    def api_url(self) -> str:
        return self.base_url + LOCAL_PLATFORM_PREFIX

    # -- endpoints -----------------------------------------------------------------------------

    def is_known(self, endpoint_id: str) -> bool:
        return self.producer.is_known(endpoint_id)

    def check_served(self, endpoint_id: object, setting: str) -> str:
        """``endpoint_id`` if this server serves it. Else an error naming it and the ids close to
        it: a ``setting`` for an id no call reaches (a typo) would never apply, and the test
        relying on it would pass for the wrong reason."""
        if isinstance(endpoint_id, str) and self.is_known(endpoint_id):
            return endpoint_id
        from .._registry import close_ids

        if not isinstance(endpoint_id, str):
            raise InvalidArgumentError(
                f"{setting}: endpoint_id must be a string, got {type(endpoint_id).__name__}"
            )
        close = close_ids(endpoint_id, self.catalog.endpoint_ids)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else "."
        raise InvalidArgumentError(
            f"{setting}: this local server serves no endpoint {endpoint_id!r}, so it would never "
            f"apply{hint} For an endpoint of your own, register its handler first "
            f"(fal.handler({endpoint_id!r}, function))."
        )

    def resolve(self, path: str) -> tuple[str, str] | None:
        """``(endpoint id, sub-path)`` for a request path: the longest known id prefixing it."""
        return resolve_endpoint(split_path(path), self.is_known)

    def endpoint_of(self, operation: str | None, params: Mapping[str, Any]) -> str | None:
        """The endpoint a request is about, for the request log and fault matching."""
        request_id = params.get("request_id")
        if isinstance(request_id, str):
            queued = self.queue.get(request_id)
            if queued is not None:
                return queued.endpoint_id
        path = params.get("path")
        if isinstance(path, str):
            resolved = self.resolve(path)
            return resolved[0] if resolved else None
        return None

    # -- the backend of the streaming and realtime services ------------------------------------

    def auth_error(self, request: Request) -> Response | None:
        """A 401 response when the request is not authorised, else None."""
        return auth_error(request, self.key)

    def find_endpoint(self, path: str) -> str | None:
        """The longest known endpoint id that prefixes ``path``."""
        resolved = self.resolve(path)
        return resolved[0] if resolved else None

    def input_errors(self, endpoint_id: str, body: Any) -> list[dict[str, Any]]:
        """fal's 422 ``detail`` entries for ``body`` (empty when valid)."""
        return self.producer.input_errors(endpoint_id, body)

    async def output(self, endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The endpoint's output for ``body``; raises :class:`Failure` if it fails."""
        outcome = await self.producer.produce(endpoint_id, body)
        if not outcome.ok:
            raise Failure(
                outcome.status_code,
                outcome.error or "failed",
                error_type=outcome.error_type,
                body=outcome.body,
                headers=outcome.headers,
            )
        output = as_dict(outcome.body)
        return output if isinstance(outcome.body, dict) else {"output": outcome.body}

    # -- tasks and lifecycle -------------------------------------------------------------------

    def prepare(self) -> None:
        """Forget the feature modules' hooks (an app build registers them afresh) and reopen
        the queue, so a stopped server can be started again."""
        self.completion_hooks.clear()
        self.reset_callbacks.clear()
        self.close_callbacks.clear()
        self.extensions.clear()
        self.queue.closed = False

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a background task that stops with the server."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def areset(self) -> None:
        """Forget every request, behaviour, handler, fault, logged request and file."""
        await self.queue.clear()
        await self._cancel_tasks()
        self.controls.reset()
        self.faults.clear()
        self.log.clear()
        self.files.clear()
        for callback in list(self.reset_callbacks):
            try:
                callback()
            except Exception:
                logger.exception("a reset callback failed")

    async def aclose(self) -> None:
        """Stop every timer and task (idempotent); status streams end."""
        await self.queue.close()
        await self._cancel_tasks()
        for callback in list(self.close_callbacks):
            try:
                await callback()
            except Exception:
                logger.exception("a close callback failed")
        self.close_callbacks.clear()
        self.files.clear()

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
