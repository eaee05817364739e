"""Webhook mode: fal posts each result to us, so no connection is held per request.

:class:`WebhookReceiver` serves :func:`fal_typed.webhooks.webhook_endpoint` (signatures verified
against fal's keys, or the local server's) with uvicorn on a thread of its own, and hands every
verified delivery to the runner's event loop. The runner then commits the output as it would a
fetched one. Deliveries can be lost or late: a row whose delivery has not come after the timeout
is checked by request id (see ``Runner._by_webhook``); one that never comes is awaited by the next
run, since the row is still ``submitted`` in the journal.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final, cast

from pydantic import BaseModel, RootModel

from ..webhooks import WebhookResult, WebhookVerifier, webhook_endpoint
from ._runner import UNDELIVERED

__all__ = ["DEFAULT_PATH", "WebhookReceiver"]

DEFAULT_PATH: Final = "/fal/webhook"

Deliver = Callable[[str, Any], object]


class _AnyPayload(RootModel[Any]):
    """Whatever an OK delivery's payload is: the runner checks it against the endpoint's Output."""


class WebhookReceiver:
    """An HTTP server receiving fal's deliveries at ``path`` on ``host:port`` (0: a free port)."""

    def __init__(
        self,
        output_model: type[BaseModel],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = DEFAULT_PATH,
        verifier: WebhookVerifier | None = None,
    ) -> None:
        self.output_model = output_model
        self.host = host
        self.port: int = port
        self.path: str = path if path.startswith("/") else f"/{path}"
        self.verifier = verifier
        self.received = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """The URL this receiver answers at (give fal a public one if it is behind a proxy)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    def start(self, deliver: Deliver, loop: asyncio.AbstractEventLoop) -> None:
        """Serve; each verified delivery calls ``deliver(request_id, output JSON or error)`` on
        ``loop``."""
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        def handle(result: WebhookResult[_AnyPayload]) -> None:
            self.received += 1
            raw: object = result.raw_payload
            outcome: object
            if not result.ok:
                outcome = result.exception()  # the request's own failure
            elif isinstance(raw, dict):
                # Checked against Output by the runner, which keeps an output that does not
                # fit it (paid for) instead of losing it.
                outcome = cast("dict[str, Any]", raw)
            else:  # succeeded, its output left out (payload_error): the runner fetches it
                outcome = UNDELIVERED
            loop.call_soon_threadsafe(deliver, result.request_id, outcome)

        # Any payload is taken: one that does not fit the endpoint's Output was refused (400)
        # here, so the paid result waited for the webhook timeout to be fetched by id.
        endpoint = webhook_endpoint(_AnyPayload, handle, verifier=self.verifier, deduplicate=False)
        app = Starlette(routes=[Route(self.path, endpoint, methods=["POST"])])
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fal-batch-webhooks", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the webhook receiver did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        server, thread, sock = self._server, self._thread, self._socket
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
        if sock is not None:
            sock.close()
        self._server = self._thread = self._socket = None
