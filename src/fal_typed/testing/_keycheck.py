"""The local server's ``Authorization`` check.

By default any ``Key <non-empty>`` (or ``Bearer <non-empty>``, what fal-client sends after a CLI
login) is accepted; a server started with ``key=`` accepts only ``Key <that key>``, compared in
constant time. Rejections never echo what was sent.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["auth_error", "key_is_valid"]


def key_is_valid(header: str, key: str | None) -> bool:
    """Whether an ``Authorization`` header value is accepted."""
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if not credential or scheme.lower() not in ("key", "bearer"):
        return False
    if key is None:
        return True
    return scheme.lower() == "key" and hmac.compare_digest(credential.encode(), key.encode())


def auth_error(request: Request, key: str | None) -> Response | None:
    """A 401 response if the request is not authorised, else None."""
    header = request.headers.get("authorization")
    if not header:
        return JSONResponse({"detail": "Missing Authorization header"}, status_code=401)
    if not key_is_valid(header, key):
        return JSONResponse({"detail": "invalid key credentials"}, status_code=401)
    return None
