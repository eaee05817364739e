"""Keeping the proxy's secrets out of what it sends back and what it logs.

fal has no reason to echo a key, but a proxy must not rely on that: every response header and
every byte of every response body is scrubbed of the keys and CDN tokens the proxy has used, with
the runtime's own redaction (``_auth.redact``): whole secrets, and the cut or escaped starts and
ends of a key that it removes from errors and logs. Bodies are scrubbed as they stream, holding
back only the bytes at the end of a chunk that are part of something scrubbed (they may go on
in the next chunk), so an event stream is never delayed: an SSE event ends in a newline, which
no secret holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from .._errors import MAX_TOKENS, Scrubber

__all__ = ["MAX_TOKENS", "BodyRedactor", "Secrets"]

# CDN tokens are renewed for as long as the proxy runs (one an hour or so per key): only the
# latest MAX_TOKENS are scrubbed, as ``_errors`` keeps them; an old one has expired.


class Secrets:
    """Every secret the proxy holds (keys, their secret halves, the latest CDN tokens); grows as
    it learns keys."""

    def __init__(self) -> None:
        self._keys: dict[str, None] = {}
        self._tokens: OrderedDict[str, None] = OrderedDict()
        self._values: tuple[str, ...] = ()
        self._scrub = Scrubber(())
        self._body_scrub = Scrubber(())
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str], *, token: bool = False) -> None:
        """Scrub ``secrets`` from now on: keys for good; with ``token``, short-lived tokens, of
        which the latest :data:`MAX_TOKENS` are kept."""
        with self._lock:
            changed = False
            for secret in secrets:
                if not secret:
                    continue
                if not token:
                    if secret not in self._keys:
                        self._keys[secret] = None
                        changed = True
                elif secret in self._tokens:
                    self._tokens.move_to_end(secret)
                else:
                    self._tokens[secret] = None
                    changed = True
                    while len(self._tokens) > MAX_TOKENS:
                        self._tokens.popitem(last=False)
            if changed:
                # Longest first: a key is scrubbed whole before its secret half is looked for.
                self._values = tuple(sorted({*self._keys, *self._tokens}, key=len, reverse=True))
                # Their forms worked out once here, not for every header, body and log line.
                self._scrub = Scrubber(self._values)
                self._body_scrub = Scrubber(_as_bytes_text(s) for s in self._values)

    @property
    def values(self) -> tuple[str, ...]:
        return self._values

    def text(self, text: str) -> str:
        return self._scrub(text)

    def redactor(self) -> BodyRedactor:
        return BodyRedactor(self._body_scrub if self._values else None)


class BodyRedactor:
    """Scrubs a byte stream chunk by chunk, as :func:`redact` scrubs a text; a secret or a
    fragment split across chunks is caught too.

    The bytes are read as Latin-1 (one character a byte, so a UTF-8 character split across
    chunks is never broken, and the ASCII of a key's forms matches as it does in text), and
    the secrets are read the same way."""

    def __init__(self, scrub: Scrubber | None) -> None:
        """``scrub``: of the secrets' forms as bytes read as Latin-1 (None: no secret)."""
        self._scrub = scrub if scrub is not None else Scrubber(())
        self._sources = scrub.sources if scrub is not None else ()
        self._pending = ""

    def _held_back(self, text: str) -> int:
        """How many trailing characters of ``text`` are part of something scrubbed: the
        longest such end (every shorter end of it is part of one too, so the count stops at
        the first end that is in none)."""
        size = 0
        while size < len(text) and any(text[-size - 1 :] in source for source in self._sources):
            size += 1
        return size

    def feed(self, chunk: bytes) -> bytes:
        """What of ``chunk`` (after what was held back) can be sent now, scrubbed. No match
        crosses the end held back: it would make a longer end part of something scrubbed."""
        if not self._sources:
            return chunk
        text = self._pending + chunk.decode("latin-1")
        keep = self._held_back(text)
        self._pending = text[len(text) - keep :]
        return self._scrubbed(text[: len(text) - keep])

    def flush(self) -> bytes:
        """The bytes held back, scrubbed, at the end of the stream."""
        text, self._pending = self._pending, ""
        return self._scrubbed(text)

    def _scrubbed(self, text: str) -> bytes:
        return self._scrub(text).encode("latin-1") if text else b""


def _as_bytes_text(secret: str) -> str:
    """``secret`` as its UTF-8 bytes read as Latin-1: how it reads in a body read so."""
    return secret.encode("utf-8").decode("latin-1")
