"""`Endpoint`: the runtime object behind each generated module.

A generated module (``fal_endpoints.flux_dev``) holds thin typed functions, and its typed models
beside them; every function builds the request body with :meth:`Endpoint.arguments` and hands it
to the endpoint object, which speaks the protocol through a :class:`~fal_typed.Client`.

The endpoint of a generated module is :meth:`Endpoint.deferred`: its models (and pydantic with
them) are imported at their first use, so importing the module costs no model building.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

from typing_extensions import override

from ._client import Client, check_client, given_or_default
from ._deadline import Deadline
from ._errors import InputValidationError, InvalidArgumentError
from ._handle import (
    AsyncRequestHandle,
    RequestHandle,
    call_deadline,
    parse_output,
    subscribe,
    subscribe_async,
)
from ._options import Priority, check_wait_options
from ._pydantic import base_model, serialization_error, validation_error
from ._queue import submit, submit_async
from ._request_json import EncodedBody, check_json, refusal
from ._run import run, run_async
from ._status import Status
from ._types import NotGiven
from .files._arguments import (
    BodyWithUploads,
    extract_uploads,
    resolve_uploads,
    resolve_uploads_async,
    set_fields,
)
from .files._input import FileInput

if TYPE_CHECKING:  # imported lazily at the call: they cost import time most programs never use
    from pydantic import BaseModel

    from ._stream import AsyncStream, Stream
    from .webhooks._result import WebhookResult
    from .webhooks._verifier import WebhookBody, WebhookVerifier

__all__ = ["Endpoint"]

InputT = TypeVar("InputT", bound="BaseModel")
OutputT = TypeVar("OutputT", bound="BaseModel")


class _Body(BodyWithUploads):
    """A body :meth:`Endpoint.arguments` built (validated) for ``endpoint_id``, with its pending
    uploads: the calls send it as it is, so the keyword calls of a generated module are not
    validated twice (and their ``extra_body`` stays unvalidated). Any other mapping is
    validated by the call."""

    def __init__(
        self, endpoint_id: str, body: Mapping[str, Any], uploads: Mapping[str, FileInput]
    ) -> None:
        super().__init__(body, uploads)
        self.endpoint_id = endpoint_id

    @override
    def __repr__(self) -> str:
        return super().__repr__() if self.uploads else repr(dict(self))


class _Encoded(EncodedBody):
    """A body :meth:`Endpoint._built` validated for ``endpoint_id`` with nothing to upload and
    nothing unvalidated (no ``extra_body``), written as JSON by its model's serializer: the
    call sends these bytes, so it never builds the dict :meth:`Endpoint.arguments` returns."""

    __slots__ = ("endpoint_id",)

    uploads: Final[Mapping[str, FileInput]] = MappingProxyType({})

    def __init__(self, endpoint_id: str, encoded: bytes, model: BaseModel) -> None:
        super().__init__(encoded, lambda: _dumped(endpoint_id, model, None))
        self.endpoint_id = endpoint_id


def _dumped(
    endpoint_id: str, model: BaseModel, mapping: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The validated ``model`` as the JSON-ready dict a call sends; a value of an open field
    it cannot write is refused, named in ``mapping`` (the input it was validated from)."""
    try:
        return model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    except serialization_error() as exc:  # an open field's object it cannot write
        raise refusal(endpoint_id, mapping if mapping is not None else {}, exc) from None


def _json_of(model: BaseModel) -> bytes | None:
    """``model`` as the JSON bytes its serializer writes in one pass, or None when the dump
    path must say what is wrong: a NaN or infinity (written as constants by the input models,
    and refused there, naming the field), text UTF-8 cannot encode, an object it cannot write.
    A text holding ``NaN`` or ``Infinity`` takes that path too, only more slowly."""
    try:
        encoded = type(model).__pydantic_serializer__.to_json(
            model, by_alias=True, exclude_unset=True
        )
    except (ValueError, RecursionError):  # PydanticSerializationError is a ValueError
        return None
    return None if b"NaN" in encoded or b"Infinity" in encoded else encoded


def _extracted(
    endpoint_id: str, arguments: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, FileInput]]:
    """:func:`extract_uploads` of a caller's input, which it walks recursively: one nested past
    Python's stack, or that contains itself, is refused (no JSON could carry it either)."""
    try:
        return extract_uploads(arguments)
    except RecursionError:
        message = "nested too deep, or containing itself, to be sent as JSON"
        problem = {"loc": (), "msg": message, "type": "unencodable"}
        raise InputValidationError(endpoint_id, [problem]) from None


def _check_extra_body(endpoint_id: str, extra_body: object, body: Mapping[str, Any]) -> None:
    """``extra_body`` must map field names (strings, as JSON's keys are) to values, and not
    name a field the input already gave: which of the two should be sent is the caller's call,
    as with an input and keyword fields. (A field of the schema the input left out may be set
    there: the way to send a value the schema does not allow yet.)"""
    if not isinstance(extra_body, Mapping):
        raise InvalidArgumentError(
            f"extra_body must be a mapping of field names to values, got {type(extra_body).__name__}"
        )
    names: list[str] = []
    for name in cast("Mapping[object, object]", extra_body):
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"extra_body's field names must be strings, got {type(name).__name__} {name!r}"
            )
        names.append(name)
    given = sorted(name for name in names if name in body)
    if given:
        duplicate = "given both as a field and in extra_body: pass one or the other"
        raise InputValidationError(
            endpoint_id, [{"loc": (name,), "msg": duplicate, "type": "duplicate"} for name in given]
        )


class Endpoint(Generic[InputT, OutputT]):
    """One fal endpoint: its id, its input and output models, and the calls that reach it."""

    endpoint_id: str

    def __init__(
        self, endpoint_id: str, input_model: type[InputT], output_model: type[OutputT]
    ) -> None:
        self.endpoint_id = endpoint_id
        self._models: tuple[type[InputT], type[OutputT]] | None = (input_model, output_model)
        self._models_module: str | None = None

    @classmethod
    def deferred(cls, endpoint_id: str, module: str) -> Endpoint[Any, Any]:
        """An endpoint whose models are ``module``'s ``Input`` and ``Output``, read at their first
        use: a generated module makes its endpoint so, and its models load (with pydantic) on
        first use instead of at import. The caller declares the model types:
        ``endpoint: Final[Endpoint[FluxDevInput, FluxDevOutput]] = Endpoint.deferred(...)``."""
        endpoint: Endpoint[Any, Any] = cls.__new__(cls)
        endpoint.endpoint_id = endpoint_id
        endpoint._models = None
        endpoint._models_module = module
        return endpoint

    @property
    def Input(self) -> type[InputT]:
        """The input model: what :meth:`arguments` validates against."""
        return self._loaded()[0]

    @property
    def Output(self) -> type[OutputT]:
        """The output model: what results are parsed into."""
        return self._loaded()[1]

    def _loaded(self) -> tuple[type[InputT], type[OutputT]]:
        if self._models is None:
            module = importlib.import_module(cast(str, self._models_module))
            self._models = (module.Input, module.Output)
        return self._models

    def __repr__(self) -> str:
        return f"Endpoint({self.endpoint_id!r})"

    def arguments(
        self,
        input: InputT | Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate the caller's input and return the JSON body to send.

        ``input`` is an ``Input`` instance or a mapping; ``fields`` are keyword arguments (those
        left as ``NOT_GIVEN`` are dropped, so the server applies its own defaults); ``extra_body``
        is merged in unvalidated, for fields the schema does not know yet (NaN, infinite floats
        and strings UTF-8 cannot encode are refused there too). Raises
        :class:`InputValidationError` naming every bad field, before any network I/O.

        An input and keyword fields together are an error naming each keyword field ("given
        both"): neither is silently dropped, and which one should win is the caller's call.
        """
        body = self._built(input, fields, extra_body, encode=False)
        if not body.uploads:  # checked already: uploads wait on it
            check_json(self.endpoint_id, body)
        return cast("_Body", body)

    def _built(
        self,
        input: InputT | Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        *,
        encode: bool = True,
        options: Collection[str] = (),
    ) -> _Body | _Encoded:
        """:meth:`arguments`' body, its JSON checked here only when uploads wait on it: else
        the call checks it as it encodes it to send, once (``_request_json``). With
        ``encode``, a body with nothing to upload and no ``extra_body`` is written as JSON now,
        by the model's serializer (:class:`_Encoded`), for a call that only sends it.
        ``options`` are the keyword call's own (a misspelt one is named in the error)."""
        input_model = self.Input  # the models load here, at the first call (pydantic with them)
        given: dict[str, Any] = {}
        if fields:  # (a loop, not a comprehension's own frame: every keyword call passes here)
            for name, value in fields.items():
                if not isinstance(value, NotGiven):
                    given[name] = value
        if input is not None and given:
            what = "Input instance" if isinstance(input, base_model()) else "input mapping"
            duplicate = f"given both an {what} and this keyword field: pass one or the other"
            raise InputValidationError(
                self.endpoint_id,
                [{"loc": (name,), "msg": duplicate, "type": "duplicate"} for name in sorted(given)],
            )
        raw: Mapping[str, Any]
        if input is None:
            raw = given
        elif isinstance(input, input_model):
            # Re-validated (nested models too, as mappings): it may have been built with
            # model_construct or mutated.
            raw = set_fields(input)
        elif isinstance(input, Mapping):
            raw = input
        else:
            raise InvalidArgumentError(
                f"{self.endpoint_id} takes a {input_model.__name__} or a mapping as input, "
                f"got {type(input).__name__}"
            )
        # Local files become placeholder URLs here and are uploaded only once the whole input is
        # valid, at the call (see files/_arguments.py).
        mapping, uploads = _extracted(self.endpoint_id, raw)
        try:
            if uploads:
                # First with the local files in place: only a file field takes one. Given for
                # any other field (bytes for a prompt), it is refused as the model refuses it,
                # not uploaded and sent as its URL. Only calls with files pay this.
                input_model.model_validate(raw)
            model = input_model.model_validate(mapping)
        except validation_error() as exc:
            raise InputValidationError.from_pydantic(
                self.endpoint_id, exc, input_model, options
            ) from None
        if encode and not uploads and not extra_body:
            encoded = _json_of(model)
            if encoded is not None:
                return _Encoded(self.endpoint_id, encoded, model)
        body = _dumped(self.endpoint_id, model, mapping)
        if extra_body is not None:
            _check_extra_body(self.endpoint_id, extra_body, body)
        if extra_body:
            # Unvalidated, but it may hold upload sources too (a file for a field the schema
            # does not know yet): they become placeholders with the rest.
            merged = BodyWithUploads({**body, **extra_body}, uploads)
            body, uploads = _extracted(self.endpoint_id, merged)
        if uploads:
            check_json(self.endpoint_id, body)
        return _Body(self.endpoint_id, body, uploads)

    def _unsent(
        self, arguments: InputT | Mapping[str, Any], *, encode: bool = True
    ) -> _Body | _Encoded:
        """``arguments`` as :meth:`arguments` built them: a body it built for this endpoint as
        it is; an ``Input`` instance or any other mapping validated here, as the module
        functions validate theirs."""
        if isinstance(arguments, (_Body, _Encoded)) and arguments.endpoint_id == self.endpoint_id:
            return arguments
        if (
            cast(object, arguments) is None
        ):  # _built reads None as "keyword fields only": here there are none
            raise InvalidArgumentError(
                f"{self.endpoint_id} takes a {self.Input.__name__} or a mapping as input, got "
                "None (an input with no fields is {})"
            )
        return self._built(arguments, encode=encode)

    def _checked(self, arguments: InputT | Mapping[str, Any]) -> _Body | _Encoded:
        """:meth:`_unsent`, its JSON checked now: for a call that sends it later (a stream
        sends when it is entered), so bad input fails at the call, as everywhere else."""
        body = self._unsent(arguments, encode=False)  # a stream reads it as a mapping
        if not body.uploads:  # else checked when it was built
            check_json(self.endpoint_id, body)
        return body

    def _body(
        self,
        arguments: InputT | Mapping[str, Any],
        client: Client | None,
        deadline: Deadline | None = None,
    ) -> Mapping[str, Any]:
        """The JSON body to send, with any local files uploaded (within ``deadline``) and
        replaced by their URLs."""
        check_client(client)  # before the uploads use it
        body = self._unsent(arguments)  # its uploads extracted already, when it was built
        return (
            resolve_uploads(body, body.uploads, client, deadline=deadline) if body.uploads else body
        )

    async def _body_async(
        self,
        arguments: InputT | Mapping[str, Any],
        client: Client | None,
        deadline: Deadline | None = None,
    ) -> Mapping[str, Any]:
        """Async twin of :meth:`_body`: the uploads run as concurrent tasks."""
        check_client(client)
        body = self._unsent(arguments)
        if not body.uploads:
            return body
        return await resolve_uploads_async(body, body.uploads, client, deadline=deadline)

    # -- calls (implemented in _handle, _queue and _run) ---------------------------------------

    def subscribe(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        with_logs: bool = False,
        on_enqueue: Callable[[str], object] | None = None,
        on_queue_update: Callable[[Status], object] | None = None,
        webhook_url: str | None = None,
        priority: Priority | None = None,
        hint: str | None = None,
        start_timeout: float | None = None,
        client_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        client: Client | None = None,
    ) -> OutputT:
        """Submit to the queue, follow the status until completion, return the typed output.

        ``on_enqueue`` gets the request id once accepted; ``on_queue_update`` every status
        change (``Queued``, ``InProgress`` with the new log lines if ``with_logs``,
        ``Completed``); both plain functions (an ``async def`` one is refused: use
        :meth:`subscribe_async`). ``client_timeout`` bounds the whole call, uploading input files
        included: when it runs out the request is cancelled (best-effort) and
        :class:`FalTimeoutError` carries its id.
        """
        check_wait_options(with_logs, on_enqueue, on_queue_update, sync=True)
        deadline = call_deadline(client_timeout)  # started before the uploads: they count
        return subscribe(
            self,
            self._body(arguments, client, deadline),
            client=client,
            with_logs=with_logs,
            on_enqueue=on_enqueue,
            on_queue_update=on_queue_update,
            webhook_url=webhook_url,
            priority=priority,
            hint=hint,
            start_timeout=start_timeout,
            client_timeout=deadline,
            headers=headers,
        )

    async def subscribe_async(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        with_logs: bool = False,
        on_enqueue: Callable[[str], object | Awaitable[object]] | None = None,
        on_queue_update: Callable[[Status], object | Awaitable[object]] | None = None,
        webhook_url: str | None = None,
        priority: Priority | None = None,
        hint: str | None = None,
        start_timeout: float | None = None,
        client_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        client: Client | None = None,
    ) -> OutputT:
        """Async twin of :meth:`subscribe`; the callbacks may be coroutine functions."""
        check_wait_options(with_logs, on_enqueue, on_queue_update)
        deadline = call_deadline(client_timeout)
        return await subscribe_async(
            self,
            await self._body_async(arguments, client, deadline),
            client=client,
            with_logs=with_logs,
            on_enqueue=on_enqueue,
            on_queue_update=on_queue_update,
            webhook_url=webhook_url,
            priority=priority,
            hint=hint,
            start_timeout=start_timeout,
            client_timeout=deadline,
            headers=headers,
        )

    def submit(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        priority: Priority | None = None,
        hint: str | None = None,
        start_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        client: Client | None = None,
    ) -> RequestHandle[OutputT]:
        """Queue a request and return its handle at once (``webhook_url`` gets the result)."""

        client = given_or_default(client)
        submission = submit(
            client,
            self.endpoint_id,
            self._body(arguments, client),
            webhook_url=webhook_url,
            priority=priority,
            hint=hint,
            start_timeout=start_timeout,
            headers=headers,
        )
        return RequestHandle(self, submission.request_id, client=client)

    async def submit_async(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        priority: Priority | None = None,
        hint: str | None = None,
        start_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        client: Client | None = None,
    ) -> AsyncRequestHandle[OutputT]:
        """Async twin of :meth:`submit`."""

        client = given_or_default(client)
        submission = await submit_async(
            client,
            self.endpoint_id,
            await self._body_async(arguments, client),
            webhook_url=webhook_url,
            priority=priority,
            hint=hint,
            start_timeout=start_timeout,
            headers=headers,
        )
        return AsyncRequestHandle(self, submission.request_id, client=client)

    def run(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        start_timeout: float | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
    ) -> OutputT:
        """Call the endpoint directly through the run host (no queue) and return the output.

        ``timeout`` bounds the whole call (default: no read limit, models may run for minutes).
        """

        result = run(
            given_or_default(client),
            self.endpoint_id,
            self._body(arguments, client),
            start_timeout=start_timeout,
            hint=hint,
            headers=headers,
            timeout=timeout,
            output=self.Output,
        )
        return parse_output(self.Output, result.data, result.request_id)

    async def run_async(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        start_timeout: float | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
    ) -> OutputT:
        """Async twin of :meth:`run`."""

        result = await run_async(
            given_or_default(client),
            self.endpoint_id,
            await self._body_async(arguments, client),
            start_timeout=start_timeout,
            hint=hint,
            headers=headers,
            timeout=timeout,
            output=self.Output,
        )
        return parse_output(self.Output, result.data, result.request_id)

    # -- by request id -----------------------------------------------------------------------

    def handle(self, request_id: str, *, client: Client | None = None) -> RequestHandle[OutputT]:
        """A handle for a request submitted earlier (e.g. an id saved to a database)."""

        return RequestHandle(self, request_id, client=client)

    def handle_async(
        self, request_id: str, *, client: Client | None = None
    ) -> AsyncRequestHandle[OutputT]:
        """Async twin of :meth:`handle` (no I/O: a plain function returning the async handle)."""

        return AsyncRequestHandle(self, request_id, client=client)

    def status(
        self, request_id: str, *, with_logs: bool = False, client: Client | None = None
    ) -> Status:
        """The current status of a request: ``Queued``, ``InProgress`` or ``Completed``."""
        return self.handle(request_id, client=client).status(with_logs=with_logs)

    async def status_async(
        self, request_id: str, *, with_logs: bool = False, client: Client | None = None
    ) -> Status:
        """Async twin of :meth:`status`."""
        return await self.handle_async(request_id, client=client).status(with_logs=with_logs)

    def result(self, request_id: str, *, client: Client | None = None) -> OutputT:
        """The typed output of a request (waits if it is still running; raises its failure)."""
        return self.handle(request_id, client=client).result()

    async def result_async(self, request_id: str, *, client: Client | None = None) -> OutputT:
        """Async twin of :meth:`result`."""
        return await self.handle_async(request_id, client=client).result()

    def cancel(self, request_id: str, *, client: Client | None = None) -> None:
        """Ask fal to cancel a request (queued: removed; running: may still complete)."""
        self.handle(request_id, client=client).cancel()

    async def cancel_async(self, request_id: str, *, client: Client | None = None) -> None:
        """Async twin of :meth:`cancel`."""
        await self.handle_async(request_id, client=client).cancel()

    # -- streaming and webhooks ------------------------------------------------------------------

    def stream(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
    ) -> Stream[OutputT]:
        """Call the endpoint's streaming path: a context manager iterating over partial events,
        whose ``result()`` is the typed output (local files are uploaded when it opens)."""
        from ._stream import Stream

        check_client(client)
        return Stream(
            self,
            self._checked(arguments),
            client=client,
            path=path,
            headers=headers,
            timeout=timeout,
        )

    def stream_async(
        self,
        arguments: InputT | Mapping[str, Any],
        *,
        path: str = "/stream",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        client: Client | None = None,
    ) -> AsyncStream[OutputT]:
        """Async twin of :meth:`stream`, for ``async with`` / ``async for``."""
        from ._stream import AsyncStream

        check_client(client)
        return AsyncStream(
            self,
            self._checked(arguments),
            client=client,
            path=path,
            headers=headers,
            timeout=timeout,
        )

    def parse_webhook(
        self,
        body: WebhookBody,
        headers: Mapping[str, str],
        *,
        verifier: WebhookVerifier | None = None,
    ) -> WebhookResult[OutputT]:
        """Verify a webhook delivery's signature and parse its payload into the typed output."""
        from .webhooks import parse

        return parse(body, headers, self.Output, verifier=verifier)

    async def parse_webhook_async(
        self,
        body: WebhookBody,
        headers: Mapping[str, str],
        *,
        verifier: WebhookVerifier | None = None,
    ) -> WebhookResult[OutputT]:
        """Async twin of :meth:`parse_webhook` (fetches fal's keys without blocking the loop)."""
        from .webhooks import parse_async

        return await parse_async(body, headers, self.Output, verifier=verifier)
