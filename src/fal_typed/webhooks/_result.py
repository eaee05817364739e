"""`WebhookResult`: a verified delivery, with the payload parsed into the endpoint's Output.

fal posts ``{"request_id", "gateway_request_id", "status": "OK"|"ERROR", "payload", "error",
"payload_error"}`` (PROTOCOL.md section 9). An ERROR delivery carries the failure's body as its
payload and ``"Invalid status code: <n>"`` as its error; :meth:`WebhookResult.exception` turns it
into the same typed error a queue call raises (422 -> ``FalValidationError`` with field paths).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ValidationError

from .._errors import FalError, OutputValidationError, error_for_response
from ._errors import WebhookPayloadError
from ._signature import SignedHeaders

__all__ = ["WebhookResult", "decode_delivery"]

OutputT = TypeVar("OutputT", bound=BaseModel)

_STATUS_CODE: Final = re.compile(r"\bstatus code:?\s*(\d{3})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WebhookResult(Generic[OutputT]):
    """One verified webhook delivery.

    ``payload`` is the typed Output for an OK delivery. It is None when fal could not serialise
    it (then ``payload_error`` says why), and when the output does not fit the Output model (then
    ``output_error`` says where, and ``raw_payload`` keeps it: a paid result is handed over, not
    refused). For an ERROR delivery ``payload`` is None, ``error`` is fal's message and
    ``raw_payload`` the failure's body. ``delivery`` is the whole decoded JSON body.
    """

    status: Literal["OK", "ERROR"]
    request_id: str
    gateway_request_id: str | None
    payload: OutputT | None
    error: str | None
    payload_error: str | None
    raw_payload: Any
    delivery: dict[str, Any] = field(repr=False)
    user_id: str
    timestamp: int
    output_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the request succeeded (``status == "OK"``)."""
        return self.status == "OK"

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the failed request (from ``"Invalid status code: 422"``), if any."""
        match = _STATUS_CODE.search(self.error or "")
        return int(match.group(1)) if match else None

    def exception(self) -> FalError | None:
        """The typed error this delivery reports, or None for an OK delivery with a payload."""
        if self.ok:
            if self.payload is not None:
                return None
            if self.output_error is not None:
                return OutputValidationError(
                    self.output_error, data=self.raw_payload, request_id=self.request_id
                )
            message = f"result could not be delivered: {self.payload_error or 'empty payload'}"
            return FalError(message, request_id=self.request_id, error_type="payload_error")
        code = self.status_code
        if code is None or code < 400:
            return FalError(self.error or "request failed", request_id=self.request_id)
        return error_for_response(code, self.raw_payload, {}, request_id=self.request_id)

    def unwrap(self) -> OutputT:
        """The typed Output, or raise :meth:`exception` (e.g. ``FalValidationError`` for a 422)."""
        if self.payload is not None:
            return self.payload
        error = self.exception()
        assert error is not None  # payload is None, so there is always an error to report
        raise error


def _optional_str(delivery: Mapping[str, Any], key: str, request_id: str) -> str | None:
    value = delivery.get(key)
    if value is None or isinstance(value, str):
        return value
    raise WebhookPayloadError(
        f"webhook field {key!r} must be a string or null", request_id=request_id, raw=delivery
    )


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        decoded: object = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookPayloadError("webhook body is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise WebhookPayloadError("webhook body is not a JSON object", raw=decoded)
    return cast("dict[str, Any]", decoded)


def decode_delivery(
    body: bytes, signed: SignedHeaders, output_model: type[OutputT]
) -> WebhookResult[OutputT]:
    """Decode an already verified body; the signed request id must name this delivery."""
    delivery = _load_json(body)
    request_id = delivery.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise WebhookPayloadError("webhook body has no request_id", raw=delivery)
    gateway_request_id = _optional_str(delivery, "gateway_request_id", request_id)
    named = [request_id] + ([gateway_request_id] if gateway_request_id else [])
    if not any(hmac.compare_digest(signed.request_id.encode(), rid.encode()) for rid in named):
        raise WebhookPayloadError(
            "the signed X-Fal-Webhook-Request-Id does not match the body's request_id",
            request_id=request_id,
            raw=delivery,
        )
    status = delivery.get("status")
    if status not in ("OK", "ERROR"):
        raise WebhookPayloadError(
            f"unknown webhook status {status!r}", request_id=request_id, raw=delivery
        )
    error = _optional_str(delivery, "error", request_id)
    payload_error = _optional_str(delivery, "payload_error", request_id)
    raw_payload = delivery.get("payload")
    payload: OutputT | None = None
    output_error: str | None = None
    if status == "OK" and raw_payload is not None:
        try:
            payload = output_model.model_validate(raw_payload)
        except (ValidationError, RecursionError) as exc:
            # Authentic and paid for: handed over with the problem, never answered 400 (fal
            # would give up on it, and the result would reach no handler).
            output_error = _misfit(output_model, exc)
    return WebhookResult(
        status=status,
        request_id=request_id,
        gateway_request_id=gateway_request_id,
        payload=payload,
        error=error,
        payload_error=payload_error,
        raw_payload=raw_payload,
        delivery=delivery,
        user_id=signed.user_id,
        timestamp=signed.timestamp,
        output_error=output_error,
    )


def _misfit(output_model: type[BaseModel], exc: ValidationError | RecursionError) -> str:
    """Where a delivered output fails ``output_model``, in one line."""
    if isinstance(exc, RecursionError):
        return f"webhook payload does not match {output_model.__name__}: nested too deeply"
    first = ".".join(map(str, exc.errors()[0]["loc"])) or "payload"
    where = f": {exc.error_count()} error(s), first at {first}"
    return f"webhook payload does not match {output_model.__name__}{where}"
