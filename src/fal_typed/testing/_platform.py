"""fal's Platform API (api.fal.ai/v1) under ``/api/v1``: the operations fal_typed.platform uses.

* ``GET /models/pricing?endpoint_id=...``: unit prices from a table the test sets
  (:meth:`PlatformService.set_price`); an id without a price is a 404, as an unknown one is.
* ``POST /models/pricing/estimate``: both estimate types from the same table (a
  ``historical_api_price`` call costs ``units_per_call`` units).
* ``GET /models/requests/by-endpoint``: this server's queue requests (from its request log),
  newest first, ``limit`` (1-100, default 50) per page behind an opaque ``cursor``, filtered by
  ``start``/``end`` (default: the last 24 h), ``status``, ``request_id``; ``expand=payloads``
  adds ``json_input``/``json_output``. A request appears ``history_delay`` seconds after it
  arrived, as fal's history is an index that catches up.
* ``GET /models/usage``: spend by endpoint over a period (``summary`` and ``time_series`` by
  day or hour): every successful request of a priced endpoint costs one call's units.
* ``DELETE /models/requests/{id}/payloads``: forget its payloads and delete the output files
  this server stored (``Idempotency-Key`` answers a repeat with the first answer).
* ``GET /meta``: ``webhook_ip_ranges`` (loopback by default, where local webhooks come from).

Errors have fal's shape: ``{"error": {"type", "message", "request_id"}}``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .._checks import check_seconds
from .._errors import InvalidArgumentError
from .._hosts import LOCAL_PLATFORM_PREFIX
from ..naming import check_endpoint_id
from ._json import as_dict
from ._queue import CompletedRequest
from ._state import ServerState

__all__ = ["DEFAULT_WEBHOOK_IP_RANGES", "PlatformService", "Price", "platform_routes"]

#: Where the local server's webhooks come from.
DEFAULT_WEBHOOK_IP_RANGES: Final = ("127.0.0.1/32", "::1/128")
_MAX_IDS: Final = 50
_MAX_PAGE: Final = 100
_DEFAULT_PAGE: Final = 50
_DEFAULT_WINDOW: Final = timedelta(hours=24)
_IDEMPOTENCY_TTL: Final = 600.0
_STATUSES: Final = ("success", "error", "user_error")

ErrorType = Literal["authorization_error", "validation_error", "not_found"]


@dataclass(frozen=True)
class Price:
    """An endpoint's price: ``unit_price`` per ``unit``; a call bills ``units_per_call`` units."""

    unit_price: float
    unit: str = "image"
    currency: str = "USD"
    units_per_call: float = 1.0

    def row(self, endpoint_id: str) -> dict[str, Any]:
        return {
            "endpoint_id": endpoint_id,
            "unit_price": self.unit_price,
            "unit": self.unit,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class _Record:
    """One request as the history shows it (times are epoch seconds)."""

    request_id: str
    endpoint_id: str
    sent_at: float
    started_at: float | None
    ended_at: float | None
    status_code: int | None
    json_input: Any
    json_output: Any

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round(self.ended_at - self.started_at, 6)

    def status(self) -> str | None:
        code = self.status_code
        if code is None:
            return None
        return "success" if 200 <= code < 300 else "user_error" if 400 <= code < 500 else "error"

    def item(self, payloads: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "request_id": self.request_id,
            "endpoint_id": self.endpoint_id,
            "started_at": _iso(self.started_at if self.started_at is not None else self.sent_at),
            "sent_at": _iso(self.sent_at),
            "ended_at": _iso(self.ended_at) if self.ended_at is not None else None,
            "status_code": self.status_code,
            "duration": self.duration,
        }
        if payloads:
            item["json_input"] = self.json_input
            item["json_output"] = self.json_output
        return item


class _BadRequest(Exception):
    def __init__(self, message: str, error_type: ErrorType = "validation_error") -> None:
        super().__init__(message)
        self.error_type: ErrorType = error_type


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, error_type: str, message: str) -> JSONResponse:
    request_id = str(uuid.uuid4())
    body = {"error": {"type": error_type, "message": message, "request_id": request_id}}
    return JSONResponse(body, status_code=status)


def _parse_time(name: str, value: str) -> float:
    """Epoch seconds of an ISO 8601 date or date-time (UTC when it names no zone)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise _BadRequest(f"{name} must be an ISO 8601 date or date-time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _ids(request: Request, *, required: bool) -> list[str]:
    ids = [
        part.strip()
        for value in request.query_params.getlist("endpoint_id")
        for part in value.split(",")
        if part.strip()
    ]
    if required and not ids:
        raise _BadRequest("endpoint_id is required")
    if len(ids) > _MAX_IDS:
        raise _BadRequest(f"at most {_MAX_IDS} endpoint_id values are allowed")
    return ids


def _expand(request: Request) -> set[str]:
    return {
        part.strip()
        for value in request.query_params.getlist("expand")
        for part in value.split(",")
        if part.strip()
    }


def _window(request: Request) -> tuple[float, float]:
    now = time.time()
    params = request.query_params
    end = _parse_time("end", params["end"]) if params.get("end") else now
    start = (
        _parse_time("start", params["start"])
        if params.get("start")
        else end - _DEFAULT_WINDOW.total_seconds()
    )
    if start >= end:
        raise _BadRequest("start must be before end")
    return start, end


def _page(request: Request, default: int) -> tuple[int, int]:
    """``(offset, size)`` from ``cursor`` and ``limit``."""
    params = request.query_params
    size = default
    if "limit" in params:
        try:
            size = int(params["limit"])
        except ValueError:
            raise _BadRequest("limit must be an integer") from None
        if not 1 <= size <= _MAX_PAGE:
            raise _BadRequest(f"limit must be between 1 and {_MAX_PAGE}")
    offset = 0
    if cursor := params.get("cursor"):
        try:
            offset = int(base64.b64decode(cursor, validate=True).decode("ascii"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise _BadRequest(f"invalid cursor {cursor!r}") from None
        if offset < 0:
            raise _BadRequest(f"invalid cursor {cursor!r}")
    return offset, size


def _cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode("ascii")).decode("ascii")


def _file_urls(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():  # pyright: ignore[reportUnknownVariableType]
            yield from _file_urls(item)
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            yield from _file_urls(item)


class PlatformService:
    """The Platform API of one local server; its attributes may change while it runs.

    ``history_delay``: seconds before a request appears in the request history (and usage).
    ``webhook_ip_ranges``: what ``/meta`` answers.
    """

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.history_delay: float = 0.0
        self.webhook_ip_ranges: list[str] = list(DEFAULT_WEBHOOK_IP_RANGES)
        self._prices: dict[str, Price] = {}
        self._times: dict[str, tuple[float | None, float]] = {}  # request id -> started, ended
        self._deleted: set[str] = set()
        self._idempotent: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- what tests set --------------------------------------------------------------------------

    def set_price(
        self,
        endpoint_id: str,
        unit_price: float,
        *,
        unit: str = "image",
        currency: str = "USD",
        units_per_call: float = 1.0,
    ) -> Price:
        """Price ``endpoint_id`` (the pricing, estimate and usage answers follow). A price that
        is not a finite number (NaN, a string) is refused naming it: NaN passed ``< 0``."""
        check_endpoint_id(endpoint_id)
        unit_price = check_seconds("unit_price", unit_price, unit="")
        units_per_call = check_seconds("units_per_call", units_per_call, positive=True, unit="")
        for name, text in (("unit", unit), ("currency", currency)):
            if not isinstance(text, str) or not text.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
                raise InvalidArgumentError(f"{name} must be a non-empty string, got {text!r:.40}")
        price = Price(unit_price, unit, currency, units_per_call)
        with self._lock:
            self._prices[endpoint_id] = price
        return price

    def set_prices(self, prices: Mapping[str, float]) -> None:
        """Price several endpoints per image at once: ``{"fal-ai/flux/dev": 0.025}``."""
        for endpoint_id, unit_price in prices.items():
            self.set_price(endpoint_id, unit_price)

    def configure(
        self, *, history_delay: float | None = None, webhook_ip_ranges: Sequence[str] | None = None
    ) -> None:
        """Change how the history lags and what ``/meta`` answers. Each option is checked before
        either is set: a NaN delay passed ``< 0``, and a string of ranges became its characters."""
        delay = None if history_delay is None else check_seconds("history_delay", history_delay)
        ranges = None if webhook_ip_ranges is None else _ip_ranges(webhook_ip_ranges)
        if delay is not None:
            self.history_delay = delay
        if ranges is not None:
            self.webhook_ip_ranges = ranges

    def reset(self) -> None:
        """Forget prices, payload deletions and settings (the request log is reset apart)."""
        with self._lock:
            self._prices.clear()
            self._times.clear()
            self._deleted.clear()
            self._idempotent.clear()
        self.history_delay = 0.0
        self.webhook_ip_ranges = list(DEFAULT_WEBHOOK_IP_RANGES)

    def on_complete(self, done: CompletedRequest) -> None:
        """Completion hook: when the request started and ended, by the wall clock."""
        queued = self.state.queue.get(done.request_id)
        now, clock = time.time(), time.monotonic()
        started = (
            None
            if queued is None or queued.started_at is None
            else now - (clock - queued.started_at)
        )
        with self._lock:
            self._times[done.request_id] = (started, now)

    # -- the history -------------------------------------------------------------------------

    def records(self, *, visible_only: bool = True) -> list[_Record]:
        """Every queue request this server accepted, oldest first; those younger than
        ``history_delay`` are left out unless ``visible_only`` is False."""
        horizon = time.time() - self.history_delay
        records: list[_Record] = []
        for entry in self.state.log.entries("queue.submit"):
            # Accepted by the queue (it names the request), whether or not the answer got out.
            if entry.request_id is None:
                continue
            if visible_only and entry.received_at > horizon:
                continue
            queued = self.state.queue.get(entry.request_id)
            if queued is None:
                continue
            with self._lock:
                started, ended = self._times.get(entry.request_id, (None, None))
                deleted = entry.request_id in self._deleted
            outcome = queued.outcome
            records.append(
                _Record(
                    request_id=queued.request_id,
                    endpoint_id=queued.endpoint_id,
                    sent_at=entry.received_at,
                    started_at=started,
                    ended_at=ended if outcome is not None else None,
                    status_code=outcome.status_code if outcome is not None else None,
                    json_input=None if deleted else queued.arguments,
                    json_output=None if deleted or outcome is None else outcome.body,
                )
            )
        return records

    # -- routes ----------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        prefix = f"{LOCAL_PLATFORM_PREFIX}/v1"
        return [
            Route(
                f"{prefix}/models/pricing", self._pricing, methods=["GET"], name="platform.pricing"
            ),
            Route(
                f"{prefix}/models/pricing/estimate",
                self._estimate,
                methods=["POST"],
                name="platform.estimate",
            ),
            Route(f"{prefix}/models/usage", self._usage, methods=["GET"], name="platform.usage"),
            Route(
                f"{prefix}/models/requests/by-endpoint",
                self._by_endpoint,
                methods=["GET"],
                name="platform.requests",
            ),
            Route(
                f"{prefix}/models/requests/{{request_id}}/payloads",
                self._delete_payloads,
                methods=["DELETE"],
                name="platform.delete_payloads",
            ),
            Route(f"{prefix}/meta", self._meta, methods=["GET"], name="platform.meta"),
        ]

    async def _answer(self, request: Request, handler: Any, *, auth: bool = True) -> Response:
        if auth and self.state.auth_error(request) is not None:
            return _error(401, "authorization_error", "Authentication required")
        try:
            body = await handler(request)
        except _BadRequest as exc:
            status = 404 if exc.error_type == "not_found" else 400
            return _error(status, exc.error_type, str(exc))
        return JSONResponse(body)

    async def _pricing(self, request: Request) -> Response:
        async def handle(request: Request) -> dict[str, Any]:
            ids = _ids(request, required=True)
            prices = self._known(ids)
            return {
                "prices": [prices[i].row(i) for i in dict.fromkeys(ids)],
                "next_cursor": None,
                "has_more": False,
            }

        return await self._answer(request, handle)

    def _known(self, ids: Sequence[str]) -> dict[str, Price]:
        with self._lock:
            prices = {i: self._prices[i] for i in ids if i in self._prices}
        unknown = [i for i in ids if i not in prices]
        if unknown:
            raise _BadRequest(f"Endpoint not found: {', '.join(unknown)}", "not_found")
        return prices

    async def _estimate(self, request: Request) -> Response:
        async def handle(request: Request) -> dict[str, Any]:
            try:
                body = as_dict(json.loads(await request.body()))
            except ValueError:
                raise _BadRequest("the body must be a JSON object") from None
            estimate_type = body.get("estimate_type")
            quantity_key = {"historical_api_price": "call_quantity", "unit_price": "unit_quantity"}
            if estimate_type not in quantity_key:
                raise _BadRequest("estimate_type must be 'historical_api_price' or 'unit_price'")
            endpoints = as_dict(body.get("endpoints"))
            if not endpoints:
                raise _BadRequest("endpoints must map endpoint ids to quantities")
            prices = self._known(list(endpoints))
            total = 0.0
            for endpoint_id, wanted in endpoints.items():
                quantity = as_dict(wanted).get(quantity_key[estimate_type])
                if isinstance(quantity, bool) or not isinstance(quantity, (int, float)):
                    raise _BadRequest(
                        f"endpoints.{endpoint_id}.{quantity_key[estimate_type]}: required"
                    )
                if quantity <= 0:
                    raise _BadRequest(f"endpoints.{endpoint_id}: the quantity must be positive")
                price = prices[endpoint_id]
                units = (
                    quantity * price.units_per_call
                    if estimate_type == "historical_api_price"
                    else quantity
                )
                total += units * price.unit_price
            currency = next(iter(prices.values())).currency
            return {
                "estimate_type": estimate_type,
                "total_cost": round(total, 6),
                "currency": currency,
            }

        return await self._answer(request, handle)

    async def _by_endpoint(self, request: Request) -> Response:
        async def handle(request: Request) -> dict[str, Any]:
            ids = set(_ids(request, required=True))
            start, end = _window(request)
            offset, size = _page(request, _DEFAULT_PAGE)
            params = request.query_params
            status = params.get("status")
            if status is not None and status not in _STATUSES:
                raise _BadRequest(f"status must be one of {', '.join(_STATUSES)}")
            request_id = params.get("request_id")
            sort_by = params.get("sort_by", "ended_at")
            if sort_by not in ("ended_at", "duration"):
                raise _BadRequest("sort_by must be 'ended_at' or 'duration'")
            records = [
                r
                for r in self.records()
                if r.endpoint_id in ids
                and start <= r.sent_at < end
                and (status is None or r.status() == status)
                and (request_id is None or r.request_id == request_id)
            ]
            if sort_by == "duration":
                records.sort(key=lambda r: (r.duration or 0.0, r.sent_at), reverse=True)
            else:
                records.sort(key=lambda r: (r.ended_at or float("inf"), r.sent_at), reverse=True)
            page = records[offset : offset + size]
            has_more = offset + size < len(records)
            payloads = "payloads" in _expand(request)
            return {
                "items": [r.item(payloads) for r in page],
                "next_cursor": _cursor(offset + size) if has_more else None,
                "has_more": has_more,
            }

        return await self._answer(request, handle)

    async def _usage(self, request: Request) -> Response:
        async def handle(request: Request) -> dict[str, Any]:
            ids = set(_ids(request, required=False))
            start, end = _window(request)
            expand = _expand(request) or {"time_series"}
            timeframe = request.query_params.get("timeframe", "day")
            if timeframe not in ("hour", "day"):
                raise _BadRequest("the local server buckets usage by 'hour' or 'day'")
            with self._lock:
                prices = dict(self._prices)
            lines: list[tuple[str, str, Price]] = []  # (bucket, endpoint id, price)
            for record in self.records():
                price = prices.get(record.endpoint_id)
                if price is None or record.status() != "success":
                    continue
                if (ids and record.endpoint_id not in ids) or not start <= record.sent_at < end:
                    continue
                lines.append((_bucket(record.sent_at, timeframe), record.endpoint_id, price))
            body: dict[str, Any] = {"next_cursor": None, "has_more": False}
            if "summary" in expand:
                body["summary"] = _usage_rows([(e, p) for _, e, p in lines])
            if "time_series" in expand:
                buckets = sorted({b for b, _, _ in lines})
                body["time_series"] = [
                    {"bucket": b, "results": _usage_rows([(e, p) for k, e, p in lines if k == b])}
                    for b in buckets
                ]
            return body

        return await self._answer(request, handle)

    async def _delete_payloads(self, request: Request) -> Response:
        async def handle(request: Request) -> dict[str, Any]:
            request_id = request.path_params["request_id"]
            key = request.headers.get("idempotency-key")
            now = time.time()
            with self._lock:
                for stale in [
                    k for k, (at, _) in self._idempotent.items() if now - at > _IDEMPOTENCY_TTL
                ]:
                    del self._idempotent[stale]
                if key is not None and key in self._idempotent:
                    return self._idempotent[key][1]
            record = next(
                (r for r in self.records(visible_only=False) if r.request_id == request_id), None
            )
            if record is None:
                raise _BadRequest(f"Request not found: {request_id}", "not_found")
            results: list[dict[str, Any]] = []
            cdn_files = f"{self.state.cdn_url}/files/"
            for url in dict.fromkeys(_file_urls(record.json_output)):
                if url.startswith(cdn_files):
                    self.state.files.delete(url[len(cdn_files) :])
                    results.append({"link": url, "exception": None})
            answer = {"cdn_delete_results": results}
            with self._lock:
                self._deleted.add(request_id)
                if key is not None:
                    self._idempotent[key] = (now, answer)
            return answer

        return await self._answer(request, handle)

    async def _meta(self, request: Request) -> Response:
        async def handle(request: Request) -> dict[str, Any]:
            return {"webhook_ip_ranges": list(self.webhook_ip_ranges)}

        return await self._answer(request, handle, auth=False)


def _bucket(epoch: float, timeframe: str) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    moment = moment.replace(minute=0, second=0, microsecond=0)
    if timeframe == "day":
        moment = moment.replace(hour=0)
    return moment.isoformat().replace("+00:00", "Z")


def _usage_rows(lines: Sequence[tuple[str, Price]]) -> list[dict[str, Any]]:
    """One row per endpoint and price: the units of its calls and what they cost."""
    totals: dict[tuple[str, Price], float] = {}
    for endpoint_id, price in lines:
        totals[(endpoint_id, price)] = totals.get((endpoint_id, price), 0.0) + price.units_per_call
    rows: list[dict[str, Any]] = []
    for (endpoint_id, price), quantity in sorted(totals.items(), key=lambda kv: kv[0][0]):
        cost = round(quantity * price.unit_price, 6)
        rows.append(
            {
                "endpoint_id": endpoint_id,
                "unit": price.unit,
                "quantity": quantity,
                "unit_price": price.unit_price,
                "percent_discount": None,
                "cost_subtotal": cost,
                "cost_discount": 0.0,
                "cost_total": cost,
                "cost": cost,
                "currency": price.currency,
            }
        )
    return rows


def platform_routes(state: ServerState) -> list[BaseRoute]:
    """The route provider (see ``_app``): the service, its completion hook and reset."""
    service = PlatformService(state)
    state.extensions["platform"] = service
    state.completion_hooks.append(service.on_complete)
    state.reset_callbacks.append(service.reset)
    return service.routes()


def _ip_ranges(given: object) -> list[str]:
    """``webhook_ip_ranges``: a list of CIDR ranges, each one ``ipaddress`` reads."""
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise InvalidArgumentError(
            f"webhook_ip_ranges must be a list of CIDR ranges, got {type(given).__name__}"
        )
    ranges: list[str] = []
    for item in cast("Sequence[object]", given):
        try:
            if not isinstance(item, str):
                raise TypeError
            ranges.append(str(ipaddress.ip_network(item)))
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"webhook_ip_ranges: {item!r:.60} is not a CIDR range (such as '10.0.0.0/8')"
            ) from None
    return ranges
