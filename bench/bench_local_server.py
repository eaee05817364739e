"""The local fal server's own costs, measured in one run on loopback (prints figures, asserts nothing).

* start and stop time of ``LocalFal``;
* output synthesis for every endpoint of schemas/ (in-process, no HTTP);
* sequential raw-httpx round trips: queue (submit, status, result) and direct run;
* push latency of the status stream: the server's COMPLETED to the client holding the event;
* N concurrent queue requests (submit, status stream to COMPLETED, result), each on its own
  connection, driven by a minimal h11-over-asyncio client (so the figure is the server's, not a
  client pool's) and by ``httpx.AsyncClient`` for comparison: successes, wall time, peak RSS.

Usage: ``python bench/bench_local_server.py [--concurrency 1000] [--rounds 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import threading
import time
from typing import Any

import h11
import httpx

from fal_typed.testing import CompletedRequest, LocalFal
from fal_typed.testing._synth import synthesize_output

FLUX = "fal-ai/flux/dev"
AUTH = {"Authorization": "Key bench-id:bench-secret"}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_start_stop() -> None:
    starts, stops = [], []
    for _ in range(5):
        begin = time.perf_counter()
        server = LocalFal().start()
        starts.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - begin)
    print(
        f"start: median {ms(statistics.median(starts))}; stop: median {ms(statistics.median(stops))}"
    )


def bench_synthesis(server: LocalFal) -> None:
    catalog = server.state.catalog
    times: list[float] = []
    for endpoint_id in sorted(catalog.endpoint_ids):
        schema = catalog.get(endpoint_id)
        assert schema is not None
        begin = time.perf_counter()
        synthesize_output(
            schema,
            {"prompt": "bench"},
            lambda data, content_type, name: "http://127.0.0.1:9/" + name,
        )
        times.append(time.perf_counter() - begin)
    print(
        f"synthesis over {len(times)} endpoints (documents loaded): total {sum(times):.2f} s, "
        f"median {ms(statistics.median(times))}, p95 {ms(percentile(times, 0.95))}, max {ms(max(times))}"
    )


def bench_round_trips(server: LocalFal, rounds: int) -> None:
    with httpx.Client(headers=AUTH) as http:
        http.post(f"{server.run_url}/{FLUX}", json={"prompt": "warm up"})
        begin = time.perf_counter()
        for i in range(rounds):
            submitted = http.post(f"{server.queue_url}/{FLUX}", json={"prompt": f"q{i}"}).json()
            while http.get(submitted["status_url"]).json()["status"] != "COMPLETED":
                pass
            http.get(submitted["response_url"]).raise_for_status()
        queue = (time.perf_counter() - begin) / rounds
        begin = time.perf_counter()
        for i in range(rounds):
            http.post(f"{server.run_url}/{FLUX}", json={"prompt": f"r{i}"}).raise_for_status()
        run = (time.perf_counter() - begin) / rounds
    print(
        f"sequential raw httpx: queue submit+status+result {ms(queue)}/request; run {ms(run)}/call"
    )


def bench_push_latency(server: LocalFal, rounds: int) -> None:
    completed_at: dict[str, float] = {}

    def hook(event: CompletedRequest) -> None:
        completed_at[event.request_id] = time.perf_counter()

    server.state.completion_hooks.append(hook)
    server.configure(processing_time=0.02)
    latencies: list[float] = []
    with httpx.Client(headers=AUTH) as http:
        for i in range(rounds):
            submitted = http.post(f"{server.queue_url}/{FLUX}", json={"prompt": f"s{i}"}).json()
            with http.stream("GET", submitted["status_url"] + "/stream") as response:
                for line in response.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:])["status"] == "COMPLETED":
                        seen = time.perf_counter()
                        break
            deadline = time.monotonic() + 5
            while submitted["request_id"] not in completed_at and time.monotonic() < deadline:
                time.sleep(0.001)
            latencies.append(seen - completed_at[submitted["request_id"]])
    server.state.completion_hooks.remove(hook)
    server.reset()
    print(
        f"status stream push (server COMPLETED -> client has the event), {rounds} requests: "
        f"median {ms(statistics.median(latencies))}, p95 {ms(percentile(latencies, 0.95))}"
    )


class RawConnection:
    """One HTTP/1.1 keep-alive connection spoken with h11 over asyncio streams."""

    def __init__(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.host = f"127.0.0.1:{port}"
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        return cls(port, *await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send a request and return (status, body); SSE bodies are read until the server
        closes the response after COMPLETED."""
        headers = [("Host", self.host), ("Authorization", AUTH["Authorization"])]
        if body:
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        data = self.h11.send(h11.Request(method=method, target=target, headers=headers))
        if body:
            data += self.h11.send(h11.Data(data=body))
        data += self.h11.send(h11.EndOfMessage())
        self.writer.write(data)
        status, chunks = 0, []
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.h11.start_next_cycle()
                return status, b"".join(chunks)

    def close(self) -> None:
        self.writer.close()


async def raw_request(port: int, index: int) -> bool:
    connection = await RawConnection.open(port)
    try:
        status, body = await connection.request(
            "POST", f"/queue/{FLUX}", json.dumps({"prompt": f"c{index}"}).encode()
        )
        submitted = json.loads(body)
        path = submitted["status_url"].split(str(port), 1)[1]
        _, stream = await connection.request("GET", path + "/stream")
        events = [
            json.loads(line[5:])
            for line in stream.decode().splitlines()
            if line.startswith("data:")
        ]
        status, result = await connection.request("GET", path.rsplit("/status", 1)[0])
        return (
            events[-1]["status"] == "COMPLETED"
            and status == 200
            and json.loads(result)["prompt"] == f"c{index}"
        )
    finally:
        connection.close()


async def httpx_request(http: httpx.AsyncClient, server: LocalFal, index: int) -> bool:
    submitted = (await http.post(f"{server.queue_url}/{FLUX}", json={"prompt": f"c{index}"})).json()
    async with http.stream("GET", submitted["status_url"] + "/stream") as response:
        async for line in response.aiter_lines():
            if line.startswith("data:") and json.loads(line[5:])["status"] == "COMPLETED":
                break
    result = await http.get(submitted["response_url"])
    body: dict[str, Any] = result.json()
    return result.status_code == 200 and body["prompt"] == f"c{index}"


async def concurrent(server: LocalFal, count: int, client: str) -> tuple[int, float]:
    begin = time.perf_counter()
    if client == "raw":
        results = await asyncio.gather(
            *(raw_request(server.port, i) for i in range(count)), return_exceptions=True
        )
    else:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(headers=AUTH, limits=limits, timeout=300) as http:
            results = await asyncio.gather(
                *(httpx_request(http, server, i) for i in range(count)), return_exceptions=True
            )
    failures = [r for r in results if r is not True]
    if failures:
        kinds = sorted({repr(f)[:160] for f in failures})
        print(f"  {client} client failures ({len(failures)}): {'; '.join(kinds[:3])}")
    return count - len(failures), time.perf_counter() - begin


def bench_concurrency(server: LocalFal, count: int) -> None:
    for client in ("raw", "httpx"):
        server.configure(queue_position=3, queue_step=0.05, processing_time=0.2, logs=["a", "b"])
        ok, elapsed = asyncio.run(concurrent(server, count, client))
        server.reset()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{count} concurrent queue requests, {client} client (0.4 s queue+processing each): "
            f"{ok}/{count} succeeded in {elapsed:.2f} s; peak RSS (client+server process) {peak_mb:.0f} MB, "
            f"threads {threading.active_count()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    bench_start_stop()
    with LocalFal() as server:
        bench_synthesis(server)
        bench_round_trips(server, args.rounds)
        bench_push_latency(server, min(args.rounds, 100))
        bench_concurrency(server, args.concurrency)


if __name__ == "__main__":
    main()
