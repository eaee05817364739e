"""The states a row goes through, and what an error is called in the journal (its *kind*).

::

    pending -> submitting -> submitted -> downloading -> completed
                   |             |             |
                   |             +--> failed   +--> (download retried on every run)
                   +--> ambiguous  (the POST may have been accepted: never re-sent unasked)
                   +--> pending    (a 429 or a refused connection: provably not accepted)
    invalid        (the row did not validate: never sent)

Each arrow is committed to the journal *before* the action it allows: ``submitting`` before the
POST, ``submitted`` (with the request id) as soon as the answer arrives, ``downloading`` (with the
output) when the result is fetched, ``completed`` (with the file paths) once the files are on
disk. A row found in ``submitting`` by a later run was cut off between the POST and its answer,
so it becomes ``ambiguous``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from .._errors import (
    AuthenticationError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    FalValidationError,
    OutputValidationError,
    PossiblyAcceptedError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from .._status import Completed

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "STATES",
    "ErrorInfo",
    "RowState",
    "error_info",
    "fetch_fault",
]

RowState: TypeAlias = Literal[
    "pending",
    "submitting",
    "submitted",
    "downloading",
    "completed",
    "failed",
    "ambiguous",
    "invalid",
]

STATES: Final[tuple[RowState, ...]] = (
    "pending",
    "submitting",
    "submitted",
    "downloading",
    "completed",
    "failed",
    "ambiguous",
    "invalid",
)
ACTIVE_STATES: Final[frozenset[RowState]] = frozenset(
    {"pending", "submitting", "submitted", "downloading"}
)
"""States a run works on (the others end it, until the user asks for a retry)."""
FINAL_STATES: Final[frozenset[RowState]] = frozenset(
    {"completed", "failed", "ambiguous", "invalid"}
)


@dataclass(frozen=True)
class ErrorInfo:
    """Why a row failed: ``kind`` (fal's ``error_type``, or one of ours: ``download``,
    ``output_validation``, ``possibly_accepted``...), the HTTP ``status`` if any, a message."""

    kind: str
    message: str
    status: int | None = None

    def matches(self, kinds: frozenset[str]) -> bool:
        """Whether ``--retry-failed`` with these kinds covers this error (``all``, a kind,
        ``4xx``/``5xx``, or an exact status such as ``504``)."""
        if "all" in kinds or self.kind in kinds:
            return True
        if self.status is None:
            return False
        return f"{self.status // 100}xx" in kinds or str(self.status) in kinds


def error_info(exc: BaseException) -> ErrorInfo:
    """The journal's record of an exception (never carries a key: FalErrors are redacted)."""
    status = exc.status_code if isinstance(exc, FalHTTPError) else None
    if isinstance(exc, PossiblyAcceptedError):
        kind = "possibly_accepted"
    elif isinstance(exc, OutputValidationError):
        kind = "output_validation"
    elif isinstance(exc, FalTimeoutError):
        kind = "timeout"
    elif isinstance(exc, FalError) and exc.error_type:
        kind = exc.error_type
    elif isinstance(exc, FalValidationError) and isinstance(exc.errors[0].get("type"), str):
        kind = str(exc.errors[0]["type"])  # e.g. content_policy_violation
    elif status is not None:
        kind = f"http_{status}"
    else:
        kind = type(exc).__name__
    message = exc.message if isinstance(exc, FalError) else str(exc) or type(exc).__name__
    return ErrorInfo(kind, message[:2000], status)


def fetch_fault(exc: FalError, completed: Completed | None) -> bool:
    """Whether ``exc``, raised while following a submitted request (its status, its result), is
    a failure to *fetch* rather than the request's own failure: the request may have succeeded
    (and been paid for), so its row must stay awaited by request id, never marked failed (which
    loses the result, and ``--retry-failed`` would pay for it again).

    The request's own failure is a ``Completed`` status carrying an error, then the result's
    answer; or a refusal of the result (a 422 surfaces only there). A 5xx, a 429, an expired
    key or a timeout while fal said nothing of a failure says nothing about the request; nor
    does an answer that cannot be read (a result whose body is not JSON, cut or garbled on its
    way, an unknown status): the row failed protocol_error, and --retry-failed paid again."""
    if isinstance(exc, ProtocolError):
        return True
    if isinstance(exc, (RateLimitError, AuthenticationError, FalTimeoutError)):
        return not isinstance(exc, PossiblyAcceptedError)
    if isinstance(exc, FalHTTPError) and exc.status_code in (408, 409):
        return True
    if isinstance(exc, ServerError):
        return completed is None or not completed.failed
    return False
