"""Fixtures for the webhook tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .helpers import JWKSHost, jwks_of, serve


@pytest.fixture(scope="session")
def _jwks_host() -> Iterator[JWKSHost]:
    host = JWKSHost()

    async def endpoint(_: Request) -> Response:
        host.hits += 1
        if host.raw is not None:
            return Response(
                host.raw,
                status_code=host.status,
                headers=host.headers,
                media_type="application/json",
            )
        return JSONResponse(host.document, status_code=host.status, headers=host.headers)

    async def moved(_: Request) -> Response:
        return RedirectResponse("/.well-known/jwks.json", status_code=301)

    routes = [Route("/.well-known/jwks.json", endpoint), Route("/old/jwks.json", moved)]
    with serve(Starlette(routes=routes)) as base:
        host.url = f"{base}/.well-known/jwks.json"
        yield host


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def jwks_host(_jwks_host: JWKSHost, signing_key: Ed25519PrivateKey) -> JWKSHost:
    """The session's JWKS server, reset to publish ``signing_key``."""
    _jwks_host.reset(jwks_of(signing_key))
    return _jwks_host
