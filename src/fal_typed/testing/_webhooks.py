"""Webhook delivery from the local fal server, signed like fal signs it.

When a queue request submitted with ``?fal_webhook=<url>`` completes, the server POSTs
``{"request_id", "gateway_request_id", "status", "payload", "error"?}`` to that URL with the four
``X-Fal-Webhook-*`` headers, signed with an Ed25519 key generated when the server starts, and
serves the public half as a JWKS at ``<rest>/.well-known/jwks.json``. Non-2xx answers and transport
errors are retried with capped exponential backoff (fast by default: this server is for tests);
like fal, a 3xx answer is not followed and fails the delivery without retries.

For tests, :class:`WebhookSettings` can make deliveries arrive twice, late (stale timestamp), early
(future timestamp) or with a corrupted signature, and :meth:`WebhookDispatcher.wait_for` blocks
until a request's delivery has finished, returning every attempt made.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .._checks import check_bool, check_count, check_seconds
from .._errors import InvalidArgumentError
from ..webhooks._signature import SIGNATURE_HEADER, public_jwk, sign_delivery
from ._controls import MAX_SECONDS

__all__ = ["JWKS_PATH", "DeliveryAttempt", "WebhookDispatcher", "WebhookSettings", "delivery_body"]

JWKS_PATH: Final = "/.well-known/jwks.json"
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
_REFUSED: Final = "refused: the local fal server delivers webhooks to loopback addresses only"
_MAX_ATTEMPT_LOG: Final = 10_000


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """How the local server delivers webhooks. Change them with :meth:`WebhookDispatcher.configure`.

    ``retries`` extra attempts after a non-2xx answer or a transport error, waiting
    ``backoff * 2**n`` seconds (at most ``max_backoff``) before each; ``timeout`` per attempt.
    ``deliver_twice`` sends a second, freshly signed copy after a successful delivery (what a
    retry after a lost 2xx looks like). ``timestamp_offset`` shifts the signed timestamp (negative:
    late/stale; positive: future). ``corrupt_signature`` flips a bit of every signature.
    ``user_id`` is the account id fal signs with.
    """

    retries: int = 5
    backoff: float = 0.05
    max_backoff: float = 1.0
    timeout: float = 15.0
    deliver_twice: bool = False
    timestamp_offset: float = 0.0
    corrupt_signature: bool = False
    user_id: str = "local-fal-user"

    def __post_init__(self) -> None:
        # NaN passed the ``< 0`` checks (a NaN backoff or timeout), and a string a raw TypeError.
        check_count("retries", self.retries, minimum=0, maximum=100)
        for name in ("backoff", "max_backoff"):
            check_seconds(name, getattr(self, name), maximum=MAX_SECONDS)
        check_seconds("timeout", self.timeout, positive=True, maximum=MAX_SECONDS)
        offset = self.timestamp_offset  # either sign: late or early deliveries
        if isinstance(offset, bool) or not isinstance(offset, (int, float)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(
                f"timestamp_offset must be a number of seconds, got {type(offset).__name__}"
            )
        check_seconds("timestamp_offset", abs(offset))
        check_bool("deliver_twice", self.deliver_twice)
        check_bool("corrupt_signature", self.corrupt_signature)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST to a webhook URL: ``status_code`` is None when the transport failed (``error``)."""

    request_id: str
    url: str
    attempt: int
    status_code: int | None
    error: str | None
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def delivery_body(
    *, request_id: str, gateway_request_id: str | None, status_code: int, payload: Any
) -> dict[str, Any]:
    """The JSON fal posts for a request that finished with ``status_code`` and body ``payload``."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "gateway_request_id": gateway_request_id or request_id,
    }
    if 200 <= status_code < 300:
        body["status"] = "OK"
    else:
        body["status"] = "ERROR"
        body["error"] = f"Invalid status code: {status_code}"
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        body["payload"] = None
        body["payload_error"] = f"payload is not JSON serializable: {exc}"
    else:
        body["payload"] = payload
    return body


def is_loopback_url(url: str) -> bool:
    """True when ``url`` targets this machine (127.0.0.0/8, ::1 or localhost), decided without DNS.

    The local server is for offline work: it never sends a delivery off the machine, so a
    ``webhook_url`` such as ``https://example.com/hook`` is recorded as refused instead.
    """
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _corrupt(signature_hex: str) -> str:
    raw = bytearray(bytes.fromhex(signature_hex))
    raw[len(raw) // 2] ^= 0x01
    return raw.hex()


class WebhookDispatcher:
    """Signs and delivers webhooks for one server; its key lives as long as the dispatcher."""

    def __init__(self, settings: WebhookSettings | None = None) -> None:
        self.settings: WebhookSettings = settings or WebhookSettings()
        self._keys: list[Ed25519PrivateKey] = [Ed25519PrivateKey.generate()]
        self._attempts: deque[DeliveryAttempt] = deque(maxlen=_MAX_ATTEMPT_LOG)
        self._pending: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._changed = threading.Condition()

    # keys

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The key deliveries are signed with (the last one added)."""
        return self._keys[-1]

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWKS document."""
        return {"keys": [public_jwk(key.public_key()) for key in self._keys]}

    def rotate_key(self, *, keep_old: bool = False) -> Ed25519PrivateKey:
        """Sign with a new key from now on; the old one stays in the JWKS only if ``keep_old``."""
        key = Ed25519PrivateKey.generate()
        self._keys = [*self._keys, key] if keep_old else [key]
        return key

    # configuration and inspection (thread-safe: tests call these from their own thread)

    def configure(self, **changes: Any) -> WebhookSettings:
        """Replace some settings (``retries=0, deliver_twice=True`` ...); returns the new ones."""
        self.settings = replace(self.settings, **changes)
        return self.settings

    def reset(self) -> None:
        """Back to default settings and an empty attempt log (the key is kept)."""
        with self._changed:
            self.settings = WebhookSettings()
            self._attempts.clear()

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far, oldest first."""
        with self._changed:
            return list(self._attempts)

    def wait_for(self, request_id: str, *, timeout: float = 10.0) -> list[DeliveryAttempt]:
        """Block until ``request_id``'s delivery is over (delivered or out of retries)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                attempts = [a for a in self._attempts if a.request_id == request_id]
                if attempts and request_id not in self._pending:
                    return attempts
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"webhook for request {request_id} not delivered within {timeout:g} s"
                    )
                self._changed.wait(remaining)

    # server side

    def routes(self) -> list[BaseRoute]:
        """Routes for the REST prefix: the JWKS."""

        async def jwks(_: Request) -> JSONResponse:
            return JSONResponse(self.jwks(), headers={"Cache-Control": "public, max-age=3600"})

        return [Route(JWKS_PATH, jwks, methods=["GET"])]

    def schedule(
        self,
        url: str,
        *,
        request_id: str,
        gateway_request_id: str | None,
        status_code: int,
        payload: Any,
    ) -> None:
        """Start delivering in the running event loop (call from the server's loop)."""
        body = delivery_body(
            request_id=request_id,
            gateway_request_id=gateway_request_id,
            status_code=status_code,
            payload=payload,
        )
        with self._changed:
            self._pending[request_id] = self._pending.get(request_id, 0) + 1
        task = asyncio.get_running_loop().create_task(self._deliver(url, request_id, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Cancel deliveries in flight and close the HTTP client (on server stop)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _signed_headers(
        self, request_id: str, body: bytes, settings: WebhookSettings
    ) -> dict[str, str]:
        timestamp = int(time.time() + settings.timestamp_offset)
        headers = sign_delivery(
            self.signing_key,
            request_id=request_id,
            user_id=settings.user_id,
            timestamp=timestamp,
            body=body,
        )
        if settings.corrupt_signature:
            headers[SIGNATURE_HEADER] = _corrupt(headers[SIGNATURE_HEADER])
        return {
            "Content-Type": "application/json",
            "User-Agent": "fal-webhook (fal_typed local server)",
            **headers,
        }

    async def _post(self, url: str, request_id: str, body: bytes, attempt: int) -> DeliveryAttempt:
        settings = self.settings
        headers = self._signed_headers(request_id, body, settings)
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        status_code: int | None = None
        error: str | None = None
        if not is_loopback_url(url):
            error = _REFUSED
        else:
            try:
                response = await self._http.post(
                    url, content=body, headers=headers, timeout=settings.timeout
                )
                status_code = response.status_code
            except (httpx.HTTPError, ValueError) as exc:  # ValueError: a URL httpx cannot use
                error = f"{type(exc).__name__}: {exc}"
        record = DeliveryAttempt(request_id, url, attempt, status_code, error, body, headers)
        with self._changed:
            self._attempts.append(record)
            self._changed.notify_all()
        return record

    async def _deliver(self, url: str, request_id: str, delivery: Mapping[str, Any]) -> None:
        body = json.dumps(delivery, separators=(",", ":")).encode()
        try:
            attempt = 0
            while True:
                attempt += 1
                record = await self._post(url, request_id, body, attempt)
                if record.error == _REFUSED:
                    return
                settings = self.settings
                if record.ok:
                    if settings.deliver_twice:
                        await self._post(url, request_id, body, attempt + 1)
                    return
                if record.status_code is not None and 300 <= record.status_code < 400:
                    return  # like fal: a redirect fails the delivery for good
                if attempt > settings.retries:
                    return
                await asyncio.sleep(
                    min(settings.backoff * 2 ** (attempt - 1), settings.max_backoff)
                )
        finally:
            with self._changed:
                left = self._pending.get(request_id, 1) - 1
                if left > 0:
                    self._pending[request_id] = left
                else:
                    self._pending.pop(request_id, None)
                self._changed.notify_all()
