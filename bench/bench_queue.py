"""Queue runtime figures on the local fal server: per-call overhead, completion latency, concurrency.

Prints figures (no assertions), measured in one run:

1. Per-call time of ``flux_dev.subscribe`` (input validation, submit, status stream, result,
   typed output) against the same requests made with raw httpx (submit, status stream until
   COMPLETED, result GET, ``json()``) and against fal-client 1.0.3 ``subscribe`` (its URL
   constants patched to the local server; it polls status every 0.1 s). The server runs in its
   own process with no queue or processing time, so the figures are the clients' own cost plus
   loopback and the server's constant work. Clients are interleaved call by call to cancel drift.
   Target: fal_typed within 1.1x of raw httpx, in wall time and in client CPU, for 0 s, 50 ms
   and 500 ms jobs (the server holds each request that long before completing it). The raw httpx
   baseline closes the status stream at ``COMPLETED``, losing its connection; ``subscribe`` reads
   the stream to its end (fal ends it right after) so one connection serves all three requests,
   and a second raw row does the same, unbounded: the cheapest the requests can be by hand. Each
   call's CPU includes collecting its own garbage (``own_garbage_collected``), so that no call
   pays for a collection of the others'. CPU time on a shared machine swings by +-10% between
   runs, so the Python bytecodes each call runs (``sys.settrace``) are counted too: the same
   work gives the same count, whatever the load. The same call with ``client_timeout`` shows
   what holding a hard wall-clock deadline costs on top, and ``untyped().subscribe`` (same
   runtime, open models) what the typed models' validation costs inside a call. Part 4 prints the same validation measured hot, in a tight loop: the
   gap between the two is the price of running it between socket waits, with cold caches.
   A row of raw httpx with flux/dev's pydantic models applied by hand (the input validated and
   written by its model, the result validated into ``Output``) does the same validation with no
   runtime: the typed calls' CPU is also printed against it (``x by hand``), which is the
   runtime's own share.
2. Time from the server's COMPLETED (stamped inside the server, same process and clock) to the
   typed result in the caller's hands, for ``subscribe`` (status stream) and fal-client
   (polling), with 50 ms of processing so the wait is real. Target: under 20 ms.
3. 1,000 concurrent ``subscribe_async`` calls on one client (default httpx limits: 100
   connections), against a server process with 200 ms of processing per request: all must
   succeed; wall time and the client process's peak RSS (measured in a fresh subprocess).
4. CPU of flux/dev's typed validation alone, hot: the keyword input validated into the JSON
   body, and a result parsed into ``Output`` from its text, as the calls do (no I/O), against
   ``json.loads`` then ``model_validate`` and ``json.loads`` alone, for 1 image and for 100.
5. Per-call time of ``flux_dev.run`` (the run host: one POST answered with the output) against
   raw httpx posting the same body and reading ``json()``, and against fal-client's ``run``,
   for 0 s and 50 ms jobs; same target.
6. Per-call time of ``flux_dev.submit`` (one POST: the input validated and written, the request
   id read) and of ``flux_dev.result`` (one GET of a completed request, parsed into ``Output``)
   on their own, against raw httpx making the same request and fal-client's ``submit`` and
   ``result``; same target. Each ``result`` call fetches the same completed request again.

Run: ``.venv/bin/python bench/bench_queue.py`` (``--quick`` for fewer calls, ``--only per-call``
/ ``latency`` / ``concurrency`` / ``validation`` / ``run`` / ``submit-result`` for one part).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import httpx
from _server_process import ServerProcess as _ServerProcess
from fal_endpoints import flux_dev

from fal_typed import Client, Completed, Status, untyped

KEY = "bench-key-id:bench-key-secret"
ENDPOINT = "fal-ai/flux/dev"
BODY = {"prompt": "a cat", "seed": 6252023, "num_images": 1}
#: The same runtime with open models (``fal_typed.untyped``): what the queue calls cost without
#: the typed models' validation of the input and the output.
UNTYPED = "fal_typed untyped().subscribe"
#: Raw httpx reading the status stream to its end, so one connection serves the three requests
#: (as ``subscribe`` does): the cheapest the same requests can be by hand.
READ_TO_END = "raw httpx, stream read to end"
#: Raw httpx with the same pydantic models applied by hand (the input validated and written by
#: its model, the answer validated into ``Output``): what the typed calls' validation costs
#: without the runtime, so the runtime's own share is the gap between this row and theirs.
BY_HAND = "raw httpx + pydantic by hand"

_SERVER_SCRIPT = """
import json, sys, time
from fal_typed.testing import LocalFal
from fal_typed.testing._queue import RequestQueue

completed_at = {}
original = RequestQueue._complete

def stamped(self, request, outcome):
    completed_at.setdefault(request.request_id, time.perf_counter())
    original(self, request, outcome)

RequestQueue._complete = stamped
fal = LocalFal().start()
fal.configure(processing_time=float(sys.argv[1]))
fal.handler("fal-ai/flux/dev", lambda body: {
    "images": [{"url": fal.cdn_url + "/files/cat.png", "width": 1024, "height": 768,
                "content_type": "image/png"}],
    "timings": {"inference": 0.05}, "seed": 6252023, "has_nsfw_concepts": [False],
    "prompt": body["prompt"],
})
print(fal.base_url, flush=True)
for line in sys.stdin:
    if line.strip() == "stamps":
        print(json.dumps(completed_at), flush=True)
fal.stop()
"""


class ServerProcess(_ServerProcess):
    """A LocalFal in its own process (no GIL shared with the client), answering ``flux/dev``
    with a fixed output so its own work is small and the same for every client. It stamps
    ``perf_counter()`` (CLOCK_MONOTONIC, comparable across processes) when a request completes.
    """

    def __init__(self, processing_time: float) -> None:
        super().__init__(_SERVER_SCRIPT, str(processing_time))

    def completed_at(self) -> dict[str, float]:
        """When each request completed, server-side."""
        stamps: dict[str, float] = self.ask("stamps")
        return stamps


@contextmanager
def server_process(processing_time: float) -> Generator[ServerProcess]:
    server = ServerProcess(processing_time)
    try:
        yield server
    finally:
        server.close()


def client_for(base_url: str) -> Client:
    return Client(
        KEY,
        queue_url=f"{base_url}/queue",
        run_url=f"{base_url}/run",
        rest_url=f"{base_url}/rest",
        cdn_url=f"{base_url}/cdn",
        realtime_url=base_url.replace("http", "ws", 1) + "/run",
    )


# -- the three clients -----------------------------------------------------------------------


def raw_httpx_subscribe(
    http: httpx.Client, queue_url: str, *, read_to_end: bool = False, validated: bool = False
) -> Any:
    """The same requests as ``subscribe``, by hand: submit, status stream, result.

    As written, the stream is closed at ``COMPLETED``, which costs its connection (the result
    is fetched on a new one). ``read_to_end`` reads on to the stream's end (fal ends it right
    after ``COMPLETED``), without any bound, as ``subscribe`` does within one: its connection
    then fetches the result. ``validated`` applies flux/dev's models by hand (:data:`BY_HAND`)."""
    headers = {"Authorization": f"Key {KEY}"}
    if validated:
        submitted = http.post(
            f"{queue_url}/{ENDPOINT}", content=validated_body(), headers=json_headers(headers)
        )
    else:
        submitted = http.post(f"{queue_url}/{ENDPOINT}", json=BODY, headers=headers)
    submitted.raise_for_status()
    base = f"{queue_url}/fal-ai/flux/requests/{submitted.json()['request_id']}"
    stream_headers = {**headers, "Accept": "text/event-stream"}
    with http.stream(
        "GET", f"{base}/status/stream", params={"logs": "0"}, headers=stream_headers
    ) as s:
        lines = s.iter_lines()
        for line in lines:
            if line.startswith("data:") and json.loads(line[5:])["status"] == "COMPLETED":
                break
        if read_to_end:
            for _ in lines:
                pass
    result = http.get(base, headers=headers)
    result.raise_for_status()
    return flux_dev.Output.model_validate_json(result.content) if validated else result.json()


def validated_body() -> str:
    """The request body as a user applying flux/dev's input model by hand writes it."""
    return flux_dev.Input(prompt="a cat", seed=6252023, num_images=1).model_dump_json(
        by_alias=True, exclude_unset=True
    )


def json_headers(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


def fal_client_factory(base_url: str, call: str = "subscribe") -> Callable[..., Any]:
    """fal-client 1.0.3's ``subscribe``, ``run``, ``submit`` or ``result`` (given a request id)
    of flux/dev against the local server."""
    import fal_client
    import fal_client.client as fal_client_module

    fal_client_module.QUEUE_URL_FORMAT = f"{base_url}/queue/"
    fal_client_module.RUN_URL_FORMAT = f"{base_url}/run/"
    sync_client = fal_client.SyncClient(key=KEY)
    if call == "run":
        return lambda: sync_client.run(ENDPOINT, arguments=BODY)
    if call == "submit":
        return lambda: sync_client.submit(ENDPOINT, arguments=BODY).request_id
    if call == "result":
        return lambda request_id: sync_client.result(ENDPOINT, request_id)
    return lambda: sync_client.subscribe(ENDPOINT, arguments=BODY)


def python_work(call: Callable[[], Any], calls: int = 5) -> int:
    """The median number of Python bytecodes the calling thread runs in ``call()``."""
    counts: list[int] = []
    for _ in range(calls):
        executed = 0

        def local(frame: FrameType, event: str, arg: object) -> Any:
            nonlocal executed
            if event == "opcode":
                executed += 1
            return local

        def on_call(frame: FrameType, event: str, arg: object) -> Any:
            frame.f_trace_opcodes = True
            return local

        sys.settrace(on_call)
        try:
            call()
        finally:
            sys.settrace(None)
        counts.append(executed)
    return int(statistics.median(counts))


@contextmanager
def local_clients(processing_time: float) -> Generator[tuple[str, Client, httpx.Client]]:
    """A server process, and a fal_typed client and a raw httpx client of it (closed on exit)."""
    with server_process(processing_time) as server:
        client = client_for(server.base_url)
        http = httpx.Client(timeout=120)
        try:
            yield server.base_url, client, http
        finally:
            client.close()
            http.close()


def per_call_overhead(processing_time: float, calls: int) -> None:
    print(
        f"1. per-call time of subscribe for a {processing_time * 1000:g} ms job "
        f"({calls} calls each, interleaved, server in its own process)"
    )
    with local_clients(processing_time) as (base_url, client, http):
        queue_url = f"{base_url}/queue"
        untyped_flux = untyped(ENDPOINT)
        compare(
            {
                "raw httpx": lambda: raw_httpx_subscribe(http, queue_url),
                READ_TO_END: lambda: raw_httpx_subscribe(http, queue_url, read_to_end=True),
                BY_HAND: lambda: raw_httpx_subscribe(
                    http, queue_url, read_to_end=True, validated=True
                ),
                "fal_typed flux_dev.subscribe": lambda: flux_dev.subscribe(
                    prompt="a cat", seed=6252023, num_images=1, client=client
                ),
                "fal_typed, client_timeout=60": lambda: flux_dev.subscribe(
                    prompt="a cat", seed=6252023, num_images=1, client=client, client_timeout=60
                ),
                UNTYPED: lambda: untyped_flux.subscribe(BODY, client=client),
                "fal-client 1.0.3 subscribe": fal_client_factory(base_url, "subscribe"),
            },
            calls,
        )


def run_overhead(processing_time: float, calls: int) -> None:
    print(
        f"5. per-call time of run (the run host: one POST, no queue) for a "
        f"{processing_time * 1000:g} ms job ({calls} calls each, interleaved)"
    )
    with local_clients(processing_time) as (base_url, client, http):
        untyped_flux = untyped(ENDPOINT)

        def raw_httpx_run() -> Any:
            answer = http.post(
                f"{base_url}/run/{ENDPOINT}", json=BODY, headers={"Authorization": f"Key {KEY}"}
            )
            answer.raise_for_status()
            return answer.json()

        def by_hand_run() -> Any:
            answer = http.post(
                f"{base_url}/run/{ENDPOINT}",
                content=validated_body(),
                headers=json_headers({"Authorization": f"Key {KEY}"}),
            )
            answer.raise_for_status()
            return flux_dev.Output.model_validate_json(answer.content)

        compare(
            {
                "raw httpx": raw_httpx_run,
                BY_HAND: by_hand_run,
                "fal_typed flux_dev.run": lambda: flux_dev.run(
                    prompt="a cat", seed=6252023, num_images=1, client=client
                ),
                "fal_typed untyped().run": lambda: untyped_flux.run(BODY, client=client),
                "fal-client 1.0.3 run": fal_client_factory(base_url, "run"),
            },
            calls,
        )


def submit_and_result_overhead(calls: int) -> None:
    print(
        f"6. per-call time of submit and of result on their own, 0 s jobs ({calls} calls each, "
        "interleaved)"
    )
    with local_clients(0.0) as (base_url, client, http):
        headers = {"Authorization": f"Key {KEY}"}
        queue_url = f"{base_url}/queue"
        fal_client_submit = fal_client_factory(base_url, "submit")
        fal_client_result = fal_client_factory(base_url, "result")

        def raw_httpx_submit() -> str:
            answer = http.post(f"{queue_url}/{ENDPOINT}", json=BODY, headers=headers)
            answer.raise_for_status()
            return str(answer.json()["request_id"])

        def by_hand_submit() -> str:
            answer = http.post(
                f"{queue_url}/{ENDPOINT}", content=validated_body(), headers=json_headers(headers)
            )
            answer.raise_for_status()
            return str(answer.json()["request_id"])

        print("   submit:")
        compare(
            {
                "raw httpx": raw_httpx_submit,
                BY_HAND: by_hand_submit,
                "fal_typed flux_dev.submit": lambda: flux_dev.submit(
                    prompt="a cat", seed=6252023, num_images=1, client=client
                ),
                "fal-client 1.0.3 submit": fal_client_submit,
            },
            calls,
        )
        done = flux_dev.submit(prompt="a cat", seed=6252023, num_images=1, client=client)
        done.wait()  # completed: every call below fetches its result again
        result_url = f"{queue_url}/fal-ai/flux/requests/{done.request_id}"

        def raw_httpx_result() -> Any:
            answer = http.get(result_url, headers=headers)
            answer.raise_for_status()
            return answer.json()

        def by_hand_result() -> Any:
            answer = http.get(result_url, headers=headers)
            answer.raise_for_status()
            return flux_dev.Output.model_validate_json(answer.content)

        print("   result:")
        compare(
            {
                "raw httpx": raw_httpx_result,
                BY_HAND: by_hand_result,
                "fal_typed flux_dev.result": lambda: flux_dev.result(
                    done.request_id, client=client
                ),
                "fal-client 1.0.3 result": lambda: fal_client_result(done.request_id),
            },
            calls,
        )


@contextmanager
def own_garbage_collected() -> Generator[None]:
    """The cyclic collector off, so that each call is charged the collection of its own
    garbage (``gc.collect(0)`` after it) and no other's.

    Left on, a collection runs in whichever call crosses its threshold: a young one costs that
    call tens of microseconds, and a full one, which walks every object of the process (all
    the loaded models), tens of milliseconds: one such call in a run moves a client's mean CPU
    per call by 0.1-0.2 ms, by chance.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def compare(flavours: dict[str, Callable[[], Any]], calls: int) -> None:
    """Wall time, client CPU and Python bytecodes per call of each flavour against the first
    (raw httpx), ``calls`` calls each after a warm-up."""
    baseline = next(iter(flavours))
    times: dict[str, list[float]] = {name: [] for name in flavours}
    cpu_times: dict[str, list[float]] = {name: [] for name in flavours}
    for call in flavours.values():  # warm up connections, imports, caches
        for _ in range(10):
            call()
    # Interleaved call by call: every client meets the machine in the same state (load,
    # caches, the server's own warmth), so a swing moves all of them alike. In a new order
    # each round: a call runs faster after one that shares its code (httpx, or our runtime)
    # and left it in the caches, so no client may always follow the same one.
    order = random.Random(6252023)
    with own_garbage_collected():
        for _ in range(calls):
            for name, call in order.sample(list(flavours.items()), len(flavours)):
                start, call_cpu = time.perf_counter(), time.process_time()
                call()
                times[name].append(time.perf_counter() - start)
                gc.collect(0)  # the cycles this call left (httpx leaves some), charged to it
                cpu_times[name].append(time.process_time() - call_cpu)
    raw = statistics.median(times[baseline])
    print("   wall time per call (client + loopback + server):")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"     {name:<30} median {median * 1000:7.2f} ms  mean {statistics.fmean(samples) * 1000:7.2f} ms"
            f"  p95 {sorted(samples)[int(len(samples) * 0.95)] * 1000:7.2f} ms  ({median / raw:.2f}x raw httpx)"
        )
    print(
        "   client CPU per call (this process only; the server runs in another; with the"
        " collection of the call's own garbage): mean, and median of the calls (less moved"
        " by other processes' load)"
    )
    raw_mean = statistics.fmean(cpu_times[baseline])
    raw_median = statistics.median(cpu_times[baseline])
    by_hand = cpu_times.get(BY_HAND)
    for name, samples in cpu_times.items():
        mean, median = statistics.fmean(samples), statistics.median(samples)
        against_by_hand = (
            f"  ({mean / statistics.fmean(by_hand):.2f}x / {median / statistics.median(by_hand):.2f}x by hand)"
            if by_hand is not None and name.startswith("fal_typed")
            else ""
        )
        print(
            f"     {name:<30} {mean * 1000:7.2f} ms  ({mean / raw_mean:.2f}x raw httpx)"
            f"  median {median * 1000:7.2f} ms  ({median / raw_median:.2f}x){against_by_hand}"
        )
    print(
        "   Python bytecodes run per call (sys.settrace; a count of the client's own work that"
        " other processes' load cannot move; C code not counted; not for client_timeout=60,"
        " whose status stream is opened from a sender thread the trace does not follow):"
    )
    work = {
        name: python_work(call) for name, call in flavours.items() if "client_timeout" not in name
    }
    for name, count in work.items():
        print(f"     {name:<30} {count:>9,}  ({count / work[baseline]:.2f}x raw httpx)")


# -- completion latency ------------------------------------------------------------------------


def completion_latency(calls: int) -> None:
    print(f"2. server COMPLETED -> typed result in hand ({calls} calls each, 50 ms processing)")
    with server_process(0.05) as server:
        client = client_for(server.base_url)
        events: dict[str, float] = {}
        in_hand: dict[str, float] = {}
        for _ in range(calls):
            ids: list[str] = []

            def on_update(status: Status, ids: list[str] = ids) -> None:
                if isinstance(status, Completed):
                    events[ids[0]] = time.perf_counter()

            flux_dev.subscribe(
                prompt="a cat", on_enqueue=ids.append, on_queue_update=on_update, client=client
            )
            in_hand[ids[0]] = time.perf_counter()
        fal_client_call = fal_client_factory(server.base_url)
        polled: list[float] = []
        before = set(server.completed_at())
        for _ in range(calls):
            fal_client_call()
            done = time.perf_counter()
            stamps = server.completed_at()
            (request_id,) = set(stamps) - before
            before.add(request_id)
            polled.append(done - stamps[request_id])
        stamps = server.completed_at()
        client.close()
    for name, samples in (
        ("fal_typed: COMPLETED event received", [t - stamps[i] for i, t in events.items()]),
        ("fal_typed: typed result in hand", [t - stamps[i] for i, t in in_hand.items()]),
        ("fal-client 1.0.3: result in hand", polled),
    ):
        print(
            f"   {name:<38} median {statistics.median(samples) * 1000:7.2f} ms"
            f"  p95 {sorted(samples)[int(len(samples) * 0.95)] * 1000:7.2f} ms  max {max(samples) * 1000:7.2f} ms"
        )


# -- concurrency ---------------------------------------------------------------------------------


async def raw_httpx_subscribe_async(http: httpx.AsyncClient, queue_url: str, prompt: str) -> Any:
    """:func:`raw_httpx_subscribe` with an async client."""
    headers = {"Authorization": f"Key {KEY}"}
    submitted = await http.post(
        f"{queue_url}/{ENDPOINT}", json={**BODY, "prompt": prompt}, headers=headers
    )
    submitted.raise_for_status()
    base = f"{queue_url}/fal-ai/flux/requests/{submitted.json()['request_id']}"
    stream_headers = {**headers, "Accept": "text/event-stream"}
    async with http.stream(
        "GET", f"{base}/status/stream", params={"logs": "0"}, headers=stream_headers
    ) as s:
        async for line in s.aiter_lines():
            if line.startswith("data:") and json.loads(line[5:])["status"] == "COMPLETED":
                break
    result = await http.get(base, headers=headers)
    result.raise_for_status()
    return result.json()


async def _concurrent(base_url: str, count: int, flavour: str) -> dict[str, Any]:
    client = client_for(base_url)
    http = httpx.AsyncClient(timeout=120)

    async def call(prompt: str) -> str:
        if flavour == "raw":
            return str(
                (await raw_httpx_subscribe_async(http, f"{base_url}/queue", prompt))["prompt"]
            )
        return (await flux_dev.subscribe_async(prompt=prompt, client=client)).prompt

    await call("warm up")
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    results = await asyncio.gather(
        *(call(f"cat {i}") for i in range(count)), return_exceptions=True
    )
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    await client.aclose()
    await http.aclose()
    failures = [r for r in results if isinstance(r, BaseException)]
    wrong = [
        i for i, r in enumerate(results) if not isinstance(r, BaseException) and r != f"cat {i}"
    ]
    return {
        "count": count,
        "ok": count - len(failures) - len(wrong),
        "failures": sorted({f"{type(f).__name__}: {f}" for f in failures})[:5],
        "elapsed": elapsed,
        "cpu_per_call_ms": cpu / count * 1000,
        "baseline_rss_mib": baseline_kib / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def concurrency(count: int) -> None:
    print(
        f"3. {count} concurrent calls on one client, 200 ms processing each (default httpx limits)"
    )
    for flavour, label in (
        ("fal_typed", "fal_typed subscribe_async"),
        ("raw", "raw httpx (same requests)"),
    ):
        with server_process(0.2) as server:
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--concurrency-child",
                    server.base_url,
                    str(count),
                    flavour,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"   {label:<27} {figures['ok']}/{figures['count']} succeeded in {figures['elapsed']:.2f} s"
            f" ({figures['count'] / figures['elapsed']:.0f} calls/s,"
            f" client CPU {figures['cpu_per_call_ms']:.2f} ms/call);"
            f" peak RSS {figures['peak_rss_mib']:.1f} MiB"
            f" (after imports and one warm-up call: {figures['baseline_rss_mib']:.1f} MiB)"
        )
        for failure in figures["failures"]:
            print(f"   failure: {failure}")


# -- validation alone ----------------------------------------------------------------------------

OUTPUT = {
    "images": [
        {"url": "http://127.0.0.1:1/cdn/files/cat.png", "width": 1024, "height": 768,
         "content_type": "image/png"}
    ],
    "timings": {"inference": 0.05}, "seed": 6252023, "has_nsfw_concepts": [False],
    "prompt": "a cat",
}  # fmt: skip


def _parsed(text: str, into: type[Any] | None) -> Any:
    """A result's text as the calls parse it (``into``: straight into the model)."""
    from fal_typed._jsonbody import parse_json

    return parse_json(text, what=str, max_depth=256, request_id=None, redact=str, into=into)


def validation_cost(calls: int) -> None:
    """CPU per call of the typed steps of ``subscribe`` that raw httpx does not take, hot.

    A result is validated straight from its text (``model_validate_json``); the rows parsing it
    with ``json.loads`` first show what that saves, for flux/dev's usual one image and for a
    result of 100."""
    from fal_endpoints.flux_dev import FluxDevInput, FluxDevOutput

    text = json.dumps(OUTPUT)
    large = json.dumps({**OUTPUT, "images": OUTPUT["images"] * 100})
    print(f"4. typed validation alone, hot ({calls:,} calls each, no I/O): CPU per call")
    steps: dict[str, Callable[[], Any]] = {
        "input: keywords -> FluxDevInput -> JSON body": lambda: flux_dev.endpoint.arguments(
            None, {"prompt": "a cat", "seed": 6252023, "num_images": 1}
        ),
        "output: result text -> FluxDevOutput": lambda: _parsed(text, FluxDevOutput),
        "  through json.loads first": lambda: FluxDevOutput.model_validate(_parsed(text, None)),
        "  json.loads alone (raw httpx's part)": lambda: json.loads(text),
        "output of 100 images -> FluxDevOutput": lambda: _parsed(large, FluxDevOutput),
        "  100 images through json.loads first": lambda: FluxDevOutput.model_validate(
            _parsed(large, None)
        ),
        "  100 images, json.loads alone": lambda: json.loads(large),
        "both, as pydantic alone": lambda: (
            FluxDevInput(prompt="a cat", seed=6252023, num_images=1).model_dump(mode="json"),
            FluxDevOutput.model_validate_json(text),
        ),
    }
    for name, step in steps.items():
        for _ in range(calls // 10):
            step()
        start = time.process_time()
        for _ in range(calls):
            step()
        per_call = (time.process_time() - start) / calls
        print(f"     {name:<46} {per_call * 1e6:7.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument(
        "--only",
        choices=("per-call", "latency", "concurrency", "validation", "run", "submit-result"),
        help="run one part only (1, 2, 3, 4, 5 or 6)",
    )
    parser.add_argument(
        "--concurrency-child",
        nargs=3,
        metavar=("BASE_URL", "COUNT", "FLAVOUR"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.concurrency_child:
        base_url, count, flavour = args.concurrency_child
        print(json.dumps(asyncio.run(_concurrent(base_url, int(count), flavour))))
        return
    if args.only in (None, "per-call"):
        for processing_time, calls in ((0.0, 300), (0.05, 150), (0.5, 60)):
            per_call_overhead(processing_time, calls=max(calls // 6, 8) if args.quick else calls)
    if args.only in (None, "latency"):
        completion_latency(calls=20 if args.quick else 50)
    if args.only in (None, "concurrency"):
        concurrency(200 if args.quick else 1000)
    if args.only in (None, "validation"):
        validation_cost(2_000 if args.quick else 20_000)
    if args.only in (None, "run"):
        for processing_time, calls in ((0.0, 300), (0.05, 150)):
            run_overhead(processing_time, calls=max(calls // 6, 8) if args.quick else calls)
    if args.only in (None, "submit-result"):
        submit_and_result_overhead(calls=50 if args.quick else 300)


if __name__ == "__main__":
    main()
