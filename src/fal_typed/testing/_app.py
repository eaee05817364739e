"""The local server's ASGI app, assembled from route providers.

A provider is ``(state) -> routes``: it builds its feature (storage, streaming, webhooks...),
registers any hooks on the :class:`~._state.ServerState` (``completion_hooks``,
``reset_callbacks``, ``close_callbacks``, ``extensions``) and returns Starlette routes with full
paths (:func:`under` prefixes relative ones). :data:`ROUTE_PROVIDERS` lists them most specific
first, because Starlette tries routes in order and the queue and run routes catch every path under
their prefix. To add a feature, write its provider and add one line to that tuple.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp

from .._incoming import BodyStalled
from . import _queue_routes, _run_routes
from ._catalog import Catalog
from ._keycheck import key_is_valid
from ._middleware import FalMiddleware, route_names
from ._platform import platform_routes
from ._queue import CompletedRequest
from ._realtime import RealtimeService
from ._state import ServerState
from ._storage import Storage
from ._stream import StreamService
from ._webhooks import WebhookDispatcher

__all__ = ["ROUTE_PROVIDERS", "RouteProvider", "build_app", "under"]

RouteProvider = Callable[[ServerState], Sequence[BaseRoute]]


def under(
    prefix: str,
    routes: Sequence[BaseRoute],
    *,
    namespace: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[BaseRoute]:
    """``routes`` re-rooted at ``prefix``. Route names (what the request log and fault rules
    call them) become ``<namespace>.<name>``, or ``names[name]`` when given."""
    rebuilt: list[BaseRoute] = []
    for route in routes:
        name: str | None = getattr(route, "name", None)
        if names is not None and name is not None and name in names:
            name = names[name]
        elif namespace is not None and name:
            name = f"{namespace}.{name.lstrip('_')}"
        if isinstance(route, Route):
            methods = sorted(route.methods) if route.methods else None
            rebuilt.append(Route(prefix + route.path, route.endpoint, methods=methods, name=name))
        elif isinstance(route, WebSocketRoute):
            rebuilt.append(WebSocketRoute(prefix + route.path, route.endpoint, name=name))
        elif isinstance(route, Mount):
            rebuilt.append(Mount(prefix + route.path, app=route.app, name=name))
        else:
            raise TypeError(f"cannot re-root a {type(route).__name__}")
    return rebuilt


def storage_routes(state: ServerState) -> Sequence[BaseRoute]:
    """Storage uploads (``/rest/storage/...``, ``/cdn/files/upload...``), served by the file store."""
    storage = Storage(state.files, check_key=lambda header: key_is_valid(header, state.key))
    state.extensions["storage"] = storage

    async def close() -> None:
        storage.close()

    state.reset_callbacks.append(storage.reset)
    state.close_callbacks.append(close)
    return [
        *under("/rest", storage.rest_routes(), namespace="storage"),
        *under("/cdn", storage.cdn_routes(), namespace="storage"),
    ]


def stream_routes(state: ServerState) -> Sequence[BaseRoute]:
    """``POST /run/{id}/stream`` (must precede the run route)."""
    service = StreamService(state)
    state.extensions["stream"] = service
    state.reset_callbacks.append(service.reset)
    return under("", service.routes("/run"), names={"_handle": "stream"})


def realtime_routes(state: ServerState) -> Sequence[BaseRoute]:
    """``POST /rest/tokens/`` and the realtime WebSockets under ``/run``."""
    service = RealtimeService(state)
    state.extensions["realtime"] = service
    state.reset_callbacks.append(service.reset)
    return under("", service.routes(rest_prefix="/rest", run_prefix="/run"), namespace="realtime")


def webhook_routes(state: ServerState) -> Sequence[BaseRoute]:
    """Signed webhook delivery for ``fal_webhook`` submits, and the JWKS at ``/rest``."""
    dispatcher = WebhookDispatcher()
    state.extensions["webhooks"] = dispatcher

    def deliver(done: CompletedRequest) -> None:
        if done.webhook_url is not None:
            dispatcher.schedule(
                done.webhook_url,
                request_id=done.request_id,
                gateway_request_id=done.gateway_request_id,
                status_code=done.status_code,
                payload=done.payload,
            )

    state.completion_hooks.append(deliver)
    state.reset_callbacks.append(dispatcher.reset)
    state.close_callbacks.append(dispatcher.aclose)
    return under("/rest", dispatcher.routes(), namespace="webhooks")


def schema_document_routes(state: ServerState) -> Sequence[BaseRoute]:
    """fal.ai's per-endpoint OpenAPI URL and the platform catalog, from the served documents."""
    directory = state.catalog.directory
    if directory is None and not state.catalog.installed:
        return []
    catalog = Catalog(directory, documents=state.catalog.installed)
    state.extensions["catalog"] = catalog
    state.reset_callbacks.append(catalog.reset_failures)
    return under("", catalog.routes(), namespace="catalog")


def file_routes(state: ServerState) -> Sequence[BaseRoute]:
    """``GET /cdn/files/{key}``: every file in the store."""
    return under("/cdn", state.files.routes())


ROUTE_PROVIDERS: Final[tuple[RouteProvider, ...]] = (
    storage_routes,
    stream_routes,
    realtime_routes,
    webhook_routes,
    schema_document_routes,
    platform_routes,
    file_routes,
    _queue_routes.routes,  # catches every POST under /queue
    _run_routes.routes,  # catches every path under /run
)


async def _body_stalled(_: Request, exc: Exception) -> Response:
    """A request whose body did not arrive in time (:class:`~fal_typed._incoming.BodyStalled`)."""
    detail = f"the request body stopped arriving: {exc}"
    return JSONResponse({"detail": detail}, status_code=408)


def build_app(state: ServerState, providers: Sequence[RouteProvider] = ROUTE_PROVIDERS) -> ASGIApp:
    """The whole server: every provider's routes behind the logging/fault middleware."""
    state.prepare()
    routes = [route for provider in providers for route in provider(state)]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncGenerator[None]:
        state.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            await state.aclose()

    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={BodyStalled: _body_stalled}
    )
    state.route_names = route_names(app.routes)
    state.faults.check_operations(state.route_names)  # rules injected before the start
    return FalMiddleware(
        app,
        routes=lambda: app.routes,
        log=state.log,
        faults=state.faults,
        endpoint_of=state.endpoint_of,
    )
