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

__all__ = [
    "Credentials",
    "check_key",
    "missing_key_detail",
    "no_key_message",
    "redact",
    "redact_json",
    "resolve_credentials",
]


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


def check_key(key: object, source: str = "key") -> str:
    """Validate a key (without ever echoing it) and return it stripped; ``source`` names where
    it came from in the error (``key``, ``FAL_KEY``, ``--key``...)."""
    if not isinstance(key, str):
        raise InvalidArgumentError(f"{source} must be a string, not {type(key).__name__}")
    stripped = key.strip()
    if not stripped:
        raise InvalidArgumentError(f"{source} must be a non-empty string")
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        # A .env line KEY="id:secret" read by a tool that keeps the quotes: fal would answer
        # 401 to a key that is right but for them.
        raise InvalidArgumentError(
            f"{source} is wrapped in quotes: remove them (fal keys hold none; a .env file read "
            "by a tool that keeps quotes?)"
        )
    if any(ch in stripped for ch in "\r\n\t "):
        raise InvalidArgumentError(f"{source} must not contain whitespace or line breaks")
    if not (stripped.isascii() and stripped.isprintable()):
        # An HTTP header carries ASCII only: httpx would raise an encoding error quoting the
        # whole header, key included (a zero-width space pasted with it, say).
        raise InvalidArgumentError(
            f"{source} must be printable ASCII: it holds another character (pasted in with it?)"
        )
    return stripped


def no_key_message() -> str:
    """What a command says when no key is found: where one goes, and what is half there."""
    detail = missing_key_detail()
    return "no fal API key: set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or pass --key" + (
        f" ({detail})" if detail else ""
    )


def missing_key_detail(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the environment gives no key, when it holds half of one: ``FAL_KEY_ID`` without
    ``FAL_KEY_SECRET`` (or the reverse), or a blank ``FAL_KEY``."""
    env = os.environ if environ is None else environ
    key_id = env.get("FAL_KEY_ID", "").strip()
    key_secret = env.get("FAL_KEY_SECRET", "").strip()
    if bool(key_id) != bool(key_secret):
        given, lacking = (
            ("FAL_KEY_ID", "FAL_KEY_SECRET") if key_id else ("FAL_KEY_SECRET", "FAL_KEY_ID")
        )
        return f"{given} is set but {lacking} is not: set both, or FAL_KEY=id:secret"
    if "FAL_KEY" in env and not env["FAL_KEY"].strip():
        return "FAL_KEY is set but blank"
    return None


def resolve_credentials(key: str | None, environ: Mapping[str, str] | None = None) -> Credentials:
    """Return the credentials to use, or raise :class:`MissingCredentialsError`."""
    if key is not None:
        return Credentials(check_key(key), "argument")
    env = os.environ if environ is None else environ
    if value := env.get("FAL_KEY", "").strip():
        return Credentials(check_key(value, "FAL_KEY"), "FAL_KEY")
    key_id = env.get("FAL_KEY_ID", "").strip()
    key_secret = env.get("FAL_KEY_SECRET", "").strip()
    if key_id and key_secret:
        check_key(key_id, "FAL_KEY_ID")
        check_key(key_secret, "FAL_KEY_SECRET")
        joined = check_key(f"{key_id}:{key_secret}", "FAL_KEY_ID:FAL_KEY_SECRET")  # "id and secret"
        return Credentials(joined, "FAL_KEY_ID/FAL_KEY_SECRET")
    detail = missing_key_detail(env)
    raise MissingCredentialsError(MISSING_CREDENTIALS_MESSAGE + (f" ({detail})" if detail else ""))
