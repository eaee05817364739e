"""The calls every generated module exposes, and their options (docs/architecture.md contract).

The option names and types mirror the runtime's ``Endpoint`` methods, which take the same
keywords; a generated function forwards each option by name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXTRA_BODY", "INPUT_CALLS", "RESERVED_KEYWORDS", "InputCall", "Option"]


@dataclass(frozen=True)
class Option:
    """One call option: keyword name, annotation source, default source, and one line of doc."""

    name: str
    annotation: str
    default: str = "None"
    doc: str = ""


@dataclass(frozen=True)
class InputCall:
    """A call that takes the endpoint input (``subscribe``, ``submit``, ``run``, ``stream``).

    ``summary`` is a template where ``{endpoint_id}`` is the endpoint id, ``returns`` and
    ``async_returns`` templates where ``{output}`` is the Output class;
    ``async_def`` is False for ``stream_async``, a plain function returning an async stream.
    """

    name: str
    summary: str
    options: tuple[Option, ...]
    returns: str
    async_returns: str
    async_def: bool = True


_WITH_LOGS = Option(
    "with_logs", "bool", "False", "Fetch the log lines too (in the `InProgress` updates)."
)
_ON_ENQUEUE = Option(
    "on_enqueue", "Callable[[str], object] | None", doc="Called with the request id once queued."
)
_ON_QUEUE_UPDATE = Option(
    "on_queue_update",
    "Callable[[Status], object] | None",
    doc="Called with every status: `Queued`, `InProgress`, `Completed`.",
)
_WEBHOOK_URL = Option(
    "webhook_url", "str | None", doc="fal POSTs the result there too (see `parse_webhook`)."
)
_PRIORITY = Option(
    "priority", 'Literal["normal", "low"] | None', doc='Queue priority, "normal" or "low".'
)
_HINT = Option("hint", "str | None", doc="Routing hint: prefer runners that served this hint.")
_START_TIMEOUT = Option(
    "start_timeout", "float | None", doc="Seconds fal may wait for a runner before giving up."
)
_CLIENT_TIMEOUT = Option(
    "client_timeout",
    "float | None",
    doc="Seconds for the whole call, uploads included; then the request is cancelled.",
)
_HEADERS = Option("headers", "Mapping[str, str] | None", doc="Extra HTTP headers for fal.")
_TIMEOUT = Option(
    "timeout", "float | None", doc="Seconds for the whole call (default: no read limit)."
)
_STREAM_PATH = Option("path", "str", '"/stream"', "The endpoint's streaming path.")
_CLIENT = Option(
    "client", "Client | None", doc="The `fal_typed.Client` (default: one from `FAL_KEY`)."
)
EXTRA_BODY = Option(
    "extra_body",
    "Mapping[str, Any] | None",
    doc="Fields sent as they are, unvalidated (ones the schema does not know yet).",
)

INPUT_CALLS: tuple[InputCall, ...] = (
    InputCall(
        "subscribe",
        "Submit a request to `{endpoint_id}` through the queue and wait for its result.",
        (
            _WITH_LOGS, _ON_ENQUEUE, _ON_QUEUE_UPDATE, _WEBHOOK_URL, _PRIORITY, _HINT,
            _START_TIMEOUT, _CLIENT_TIMEOUT, _HEADERS, _CLIENT,
        ),
        "{output}",
        "{output}",
    ),
    InputCall(
        "submit",
        "Submit a request to `{endpoint_id}` through the queue; return its handle without waiting.",
        (_WEBHOOK_URL, _PRIORITY, _HINT, _START_TIMEOUT, _HEADERS, _CLIENT),
        "RequestHandle[{output}]",
        "AsyncRequestHandle[{output}]",
    ),
    InputCall(
        "run",
        "Call `{endpoint_id}` directly (no queue) and return its result.",
        (_START_TIMEOUT, _HINT, _HEADERS, _TIMEOUT, _CLIENT),
        "{output}",
        "{output}",
    ),
    InputCall(
        "stream",
        "Call `{endpoint_id}` on its streaming path; iterate over its partial results.",
        (_STREAM_PATH, _HEADERS, _TIMEOUT, _CLIENT),
        "Stream[{output}]",
        "AsyncStream[{output}]",
        async_def=False,
    ),
)  # fmt: skip

# Keyword names an input field cannot take: a field named like this is exposed as `<name>_`.
# (`self` is the first parameter of `Realtime.send`; `input` needs no entry, being positional-only.)
RESERVED_KEYWORDS: frozenset[str] = frozenset(
    {"extra_body", "self"} | {option.name for call in INPUT_CALLS for option in call.options}
)
