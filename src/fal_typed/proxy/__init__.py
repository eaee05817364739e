"""A server-side proxy for fal: browser and mobile apps call fal through it, never seeing the key.

fal's clients (fal-js with ``proxyUrl``, the Kotlin client, and ``fal_typed.Client(proxy_url=)``)
send each request to your server with its real destination in ``x-fal-target-url``.
:class:`FalProxy` is that server side as an ASGI app (FastAPI, Starlette, Django's ASGI): it
checks the destination is fal's, the caller (your ``authenticate``), the endpoint (an
allow-list) and the input (the generated models), applies per-caller limits and a spend cap,
adds the key and streams fal's answer back. See docs/proxy.md.

Needs Starlette: ``pip install 'fal-typed[proxy]'``.
"""

from ._app import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_INPUT_BYTES,
    DEFAULT_PROXY_TIMEOUT,
    FalProxy,
    anyone,
)
from ._calls import Authenticate, BillableCall, OnCall, ProxyCall, SpendCap
from ._cors import CORS, EXPOSED_HEADERS
from ._credentials import STAND_IN_TOKEN, KeySource
from ._limits import CallerLimits
from ._targets import DEFAULT_ALLOWED_URLS, FAL_DOMAINS, Operation

__all__ = [
    "CORS",
    "DEFAULT_ALLOWED_URLS",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_INPUT_BYTES",
    "DEFAULT_PROXY_TIMEOUT",
    "EXPOSED_HEADERS",
    "FAL_DOMAINS",
    "STAND_IN_TOKEN",
    "Authenticate",
    "BillableCall",
    "CallerLimits",
    "FalProxy",
    "KeySource",
    "OnCall",
    "Operation",
    "ProxyCall",
    "SpendCap",
    "anyone",
]
