"""FalProxy's cost: requests per second and added latency against calling the local server directly.

Prints figures (no assertions), measured in one run, with the local fal server and the proxy each
in its own process (uvicorn, one worker, as deployed) and the clients in this one:

1. Latency of one direct run (``POST fal.run/fal-ai/flux/dev``, input validated by the proxy),
   sequential, direct and through the proxy interleaved: median and p95, and the proxy's added
   median. The same for a status poll (GET, no body to validate).
2. Requests per second of that run at a fixed concurrency, direct and through the proxy.
3. The Python client end to end: ``flux_dev.run`` with a keyed client pointed at the server,
   against ``Client(proxy_url=...)``.
4. Upload throughput of a 32 MiB body to the CDN upload route, direct and through the proxy
   (streamed through, never held whole).
5. Streaming pass-through: time to the first ``/stream`` event when the server spaces its 6
   events 50 ms apart, direct and through the proxy (a buffering proxy would show the whole
   stream's time here). This server runs in this process, so it can be told to pace events.

The proxy process's CPU time per request (2.) depends little on what else the machine runs; the
latencies and rates do.

Run: ``.venv/bin/python bench/bench_proxy.py`` (``--quick`` for fewer calls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_queue import BODY, ENDPOINT, KEY, client_for, server_process
from fal_endpoints import flux_dev

from fal_typed import Client
from fal_typed.testing import LocalFal

FAL_RUN = f"https://fal.run/{ENDPOINT}"

_PROXY_SCRIPT = """
import socket, sys
import uvicorn
from fal_typed.proxy import FalProxy, anyone

proxy = FalProxy(authenticate=anyone, key=sys.argv[2], upstream=sys.argv[1],
                 allowed_endpoints=[sys.argv[3]])
# As uvicorn binds its own sockets (IPPROTO_TCP, so asyncio sets TCP_NODELAY on connections).
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
sock.listen(2048)
print(f"http://127.0.0.1:{sock.getsockname()[1]}/api/fal/proxy", flush=True)
config = uvicorn.Config(proxy, log_level="warning", access_log=False, lifespan="on", backlog=2048)
uvicorn.Server(config).run(sockets=[sock])
"""


@dataclass
class ProxyProcess:
    url: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def proxy_process(upstream: str) -> Iterator[ProxyProcess]:
    """A FalProxy served by uvicorn in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROXY_SCRIPT, upstream, KEY, ENDPOINT],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    try:
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the proxy process did not start: {url!r}")
        yield ProxyProcess(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def interleaved(
    calls: dict[str, Callable[[], object]], rounds: int, warmup: int = 20
) -> dict[str, list[float]]:
    """Each call ``rounds`` times, alternating, after a warm-up (connections, imports)."""
    for fn in calls.values():
        timed(fn, warmup)
    results: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            results[name] += timed(fn, 1)
    return results


def report(title: str, results: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    medians = {name: statistics.median(times) for name, times in results.items()}
    for name, times in results.items():
        p95 = statistics.quantiles(times, n=20)[18]
        print(f"  {name:<24} median {ms(medians[name])}   p95 {ms(p95)}")
    direct, proxied = list(medians.values())[:2]
    print(f"  added by the proxy       median {ms(proxied - direct)}   ({proxied / direct:.2f}x)")


def latency(base: str, proxy_url: str, rounds: int) -> None:
    with httpx.Client(headers={"Authorization": f"Key {KEY}"}) as direct, httpx.Client() as app:
        run_direct = lambda: direct.post(f"{base}/run/{ENDPOINT}", json=BODY).raise_for_status()  # noqa: E731
        run_proxied = lambda: app.post(  # noqa: E731
            proxy_url, json=BODY, headers={"x-fal-target-url": FAL_RUN}
        ).raise_for_status()
        report(
            "1. one direct run (POST, input validated by the proxy)",
            interleaved({"direct": run_direct, "through the proxy": run_proxied}, rounds),
        )
        request_id = direct.post(f"{base}/queue/{ENDPOINT}", json=BODY).json()["request_id"]
        status = f"/fal-ai/flux/requests/{request_id}/status"
        status_direct = lambda: direct.get(f"{base}/queue{status}").raise_for_status()  # noqa: E731
        status_proxied = lambda: app.get(  # noqa: E731
            proxy_url, headers={"x-fal-target-url": f"https://queue.fal.run{status}"}
        ).raise_for_status()
        report(
            "   a status poll (GET)",
            interleaved({"direct": status_direct, "through the proxy": status_proxied}, rounds),
        )


async def _rps(
    url: str, headers: dict[str, str], total: int, concurrency: int
) -> tuple[float, Counter[str]]:
    """Requests per second of ``total`` POSTs by ``concurrency`` workers, and what failed."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    failed: Counter[str] = Counter()
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as http:

        async def run(count: int) -> None:
            remaining = iter(range(count))

            async def worker() -> None:
                for _ in remaining:
                    try:
                        response = await http.post(url, json=BODY)
                    except httpx.TransportError as exc:
                        failed[type(exc).__name__] += 1
                        continue
                    if response.status_code != 200:
                        kind = response.headers.get("x-fal-error-type", "")
                        failed[f"{response.status_code} {kind}".strip()] += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(concurrency * 2)  # warm-up: every connection opened
        failed.clear()
        started = time.perf_counter()
        await run(total)
        return total / (time.perf_counter() - started), failed


def throughput(base: str, proxy: ProxyProcess, total: int, concurrency: int) -> None:
    direct = asyncio.run(
        _rps(f"{base}/run/{ENDPOINT}", {"Authorization": f"Key {KEY}"}, total, concurrency)
    )
    cpu_before = cpu_seconds(proxy.pid)
    proxied = asyncio.run(_rps(proxy.url, {"x-fal-target-url": FAL_RUN}, total, concurrency))
    # Warm-up requests included: 2 per worker on top of ``total``.
    cpu_per_request = (cpu_seconds(proxy.pid) - cpu_before) / (total + 2 * concurrency)
    print(f"\n2. requests per second, {total} runs at concurrency {concurrency}")
    for name, (rate, failed) in (("direct", direct), ("through the proxy", proxied)):
        errors = ", ".join(f"{n} x {kind}" for kind, n in failed.items()) or "none"
        print(f"  {name:<24} {rate:8.0f} req/s   (failed: {errors})")
    print(f"  ratio                    {proxied[0] / direct[0]:8.2f}x")
    print(
        f"  the proxy process's CPU  {cpu_per_request * 1000:8.2f} ms per request "
        f"(at most {1 / cpu_per_request:.0f} req/s on one free core)"
    )


def python_client(base: str, proxy_url: str, rounds: int) -> None:
    with client_for(base) as direct, Client(proxy_url=proxy_url) as proxied:
        report(
            "3. the Python client: flux_dev.run",
            interleaved(
                {
                    "keyed client, direct": lambda: flux_dev.run(prompt="a cat", client=direct),
                    "Client(proxy_url=...)": lambda: flux_dev.run(prompt="a cat", client=proxied),
                },
                rounds,
            ),
        )


def first_event(rounds: int) -> None:
    def first(url: str, headers: dict[str, str]) -> tuple[float, float]:
        started = time.perf_counter()
        with httpx.stream("POST", url, json=BODY, headers=headers, timeout=30) as response:
            lines = response.iter_lines()
            next(line for line in lines if line.startswith("data:"))
            first_at = time.perf_counter() - started
            for _ in lines:
                pass
        return first_at, time.perf_counter() - started

    with LocalFal() as fal, proxy_process(fal.base_url) as proxy:
        proxy_url = proxy.url
        fal.streams.configure(ENDPOINT, partial_events=5, interval=0.05)
        stream_url, auth = f"{fal.run_url}/{ENDPOINT}/stream", {"Authorization": f"Key {KEY}"}
        direct = [first(stream_url, auth) for _ in range(rounds)]
        proxied = [
            first(proxy_url, {"x-fal-target-url": FAL_RUN + "/stream"}) for _ in range(rounds)
        ]
    print("\n5. /stream with events 50 ms apart: time to the first event (and to the end)")
    for name, times in (("direct", direct), ("through the proxy", proxied)):
        print(
            f"  {name:<24} first {ms(statistics.median(t[0] for t in times))}"
            f"   whole stream {ms(statistics.median(t[1] for t in times))}"
        )


def upload(base: str, proxy_url: str, size: int) -> None:
    data = bytes(range(256)) * (size // 256)
    token = httpx.post(
        f"{base}/rest/storage/auth/token",
        params={"storage_type": "fal-cdn-v3"},
        json={},
        headers={"Authorization": f"Key {KEY}"},
    ).json()
    headers = {"Content-Type": "application/octet-stream"}
    rates: dict[str, float] = {}
    for name, url, extra in (
        ("direct", f"{base}/cdn/files/upload", {"Authorization": f"Bearer {token['token']}"}),
        ("through the proxy", proxy_url, {"x-fal-target-url": "https://v3.fal.media/files/upload"}),
    ):
        started = time.perf_counter()
        httpx.post(url, content=data, headers={**headers, **extra}, timeout=120).raise_for_status()
        rates[name] = size / (time.perf_counter() - started) / 2**20
    print(f"\n4. upload of {size >> 20} MiB to the CDN upload route")
    for name, rate in rates.items():
        print(f"  {name:<24} {rate:8.0f} MiB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    quick = parser.parse_args().quick
    rounds = 60 if quick else 300
    with server_process(0.0) as server, proxy_process(server.base_url) as proxy:
        print(f"local server {server.base_url}, proxy {proxy.url} (separate processes)")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        latency(server.base_url, proxy.url, rounds)
        throughput(server.base_url, proxy, 500 if quick else 2000, 32)
        python_client(server.base_url, proxy.url, rounds // 3)
        upload(server.base_url, proxy.url, 32 << 20)
    first_event(5 if quick else 20)


if __name__ == "__main__":
    main()
