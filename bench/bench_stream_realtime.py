"""Realtime and streaming costs of fal_typed against raw ``websockets`` / ``httpx`` on loopback.

Prints figures (no assertions), measured in one run against the local fal server, which runs in
a child process (its own interpreter, so client and server do not share a GIL) with a trivial
async handler, so the numbers are client-side overhead plus loopback, not model time:

* realtime round-trip latency (send one input, receive its result; p50 / p95 / mean) and
  round trips per second, sync and async, for ``RealtimeConnection`` (typed ``Output``) and for
  a raw ``websockets`` client doing msgpack by hand (dicts);
* realtime pipelined throughput (32 inputs in flight), messages per second;
* streaming time to first event (POST to the first SSE event in hand) and time to the final
  output (10 partial events + the final one), for ``Stream`` / ``AsyncStream`` and for raw
  ``httpx`` + ``httpx-sse``.

Run: ``python bench/bench_stream_realtime.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgpack  # type: ignore[import-untyped]
import websockets.asyncio.client as ws_async
import websockets.sync.client as ws_sync
from httpx_sse import EventSource

from fal_typed import (
    AsyncRealtimeConnection,
    AsyncStream,
    Client,
    Endpoint,
    InputModel,
    OutputModel,
    RealtimeConnection,
    Stream,
)

ENDPOINT_ID = "bench/echo"
PARTIALS = 10
WINDOW = 32


class EchoInput(InputModel):
    prompt: str
    seed: int = 0


class EchoOutput(OutputModel):
    prompt: str
    seed: int


ECHO = Endpoint(ENDPOINT_ID, EchoInput, EchoOutput)


# -- the server (child process) --------------------------------------------------------------


def serve() -> None:
    """Run the local server with an echo handler; print its base URL, serve until killed."""
    from typing import cast

    from fal_typed.testing import LocalFal
    from fal_typed.testing._stream import StreamService

    server = LocalFal(schemas_dir=None)

    async def echo(arguments: dict[str, Any]) -> dict[str, Any]:
        return {"prompt": arguments.get("prompt", ""), "seed": arguments.get("seed", 0)}

    def ready(running: LocalFal) -> None:
        streams = cast(StreamService, running.state.extensions["stream"])
        streams.configure(partial_events=PARTIALS)
        print(running.base_url, flush=True)

    server.handler(ENDPOINT_ID, echo)
    server.serve_forever(on_ready=ready)


# -- measurement helpers ---------------------------------------------------------------------


def _summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1e6, p95 * 1e6, statistics.fmean(ordered) * 1e6


def _row(label: str, samples: list[float], baseline: list[float] | None = None) -> str:
    p50, p95, mean = _summary(samples)
    ratio = ""
    if baseline is not None:
        ratio = f"  {p50 / _summary(baseline)[0]:.2f}x raw p50"
    return f"  {label:<34} p50 {p50:8.0f} us   p95 {p95:8.0f} us   mean {mean:8.0f} us   {1e6 / mean:8.0f}/s{ratio}"


def _interleave(rounds: int, runs: dict[str, Callable[[], list[float]]]) -> dict[str, list[float]]:
    """Run each measurement ``rounds`` times, alternating, so drift hits them all alike."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].extend(run())
    return results


async def _ainterleave(
    rounds: int, runs: dict[str, Callable[[], Awaitable[list[float]]]]
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].extend(await run())
    return results


def _token(client: Client) -> str:
    response = httpx.post(
        f"{client.rest_url}/tokens/",
        json={"allowed_apps": ["echo"], "token_expiration": 600},
        headers=client.auth_headers(),
    )
    response.raise_for_status()
    return str(response.json())


def _raw_url(client: Client) -> str:
    return f"{client.realtime_url}/{ENDPOINT_ID}/realtime?fal_jwt_token={_token(client)}"


# -- realtime --------------------------------------------------------------------------------


def realtime_sync(client: Client, count: int, rounds: int) -> None:
    def typed() -> list[float]:
        samples = []
        with RealtimeConnection(ECHO, client=client) as conn:
            for index in range(count):
                start = time.perf_counter()
                conn.send_arguments({"prompt": f"p{index}", "seed": index})
                result = conn.recv()
                samples.append(time.perf_counter() - start)
                assert result.seed == index
        return samples

    def raw() -> list[float]:
        samples = []
        with ws_sync.connect(_raw_url(client), compression=None) as ws:
            for index in range(count):
                start = time.perf_counter()
                ws.send(msgpack.packb({"prompt": f"p{index}", "seed": index}, use_bin_type=True))
                result = msgpack.unpackb(ws.recv(), raw=False)
                samples.append(time.perf_counter() - start)
                assert result["seed"] == index
        return samples

    results = _interleave(rounds, {"raw": raw, "typed": typed})
    print(f"realtime round trip, sync ({count} x {rounds} rounds)")
    print(_row("raw websockets + msgpack (dicts)", results["raw"]))
    print(_row("fal_typed RealtimeConnection", results["typed"], results["raw"]))


async def realtime_async(client: Client, count: int, rounds: int) -> None:
    url = _raw_url(client)

    async def typed() -> list[float]:
        samples = []
        async with AsyncRealtimeConnection(ECHO, client=client) as conn:
            for index in range(count):
                start = time.perf_counter()
                await conn.send_arguments({"prompt": f"p{index}", "seed": index})
                result = await conn.recv()
                samples.append(time.perf_counter() - start)
                assert result.seed == index
        return samples

    async def raw() -> list[float]:
        samples = []
        async with ws_async.connect(url, compression=None) as ws:
            for index in range(count):
                start = time.perf_counter()
                await ws.send(
                    msgpack.packb({"prompt": f"p{index}", "seed": index}, use_bin_type=True)
                )
                result = msgpack.unpackb(await ws.recv(), raw=False)
                samples.append(time.perf_counter() - start)
                assert result["seed"] == index
        return samples

    results = await _ainterleave(rounds, {"raw": raw, "typed": typed})
    print(f"realtime round trip, async ({count} x {rounds} rounds)")
    print(_row("raw websockets + msgpack (dicts)", results["raw"]))
    print(_row("fal_typed AsyncRealtimeConnection", results["typed"], results["raw"]))


def realtime_pipelined(client: Client, count: int) -> None:
    def typed() -> float:
        with RealtimeConnection(ECHO, client=client) as conn:
            start = time.perf_counter()
            for index in range(count):
                conn.send_arguments({"prompt": "p", "seed": index})
                if index >= WINDOW:
                    conn.recv()
            for _ in range(min(count, WINDOW)):
                conn.recv()
            return time.perf_counter() - start

    def raw() -> float:
        with ws_sync.connect(_raw_url(client), compression=None) as ws:
            start = time.perf_counter()
            for index in range(count):
                ws.send(msgpack.packb({"prompt": "p", "seed": index}, use_bin_type=True))
                if index >= WINDOW:
                    msgpack.unpackb(ws.recv(), raw=False)
            for _ in range(min(count, WINDOW)):
                msgpack.unpackb(ws.recv(), raw=False)
            return time.perf_counter() - start

    raw_s = typed_s = float("inf")
    for _ in range(3):  # alternating, best of 3: the server's speed drifts on a shared machine
        raw_s, typed_s = min(raw_s, raw()), min(typed_s, typed())
    print(f"realtime pipelined, sync ({count} messages, {WINDOW} in flight, best of 3)")
    print(f"  {'raw websockets + msgpack (dicts)':<34} {count / raw_s:8.0f} msg/s")
    print(
        f"  {'fal_typed RealtimeConnection':<34} {count / typed_s:8.0f} msg/s   {raw_s / typed_s:.2f}x raw"
    )


# -- streaming -------------------------------------------------------------------------------


def streaming_sync(client: Client, count: int, rounds: int) -> None:
    url = f"{client.run_url}/{ENDPOINT_ID}/stream"
    headers = {**client.auth_headers(), "Accept": "text/event-stream"}
    first: dict[str, list[float]] = {"raw": [], "typed": []}
    whole: dict[str, list[float]] = {"raw": [], "typed": []}

    def typed() -> list[float]:
        for index in range(count):
            start = time.perf_counter()
            with Stream(ECHO, {"prompt": f"p{index}", "seed": index}, client=client) as stream:
                next(stream)
                first["typed"].append(time.perf_counter() - start)
                assert stream.result().seed == index
            whole["typed"].append(time.perf_counter() - start)
        return []

    def raw() -> list[float]:
        http = client.http
        for index in range(count):
            start = time.perf_counter()
            with http.stream(
                "POST", url, json={"prompt": f"p{index}", "seed": index}, headers=headers
            ) as response:
                events = EventSource(response).iter_sse()
                next(events).json()
                first["raw"].append(time.perf_counter() - start)
                last = None
                for event in events:
                    last = event.json()
                assert last is not None and last["seed"] == index
            whole["raw"].append(time.perf_counter() - start)
        return []

    _interleave(rounds, {"raw": raw, "typed": typed})
    print(f"streaming, sync ({count} x {rounds} rounds, {PARTIALS} partial events + final)")
    print(_row("time to first event: raw httpx-sse", first["raw"]))
    print(_row("time to first event: fal_typed", first["typed"], first["raw"]))
    print(_row("time to final output: raw", whole["raw"]))
    print(_row("time to final output: fal_typed", whole["typed"], whole["raw"]))


async def streaming_async(client: Client, count: int, rounds: int) -> None:
    url = f"{client.run_url}/{ENDPOINT_ID}/stream"
    headers = {**client.auth_headers(), "Accept": "text/event-stream"}
    first: dict[str, list[float]] = {"raw": [], "typed": []}

    async def typed() -> list[float]:
        for index in range(count):
            start = time.perf_counter()
            async with AsyncStream(ECHO, {"prompt": "p", "seed": index}, client=client) as stream:
                await anext(stream)
                first["typed"].append(time.perf_counter() - start)
                await stream.result()
        return []

    async def raw() -> list[float]:
        http = client.async_http
        for index in range(count):
            start = time.perf_counter()
            async with http.stream(
                "POST", url, json={"prompt": "p", "seed": index}, headers=headers
            ) as response:
                events = EventSource(response).aiter_sse()
                (await anext(events)).json()
                first["raw"].append(time.perf_counter() - start)
                async for _ in events:
                    pass
        return []

    await _ainterleave(rounds, {"raw": raw, "typed": typed})
    print(f"streaming, async ({count} x {rounds} rounds)")
    print(_row("time to first event: raw httpx-sse", first["raw"]))
    print(_row("time to first event: fal_typed", first["typed"], first["raw"]))


# -- main ------------------------------------------------------------------------------------


def warm_up(client: Client) -> None:
    """Import paths, connection pools and the server's handler path, before anything is timed."""
    with RealtimeConnection(ECHO, client=client) as conn:
        for index in range(200):
            conn.send_arguments({"prompt": "w", "seed": index})
            conn.recv()
    with ws_sync.connect(_raw_url(client), compression=None) as ws:
        for index in range(200):
            ws.send(msgpack.packb({"prompt": "w", "seed": index}, use_bin_type=True))
            ws.recv()
    for index in range(20):
        Stream(ECHO, {"prompt": "w", "seed": index}, client=client).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per figure")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        base = child.stdout.readline().strip()
        if not base.startswith("http://127.0.0.1"):
            raise SystemExit(f"the local server did not start (got {base!r})")
        client = Client(
            "bench-key-id:bench-key-secret",
            run_url=f"{base}/run",
            rest_url=f"{base}/rest",
            realtime_url="ws" + base[len("http") :] + "/run",
        )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {load}, "
            f"server {base} (child process), loopback\n"
        )
        warm_up(client)
        realtime_sync(client, 400, args.rounds)
        print()
        asyncio.run(realtime_async(client, 400, args.rounds))
        print()
        realtime_pipelined(client, 4000)
        print()
        streaming_sync(client, 60, args.rounds)
        print()
        asyncio.run(streaming_async(client, 60, args.rounds))
        client.close()
    finally:
        child.terminate()
        child.wait(timeout=10)


if __name__ == "__main__":
    main()
