"""Webhook receiving costs: signature verification, full parse, and a real HTTP receiver.

Prints figures (no assertions): verifications/s and parses/s in-process against fixed keys, the
cost of one cold JWKS fetch on loopback, and deliveries/s through a Starlette receiver
(``fal_typed.webhooks.webhook_endpoint``) served by uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fal_typed import OutputModel
from fal_typed import webhooks as wh
from fal_typed.testing._webhooks import WebhookDispatcher
from fal_typed.webhooks._signature import sign_delivery


class Image(OutputModel):
    url: str
    width: int
    height: int


class Output(OutputModel):
    images: list[Image]
    seed: int


def _delivery(key: Ed25519PrivateKey, n: int) -> tuple[bytes, dict[str, str]]:
    payload = {
        "images": [
            {"url": f"https://cdn/{n}/{i}.png", "width": 1024, "height": 768} for i in range(4)
        ],
        "seed": n,
    }
    body = json.dumps(
        {
            "request_id": f"req-{n}",
            "gateway_request_id": f"req-{n}",
            "status": "OK",
            "payload": payload,
        }
    ).encode()
    return body, sign_delivery(
        key, request_id=f"req-{n}", user_id="u", timestamp=int(time.time()), body=body
    )


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<44} {count / seconds:>10,.0f} /s   ({seconds / count * 1e6:,.1f} us each)")


def _serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.005)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def main() -> None:
    dispatcher = WebhookDispatcher()
    key = dispatcher.signing_key
    deliveries = [_delivery(key, n) for n in range(2000)]
    verifier = wh.WebhookVerifier(jwks=dispatcher.jwks())

    start = time.perf_counter()
    for body, headers in deliveries:
        verifier.verify(body, headers)
    _rate("verify (fixed keys)", len(deliveries), time.perf_counter() - start)

    start = time.perf_counter()
    for body, headers in deliveries:
        verifier.parse(body, headers, Output)
    _rate("parse into a typed Output (fixed keys)", len(deliveries), time.perf_counter() - start)

    base, jwks_server, jwks_thread = _serve(Starlette(routes=dispatcher.routes()))
    cold: list[float] = []
    for _ in range(20):
        fetching = wh.WebhookVerifier(f"{base}/.well-known/jwks.json")
        start = time.perf_counter()
        fetching.verify(*deliveries[0])
        cold.append(time.perf_counter() - start)
    print(
        f"{'first verify incl. JWKS fetch (median of 20)':<44} {statistics.median(cold) * 1e3:>10.2f} ms"
    )

    handled = 0

    async def handler(result: wh.WebhookResult[Output]) -> None:
        nonlocal handled
        handled += 1

    async def plain(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "ok"})

    endpoint = wh.webhook_endpoint(
        Output, handler, verifier=wh.WebhookVerifier(f"{base}/.well-known/jwks.json")
    )
    routes = [Route("/hook", endpoint, methods=["POST"]), Route("/plain", plain, methods=["POST"])]
    hook_base, hook_server, hook_thread = _serve(Starlette(routes=routes))

    async def post_all(path: str) -> float:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=16)) as http:
            semaphore = asyncio.Semaphore(16)

            async def post(body: bytes, headers: dict[str, str]) -> None:
                async with semaphore:
                    response = await http.post(f"{hook_base}{path}", content=body, headers=headers)
                    response.raise_for_status()

            start = time.perf_counter()
            await asyncio.gather(*(post(b, h) for b, h in deliveries))
            return time.perf_counter() - start

    # Client and server share this process (and its GIL): the plain endpoint is the ceiling.
    _rate(
        "HTTP POSTs to a plain Starlette endpoint", len(deliveries), asyncio.run(post_all("/plain"))
    )
    seconds = asyncio.run(post_all("/hook"))
    assert handled == len(deliveries)
    _rate("HTTP deliveries through webhook_endpoint", len(deliveries), seconds)
    for server, thread in ((hook_server, hook_thread), (jwks_server, jwks_thread)):
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
