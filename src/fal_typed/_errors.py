"""The exception hierarchy. Every error carries the request id and fal's ``error_type`` if known.

``FalError`` is the root, and the root of redaction too: every key and token the process has
used (:func:`remember_secrets`) is scrubbed out of every attribute an error is given (message,
body, headers, text...) when it is set, whatever built the error, so a server echoing the key
back in any answer (a 200 with a bad body, a 4xx, a 5xx, a JSON key or value, a header) cannot
put it in a message, a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ._field_paths import close_field, field_path

if TYPE_CHECKING:  # annotations only: the CLI and listing import these errors without pydantic
    from pydantic import BaseModel, ValidationError

__all__ = [
    "MIN_SECRET_LENGTH",
    "AuthenticationError",
    "FalConnectionError",
    "FalError",
    "FalHTTPError",
    "FalTimeoutError",
    "FalValidationError",
    "InputValidationError",
    "InvalidArgumentError",
    "MissingCredentialsError",
    "NotFoundError",
    "OutputValidationError",
    "PossiblyAcceptedError",
    "PossiblyAcceptedTimeoutError",
    "ProtocolError",
    "RateLimitError",
    "RequestCancelledError",
    "Scrubber",
    "ServerError",
    "error_for_response",
    "named_request_id",
    "reason",
    "remember_secrets",
    "scrub",
    "scrub_value",
]


_REDACTED = "[redacted]"
#: Shorter fragments would scrub ordinary words out of messages; real secrets are far longer.
MIN_SECRET_LENGTH = 6
#: The shortest run of a key's characters scrubbed where the key is not whole: a message cut to
#: a length (``text[:200]``) may end inside an echoed key, and an escaped echo (``repr``, JSON,
#: percent-encoding) splits it at each character it escapes.
MIN_FRAGMENT_LENGTH = 8
#: Tokens are renewed for as long as a process runs: only the latest are remembered.
MAX_TOKENS = 256
_keys: set[str] = set()
_tokens: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_fragmented: tuple[str, ...] = ()
_NOT_SCRUBBED = frozenset({"data", "errors", "default_error_type"})
#: The loggers whose records could carry a secret: the runtime's, and httpx's and httpcore's,
#: which at DEBUG show the headers of every answer (a peer may echo the key in one). A filter
#: on each scrubs every record it emits: a logger's filters do not reach its children's
#: records, so each is named. (The realtime socket logger has its own filter, which scrubs the
#: token out of the URLs websockets logs.) A filter runs only for a record that is emitted.
_LOGGERS = (
    "fal_typed",
    "fal_typed.upload",
    "fal_typed.webhooks",
    "fal_typed.proxy",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def remember_secrets(secrets: Sequence[str], *, token: bool = False) -> None:
    """Scrub ``secrets`` (a key; with ``token``, a short-lived token, of which only the latest
    :data:`MAX_TOKENS` are kept) out of every error and log record from now on."""
    global _secrets, _fragmented
    with _lock:
        changed = False
        for secret in secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                continue
            if not token:
                if secret not in _keys:
                    _keys.add(secret)
                    changed = True
                continue
            if secret in _tokens:
                _tokens.move_to_end(secret)
                continue
            _tokens[secret] = None
            changed = True
            while len(_tokens) > MAX_TOKENS:
                _tokens.popitem(last=False)
        if not changed:
            # Known already (a proxy's key resolver makes the same key per request): the forms
            # are not worked out again, in time growing with every key remembered.
            return
        # Longest first, so a key is scrubbed whole before its secret half.
        _secrets = tuple(sorted({*_keys, *_tokens}, key=len, reverse=True))
        _fragmented = _secret_parts(_keys)


def _secret_parts(keys: Iterable[str]) -> tuple[str, ...]:
    """The forms of the keys whose cut ends are scrubbed too: each key but an ``id:secret`` one
    whose secret half is among them (the half is; the id alone is no secret, and fal's
    messages name it), as it stands and as an echo may have escaped it (``repr``, JSON,
    percent-encoding), longest first."""
    given = set(keys)
    forms: set[str] = set()
    for key in given:
        if len(key) >= MIN_FRAGMENT_LENGTH and key.partition(":")[2] not in given:
            forms.update(_escaped_forms(key))
    return tuple(sorted(forms, key=len, reverse=True))


def _escaped_forms(key: str) -> tuple[str, ...]:
    """``key`` and how an echo of it may read once quoted: Python's ``repr`` (either quote),
    JSON, and percent-encoded (a URL's query)."""
    from urllib.parse import quote, quote_plus

    backslashed = key.replace("\\", "\\\\")
    return (
        key,
        backslashed.replace("'", "\\'"),
        backslashed.replace('"', '\\"'),
        json.dumps(key)[1:-1],
        quote(key, safe=""),
        quote_plus(key, safe=""),
    )


def _in_order(secrets: Iterable[str] | None) -> tuple[str, ...]:
    """The remembered secrets with ``secrets``, longest first: one pass then redacts a secret
    that holds another whole, never around the one inside it."""
    if secrets is None:
        return _secrets
    return tuple(sorted({*_secrets, *(s for s in secrets if s)}, key=len, reverse=True))


def _fragments_of(secrets: Iterable[str] | None) -> tuple[str, ...]:
    """The remembered keys with ``secrets`` (explicit secrets are a key's), as fragment sources."""
    if not secrets:
        return _fragmented
    return _secret_parts({*_keys, *(s for s in secrets if s)})


def _replaced(text: str, ordered: tuple[str, ...]) -> str:
    for secret in ordered:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


def _without_fragments(text: str, forms: tuple[str, ...], whole: tuple[str, ...] = ()) -> str:
    """``text`` without the starts and ends of ``forms`` it holds, of at least
    :data:`MIN_FRAGMENT_LENGTH` characters, and without the secrets ``whole``: longest first,
    so that a shorter secret inside an echo of a key cut to a length (``text[:200]``) never
    splits it into pieces too short to be found."""
    for _ in range(len(text)):  # each pass removes a fragment: bounded whatever the forms
        longest = ""
        for secret in whole:
            if len(secret) > len(longest) and secret in text:
                longest = secret
        for form in forms:
            for cut in (_longest_start, _longest_end):
                fragment = cut(text, form)
                if fragment is not None and len(fragment) > len(longest):
                    longest = fragment
        if not longest or longest in _REDACTED:
            break
        text = text.replace(longest, _REDACTED)
    return text


def _longest_start(text: str, key: str) -> str | None:
    """The longest ``key[:n]`` (``MIN_FRAGMENT_LENGTH <= n``) in ``text``: a start that is in it
    has every shorter start in it too, so the longest is found by halving."""
    low, high = MIN_FRAGMENT_LENGTH, len(key)
    if key[:low] not in text:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if key[:middle] in text else (low, middle - 1)
    return key[:low]


def _longest_end(text: str, key: str) -> str | None:
    """:func:`_longest_start` for the ends of ``key``."""
    found = _longest_start(text[::-1], key[::-1])
    return None if found is None else found[::-1]


def _scrubbed(text: str, ordered: tuple[str, ...], fragmented: tuple[str, ...]) -> str:
    return _without_fragments(text, fragmented, ordered) if fragmented else _replaced(text, ordered)


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every remembered secret, and each of ``secrets``, replaced; and any run of
    a key's characters long enough to be no accident (a key cut short, or escaped)."""
    return _scrubbed(text, _in_order(secrets), _fragments_of(secrets))


class Scrubber:
    """:func:`scrub` with a fixed set of secrets, their forms worked out once: for a text
    scrubbed piece by piece (a streamed body), where each piece would work them out again."""

    def __init__(self, secrets: Iterable[str]) -> None:
        given = tuple(secrets)
        self._ordered = _in_order(given)
        self._fragmented = _fragments_of(given)
        self.sources: tuple[str, ...] = (*self._ordered, *self._fragmented)
        """Every text the scrub looks for: the secrets whole, and the forms whose cut starts and
        ends it removes. A stream holds back an end that is part of one: it may go on."""

    def __call__(self, text: str) -> str:
        return _scrubbed(text, self._ordered, self._fragmented)


class _ScrubFilter(logging.Filter):
    """Scrubs the remembered secrets out of a log record's message (its arguments merged in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            scrubbed = scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


_SCRUB_FILTER = _ScrubFilter()
for _name in _LOGGERS:
    logging.getLogger(_name).addFilter(_SCRUB_FILTER)


def _scrub_value(value: object, secrets: tuple[str, ...], fragmented: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return _scrubbed(value, secrets, fragmented)
    if isinstance(value, tuple):
        items = cast("tuple[object, ...]", value)
        return tuple(_scrub_value(item, secrets, fragmented) for item in items)
    if isinstance(value, list):
        return [_scrub_value(item, secrets, fragmented) for item in cast("list[object]", value)]
    if isinstance(value, dict):
        pairs = cast("dict[object, object]", value).items()
        return {
            _scrub_value(k, secrets, fragmented): _scrub_value(v, secrets, fragmented)
            for k, v in pairs
        }
    return value


def scrub_value(value: Any, secrets: Sequence[str] | None = None) -> Any:
    """``value`` with every remembered secret, and each of ``secrets``, scrubbed out of its
    strings, keys included, structure kept; the scrubbed text of a structure nested too deep
    to walk."""
    ordered = _in_order(secrets)
    if not ordered:
        return value
    fragmented = _fragments_of(secrets)
    try:
        return _scrub_value(value, ordered, fragmented)
    except RecursionError:
        try:
            return _scrubbed(repr(value), ordered, fragmented)
        except RecursionError:  # even its repr recurses too deep: nothing of it can be shown
            return f"[a {type(value).__name__} nested too deep to scrub]"


def _json_object(value: object) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


#: What a fal request id can be (a UUID in practice): one rule, for ids given and ids named.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,199}")


def named_request_id(headers: Mapping[str, str], body: Any) -> str | None:
    """The request id an answer names, if it is one a by-id call can use: its
    ``x-fal-request-id`` header, else a ``request_id`` in its JSON body (at the top, a queue
    answer's, or in the Platform API's ``error`` object). A malformed one is not returned (it
    stays in the answer's text): the one rule every reader of an answer's request id uses."""
    lower = {k.lower(): v for k, v in headers.items()}
    obj = _json_object(body)
    platform = _json_object(obj.get("error")) if obj is not None else None
    candidates = (
        lower.get("x-fal-request-id"),
        obj.get("request_id") if obj is not None else None,
        platform.get("request_id") if platform is not None else None,
    )
    for candidate in candidates:
        if isinstance(candidate, str) and REQUEST_ID.fullmatch(candidate):
            return candidate
    return None


def _json_objects(value: object) -> list[dict[str, Any]]:
    items = cast("list[object]", value) if isinstance(value, list) else []
    return [obj for obj in map(_json_object, items) if obj is not None]


class FalError(Exception):
    """Root of every error raised by fal_typed."""

    request_id: str | None
    error_type: str | None
    default_error_type: ClassVar[str | None] = None
    """``error_type`` of errors detected on the client side, so every error carries one."""

    def __init__(
        self, message: str, *, request_id: str | None = None, error_type: str | None = None
    ) -> None:
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.error_type = error_type if error_type is not None else self.default_error_type

    def __setattr__(self, name: str, value: Any) -> None:
        # Every attribute of every error, however and whenever set, passes the redaction.
        if name not in _NOT_SCRUBBED and isinstance(value, (str, list, tuple, dict)):
            value = scrub_value(value)
        super().__setattr__(name, value)

    def __str__(self) -> str:
        extra = [
            f"{k}={v}"
            for k, v in (("request_id", self.request_id), ("error_type", self.error_type))
            if v
        ]
        text = f"{self.message} ({', '.join(extra)})" if extra else self.message
        return scrub(text)

    def __repr__(self) -> str:
        return scrub(super().__repr__())


def reason(exc: BaseException) -> str:
    """What ``exc`` says, to be quoted in another error's message: a :class:`FalError`'s own
    message, without the ``(error_type=...)`` its ``str`` adds, which the new error adds again
    (a wrapped one read "... (error_type=invalid_argument) (error_type=invalid_argument)")."""
    return scrub(exc.message) if isinstance(exc, FalError) else str(exc)


class MissingCredentialsError(FalError):
    """No API key was found: pass ``key=`` to the client or set ``FAL_KEY``."""

    default_error_type: ClassVar[str | None] = "missing_credentials"


def _format_loc(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


def _format_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{_format_loc(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors)


class InputValidationError(FalError, ValueError):
    """The input was rejected locally, before any request was sent.

    ``errors`` lists ``{"loc", "msg", "type"}`` dicts; ``fields`` gives the dotted paths of the
    fields at fault, each once (``loras.1.path``: list indexes kept).
    """

    def __init__(self, endpoint_id: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.endpoint_id = endpoint_id
        self.errors: list[dict[str, Any]] = [dict(e) for e in errors]
        super().__init__(
            f"invalid input for {endpoint_id}: {_format_errors(self.errors)}",
            error_type="input_validation",
        )

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(_format_loc(e.get("loc", ())) for e in self.errors))

    @classmethod
    def from_pydantic(
        cls,
        endpoint_id: str,
        exc: ValidationError,
        model: type[BaseModel] | None = None,
        options: Collection[str] = (),
    ) -> InputValidationError:
        """The errors of ``exc``; given the ``model`` validated, located by the caller's field
        paths (pydantic's union branch labels dropped, see ``_field_paths``), and an unknown
        field's message naming the field, or the call's option, it was probably meant to be."""
        errors = [
            {
                "loc": (
                    field_path(model, err["loc"], unknown_last=err["type"] == "extra_forbidden")
                    if model is not None
                    else tuple(err["loc"])
                )
                # an open field's value JSON cannot carry: where below the field (_models)
                + tuple((err.get("ctx") or {}).get("below", ())),
                "msg": _with_guess(err["msg"], err["type"], model, err["loc"], options),
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        return cls(endpoint_id, errors)


def _with_guess(
    message: str,
    error_type: str,
    model: type[BaseModel] | None,
    loc: tuple[str | int, ...],
    options: Collection[str],
) -> str:
    """An unknown field's message, naming the field it was probably meant to be."""
    if error_type != "extra_forbidden" or model is None:
        return message
    guess = close_field(model, loc, options)
    return message if guess is None else f"{message} (did you mean {guess!r}?)"


class FalHTTPError(FalError):
    """fal answered with an error status. ``status_code``, ``body`` and ``headers`` are kept."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, error_type=error_type)
        self.status_code = status_code
        self.body = body
        # Response headers only: request headers (with the Authorization key) are never kept.
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {super().__str__()}"


class FalValidationError(FalHTTPError, ValueError):
    """fal rejected the input (HTTP 422). ``errors`` is fal's detail list; ``fields`` the paths."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        body = _json_object(self.body)
        detail = body.get("detail") if body is not None else None
        items = _json_objects(detail)
        if isinstance(detail, list):
            return items
        return [
            {
                "loc": ["body"],
                "msg": str(detail if detail is not None else self.message),
                "type": "value_error",
            }
        ]

    @property
    def fields(self) -> list[str]:
        return [_format_loc(e.get("loc", ())) for e in self.errors]


class AuthenticationError(FalHTTPError):
    """HTTP 401/403: the key is invalid or lacks access."""


class NotFoundError(FalHTTPError):
    """HTTP 404: unknown endpoint or request id."""


class RateLimitError(FalHTTPError):
    """HTTP 429 after the retries were used up."""


class RequestCancelledError(FalHTTPError):
    """HTTP 499: the request was cancelled."""


class ServerError(FalHTTPError):
    """HTTP 5xx from fal or the model."""


class InvalidArgumentError(FalError, ValueError):
    """A call option, endpoint id or request id is malformed; raised before any request is sent."""

    default_error_type: ClassVar[str | None] = "invalid_argument"


class ProtocolError(FalError):
    """fal answered with something the queue protocol does not allow (e.g. a submit without an id).

    ``text`` keeps the body (or the part of it) that could not be read, keys scrubbed out, so a
    result that was paid for is never lost to a parsing failure.
    """

    default_error_type: ClassVar[str | None] = "protocol_error"

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        error_type: str | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, error_type=error_type)
        self.text = text


class OutputValidationError(FalError):
    """A result did not parse into the endpoint's ``Output`` model.

    ``data`` keeps the raw JSON, so a result that was paid for is never lost.
    """

    def __init__(self, message: str, *, data: Any, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id, error_type="output_validation")
        self.data = data


class FalTimeoutError(FalError, TimeoutError):
    """A call exceeded its deadline (``client_timeout``, or ``timeout`` for ``run``).

    For queue calls the remote request was cancelled best-effort; ``request_id`` says which one.
    """

    def __init__(self, message: str, *, timeout: float, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id, error_type="client_timeout")
        self.timeout = timeout


class FalConnectionError(FalError):
    """The transport failed (connection refused/reset, read timeout) and retries were used up."""

    default_error_type: ClassVar[str | None] = "connection_error"


class PossiblyAcceptedError(FalConnectionError):
    """A non-idempotent request (submit, run, stream) may have been accepted, so it was not sent again.

    Raised when the connection failed after the request was sent (reset, read timeout) or a
    gateway answered 502/504 (which can come after the upstream accepted): a blind retry could
    run (and bill) the same work twice. What is needed to reconcile is kept: ``endpoint_id``,
    ``method`` and ``url``, ``status_code`` (the gateway's answer, if any), ``payload_sha256``
    and ``payload_size`` (of the body sent), and the window ``sent_at`` .. ``failed_at`` (Unix
    seconds). Look the request up by these (webhook, dashboard, request history) before
    submitting again. ``text`` keeps an answer that came but could not be read (a submit
    answered 200 without a usable request id), keys scrubbed out.
    """

    default_error_type: ClassVar[str | None] = "possibly_accepted"

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        error_type: str | None = None,
        endpoint_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        payload_sha256: str | None = None,
        payload_size: int | None = None,
        sent_at: float | None = None,
        failed_at: float | None = None,
        text: str | None = None,
    ) -> None:
        # FalError's, not super()'s: in PossiblyAcceptedTimeoutError the next class is
        # FalTimeoutError, whose own fields are its subclass's to set.
        FalError.__init__(self, message, request_id=request_id, error_type=error_type)
        self.text = text
        self.endpoint_id = endpoint_id
        self.method = method
        self.url = url
        self.status_code = status_code
        self.payload_sha256 = payload_sha256
        self.payload_size = payload_size
        self.sent_at = sent_at
        self.failed_at = failed_at


class PossiblyAcceptedTimeoutError(PossiblyAcceptedError, FalTimeoutError):
    """The deadline (``client_timeout``, ``timeout``) passed after a paid request was sent, or
    after fal answered it with success, and before what it returns was read.

    Both a timeout (``timeout`` holds the seconds) and possibly accepted: the job may be queued,
    running or done, and paid for, so the fields of :class:`PossiblyAcceptedError` say what to
    reconcile before sending it again. ``request_id`` is set when fal's answer named it.
    """

    def __init__(
        self,
        message: str,
        *,
        timeout: float,
        request_id: str | None = None,
        endpoint_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        payload_sha256: str | None = None,
        payload_size: int | None = None,
        sent_at: float | None = None,
        failed_at: float | None = None,
        text: str | None = None,
    ) -> None:
        PossiblyAcceptedError.__init__(
            self,
            message,
            request_id=request_id,
            endpoint_id=endpoint_id,
            method=method,
            url=url,
            status_code=status_code,
            payload_sha256=payload_sha256,
            payload_size=payload_size,
            sent_at=sent_at,
            failed_at=failed_at,
            text=text,
        )
        self.timeout = timeout


def _platform_error(body: Any) -> dict[str, Any] | None:
    """The ``error`` object of the Platform API's error body (``{"error": {"type", "message",
    "docs_url", "request_id"}}``), if that is the shape of ``body``."""
    obj = _json_object(body)
    error = _json_object(obj.get("error")) if obj is not None else None
    return error if error is not None and isinstance(error.get("message"), str) else None


def _message_from_body(body: Any, fallback: str) -> str:
    obj = _json_object(body)
    if (platform := _platform_error(body)) is not None:
        return str(platform["message"])
    if obj is not None:
        detail = obj.get("detail")
        items = _json_objects(detail)
        if isinstance(detail, list):
            return _format_errors(items) or fallback
        if detail is not None:
            return str(detail)
        for key in ("message", "error", "status"):
            if obj.get(key) is not None:
                return str(obj[key])
    elif isinstance(body, str) and body.strip():
        return scrub(body.strip())[:500]  # scrubbed first: a cut could split an echoed key
    return fallback


def error_for_response(
    status_code: int, body: Any, headers: Mapping[str, str], *, request_id: str | None = None
) -> FalHTTPError:
    """Build the right :class:`FalHTTPError` subclass for an error response."""
    lower = {k.lower(): v for k, v in headers.items()}
    obj = _json_object(body)
    platform = _platform_error(body) or {}
    body_type = obj.get("error_type") if obj is not None else None
    body_type = body_type or platform.get("type")
    error_type = str(body_type) if body_type else lower.get("x-fal-error-type")
    request_id = request_id or named_request_id(headers, body)
    message = _message_from_body(body, f"request failed with status {status_code}")
    cls: type[FalHTTPError]
    if status_code == 422:
        cls = FalValidationError
    elif status_code in (401, 403):
        cls = AuthenticationError
    elif status_code == 404:
        cls = NotFoundError
    elif status_code == 429:
        cls = RateLimitError
    elif status_code == 499:
        cls = RequestCancelledError
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = FalHTTPError
    return cls(
        message,
        status_code=status_code,
        body=body,
        headers=headers,
        request_id=request_id,
        error_type=error_type,
    )
