"""Chaos figures: 2,000 ``subscribe_async`` calls against a local server that misbehaves.

The local fal server runs in its own process and injects, by seeded chance, every fault of the
retry table that a server can produce (docs/guarantees.md): on the submit a gateway 504 or 502
page *after* the queue accepted the job, a reset after the job was accepted, a reset before the
request was read, 429 with ``Retry-After``, ingress 502/503 pages, a fal 5xx with a request id,
a delay; on the status stream, the status poll and the result: resets, streams cut after one
event, 429, ingress pages and fal 5xx. Each call's prompt carries a nonce, and the handler
(one execution per accepted job: what is billed) records the nonces it ran.

Printed (no assertions):

- completed, PossiblyAccepted, failed by error type;
- duplicate submits: jobs accepted beyond the first for one nonce (must be 0), from the server's
  request log and from the handler's executions;
- results lost (must be 0): an accepted job whose caller got neither its result nor an error
  naming it. Named means: the error carries the job's request id, or it is a
  PossiblyAcceptedError (the caller holds the payload, and the job is found by it, here the
  nonce, in the server's log or the dashboard); each kind is counted;
- the client process's peak RSS, and its open file descriptors before and after the client is
  closed.

Run: ``.venv/bin/python bench/bench_chaos.py`` (``--calls N``, ``--seed S``); bounded: calls run
in waves of ``--wave`` (default 200) with one client, each call limited to 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from _server_process import ServerProcess
from fal_endpoints import flux_dev

from fal_typed import Client, FalError, PossiblyAcceptedError, RetryPolicy

KEY = "chaos-key-id:chaos-key-secret"

# (operation, fault expression in the server process, probability): first match wins, a spared
# request goes on to the next rule. Names are printed with the figures.
FAULTS: list[tuple[str, str, float]] = [
    ("submit", "Fault.ingress(504, after_accept=True)", 0.03),
    ("submit", "Fault.ingress(502, after_accept=True)", 0.02),
    ("submit", "Fault.reset(after_handler=True)", 0.03),
    ("submit", "Fault.reset()", 0.03),
    ("submit", "Fault.rate_limited(retry_after=0.05)", 0.04),
    ("submit", "Fault.ingress(503)", 0.03),
    ("submit", "Fault.ingress(502)", 0.02),
    ("submit", "Fault.server_error(503, 'runner_scheduling_failure')", 0.02),
    ("submit", "Fault.delay(0.3)", 0.03),
    ("status_stream", "Fault.drop(after_chunks=1)", 0.03),
    ("status_stream", "Fault.reset()", 0.03),
    ("status_stream", "Fault.ingress(503)", 0.03),
    ("status_stream", "Fault.rate_limited(retry_after=0.05)", 0.03),
    ("status_stream", "Fault.server_error(500, 'internal_error')", 0.02),
    ("status", "Fault.reset()", 0.03),
    ("status", "Fault.ingress(502)", 0.03),
    ("result", "Fault.reset()", 0.03),
    ("result", "Fault.ingress(502)", 0.03),
    ("result", "Fault.rate_limited(retry_after=0.05)", 0.03),
    ("result", "Fault.server_error(503, 'runner_scheduling_failure')", 0.02),
]

_SERVER_SCRIPT = """
import json, sys, threading
from collections import Counter
from fal_typed.testing import Fault, LocalFal

rules = json.loads(sys.argv[1])
fal = LocalFal(max_requests=100_000).start()
fal.state.faults.seed(int(sys.argv[2]))
executed = Counter()
lock = threading.Lock()

def handle(body):
    with lock:
        executed[body["prompt"]] += 1
    return {
        "images": [{"url": fal.cdn_url + "/files/cat.png", "width": 8, "height": 8,
                    "content_type": "image/png"}],
        "timings": {"inference": 0.01}, "seed": 1, "has_nsfw_concepts": [False],
        "prompt": body["prompt"],
    }

fal.configure(processing_time=0.05)
fal.handler("fal-ai/flux/dev", handle)
for on, expression, probability in rules:
    fal.inject(eval(expression, {"Fault": Fault}), on=on, times=None, probability=probability)
print(fal.base_url, flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "drain":  # the submits logged since the last drain (the log is bounded)
        submits = [
            {"prompt": (e.json() or {}).get("prompt") if e.body else None,
             "request_id": e.request_id, "status": e.status_code, "fault": e.fault}
            for e in fal.requests_for("submit")
        ]
        fal.state.log.clear()
        print(json.dumps(submits), flush=True)
    elif command == "summary":
        with lock:
            ran = dict(executed)
        hits = {f"{rule.operation} {rule.fault.label}": rule.hits for rule in fal.state.faults.rules}
        print(json.dumps({"executed": ran, "hits": hits}), flush=True)
fal.stop()
"""


@dataclass
class Outcome:
    nonce: str
    completed: bool = False
    returned_prompt: str | None = None
    error: BaseException | None = None
    seconds: float = 0.0


@dataclass
class Figures:
    outcomes: list[Outcome] = field(default_factory=list)
    submits: list[dict[str, Any]] = field(default_factory=list)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def one_call(client: Client, nonce: str) -> Outcome:
    outcome = Outcome(nonce)
    start = time.perf_counter()
    try:
        out = await flux_dev.subscribe_async(prompt=nonce, client=client, client_timeout=60)
        outcome.completed = True
        outcome.returned_prompt = out.prompt
    except Exception as exc:  # every failure is recorded by type; FalError is the contract
        outcome.error = exc
    outcome.seconds = time.perf_counter() - start
    return outcome


async def run_calls(server: ServerProcess, calls: int, wave: int) -> Figures:
    base_url = server.base_url
    figures = Figures()
    client = Client(
        KEY,
        queue_url=f"{base_url}/queue",
        run_url=f"{base_url}/run",
        rest_url=f"{base_url}/rest",
        cdn_url=f"{base_url}/cdn",
        realtime_url=base_url.replace("http", "ws", 1) + "/run",
        retry=RetryPolicy(base_delay=0.05, max_delay=0.5),
    )
    async with client:
        for first in range(0, calls, wave):
            nonces = [f"chaos-{n:05d}" for n in range(first, min(first + wave, calls))]
            figures.outcomes += await asyncio.gather(*(one_call(client, n) for n in nonces))
            figures.submits += server.ask("drain")
    return figures


def report(figures: Figures, summary: dict[str, Any], wall: float) -> None:
    outcomes = figures.outcomes
    executed: dict[str, int] = summary["executed"]
    accepted: dict[str, list[str]] = {}
    for submit in figures.submits:
        if submit["request_id"] is not None and submit["prompt"] is not None:
            accepted.setdefault(submit["prompt"], []).append(submit["request_id"])
    completed = [o for o in outcomes if o.completed]
    wrong = [o for o in completed if o.returned_prompt != o.nonce]
    possibly = [o for o in outcomes if isinstance(o.error, PossiblyAcceptedError)]
    failed = Counter(
        type(o.error).__name__
        for o in outcomes
        if o.error is not None and not isinstance(o.error, PossiblyAcceptedError)
    )
    not_fal = [o for o in outcomes if o.error is not None and not isinstance(o.error, FalError)]
    print(f"calls: {len(outcomes)} in {wall:.1f} s")
    print(f"completed: {len(completed)} (result for another call's payload: {len(wrong)})")
    print(f"PossiblyAccepted: {len(possibly)}")
    print(f"failed by type: {dict(sorted(failed.items())) or '{}'}")
    print(f"failures that are not FalError: {len(not_fal)}")
    dup_log = sum(len(ids) - 1 for ids in accepted.values() if len(ids) > 1)
    dup_run = sum(n - 1 for n in executed.values() if n > 1)
    dup_nonces = sorted(n for n, ids in accepted.items() if len(ids) > 1)
    print(
        f"duplicate submits: {dup_log} (server log: accepted submits beyond the first per nonce;"
        f" handler executions beyond the first: {dup_run}; nonces affected: {len(dup_nonces)})"
    )
    named: Counter[str] = Counter()
    lost: list[str] = []
    by_nonce = {o.nonce: o for o in outcomes}
    for nonce, ids in accepted.items():
        outcome = by_nonce.get(nonce)
        if outcome is None:
            continue
        if outcome.completed and outcome.returned_prompt == nonce:
            named["returned"] += 1
        elif outcome.error is not None and getattr(outcome.error, "request_id", None) in ids:
            named[f"named by request id ({type(outcome.error).__name__})"] += 1
        elif isinstance(outcome.error, PossiblyAcceptedError):
            named["PossiblyAcceptedError without request id: found by payload (nonce)"] += 1
        else:
            what = "no error" if outcome.error is None else type(outcome.error).__name__
            tries = [s["fault"] or s["status"] for s in figures.submits if s["prompt"] == nonce]
            lost.append(f"{nonce} ({what}: {str(outcome.error)[:100]}); its submits: {tries}")
    unaccepted = sum(1 for o in possibly if o.nonce not in accepted)
    print(f"accepted jobs: {len(accepted)} (executed by the handler: {len(executed)})")
    print(f"PossiblyAccepted whose submit was in fact not accepted: {unaccepted}")
    print(f"results lost: {len(lost)}")
    for kind, count in sorted(named.items()):
        print(f"   {kind}: {count}")
    for line in lost[:10]:
        print(f"   lost: {line}")
    seconds = sorted(o.seconds for o in outcomes)
    print(
        f"call time: median {seconds[len(seconds) // 2]:.2f} s, p99"
        f" {seconds[int(len(seconds) * 0.99)]:.2f} s, max {seconds[-1]:.2f} s"
    )
    print("faults injected:")
    for rule, hits in summary["hits"].items():
        print(f"   {rule}: {hits}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--wave", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    fds_before = open_fds()
    server = ServerProcess(_SERVER_SCRIPT, json.dumps(FAULTS), str(args.seed))
    try:
        start = time.perf_counter()
        figures = asyncio.run(run_calls(server, args.calls, args.wave))
        wall = time.perf_counter() - start
        time.sleep(0.5)  # let jobs whose answer was lost finish executing server-side
        summary = server.ask("summary")
    finally:
        server.close()
    fds_after = open_fds()
    report(figures, summary, wall)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"client peak RSS: {peak_mib:.0f} MiB")
    print(f"open fds: {fds_before} before the client, {fds_after} after it and the server closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
