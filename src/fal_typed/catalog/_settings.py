"""``FetchSettings``: the limits of a fetch, apart from the fetching code (httpx, asyncio), so
the command line shows their defaults without importing it."""

from __future__ import annotations

from dataclasses import dataclass

from .._checks import check_count, check_seconds
from .._limits import MiB
from ._corpus import MAX_DEPTH

__all__ = ["FetchSettings"]


@dataclass(frozen=True)
class FetchSettings:
    """How hard to try, and how much a server may make a fetch hold or wait for.

    A server past a limit fails that document (or stops the listing, for the catalog's limits)
    with a reason naming the limit; nothing it sent is written.
    """

    concurrency: int = 8
    """Requests in flight at once."""
    attempts: int = 6
    """Attempts per request (429, 5xx and transport errors are retried)."""
    backoff: float = 0.5
    """First retry delay in seconds, doubled per attempt (with jitter)."""
    max_backoff: float = 30.0
    """Longest retry delay, ``Retry-After`` included."""
    timeout: float = 60.0
    """Seconds to connect, or to wait for each next piece of an answer."""
    response_timeout: float = 120.0
    """Seconds one answer (a document, a catalog page) may take from request to last byte, however
    the server trickles it. Not retried: the same server would be as slow again."""
    max_document_bytes: int = 8 * MiB
    """Largest document (fal's largest is 66 KB); a larger one fails."""
    max_page_bytes: int = 64 * MiB
    """Largest catalog page (its documents together)."""
    max_depth: int = MAX_DEPTH
    """Deepest nesting of objects and arrays in a document (fal's deepest is 13)."""
    max_pages: int = 1_000
    """Most catalog pages one listing follows; past it the listing stops, incomplete."""
    max_documents: int = 10_000
    """Most catalog records one listing handles (fal lists about 1,100); past it, it stops."""

    def __post_init__(self) -> None:
        # _checks' rules: a count is an int (2.5 requests in flight is no count, a bool none),
        # seconds are finite (NaN passes every range check, and an int no float holds
        # overflowed where it was first used). InvalidArgumentError is a ValueError.
        for name in (
            "concurrency", "attempts", "max_document_bytes", "max_page_bytes", "max_depth",
            "max_pages", "max_documents",
        ):  # fmt: skip
            check_count(name, getattr(self, name), minimum=1)
        for name in ("backoff", "max_backoff"):
            check_seconds(name, getattr(self, name))
        for name in ("timeout", "response_timeout"):
            check_seconds(name, getattr(self, name), positive=True)
