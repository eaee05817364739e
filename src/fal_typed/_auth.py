"""API key resolution, in fal-client's order, and scrubbing of keys out of any text we emit.

Order: the ``key`` given to :class:`~fal_typed.Client`, then ``FAL_KEY``, then ``FAL_KEY_ID`` +
``FAL_KEY_SECRET`` joined as ``id:secret``. Resolution happens on the first call that needs it
(never at import), so a missing key surfaces as :class:`MissingCredentialsError` at that call.
fal-client's further sources (Colab secrets, the ``fal auth login`` token file) are not read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import (
    MIN_SECRET_LENGTH,
    InvalidArgumentError,
    MissingCredentialsError,
    remember_secrets,
)

# The one scrubbing walk (explicit secrets here; the errors' own scrub uses the remembered ones).
from ._errors import scrub as redact
from ._errors import scrub_value as redact_json

__all__ = ["Credentials", "check_key", "redact", "redact_json", "resolve_credentials"]


MISSING_CREDENTIALS_MESSAGE = (
    "no fal API key found: pass Client(key=...) or set FAL_KEY "
    "(or FAL_KEY_ID and FAL_KEY_SECRET) in the environment"
)


@dataclass(frozen=True, repr=False)
class Credentials:
    """A resolved key and where it came from. Its repr never shows the key."""

    key: str
    source: str

    @property
    def header(self) -> str:
        """The ``Authorization`` header value fal expects."""
        return f"Key {self.key}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every fragment that must never be printed: the key and, for ``id:secret``, the secret."""
        _, sep, secret = self.key.partition(":")
        parts = (self.key, secret) if sep else (self.key,)
        return tuple(p for p in parts if len(p) >= MIN_SECRET_LENGTH)

    def __post_init__(self) -> None:
        remember_secrets(self.secrets)  # scrubbed from every error from now on

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r}, key='***')"


def check_key(key: object) -> str:
    """Validate an explicitly given key (without ever echoing it) and return it stripped."""
    if not isinstance(key, str):
        raise InvalidArgumentError(f"key must be a string, not {type(key).__name__}")
    stripped = key.strip()
    if not stripped:
        raise InvalidArgumentError("key must be a non-empty string")
    if any(ch in stripped for ch in "\r\n\t "):
        raise InvalidArgumentError("key must not contain whitespace or line breaks")
    if not (stripped.isascii() and stripped.isprintable()):
        # An HTTP header carries ASCII only: httpx would raise an encoding error quoting the
        # whole header, key included (a zero-width space pasted with it, say).
        raise InvalidArgumentError(
            "key must be printable ASCII: it holds another character (pasted in with it?)"
        )
    return stripped


def resolve_credentials(key: str | None, environ: Mapping[str, str] | None = None) -> Credentials:
    """Return the credentials to use, or raise :class:`MissingCredentialsError`."""
    if key is not None:
        return Credentials(check_key(key), "argument")
    env = os.environ if environ is None else environ
    if value := env.get("FAL_KEY", "").strip():
        return Credentials(check_key(value), "FAL_KEY")
    key_id = env.get("FAL_KEY_ID", "").strip()
    key_secret = env.get("FAL_KEY_SECRET", "").strip()
    if key_id and key_secret:
        return Credentials(check_key(f"{key_id}:{key_secret}"), "FAL_KEY_ID/FAL_KEY_SECRET")
    raise MissingCredentialsError(MISSING_CREDENTIALS_MESSAGE)
