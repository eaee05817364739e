"""Direct calls through the run host (PROTOCOL.md section 3): no queue, the output in the answer.

fal cancels a direct run whose connection drops, and a run is a POST, so a failure after the
input was sent is never retried (``PossiblyAcceptedError``); error responses and failed
connects are retried as everywhere else. ``timeout`` bounds the whole call, however slowly the
answer trickles in (see ``_wallclock``); without it the read is unbounded, as in fal-client,
since a model may legitimately run for minutes. A run the timeout ends after its input was sent
is :class:`~fal_typed.PossiblyAcceptedTimeoutError`: it may have run (and been paid for).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from ._attempts import deadline_cut, naming
from ._client import Client
from ._deadline import Deadline
from ._errors import FalError, FalTimeoutError
from ._jsonbody import answer_text, parse_json
from ._options import check_positive, request_headers
from ._request_json import encode_json, with_json_type
from ._retry import Kind
from ._urls import endpoint_url
from ._wallclock import Exchange, exchanges_seen, within, within_async

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["RunResult", "run", "run_async"]


@dataclass(frozen=True)
class RunResult:
    """The output of a direct run and the request id fal gave it (if it sent one).

    ``data`` is the output JSON, or an instance of the call's ``output`` model when one was
    given and the answer validates into it."""

    data: Any
    request_id: str | None


class _RunRequest(NamedTuple):
    url: str
    body: bytes
    headers: dict[str, str]
    timeout: httpx.Timeout
    deadline: Deadline | None


def _unbounded_read(
    connect: float | None, write: float | None, pool: float | None
) -> httpx.Timeout:
    """The client's timeouts with no read limit: a model may run for minutes."""
    return httpx.Timeout(connect=connect, read=None, write=write, pool=pool)


#: One per client configuration, not one per call.
_run_timeout = functools.lru_cache(maxsize=64)(_unbounded_read)


def _run_request(
    client: Client,
    endpoint_id: str,
    arguments: Mapping[str, Any],
    *,
    path: str,
    start_timeout: float | None,
    hint: str | None,
    headers: Mapping[str, str] | None,
    timeout: float | None,
) -> _RunRequest:
    base = client.timeout
    return _RunRequest(
        url=endpoint_url(client.run_url, endpoint_id, path),
        body=encode_json(endpoint_id, arguments),
        headers=with_json_type(
            request_headers(hint=hint, start_timeout=start_timeout, headers=headers)
        ),
        timeout=_run_timeout(base.connect, base.write, base.pool),
        deadline=None if timeout is None else Deadline(check_positive("timeout", timeout)),
    )


def _timed_out(
    client: Client, endpoint_id: str, exc: FalTimeoutError, exchanges: list[Exchange]
) -> FalError:
    """The error of a run its ``timeout`` ended: possibly accepted once its input was sent."""
    seconds = exc.timeout
    abandoned = FalTimeoutError(
        f"run of {endpoint_id} did not answer within {seconds:g}s; the call was abandoned "
        "(fal cancels a direct run when its connection drops)",
        timeout=seconds,
    )
    return deadline_cut(abandoned, exchanges, kind=Kind.RUN, redact=client.redact)


def _result(
    client: Client,
    endpoint_id: str,
    response: httpx.Response,
    output: type[BaseModel] | None,
) -> RunResult:
    """The output of a run's answer (see :func:`~._jsonbody.parse_json` for ``output``);
    unreadable or nested too deep, a ProtocolError that keeps its text and request id (the run
    was paid for)."""
    request_id = response.headers.get("x-fal-request-id")
    data = parse_json(
        answer_text(response),
        what=lambda: (
            f"the answer ({response.headers.get('content-type')!r}) of the run of {endpoint_id}"
        ),
        max_depth=client.limits.max_json_depth,
        request_id=request_id,
        redact=client.redact,
        into=output,
    )
    return RunResult(data, request_id)


def run(
    client: Client,
    endpoint_id: str,
    arguments: Mapping[str, Any],
    *,
    path: str = "",
    start_timeout: float | None = None,
    hint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    output: type[BaseModel] | None = None,
) -> RunResult:
    """``POST <run host>/<full id>[/<path>]`` with the input; the output JSON (validated
    straight from its text into ``output``, when given and it fits: see :class:`RunResult`)."""
    req = _run_request(
        client,
        endpoint_id,
        arguments,
        path=path,
        start_timeout=start_timeout,
        hint=hint,
        headers=headers,
        timeout=timeout,
    )
    http = client.http
    with naming(endpoint_id), exchanges_seen(http, req.deadline) as exchanges:
        try:
            with within(http, req.deadline, f"POST {req.url}"):
                response = client.request(
                    "POST",
                    req.url,
                    content=req.body,
                    headers=req.headers,
                    timeout=req.timeout,
                    deadline=req.deadline,
                    kind=Kind.RUN,
                )
        except FalTimeoutError as exc:
            raise _timed_out(client, endpoint_id, exc, exchanges) from None
    return _result(client, endpoint_id, response, output)


async def run_async(
    client: Client,
    endpoint_id: str,
    arguments: Mapping[str, Any],
    *,
    path: str = "",
    start_timeout: float | None = None,
    hint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    output: type[BaseModel] | None = None,
) -> RunResult:
    """Async twin of :func:`run`."""
    req = _run_request(
        client,
        endpoint_id,
        arguments,
        path=path,
        start_timeout=start_timeout,
        hint=hint,
        headers=headers,
        timeout=timeout,
    )
    with naming(endpoint_id), exchanges_seen(client.async_http, req.deadline) as exchanges:
        try:
            response = await within_async(
                client.arequest(
                    "POST",
                    req.url,
                    content=req.body,
                    headers=req.headers,
                    timeout=req.timeout,
                    deadline=req.deadline,
                    kind=Kind.RUN,
                ),
                req.deadline,
                f"POST {req.url}",
            )
        except FalTimeoutError as exc:
            raise _timed_out(client, endpoint_id, exc, exchanges) from None
    return _result(client, endpoint_id, response, output)
