"""The batch's own errors that its parts below the runner raise too (the reading of rows)."""

from __future__ import annotations

from typing import ClassVar

from .._errors import FalError

__all__ = ["BatchError", "InputFileError"]


class BatchError(FalError):
    """A batch cannot run as asked (see the message); nothing was sent."""

    default_error_type: ClassVar[str | None] = "batch"


class InputFileError(BatchError):
    """The input file cannot be read as rows (not UTF-8, not CSV, unreadable): the message names
    the file and where. Raised while rows are loaded, before anything is sent."""
