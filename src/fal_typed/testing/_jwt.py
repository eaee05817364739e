"""The local server's realtime tokens: HS256 JWTs signed with a per-server random secret.

fal's tokens are opaque to clients (they only pass them back in the socket URL), so any signed,
expiring token does; a real JWT lets clients read ``exp`` to schedule a refresh, as they would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any, cast

__all__ = ["TokenError", "TokenSigner"]


class TokenError(Exception):
    """A token was missing, malformed, forged, expired or not for this app."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks the tokens of one server."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def issue(
        self, allowed_apps: Sequence[str], lifetime: float, *, now: float | None = None
    ) -> str:
        """A token for ``allowed_apps`` (aliases) that expires ``lifetime`` seconds from now."""
        issued = time.time() if now is None else now
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {
            "allowed_apps": list(allowed_apps),
            "iat": issued,
            "exp": issued + lifetime,
            "jti": secrets.token_hex(8),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{self._sign(f'{header}.{payload}')}"

    def check(self, token: str | None, alias: str, *, now: float | None = None) -> dict[str, Any]:
        """The claims of a valid, unexpired token allowing ``alias``; else raise :class:`TokenError`."""
        if not token:
            raise TokenError("missing fal_jwt_token")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("malformed token")
        if not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2]):
            raise TokenError("invalid token signature")
        try:
            claims: Any = json.loads(_unb64(parts[1]))
        except ValueError:
            raise TokenError("malformed token") from None
        if not isinstance(claims, dict):
            raise TokenError("malformed token")
        body = cast(dict[str, Any], claims)
        exp = body.get("exp")
        if not isinstance(exp, (int, float)) or (time.time() if now is None else now) >= exp:
            raise TokenError("token expired")
        apps = body.get("allowed_apps")
        if not isinstance(apps, list) or alias not in apps:
            raise TokenError(f"token not valid for app {alias!r}")
        return body

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest())
