"""The queue protocol (PROTOCOL.md sections 1-2) at the JSON level: submit, status, result, cancel.

Typed outputs are the handles' job (``_handle``); waiting for completion lives in ``_wait``.
Every by-id call rebuilds the app-root URL from the client's ``queue_url``, so a handle rebuilt
from a saved request id behaves exactly like the one ``submit`` returned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from ._attempts import deadline_cut, naming, possibly_accepted
from ._client import Client
from ._deadline import Deadline
from ._errors import FalError, FalHTTPError, FalTimeoutError
from ._jsonbody import answer_text, parse_json
from ._options import Priority, check_with_logs, request_headers, webhook_params
from ._request_json import encode_json, with_json_type
from ._retry import Kind, named_request_id
from ._status import Completed, Status, parse_status
from ._urls import check_request_id, endpoint_url, request_url
from ._wallclock import exchanges_seen, within, within_async

if TYPE_CHECKING:
    from types import TracebackType

    from pydantic import BaseModel

__all__ = [
    "Submission",
    "annotate_errors",
    "cancel",
    "cancel_async",
    "fetch_result",
    "fetch_result_async",
    "get_status",
    "get_status_async",
    "is_not_ready",
    "status_params",
    "submit",
    "submit_async",
]


@dataclass(frozen=True)
class Submission:
    """What a submit returns: the request id and the position in the queue when accepted."""

    request_id: str
    queue_position: int | None = None


class _SubmitRequest(NamedTuple):
    url: str
    body: bytes
    headers: dict[str, str]
    params: dict[str, str]


def _submit_request(
    client: Client,
    endpoint_id: str,
    arguments: Mapping[str, Any],
    *,
    webhook_url: str | None,
    priority: Priority | None,
    hint: str | None,
    start_timeout: float | None,
    headers: Mapping[str, str] | None,
) -> _SubmitRequest:
    """Check every option and build the request (raises before anything is sent)."""
    return _SubmitRequest(
        url=endpoint_url(client.queue_url, endpoint_id),
        body=encode_json(endpoint_id, arguments),
        headers=with_json_type(
            request_headers(
                priority=priority, hint=hint, start_timeout=start_timeout, headers=headers
            )
        ),
        params=webhook_params(webhook_url),
    )


def _submission(client: Client, response: httpx.Response) -> Submission:
    """The request id of a submit's answer. A success that names no usable id is a request
    fal took (and bills) that cannot be followed: possibly accepted, with the answer's text
    and its header id, never a plain failure inviting a second submit."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    request_id = data.get("request_id") if isinstance(data, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(request_id, str):
        raise _unfollowable(client, response, "has no request_id")
    try:
        request_id = check_request_id(request_id)
    except FalError:
        raise _unfollowable(client, response, "has a malformed request_id") from None
    position = data.get("queue_position")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType, reportOptionalMemberAccess]
    return Submission(request_id, position if isinstance(position, int) else None)


def _unfollowable(client: Client, response: httpx.Response, what: str) -> FalError:
    text = client.redact(response.text)
    header_id = named_request_id(response)  # checked: a malformed one stays in the text
    shown = text[:200] + ("..." if len(text) > 200 else "")
    return possibly_accepted(
        f"submit answered {response.status_code} but its answer {what}: {shown!r}",
        response.request,
        method="POST",
        url=client.redact(str(response.request.url)),
        status_code=response.status_code,
        request_id=header_id,
        text=text,
    )


def submit(
    client: Client,
    endpoint_id: str,
    arguments: Mapping[str, Any],
    *,
    webhook_url: str | None = None,
    priority: Priority | None = None,
    hint: str | None = None,
    start_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> Submission:
    """``POST <queue>/<full id>`` with the input; the request id fal assigned."""
    req = _submit_request(
        client,
        endpoint_id,
        arguments,
        webhook_url=webhook_url,
        priority=priority,
        hint=hint,
        start_timeout=start_timeout,
        headers=headers,
    )
    http = client.http
    with naming(endpoint_id), exchanges_seen(http, deadline) as exchanges:
        try:
            with within(http, deadline, f"POST {req.url}"):
                response = client.request(
                    "POST",
                    req.url,
                    content=req.body,
                    headers=req.headers,
                    params=req.params,
                    deadline=deadline,
                    kind=Kind.SUBMIT,
                )
                # Parsed inside ``within``: a close-delimited answer cut at the deadline reads
                # as a short complete one: the deadline's error, not a truncated-JSON one.
                return _submission(client, response)
        except FalTimeoutError as exc:
            raise deadline_cut(exc, exchanges, kind=Kind.SUBMIT, redact=client.redact) from None


async def submit_async(
    client: Client,
    endpoint_id: str,
    arguments: Mapping[str, Any],
    *,
    webhook_url: str | None = None,
    priority: Priority | None = None,
    hint: str | None = None,
    start_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> Submission:
    """Async twin of :func:`submit`."""
    req = _submit_request(
        client,
        endpoint_id,
        arguments,
        webhook_url=webhook_url,
        priority=priority,
        hint=hint,
        start_timeout=start_timeout,
        headers=headers,
    )
    with naming(endpoint_id), exchanges_seen(client.async_http, deadline) as exchanges:
        try:
            response = await within_async(
                client.arequest(
                    "POST",
                    req.url,
                    content=req.body,
                    headers=req.headers,
                    params=req.params,
                    deadline=deadline,
                    kind=Kind.SUBMIT,
                ),
                deadline,
                f"POST {req.url}",
            )
        except FalTimeoutError as exc:
            raise deadline_cut(exc, exchanges, kind=Kind.SUBMIT, redact=client.redact) from None
        return _submission(client, response)


def status_params(with_logs: bool) -> dict[str, str]:
    """The ``logs`` query of status and status-stream requests (every status request's
    ``with_logs`` passes here: checked here)."""
    return {"logs": "1" if check_with_logs(with_logs) else "0"}


def get_status(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    with_logs: bool = False,
    deadline: Deadline | None = None,
) -> Status:
    """``GET .../requests/<id>/status``; logs are cumulative here."""
    url = request_url(client.queue_url, endpoint_id, request_id, "status")
    with annotate_errors(request_id), within(client.http, deadline, f"GET {url}"):
        response = client.request(
            "GET", url, params=status_params(with_logs), deadline=deadline, kind=Kind.STATUS
        )
        return parse_status(_json(client, response, request_id), request_id=request_id)


async def get_status_async(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    with_logs: bool = False,
    deadline: Deadline | None = None,
) -> Status:
    """Async twin of :func:`get_status`."""
    url = request_url(client.queue_url, endpoint_id, request_id, "status")
    with annotate_errors(request_id):
        response = await within_async(
            client.arequest(
                "GET", url, params=status_params(with_logs), deadline=deadline, kind=Kind.STATUS
            ),
            deadline,
            f"GET {url}",
        )
    return parse_status(_json(client, response, request_id), request_id=request_id)


class _NotReadyError(FalHTTPError):
    """The result was asked for before the request completed (answered 202 with a status)."""


def is_not_ready(error: FalHTTPError) -> bool:
    """A result request made before completion (fal: 400 "Request is still in progress")."""
    if isinstance(error, _NotReadyError):
        return True
    return error.status_code == 400 and "in progress" in error.message.lower()


def _result_json(
    client: Client, response: httpx.Response, request_id: str, output: type[BaseModel] | None
) -> Any:
    if response.status_code == 202:  # a status body, not the output: still waiting
        raise _NotReadyError(
            "Request is still in progress", status_code=202, body=None, request_id=request_id
        )
    return _json(client, response, request_id, into=output)


def fetch_result(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    completed: Completed | None = None,
    deadline: Deadline | None = None,
    output: type[BaseModel] | None = None,
) -> Any:
    """``GET .../requests/<id>``: the output JSON, or the request's failure raised as its error.

    With ``output``, an answer that validates into that model straight from its text is
    returned as an instance of it (see :func:`~._jsonbody.parse_json`); any other as its JSON.

    ``completed`` (the final status, if known) supplies ``error_type`` when the failure
    response lacks one. Raises a :class:`FalHTTPError` for which :func:`is_not_ready` holds if
    the request has not completed yet.
    """
    url = request_url(client.queue_url, endpoint_id, request_id)
    with annotate_errors(request_id, completed), within(client.http, deadline, f"GET {url}"):
        response = client.request("GET", url, deadline=deadline, kind=Kind.RESULT)
        return _result_json(client, response, request_id, output)


async def fetch_result_async(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    completed: Completed | None = None,
    deadline: Deadline | None = None,
    output: type[BaseModel] | None = None,
) -> Any:
    """Async twin of :func:`fetch_result`."""
    url = request_url(client.queue_url, endpoint_id, request_id)
    with annotate_errors(request_id, completed):
        response = await within_async(
            client.arequest("GET", url, deadline=deadline, kind=Kind.RESULT), deadline, f"GET {url}"
        )
        return _result_json(client, response, request_id, output)


def cancel(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    timeout: float | None = None,
    retry: bool = True,
) -> None:
    """``PUT .../requests/<id>/cancel``.

    A request that already finished raises a 400 :class:`FalHTTPError` whose message is
    ``ALREADY_COMPLETED``; an unknown id raises :class:`NotFoundError`.
    """
    url = request_url(client.queue_url, endpoint_id, request_id, "cancel")
    with annotate_errors(request_id), _finished_first(endpoint_id, request_id):
        client.request("PUT", url, timeout=timeout, retry=retry, kind=Kind.CANCEL)


async def cancel_async(
    client: Client,
    endpoint_id: str,
    request_id: str,
    *,
    timeout: float | None = None,
    retry: bool = True,
) -> None:
    """Async twin of :func:`cancel`."""
    url = request_url(client.queue_url, endpoint_id, request_id, "cancel")
    with annotate_errors(request_id), _finished_first(endpoint_id, request_id):
        await client.arequest("PUT", url, timeout=timeout, retry=retry, kind=Kind.CANCEL)


@contextlib.contextmanager
def _finished_first(endpoint_id: str, request_id: str) -> Generator[None, None, None]:
    """A cancel of a request that had already ended (400 ``ALREADY_COMPLETED``: it completed,
    failed, or was cancelled before) says so, and where its outcome is: if it completed, it ran
    and is billed (the message said only 'ALREADY_COMPLETED')."""
    try:
        yield
    except FalHTTPError as exc:
        body: object = exc.body
        if exc.status_code == 400 and (
            "ALREADY_COMPLETED" in exc.message
            or (isinstance(body, dict) and body.get("status") == "ALREADY_COMPLETED")  # pyright: ignore[reportUnknownMemberType]
        ):
            exc.message = (
                f"ALREADY_COMPLETED: request {request_id} had already ended, so it was not "
                "cancelled (it finished before it could be cancelled, failed, or was cancelled "
                "earlier); if it completed, it ran and is billed. Its outcome: "
                f"fal_typed.endpoint({endpoint_id!r}).handle({request_id!r}).result()"
            )
        raise


def _json(
    client: Client,
    response: httpx.Response,
    request_id: str,
    *,
    into: type[BaseModel] | None = None,
) -> Any:
    """The answer's JSON (or ``into``'s instance: see :func:`~._jsonbody.parse_json`);
    unreadable or nested too deep, a ProtocolError keeping its text."""
    return parse_json(
        answer_text(response),
        what=lambda: f"the answer of {response.request.url.path}",
        max_depth=client.limits.max_json_depth,
        request_id=request_id,
        redact=client.redact,
        into=into,
    )


class annotate_errors:
    """Stamp the request id (and the final status's error_type) on any FalError raised inside.

    The id the call was made for wins over a response header: it is the one the caller knows.
    A class, not a ``@contextmanager`` generator: every by-id call enters one.
    """

    __slots__ = ("completed", "request_id")

    def __init__(self, request_id: str, completed: Completed | None = None) -> None:
        self.request_id = request_id
        self.completed = completed

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, FalError):
            exc.request_id = self.request_id
            if self.completed is not None:
                exc.error_type = exc.error_type or self.completed.error_type
