"""What the proxy's hooks are given: a billed call before it is forwarded, every call after.

``spend_cap(call: BillableCall)`` runs before a submit, run or stream is forwarded and may refuse
it (return False): the place for a budget check, once prices are known (fal's Platform API has
them; the proxy does not fetch them itself). ``on_call(call: ProxyCall)`` runs once per request
the proxy answered, forwarded or refused, after the last byte: the place to log or meter usage
(``billable_units`` is fal's ``X-Fal-Billable-Units`` header when it sent one).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from starlette.requests import Request

from ._targets import Operation

__all__ = ["Authenticate", "BillableCall", "OnCall", "ProxyCall", "SpendCap", "resolved"]


@dataclass(frozen=True)
class BillableCall:
    """A submit, run or stream about to be forwarded."""

    caller: str
    endpoint_id: str
    operation: Operation
    input: Mapping[str, Any] | None
    """The JSON input as sent (validated first when the endpoint's model is known); None when
    the body is not a JSON object."""
    request: Request


@dataclass(frozen=True)
class ProxyCall:
    """One request the proxy answered. ``forwarded`` is False when the proxy refused it itself
    (``error_type`` says why); the target is fal's URL, never the upstream's."""

    caller: str | None
    method: str
    target: str | None
    operation: Operation | None
    endpoint_id: str | None
    status_code: int
    forwarded: bool
    error_type: str | None
    request_id: str | None
    billable_units: str | None
    duration: float
    """Seconds from the request's arrival to the answer's last byte."""
    request_bytes: int
    response_bytes: int


Authenticate: TypeAlias = Callable[[Request], "Awaitable[str | None] | str | None"]
"""Who is calling: a caller id (any non-empty string; limits count per id), or None to refuse."""

SpendCap: TypeAlias = Callable[[BillableCall], "Awaitable[bool] | bool"]
"""Whether a billed call may go ahead; False refuses it (402, ``spend_cap_exceeded``)."""

OnCall: TypeAlias = Callable[[ProxyCall], "Awaitable[None] | None"]
"""Told of every request once it is answered; what it raises is logged, never sent back."""


async def resolved(value: object) -> object:
    """What a hook returned, awaited if the hook was a coroutine function (hooks may be either)."""
    if inspect.isawaitable(value):
        return await cast("Awaitable[object]", value)
    return value
