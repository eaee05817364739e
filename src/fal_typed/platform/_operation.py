"""How the generated Platform client sends one operation: validate, build, send, parse.

Each generated method describes its operation once (an :class:`Operation`: method, path, which
arguments go into the path, the query and the headers, and how to read the answer) and hands its
arguments here. Path, query and header arguments are checked by the operation's ``params`` model
and the body by its own type before anything is sent, so a bad value is an
:class:`~fal_typed.InputValidationError` naming the field, never a request. Sending goes through
:meth:`Client.request` (key, retries, redaction, timeouts, typed errors) at the client's
``api_url``.

Arguments the caller left out (``None`` for parameters, :data:`~fal_typed.NOT_GIVEN` for body
fields) are not sent, so fal applies its own defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Generic, Protocol, TypeAlias, TypeVar, cast
from urllib.parse import quote

import httpx
from httpx_sse import EventSource
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from .._client import Client, given_or_default
from .._errors import (
    FalConnectionError,
    InputValidationError,
    InvalidArgumentError,
    OutputValidationError,
    ProtocolError,
)
from .._request_json import JSON_CONTENT_TYPE, encode_json, refusal
from .._types import NotGiven

__all__ = [
    "FileContent",
    "Operation",
    "Page",
    "RequestBody",
    "binary",
    "events",
    "events_async",
    "items",
    "items_async",
    "json_as",
    "json_body",
    "multipart_body",
    "no_content",
    "pages",
    "pages_async",
    "send",
    "send_async",
    "text",
]

ResponseT = TypeVar("ResponseT")
T = TypeVar("T")

#: What a file field of a multipart body accepts: its bytes, a path, or a binary file object.
FileContent: TypeAlias = "bytes | os.PathLike[str] | IO[bytes]"
#: Reads a successful response into the operation's return value.
Parser: TypeAlias = Callable[[httpx.Response], T]

_NOT_SENT_SEGMENTS: Final = frozenset({"", ".", ".."})


class Page(Protocol):
    """A page of a paginated operation: ``next_cursor`` goes into the next request's ``cursor``."""

    @property
    def next_cursor(self) -> str | None: ...

    @property
    def has_more(self) -> bool | None: ...


@dataclass(frozen=True)
class RequestBody:
    """An encoded request body and its content type."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class Operation(Generic[ResponseT]):
    """One operation of the Platform API, as the generated client describes it.

    ``path`` is relative to the client's ``api_url`` (``/v1/models/pricing``), with ``{name}``
    placeholders for ``path_params`` (wire name -> whether the value may hold ``/``, as file
    paths do). ``query`` and ``headers`` list the wire names sent there. ``params`` validates
    every path, query and header argument. ``idempotent`` overrides the client's choice by
    method (a POST that only reads may be retried like a GET).
    """

    operation_id: str
    method: str
    path: str
    response: Parser[ResponseT]
    params: type[BaseModel] | None = None
    path_params: Mapping[str, bool] = field(default_factory=dict[str, bool])
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    idempotent: bool | None = None

    @property
    def label(self) -> str:
        """``GET /v1/models/pricing``: how errors name the operation."""
        return f"{self.method} {self.path}"


# -- arguments -> request ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    url: str
    headers: dict[str, str]
    content: bytes | None
    idempotent: bool | None


def _validated_arguments(
    operation: Operation[Any], arguments: Mapping[str, object]
) -> dict[str, Any]:
    given = {name: value for name, value in arguments.items() if value is not None}
    if operation.params is None:
        return given
    try:
        model = operation.params.model_validate(given)
    except ValidationError as exc:
        raise InputValidationError.from_pydantic(operation.label, exc, operation.params) from None
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)


def _path_value(operation: Operation[Any], name: str, value: object, slashes: bool) -> str:
    text = str(value)
    segments = text.split("/") if slashes else [text]
    if any(segment in _NOT_SENT_SEGMENTS for segment in segments):
        raise InvalidArgumentError(
            f"{operation.label}: {name} must be a non-empty path without '.' or '..' segments,"
            f" got {text!r}"
        )
    return quote(text, safe="/" if slashes else "")


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_pairs(operation: Operation[Any], arguments: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name in operation.query:
        value: object = arguments.get(name)
        if value is None:
            continue
        items: list[object] = (
            list(value)  # pyright: ignore[reportUnknownArgumentType]
            if isinstance(value, (list, tuple))
            else [value]
        )
        pairs.extend((name, _query_value(item)) for item in items)
    return pairs


def _build(
    client: Client,
    operation: Operation[Any],
    arguments: Mapping[str, object],
    body: RequestBody | None,
) -> _Request:
    """Validate ``arguments`` and build the request (raises before anything is sent)."""
    values = _validated_arguments(operation, arguments)
    path = operation.path
    for name, slashes in operation.path_params.items():
        if name not in values:
            raise InvalidArgumentError(f"{operation.label}: the path parameter {name} is required")
        path = path.replace("{" + name + "}", _path_value(operation, name, values[name], slashes))
    url = str(httpx.URL(client.api_url + path, params=_query_pairs(operation, values)))
    headers = {name: str(values[name]) for name in operation.headers if name in values}
    for name, value in headers.items():
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise InvalidArgumentError(
                f"{operation.label}: {name} must not hold control characters"
            )
    if body is not None:
        headers["Content-Type"] = body.content_type
    idempotent = operation.idempotent
    if any(name.lower() == "idempotency-key" for name in headers):
        idempotent = True  # fal answers a repeated key with the first answer
    return _Request(url, headers, None if body is None else body.content, idempotent)


# -- bodies --------------------------------------------------------------------------------------


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(schema: Any) -> TypeAdapter[Any]:
    """The (cached) TypeAdapter of ``schema``: building one costs more than a validation."""
    adapter = _ADAPTERS.get(schema)
    if adapter is None:
        adapter = _ADAPTERS[schema] = TypeAdapter[Any](schema)
    return adapter


def _model(schema: object) -> type[BaseModel] | None:
    """``schema`` if it is a model (its errors are then located by field, misspellings named)."""
    return schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None


def json_body(
    operation: Operation[Any],
    schema: object,
    given: object,
    fields: Mapping[str, object],
    *,
    required: bool = False,
    renamed: Mapping[str, str] | None = None,
) -> RequestBody | None:
    """The JSON body of ``operation``: ``given`` (a model, or what ``schema`` validates), or
    else the keyword ``fields`` the caller gave (``renamed`` maps an argument name to its wire
    name where they differ), validated against ``schema``. None when neither was given and the
    body is not ``required``.

    Only the fields set are sent (``exclude_unset``): fal applies its own defaults.
    """
    renamed = renamed or {}
    chosen = {
        renamed.get(name, name): value
        for name, value in fields.items()
        if not isinstance(value, NotGiven)
    }
    if given is not None and chosen:
        raise InvalidArgumentError(
            f"{operation.label}: give the body or its fields as keywords, not both"
            f" (got a body and {', '.join(sorted(chosen))})"
        )
    if given is None and not chosen and not required:
        return None
    adapter = _adapter(schema)
    source = chosen if given is None else given
    try:
        value = adapter.validate_python(source)
    except ValidationError as exc:
        raise InputValidationError.from_pydantic(operation.label, exc, _model(schema)) from None
    try:
        # A model dumps with its own config (an open field's NaN kept as itself, for the encoder
        # to refuse); the adapter's serializer keeps pydantic's default (null).
        if isinstance(value, BaseModel):
            data = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
        else:
            data = adapter.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
    except PydanticSerializationError as exc:  # an open field's object it cannot write
        # Keyword fields or a given mapping are walked to name the value; a given model leaves
        # pydantic's reason (nothing to walk: ``chosen`` is empty beside a given body).
        walked = cast("Mapping[str, Any]", source) if isinstance(source, Mapping) else chosen
        raise refusal(operation.label, walked, exc) from None
    return RequestBody(encode_json(operation.label, data), JSON_CONTENT_TYPE)


def _file_part(name: str, value: object) -> tuple[str, bytes]:
    if isinstance(value, bytes):
        return name, value
    if isinstance(value, os.PathLike):
        path = Path(value)  # pyright: ignore[reportUnknownArgumentType]
        try:
            return path.name, path.read_bytes()
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {path}: {exc.strerror}") from None
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, bytes):
            filename = getattr(value, "name", name)
            return Path(filename).name if isinstance(filename, str) else name, data
    raise InvalidArgumentError(
        f"{name} must be bytes, a path or a binary file object, got {type(value).__name__}"
    )


def multipart_body(operation: Operation[Any], fields: Mapping[str, object]) -> RequestBody | None:
    """A ``multipart/form-data`` body of the file fields given (None if none was)."""
    chosen = {
        name: value
        for name, value in fields.items()
        if value is not None and not isinstance(value, NotGiven)
    }
    if not chosen:
        return None
    files = {name: _file_part(name, value) for name, value in chosen.items()}
    request = httpx.Request(operation.method, "http://multipart.invalid", files=files)
    return RequestBody(request.read(), request.headers["content-type"])


# -- responses -----------------------------------------------------------------------------------


def json_as(schema: type[T]) -> Parser[T]:
    """A parser reading the JSON answer into ``schema`` (a model or any type pydantic knows);
    an answer that does not fit raises :class:`OutputValidationError` with the raw data."""

    def parse(response: httpx.Response) -> T:
        try:
            data = response.json()
        except ValueError:
            raise ProtocolError(
                f"expected JSON from {response.request.url.path}, got {response.text[:200]!r}"
            ) from None
        try:
            value: T = _adapter(schema).validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
                for e in exc.errors(include_url=False)[:5]
            )
            raise OutputValidationError(
                f"the answer of {response.request.url.path} does not match"
                f" {getattr(schema, '__name__', schema)}: {problems}",
                data=data,
            ) from None
        return value

    return parse


def no_content(response: httpx.Response) -> None:
    """A parser for operations answering no content (204)."""
    return None


def text(response: httpx.Response) -> str:
    """A parser for text answers (CSV reports, metrics)."""
    return response.text


def binary(response: httpx.Response) -> bytes:
    """A parser for binary answers (file downloads)."""
    return response.content


# -- sending -------------------------------------------------------------------------------------


def send(
    client: Client | None,
    operation: Operation[ResponseT],
    arguments: Mapping[str, object],
    body: RequestBody | None = None,
) -> ResponseT:
    """Send ``operation`` with ``arguments`` (wire name -> value, None = not given)."""
    client = given_or_default(client)
    request = _build(client, operation, arguments, body)
    response = client.request(
        operation.method,
        request.url,
        content=request.content,
        headers=request.headers,
        idempotent=request.idempotent,
    )
    return operation.response(response)


async def send_async(
    client: Client | None,
    operation: Operation[ResponseT],
    arguments: Mapping[str, object],
    body: RequestBody | None = None,
) -> ResponseT:
    """Async twin of :func:`send`."""
    client = given_or_default(client)
    request = _build(client, operation, arguments, body)
    response = await client.arequest(
        operation.method,
        request.url,
        content=request.content,
        headers=request.headers,
        idempotent=request.idempotent,
    )
    return operation.response(response)


class _Cursors:
    """The cursors of one pagination, so a server repeating one cannot loop us forever."""

    def __init__(self, operation: Operation[Any], first: object) -> None:
        self.operation = operation
        self.seen: set[str] = {first} if isinstance(first, str) else set()

    def next(self, page: Page) -> str | None:
        cursor = page.next_cursor
        if not page.has_more or not cursor:
            return None
        if cursor in self.seen:
            raise ProtocolError(f"{self.operation.label} returned the cursor {cursor!r} twice")
        self.seen.add(cursor)
        return cursor


PageT = TypeVar("PageT", bound=Page)
ItemT = TypeVar("ItemT")


def pages(
    client: Client | None,
    operation: Operation[PageT],
    arguments: Mapping[str, object],
    body: RequestBody | None = None,
) -> Iterator[PageT]:
    """Every page of a paginated operation, from ``arguments["cursor"]`` (or the first) on,
    each requested when the previous one has been consumed. The arguments are checked now."""
    client = given_or_default(client)
    _build(client, operation, arguments, body)
    return _pages(client, operation, arguments, body)


def _pages(
    client: Client,
    operation: Operation[PageT],
    arguments: Mapping[str, object],
    body: RequestBody | None,
) -> Iterator[PageT]:
    cursors = _Cursors(operation, arguments.get("cursor"))
    current = dict(arguments)
    while True:
        page = send(client, operation, current, body)
        yield page
        cursor = cursors.next(page)
        if cursor is None:
            return
        current["cursor"] = cursor


def pages_async(
    client: Client | None,
    operation: Operation[PageT],
    arguments: Mapping[str, object],
    body: RequestBody | None = None,
) -> AsyncIterator[PageT]:
    """Async twin of :func:`pages`."""
    client = given_or_default(client)
    _build(client, operation, arguments, body)
    return _pages_async(client, operation, arguments, body)


async def _pages_async(
    client: Client,
    operation: Operation[PageT],
    arguments: Mapping[str, object],
    body: RequestBody | None,
) -> AsyncIterator[PageT]:
    cursors = _Cursors(operation, arguments.get("cursor"))
    current = dict(arguments)
    while True:
        page = await send_async(client, operation, current, body)
        yield page
        cursor = cursors.next(page)
        if cursor is None:
            return
        current["cursor"] = cursor


def items(pages: Iterator[PageT], pick: Callable[[PageT], list[ItemT] | None]) -> Iterator[ItemT]:
    """The items of every page (``pick`` reads them from a page)."""
    for page in pages:
        yield from pick(page) or ()


async def items_async(
    pages: AsyncIterator[PageT], pick: Callable[[PageT], list[ItemT] | None]
) -> AsyncIterator[ItemT]:
    """Async twin of :func:`items`."""
    async for page in pages:
        for item in pick(page) or ():
            yield item


def _event_data(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def _stream_timeout(client: Client) -> httpx.Timeout:
    """The client's timeouts, with no limit between two events of a live stream."""
    timeout = client.timeout
    return httpx.Timeout(connect=timeout.connect, read=None, write=timeout.write, pool=timeout.pool)


def events(
    client: Client | None,
    operation: Operation[Any],
    arguments: Mapping[str, object],
    body: RequestBody | None = None,
) -> Iterator[Any]:
    """The server-sent events of a streaming operation, each ``data`` decoded from JSON when it
    is JSON. The arguments are checked now; the connection opens on the first ``next()`` and
    closes when the iterator is exhausted or closed (``contextlib.closing``). Nothing is
    retried once it is open."""
    client = given_or_default(client)
    return _events(client, operation, _build(client, operation, arguments, body))


def _events(client: Client, operation: Operation[Any], request: _Request) -> Iterator[Any]:
    headers = client.request_headers({**request.headers, "Accept": "text/event-stream"})
    try:
        with client.http.stream(
            operation.method,
            request.url,
            content=request.content,
            headers=headers,
            timeout=_stream_timeout(client),
        ) as response:
            if not response.is_success:
                response.read()
                raise client.error_for(response)
            for event in EventSource(response).iter_sse():
                if event.data:
                    yield _event_data(event.data)
    except httpx.TransportError as exc:
        raise _stream_error(client, operation, exc) from exc


def events_async(
    client: Client | None,
    operation: Operation[Any],
    arguments: Mapping[str, object],
    body: RequestBody | None = None,
) -> AsyncIterator[Any]:
    """Async twin of :func:`events` (close it with ``aclose()`` or ``contextlib.aclosing``)."""
    client = given_or_default(client)
    return _events_async(client, operation, _build(client, operation, arguments, body))


async def _events_async(
    client: Client, operation: Operation[Any], request: _Request
) -> AsyncIterator[Any]:
    headers = client.request_headers({**request.headers, "Accept": "text/event-stream"})
    try:
        async with client.async_http.stream(
            operation.method,
            request.url,
            content=request.content,
            headers=headers,
            timeout=_stream_timeout(client),
        ) as response:
            if not response.is_success:
                await response.aread()
                raise client.error_for(response)
            async for event in EventSource(response).aiter_sse():
                if event.data:
                    yield _event_data(event.data)
    except httpx.TransportError as exc:
        raise _stream_error(client, operation, exc) from exc


def _stream_error(
    client: Client, operation: Operation[Any], exc: httpx.TransportError
) -> FalConnectionError:
    return FalConnectionError(
        client.redact(f"{operation.label} stream failed: {type(exc).__name__}: {exc}")
    )
