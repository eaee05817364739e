"""`LocalFal`: the fal-compatible server, run by uvicorn in a background thread (or in the
foreground from the command line), with the controls tests use."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

import uvicorn
from typing_extensions import Self

from .._checks import check_count, check_seconds
from .._errors import InvalidArgumentError
from .._local import LOCAL_KEY
from ._app import build_app
from ._catalog import Catalog
from ._controls import Behaviour, Handler
from ._endpoints import default_documents, default_schemas_dir, schemas_at_revision
from ._faults import Fault, FaultRule
from ._platform import PlatformService
from ._realtime import RealtimeService
from ._requestlog import RecordedRequest
from ._state import ServerState
from ._storage import Storage
from ._stream import StreamService
from ._webhooks import WebhookDispatcher

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["DEFAULT_KEY", "LocalFal"]

DEFAULT_KEY: Final = LOCAL_KEY
"""The key :meth:`LocalFal.client` uses when the server accepts any key."""

_T = TypeVar("_T")
_H = TypeVar("_H", bound=Handler)
_E = TypeVar("_E")


class LocalFal:
    """A fal-compatible HTTP server on loopback, serving every endpoint of ``schemas_dir``.

    Without ``schemas_dir`` it serves every installed endpoint (the documents endpoint wheels and
    ``fal-typed add`` install beside each module) and the folder ``$FAL_TYPED_SCHEMAS``, else the
    ``schemas/`` folder of a source checkout (whose documents win); documents are read lazily,
    per endpoint. With ``revision`` (a git revision such as
    ``"HEAD~1"``, a tag or a branch) the folder's documents as committed at that revision are
    served instead, so a test suite can run against an older or newer schema than the bindings
    were generated from. ``port=0`` picks a free port. With ``key`` only
    ``Authorization: Key <key>`` is accepted, else any non-empty key.

    Use it as a context manager (or :meth:`start`/:meth:`stop`); point clients at
    :attr:`queue_url`, :attr:`run_url`, :attr:`rest_url`, :attr:`cdn_url`,
    :attr:`realtime_url` and :attr:`api_url`, or take :meth:`client`.
    """

    def __init__(
        self,
        schemas_dir: str | os.PathLike[str] | None = None,
        *,
        revision: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        key: str | None = None,
        max_requests: int = 10_000,
        startup_timeout: float = 10.0,
    ) -> None:
        check_count("port", port, minimum=0, maximum=65535)
        if not isinstance(host, str) or not host.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(f"host must be a non-empty string, got {host!r:.40}")
        if key is not None and (
            not isinstance(key, str)  # pyright: ignore[reportUnnecessaryIsInstance]
            or not key.strip()
            or any(c.isspace() for c in key)
        ):
            raise InvalidArgumentError(
                f"key must be a non-empty string without whitespace, got {type(key).__name__}"
            )
        check_count("max_requests", max_requests)
        check_seconds("startup_timeout", startup_timeout, positive=True)
        directory = schemas_dir if schemas_dir is not None else default_schemas_dir()
        documents = default_documents() if schemas_dir is None else {}
        source = str(directory) if directory is not None else ""
        self._revision_dir: tempfile.TemporaryDirectory[str] | None = None
        if revision is not None:
            self._revision_dir = schemas_at_revision(directory, revision)
            directory = self._revision_dir.name
            source += f" at {revision}"
        if documents:
            installed = f"{len(documents)} installed endpoint package{'s' * (len(documents) != 1)}"
            source = f"{source} and {installed}" if source else installed
        self.schemas_source: str = source
        """Where the served documents come from (``<dir> at <revision>`` for a revision, and the
        installed endpoint packages)."""
        self.state: ServerState = ServerState(
            directory, documents=documents, key=key, max_requests=max_requests
        )
        self.host = host
        self._requested_port = port
        self._port = port
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._bound = False

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalFal({self.base_url!r}, {len(self.state.catalog)} endpoints, {state})"

    # -- lifecycle -----------------------------------------------------------------------------

    def _bind(self) -> tuple[socket.socket, uvicorn.Server]:
        # IPPROTO_TCP, as uvicorn binds its own: asyncio then sets TCP_NODELAY on each
        # connection. Without it, a response's body (written after its headers) waits for the
        # client's delayed ACK: 40 ms per request on a kept-alive connection.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            sock.listen(2048)  # from here on, connections queue until uvicorn accepts them
        except OSError:
            sock.close()
            raise
        port = int(sock.getsockname()[1])
        self._port = port
        self.state.base_url = f"http://{self.host}:{port}"
        try:
            app = build_app(self.state)  # refuses a fault rule for a route it does not have
        except BaseException:
            sock.close()
            raise
        self._bound = True
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            backlog=2048,
        )
        return sock, uvicorn.Server(config)

    def start(self) -> Self:
        """Start serving in a background thread; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("this LocalFal is already running")
        sock, server = self._bind()
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"local-fal-{self.port}",
            daemon=True,
        )
        self._socket, self._server, self._thread = sock, server, thread
        thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._teardown()
                raise RuntimeError(f"the local fal server did not start on {self.base_url}")
            time.sleep(0.002)
        return self

    def serve_forever(self, on_ready: Callable[[LocalFal], None] | None = None) -> None:
        """Serve in the calling thread until interrupted (Ctrl+C): what the command line does.

        ``on_ready`` is called once the port is bound and listening (e.g. to print the URLs)."""
        if self._thread is not None:
            raise RuntimeError("this LocalFal is already running")
        sock, server = self._bind()
        self._socket, self._server = sock, server
        try:
            if on_ready is not None:
                on_ready(self)
            server.run(sockets=[sock])
        finally:
            self._socket = self._server = None
            sock.close()

    def stop(self) -> None:
        """Stop serving: end status streams, cancel every timer and task, close the port."""
        if self._thread is None:
            return
        loop = self.state.loop
        if loop is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.state.aclose(), loop)
            try:
                future.result(timeout=10)
            except (FutureTimeoutError, RuntimeError):
                future.cancel()
        self._teardown()

    def _teardown(self) -> None:
        server, thread, sock = self._server, self._thread, self._socket
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5)
        if sock is not None:
            sock.close()
        self._server = self._thread = self._socket = None

    def _never_bound(self) -> bool:
        """Not started yet: the port (hence every URL) is not known, even one asked for."""
        return not self._bound

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port served (known once started; 0 before if a free port was asked for)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: every fal host lives under a path prefix of it."""
        return self.state.base_url

    @property
    def queue_url(self) -> str:
        return self.state.queue_url

    @property
    def run_url(self) -> str:
        return self.state.run_url

    @property
    def rest_url(self) -> str:
        return self.state.rest_url

    @property
    def cdn_url(self) -> str:
        return self.state.cdn_url

    @property
    def realtime_url(self) -> str:
        return self.state.realtime_url

    @property
    def api_url(self) -> str:
        """The Platform API (api.fal.ai): pricing, usage, request history, ``/meta``."""
        return self.state.api_url

    @property
    def key(self) -> str | None:
        """The only key accepted, if the server was given one."""
        return self.state.key

    @property
    def endpoint_ids(self) -> list[str]:
        """Every endpoint served (documented by the schemas directory or installed), sorted."""
        return sorted(self.state.catalog.endpoint_ids)

    def client(self, **overrides: Any) -> Client:
        """A :class:`fal_typed.Client` pointed at this server (``overrides`` go to its constructor).

        The server must have been started: before, its port is not known (a free one is picked
        at ``start()``), and a client of ``http://127.0.0.1`` would call port 80.
        """
        from .._client import Client

        if self._never_bound():
            raise RuntimeError(
                "this LocalFal is not started, so its port is not known yet: call .start() "
                "first (fal = LocalFal().start()), or use it as `with LocalFal() as fal:`"
            )

        options: dict[str, Any] = {
            "queue_url": self.queue_url,
            "run_url": self.run_url,
            "rest_url": self.rest_url,
            "cdn_url": self.cdn_url,
            "realtime_url": self.realtime_url,
            "api_url": self.api_url,
            **overrides,
        }
        key = options.pop("key", self.key or DEFAULT_KEY)
        return Client(key, **options)

    # -- the feature modules' controllers -------------------------------------------------------

    def _extension(self, name: str, kind: type[_E]) -> _E:
        extension = self.state.extensions.get(name)
        if not isinstance(extension, kind):
            raise RuntimeError(f"the local fal server is not running (no {name} module yet)")
        return extension

    @property
    def storage(self) -> Storage:
        """Uploads: tokens, v3 and multipart uploads, initiate + PUT (``fail()`` injects faults)."""
        return self._extension("storage", Storage)

    @property
    def streams(self) -> StreamService:
        """``/stream``: partial events per endpoint, failures, cuts (``configure()``)."""
        return self._extension("stream", StreamService)

    @property
    def realtime(self) -> RealtimeService:
        """Realtime WebSockets and their tokens (``configure()``, ``connections``)."""
        return self._extension("realtime", RealtimeService)

    @property
    def webhooks(self) -> WebhookDispatcher:
        """Webhook delivery: its key and JWKS, ``configure(deliver_twice=True, timestamp_offset=-600,
        corrupt_signature=True, retries=...)``, ``rotate_key()``, ``attempts``, ``wait_for(id)``."""
        return self._extension("webhooks", WebhookDispatcher)

    @property
    def platform(self) -> PlatformService:
        """The Platform API (api.fal.ai/v1): ``set_price()``, ``configure(history_delay=...,
        webhook_ip_ranges=...)``, ``records()`` (the request history as it stands)."""
        return self._extension("platform", PlatformService)

    @property
    def schema_documents(self) -> Catalog:
        """fal.ai's OpenAPI URL and the platform catalog, served from the schemas directory."""
        return self._extension("catalog", Catalog)

    # -- behaviour -----------------------------------------------------------------------------

    def configure(self, endpoint_id: str | None = None, **changes: Any) -> Behaviour:
        """Change how requests behave, globally or for one endpoint (see :class:`Behaviour`):
        ``configure(processing_time=0.2, logs=["step 1", "step 2"])``,
        ``configure("fal-ai/flux/dev", failure=Failure(500, "boom"))``. An id this server does
        not serve is refused (a handler makes one served)."""
        if endpoint_id is not None:
            self.state.check_served(endpoint_id, "configure")
        return self.state.controls.configure(endpoint_id, **changes)

    def behaviour(self, endpoint_id: str) -> Behaviour:
        """The behaviour that applies to ``endpoint_id`` now."""
        return self.state.controls.behaviour(endpoint_id)

    @overload
    def handler(self, endpoint_id: str) -> Callable[[_H], _H]: ...

    @overload
    def handler(self, endpoint_id: str, function: _H) -> _H: ...

    def handler(self, endpoint_id: str, function: _H | None = None) -> _H | Callable[[_H], _H]:
        """Produce ``endpoint_id``'s outputs with ``function(input_dict) -> output_dict`` (sync
        or async; may return or raise :class:`Failure`). Use directly or as a decorator. An id
        with no schema becomes a known endpoint, with no input validation."""

        def register(fn: _H) -> _H:
            self.state.controls.set_handler(endpoint_id, fn)
            return fn

        return register(function) if function is not None else register

    def remove_handler(self, endpoint_id: str) -> None:
        self.state.controls.set_handler(endpoint_id, None)

    def inject(
        self,
        fault: Fault,
        *,
        on: str | None = None,
        endpoint_id: str | None = None,
        path: str | None = None,
        method: str | None = None,
        times: int | None = 1,
        probability: float = 1.0,
    ) -> FaultRule:
        """Make the next ``times`` matching requests (``None``: all) suffer ``fault``.

        ``on`` is a route name or glob: ``"submit"``, ``"status"``, ``"status_stream"``,
        ``"result"``, ``"cancel"`` (short for ``queue.*`` names), ``"run"``, ``"queue.*"``,
        ``"storage.*"``...; ``path`` a glob on the URL path. With ``probability`` below 1 a
        matching request is hit only by that chance (seeded: the same run draws the same hits),
        which mixes several faults over many calls. The returned rule counts its ``hits``.
        An ``endpoint_id`` this server does not serve is refused: no request would match it.
        """
        if endpoint_id is not None:
            self.state.check_served(endpoint_id, "inject")
        rule = FaultRule(
            fault,
            operation=on,
            endpoint_id=endpoint_id,
            path=path,
            method=method,
            times=times,
            probability=probability,
        )
        return self.state.faults.add(rule, self.state.route_names)

    def release(self, request_id: str | None = None) -> int:
        """Let requests held by ``hold`` go on (one, or all); returns how many."""
        return self._call(lambda: self._release(request_id))

    async def _release(self, request_id: str | None) -> int:
        return self.state.queue.release(request_id)

    def request_status(
        self, request_id: str
    ) -> Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"] | None:
        """The server-side status of a queued request (None if unknown)."""

        async def status() -> Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"] | None:
            queued = self.state.queue.get(request_id)
            return None if queued is None else queued.status

        return self._call(status)

    # -- inspection ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset, oldest first (credentials redacted)."""
        return self.state.log.entries()

    def requests_for(
        self,
        operation: str | None = None,
        *,
        endpoint_id: str | None = None,
        method: str | None = None,
        request_id: str | None = None,
    ) -> list[RecordedRequest]:
        """The logged requests matching every filter given (``operation`` accepts the aliases
        ``submit``, ``status``, ``status_stream``, ``result`` and ``cancel``)."""
        from ._faults import check_operation

        operation = check_operation("operation", operation, self.state.route_names)
        return self.state.log.entries(
            operation, endpoint_id=endpoint_id, method=method, request_id=request_id
        )

    def reset(self) -> None:
        """Forget requests, behaviours, handlers, faults, the request log and files."""
        if self.running:
            self._call(self.state.areset)
        else:
            asyncio.run(self.state.areset())

    def _call(self, function: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """Run ``function()`` on the server's loop and wait for it."""
        loop = self.state.loop
        if loop is None or not self.running:
            raise RuntimeError("the local fal server is not running")
        return asyncio.run_coroutine_threadsafe(function(), loop).result(timeout=30)
