"""One request's attempts: asks the retry table what each outcome means and builds the error.

``Client.request`` and ``Client.arequest`` do the I/O and the sleeping; everything they decide
between attempts is here, shared, so the sync and async paths cannot disagree: the table's
decision (``_retry``), the per-outcome backoff within ``max_elapsed``, the failover to a backup
host, the call's deadline, and the error raised when the request is not sent again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

from ._deadline import Deadline
from ._errors import (
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    PossiblyAcceptedError,
    PossiblyAcceptedTimeoutError,
)
from ._retry import (
    Backoff,
    Decision,
    Kind,
    Outcome,
    RetryPolicy,
    decide,
    named_request_id,
    observe_error,
    observe_response,
)
from ._retry import parse_retry_after as _parse_retry_after

if TYPE_CHECKING:
    from types import TracebackType

    from ._client import Client, Failover
    from ._wallclock import Exchange

__all__ = ["Attempts", "deadline_cut", "kind_of", "named", "naming", "possibly_accepted"]

logger = logging.getLogger("fal_typed")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def kind_of(method: str, idempotent: bool | None, kind: Kind | None) -> Kind:
    """The table row of a request: ``kind`` if given, else by ``idempotent`` or the method."""
    if kind is not None:
        return kind
    if idempotent is None:
        idempotent = method in _IDEMPOTENT_METHODS
    return Kind.OTHER_IDEMPOTENT if idempotent else Kind.OTHER_POST


def _payload(request: httpx.Request | None) -> tuple[str | None, int | None]:
    """SHA-256 and size of the body of ``request`` (if it was sent from memory)."""
    if request is None:
        return None, None
    try:
        content = request.content
    except httpx.RequestNotRead:  # a streamed body: not kept
        return None, None
    return hashlib.sha256(content).hexdigest(), len(content)


def possibly_accepted(
    message: str,
    request: httpx.Request | None,
    *,
    method: str,
    url: str,
    status_code: int | None = None,
    sent_at: float | None = None,
    request_id: str | None = None,
    timeout: float | None = None,
    text: str | None = None,
) -> PossiblyAcceptedError:
    """The error of a request that was sent and may have been accepted: ``message`` and the
    advice every such error gives, with what reconciles it (the payload's digest and size, the
    answer's ``text`` if one came); with ``timeout``, the deadline of that many seconds ended
    it."""
    digest, size = _payload(request)
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": method,
        "url": url,
        "status_code": status_code,
        "payload_sha256": digest,
        "payload_size": size,
        "sent_at": sent_at,
        "failed_at": time.time(),
        "text": text,
    }
    message = f"{message} (check the request history or your webhook before sending it again)"
    if timeout is None:
        return PossiblyAcceptedError(message, **fields)
    return PossiblyAcceptedTimeoutError(message, timeout=timeout, **fields)


def deadline_cut(
    exc: FalTimeoutError,
    exchanges: Sequence[Exchange],
    *,
    kind: Kind,
    redact: Callable[[str], str],
) -> FalError:
    """The error of a call of ``kind`` its deadline ended (``exc``): as the retry table's
    "deadline passed after it was sent" column says, a paid request that was written whole
    with no answer yet, or answered with success, is :class:`PossiblyAcceptedTimeoutError`;
    anything else (not sent whole, or answered with an error) is ``exc``."""
    if decide(kind, Outcome.DEADLINE_AFTER_SENT).error is not PossiblyAcceptedTimeoutError:
        return exc
    for exchange in reversed(exchanges):
        answer = exchange.answer
        if answer is not None and answer.is_success:
            why = (
                f"fal answered HTTP {answer.status_code}, so it was accepted, "
                "but its answer was not read whole"
            )
        elif answer is None and exchange.sent:
            why = "the request was sent and no answer came, so fal may have accepted it"
        else:
            continue
        request = exchange.request
        return possibly_accepted(
            f"{exc.message}: {why}",
            request,
            method=request.method,
            url=redact(str(request.url)),
            status_code=None if answer is None else answer.status_code,
            sent_at=exchange.started_at,
            request_id=None if answer is None else named_request_id(answer),
            timeout=exc.timeout,
        )
    return exc


def named(error: FalError, endpoint_id: str) -> FalError:
    """``error``, with the endpoint id stamped on it if it is a :class:`PossiblyAcceptedError`:
    part of what reconciles it."""
    if isinstance(error, PossiblyAcceptedError):
        error.endpoint_id = endpoint_id
    return error


class naming:
    """:func:`named` on every :class:`FalError` raised in the block.

    A class, not a ``@contextmanager`` generator: every call enters one, and a class costs a
    third of the Python work to enter and leave."""

    __slots__ = ("endpoint_id",)

    def __init__(self, endpoint_id: str) -> None:
        self.endpoint_id = endpoint_id

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, FalError):
            named(exc, self.endpoint_id)


class Attempts:
    """The state of one request between its attempts."""

    def __init__(
        self,
        client: Client,
        method: str,
        failover: Failover,
        kind: Kind,
        policy: RetryPolicy,
        deadline: Deadline | None,
    ) -> None:
        self.client = client
        self.method = method
        self.failover = failover
        self.kind = kind
        self.policy = policy
        self.deadline = deadline
        self.attempt = 0
        self.sent_at = 0.0
        self._backoff = Backoff(policy)
        self._original_url = failover.url

    @property
    def url(self) -> str:
        return self.failover.url

    def start(self) -> None:
        """Count an attempt about to be sent; none is sent once the deadline has passed."""
        self._check_deadline()
        self.attempt += 1
        self.sent_at = time.time()

    # -- between attempts -------------------------------------------------------------------

    def after_error(self, exc: httpx.TransportError, answer: httpx.Response | None = None) -> float:
        """Seconds to wait before the next attempt after ``exc``; raises if there is none.

        ``answer``: the head of an answer whose body ``exc`` cut. Its status and
        ``x-fal-request-id`` go on the error raised (a paid run's id is never lost)."""
        self._check_deadline()
        if self.failover.switch(exc, self.client.redact):
            self.attempt -= 1  # the backup gets its own try, at once
            return 0.0
        outcome = observe_error(exc)
        decision = None if outcome is None else self.policy.decision(self.kind, outcome)
        if outcome is not None and decision is not None and decision.retry:
            delay = self._delay(outcome, None, type(exc).__name__)
            if delay is not None:
                return delay
        self._raise_transport(exc, outcome, decision, answer)

    def after_response(self, response: httpx.Response) -> float:
        """Seconds to wait before the next attempt after an error ``response``; raises if none."""
        outcome = observe_response(response, retry_statuses=self.policy.retry_statuses)
        if outcome is None:  # a redirect not followed or similar: the caller's to read
            raise self.client.error_for(response)
        decision = self.policy.decision(self.kind, outcome)
        if decision.retry:
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            delay = self._delay(outcome, retry_after, f"HTTP {response.status_code}")
            if delay is not None:
                return delay
        if outcome is Outcome.FAL_5XX_NAMED and self.kind is Kind.SUBMIT:
            raise self._named_failure(response)
        if decision.error is PossiblyAcceptedError:
            raise self._possibly_accepted(
                f"answered HTTP {response.status_code} by a gateway (no x-fal-request-id), "
                "which can come after fal accepted the request",
                response.request,
                answer=response,
            )
        raise self.client.error_for(response)

    def _named_failure(self, response: httpx.Response) -> FalHTTPError:
        """A submit's fal 5xx naming a request id: fal's own error (its type, a ServerError as
        any 5xx: most such answers queued nothing), carrying the id, its message saying once
        that fal may have queued the request under it."""
        failure = self.client.error_for(response)
        request_id = named_request_id(response)
        return type(failure)(
            f"{failure.message} (fal named request {request_id}: it may have been queued under "
            "that id; follow it by that id, its status or result, before sending it again)",
            status_code=failure.status_code,
            body=failure.body,
            headers=failure.headers,
            request_id=request_id,
            error_type=failure.error_type,
        )

    def _delay(self, outcome: Outcome, retry_after: float | None, reason: str) -> float | None:
        """The wait before the next attempt, or None when the attempts or time are used up."""
        if self.attempt >= self.policy.max_attempts:
            return None
        delay = self._backoff.wait(outcome, retry_after)
        if delay is None:
            logger.info(
                "fal_typed: not retrying %s %s after %s: max_elapsed (%gs) would be passed",
                self.method,
                self.client.redact(self.url),
                reason,
                self.policy.max_elapsed,
            )
            return None
        if self.deadline is not None and delay >= self.deadline.remaining():
            raise self.deadline.error(self._call())
        logger.info(
            "fal_typed: retrying %s %s in %.2fs after %s (attempt %d of %d)",
            self.method,
            self.client.redact(self.url),
            delay,
            reason,
            self.attempt + 1,
            self.policy.max_attempts,
        )
        return delay

    def _check_deadline(self) -> None:
        if self.deadline is not None and self.deadline.expired:
            raise self.deadline.error(self._call())

    def _call(self) -> str:
        """The call as a deadline error names it: its method and first URL, scrubbed."""
        return f"{self.method} {self.client.redact(self._original_url)}"

    # -- errors -----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.method} {self.client.redact(self.url)}"

    def undecodable(self, exc: httpx.HTTPError, answer: httpx.Response) -> FalError | None:
        """The error of an answer whose body came but cannot be decoded (a corrupt gzip): for a
        request that is not sent again once sent, a :class:`PossiblyAcceptedError` with the
        answer's status and request id (fal answered, so it ran); else ``None``, the caller's
        plain failure."""
        decision = self.policy.decision(self.kind, Outcome.RESET_AFTER_SENT)
        if decision.error is not PossiblyAcceptedError:
            return None
        detail = self.client.redact(f"{type(exc).__name__}: {exc}")
        return self._possibly_accepted(
            f"was answered HTTP {answer.status_code} with a body that cannot be decoded ({detail})",
            answer.request,
            answer=answer,
        )

    def _possibly_accepted(
        self,
        what: str,
        request: httpx.Request | None,
        *,
        answer: httpx.Response | None = None,
    ) -> PossiblyAcceptedError:
        return possibly_accepted(
            f"{self._where()} {what}; fal may have accepted it, so it was not sent again",
            request,
            method=self.method,
            url=self.client.redact(self.url),
            status_code=None if answer is None else answer.status_code,
            sent_at=self.sent_at,
            request_id=None if answer is None else named_request_id(answer),
        )

    def _raise_transport(
        self,
        exc: httpx.TransportError,
        outcome: Outcome | None,
        decision: Decision | None,
        answer: httpx.Response | None,
    ) -> NoReturn:
        detail = self.client.redact(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
        if decision is not None and decision.error is PossiblyAcceptedError:
            try:
                request: httpx.Request | None = exc.request
            except RuntimeError:  # raised without its request (a transport used directly)
                request = None
            what = (
                f"failed after the request was sent ({detail})"
                if answer is None
                else f"was answered HTTP {answer.status_code}, then its body failed ({detail})"
            )
            raise self._possibly_accepted(what, request, answer=answer) from exc
        if outcome is Outcome.DNS_FAILURE:
            host = httpx.URL(self.url).host
            raise FalConnectionError(
                f"{self._where()}: cannot resolve the host name {host!r} ({detail}); "
                "nothing was sent"
            ) from exc
        tried = f" after {self.attempt} attempts" if self.attempt > 1 else ""
        raise FalConnectionError(f"{self._where()} failed{tried}: {detail}") from exc
