"""Keeping the proxy's secrets out of what it sends back and what it logs.

fal has no reason to echo a key, but a proxy must not rely on that: every response header and
every byte of every response body is scrubbed of the keys and CDN tokens the proxy has used, with
the runtime's own redaction (``_auth.redact``). Bodies are scrubbed as they stream, holding back
only the few bytes at the end of a chunk that could begin a secret, so an event stream is never
delayed: an SSE event ends in a newline, which no secret begins with.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .._auth import redact

__all__ = ["BodyRedactor", "Secrets"]

_PROBE = "\x00secret\x00"
#: What a secret is replaced with: the runtime's own marker.
_MARKER = redact(_PROBE, (_PROBE,)).encode()


class Secrets:
    """Every secret the proxy holds (keys, their secret halves, CDN tokens); grows as it learns."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            new = [s for s in secrets if s and s not in self._values]
            if new:
                # Longest first: a key is scrubbed whole before its secret half is looked for.
                self._values = tuple(sorted({*self._values, *new}, key=len, reverse=True))

    @property
    def values(self) -> tuple[str, ...]:
        return self._values

    def text(self, text: str) -> str:
        return redact(text, self._values)

    def redactor(self) -> BodyRedactor:
        return BodyRedactor(self._values)


class BodyRedactor:
    """Scrubs a byte stream chunk by chunk; a secret split across chunks is caught too."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._encoded = tuple(s.encode() for s in secrets)
        self._pending = b""

    def _held_back(self, data: bytes) -> int:
        """How many trailing bytes of ``data`` could be the start of a secret."""
        longest = 0
        for secret in self._encoded:
            for size in range(min(len(secret) - 1, len(data)), longest, -1):
                if data.endswith(secret[:size]):
                    longest = size
                    break
        return longest

    def feed(self, chunk: bytes) -> bytes:
        """What of ``chunk`` (after what was held back) can be sent now, scrubbed."""
        if not self._encoded:
            return chunk
        data = self._scrub(self._pending + chunk)
        keep = self._held_back(data)
        self._pending = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep]

    def flush(self) -> bytes:
        """The bytes held back, at the end of the stream."""
        data, self._pending = self._pending, b""
        return data

    def _scrub(self, data: bytes) -> bytes:
        for secret in self._encoded:
            if secret in data:
                data = data.replace(secret, _MARKER)
        return data
