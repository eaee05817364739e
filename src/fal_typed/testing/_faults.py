"""Faults injected into chosen requests: error responses, connection resets, dropped streams.

A :class:`Fault` says what happens; :meth:`FaultBook.add` says to which requests (route name,
endpoint, path, method) and how many times. The middleware in ``_middleware`` applies them, so
they work on every route of the server, including routes other modules add.
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from .._checks import check_count, check_seconds
from .._errors import InvalidArgumentError

__all__ = ["OPERATION_ALIASES", "Fault", "FaultBook", "FaultRule", "check_operation"]

OPERATION_ALIASES: Final[Mapping[str, str]] = {
    "submit": "queue.submit",
    "status": "queue.status",
    "status_stream": "queue.status_stream",
    "stream_status": "queue.status_stream",
    "result": "queue.result",
    "cancel": "queue.cancel",
}


def check_operation(
    name: str, operation: object, known: Collection[str], *, glob: bool = False
) -> str | None:
    """``operation`` with its alias read (``submit`` is ``queue.submit``), refused when it names
    no route of the server (``known``; empty before the server is built: nothing to check
    against): a misspelled name matched nothing, so a fault was never injected and an assertion
    that no request was made could not fail. A ``glob`` must match at least one route."""
    if operation is None:
        return None
    if not isinstance(operation, str):
        raise InvalidArgumentError(f"{name} must be a route name, got {type(operation).__name__}")
    full = OPERATION_ALIASES.get(operation, operation)
    if not known or full in known or (glob and fnmatch.filter(sorted(known), full)):
        return full
    import difflib

    names = sorted({*OPERATION_ALIASES, *known})
    close = difflib.get_close_matches(operation, names, n=3)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    raise InvalidArgumentError(
        f"{name}={operation!r} names no route of the local server{' (as a glob)' if glob else ''}: "
        f"{hint}known names are {', '.join(names)}"
    )


_NGINX: Final = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS: Final = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass(frozen=True)
class Fault:
    """What an affected request gets instead of (or on top of) its normal handling.

    Build one with the class methods: :meth:`response`, :meth:`rate_limited`, :meth:`ingress`,
    :meth:`user_timeout`, :meth:`server_error`, :meth:`reset`, :meth:`drop` or :meth:`delay`.
    An answer given *after* the request was handled (a gateway that timed out while the queue
    behind it accepted the submit) is :meth:`after_accept` of an answer, or
    ``ingress(504, after_accept=True)``.
    """

    action: Literal["respond", "reset", "drop", "delay"]
    label: str
    status_code: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    request_id_header: bool = False
    after_chunks: int = 0
    seconds: float = 0.0
    reach_app: bool = False

    @classmethod
    def response(
        cls,
        status_code: int,
        body: Any = None,
        *,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: bool = True,
    ) -> Fault:
        """Answer ``status_code`` with a JSON ``body`` (or raw ``text``) without reaching the app."""
        check_count("status_code", status_code, minimum=100, maximum=599)
        if text is not None:
            payload, media = text.encode(), "text/plain; charset=utf-8"
        else:
            payload, media = json.dumps(body).encode(), "application/json"
        merged = {"content-type": media, **{k.lower(): v for k, v in (headers or {}).items()}}
        return cls(
            "respond",
            f"{status_code}",
            status_code,
            payload,
            tuple(merged.items()),
            request_id_header=request_id,
        )

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0) -> Fault:
        """429 ``concurrent_requests_limit`` with ``Retry-After`` (seconds; None to omit it)."""
        headers = {"x-fal-error-type": "concurrent_requests_limit", "x-fal-needs-retry": "1"}
        if retry_after is not None:
            retry_after = check_seconds("retry_after", retry_after)
            headers["retry-after"] = f"{retry_after:g}"
        body = {"detail": "Too many concurrent requests", "error_type": "concurrent_requests_limit"}
        fault = cls.response(429, body, headers=headers, request_id=False)
        return replace(fault, label="429 rate limited")

    @classmethod
    def ingress(cls, status_code: int = 502, *, after_accept: bool = False) -> Fault:
        """An nginx error page (502/503/504) with no ``x-fal-request-id``.

        By default the request never reached fal. With ``after_accept`` it did (a submit is
        queued, a run is executed) and the gateway answered its error page instead of fal's
        response: the ambiguous outcome a client must not retry blindly."""
        if check_count("status_code", status_code) not in _REASONS:
            raise InvalidArgumentError(
                f"status_code of an ingress error must be 502, 503 or 504, got {status_code}"
            )
        page = _NGINX.format(code=status_code, reason=_REASONS[status_code])
        fault = cls.response(
            status_code, text=page, headers={"content-type": "text/html"}, request_id=False
        )
        fault = replace(fault, label=f"ingress {status_code}")
        return fault.after_accept() if after_accept else fault

    @classmethod
    def user_timeout(cls) -> Fault:
        """504 with ``X-Fal-Request-Timeout-Type: user``: the caller's start timeout expired."""
        body = {"detail": "Request timed out", "error_type": "request_timeout"}
        headers = {"x-fal-request-timeout-type": "user", "x-fal-error-type": "request_timeout"}
        return replace(cls.response(504, body, headers=headers), label="504 user timeout")

    @classmethod
    def server_error(
        cls,
        status_code: int = 503,
        error_type: str = "runner_scheduling_failure",
        detail: str | None = None,
    ) -> Fault:
        """A flat fal infrastructure error (``{detail, error_type}`` + ``X-Fal-Error-Type``)
        carrying an ``x-fal-request-id``, as fal's own 5xx answers do."""
        check_count("status_code", status_code, minimum=500, maximum=599)
        body = {
            "detail": detail or error_type.replace("_", " ").capitalize(),
            "error_type": error_type,
        }
        fault = cls.response(status_code, body, headers={"x-fal-error-type": error_type})
        return replace(fault, label=f"{status_code} {error_type}")

    @classmethod
    def reset(cls, *, after_handler: bool = False) -> Fault:
        """Reset the TCP connection (RST). With ``after_handler`` the request is handled first
        (a submit is accepted) and only the response is lost."""
        return cls(
            "reset", "reset after handler" if after_handler else "reset", reach_app=after_handler
        )

    @classmethod
    def drop(cls, after_chunks: int = 1) -> Fault:
        """Let ``after_chunks`` body chunks through (one per SSE event), then reset the connection."""
        check_count("after_chunks", after_chunks, minimum=0)
        return cls("drop", f"drop after {after_chunks}", after_chunks=after_chunks, reach_app=True)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Hold the request ``seconds`` (at most 600) before handling it normally."""
        check_seconds("seconds", seconds, maximum=600)
        return cls("delay", f"delay {seconds:g}s", seconds=seconds, reach_app=True)

    def after_accept(self) -> Fault:
        """This answer, given only after the app handled the request (its response is lost).

        Only answers can come after the app: a reset has ``reset(after_handler=True)``."""
        if self.action != "respond":
            raise ValueError(f"only an answer can come after the request was handled: {self.label}")
        return replace(self, label=f"{self.label} after accept", reach_app=True)

    def response_headers(self, request_id: str | None = None) -> list[tuple[bytes, bytes]]:
        """The answer's headers; its ``x-fal-request-id`` is ``request_id`` (the request the
        URL names, as fal's own answers about a request carry) or a fresh one."""
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if self.request_id_header:
            headers.append((b"x-fal-request-id", (request_id or str(uuid.uuid4())).encode()))
        headers.append((b"content-length", str(len(self.body)).encode()))
        return headers


@dataclass
class FaultRule:
    """Which requests a fault hits. ``times=None`` means every matching request; ``hits`` counts.

    ``probability`` below 1 hits a matching request only by that chance (a request it spares
    goes on to the next rule)."""

    fault: Fault
    operation: str | None = None
    endpoint_id: str | None = None
    path: str | None = None
    method: str | None = None
    times: int | None = 1
    hits: int = field(default=0)
    probability: float = 1.0

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(0, self.times - self.hits)

    def matches(
        self, method: str, path: str, operation: str | None, endpoint_id: str | None
    ) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.operation is not None and not fnmatch.fnmatchcase(operation or "", self.operation):
            return False
        if self.endpoint_id is not None and self.endpoint_id != endpoint_id:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


class FaultBook:
    """The armed fault rules, first match wins; safe across threads. Chances are drawn from a
    generator seeded with ``seed``, so a run with the same requests draws the same faults."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def seed(self, seed: int) -> None:
        """Restart the chances from ``seed`` (a run that repeats its requests repeats its faults)."""
        with self._lock:
            self._random.seed(seed)

    def add(self, rule: FaultRule, known: Collection[str] = ()) -> FaultRule:
        """Arm ``rule``, checked: its ``operation`` read once through :func:`check_operation`
        (an alias made the full route name, a name matching none of ``known`` refused; with no
        ``known``, as before the server is built, :meth:`check_operations` checks it later)."""
        if not isinstance(rule.fault, Fault):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidArgumentError(
                f"fault must be a fal_typed.testing.Fault, got {type(rule.fault).__name__}"
            )
        if rule.times is not None:
            check_count("times", rule.times)  # None: every request
        check_seconds("probability", rule.probability, positive=True, maximum=1, unit="")
        rule.operation = check_operation("on", rule.operation, known, glob=True)
        with self._lock:
            self._rules.append(rule)
        return rule

    def check_operations(self, known: Collection[str]) -> None:
        """Refuse a rule armed before the routes were known (``inject`` before ``start()``)
        whose route name matches none of ``known``, as :func:`check_operation` does after."""
        with self._lock:
            operations = [rule.operation for rule in self._rules if rule.operation is not None]
        for operation in operations:
            check_operation("on", operation, known, glob=True)

    def take(
        self, method: str, path: str, operation: str | None, endpoint_id: str | None
    ) -> Fault | None:
        """The fault for this request, if any rule with uses left matches (using one up)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining != 0 and rule.matches(method, path, operation, endpoint_id):
                    if rule.probability < 1.0 and self._random.random() >= rule.probability:
                        continue
                    rule.hits += 1
                    return rule.fault
        return None

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
