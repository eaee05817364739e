"""Upload throughput against raw httpx on loopback, and peak memory of a 1 GiB upload.

Prints figures (no assertions). The local server's storage routes run in a separate process,
so client and server do not share a GIL, and store into tmpfs (``/dev/shm``) when there is one,
so disk writeback does not blur the client figures. For each size, the same bytes are sent,
the flavours interleaved round-robin (each repeat runs every flavour once):

* raw POST: one ``httpx.Client.post`` of the bytes, already in memory, to the CDN upload route,
  as one ``bytes`` body and as an iterator of 1 MiB slices (httpcore copies the unsent rest of
  a ``bytes`` body after every ``send()``, which is quadratic for large bodies: both are shown);
* raw multipart (above 100 MiB): fal's multipart flow by hand with plain httpx, 10 MiB parts
  from memory on 10 threads, then complete;
* ``upload(bytes)`` and ``upload(Path)`` (streamed from disk; above 100 MiB: multipart).

``upload`` is compared with the best raw client of the same flow (single POST up to 100 MiB,
multipart above), so the ratio is the client's own cost; the server's work to assemble a
multipart object (it concatenates the parts on *complete*) weighs on both sides.

Targets: ``upload`` >= 0.8x raw throughput; peak RSS of a 1 GiB upload < 150 MB (measured in a
fresh subprocess per flavour, sync and async; the file is sparse, created in a temp dir and
deleted afterwards, and the server's copy is deleted with it).

Run: ``.venv/bin/python bench/bench_upload.py`` (``--quick`` for smaller sizes).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from fal_typed import Client

MiB = 1 << 20
KEY = "bench-id:bench-secret-0000"


def serve(port: int, directory: str) -> None:
    """Server mode: the storage routes and the file store, as the local server mounts them.

    ``DELETE /bench/files`` drops every stored upload, so runs do not pile up gigabytes.
    """
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from fal_typed.testing._filestore import FileStore
    from fal_typed.testing._storage import Storage

    files = FileStore()
    storage = Storage(files, directory=directory)

    async def clear(_: Request) -> Response:
        files.clear()
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/bench/files", clear, methods=["DELETE"]),
            Mount("/rest", routes=storage.rest_routes()),
            Mount("/cdn", routes=[*storage.cdn_routes(), *files.routes()]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), directory])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/cdn/files/none", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("storage server did not start")


def _client(base: str) -> Client:
    return Client(KEY, rest_url=f"{base}/rest", cdn_url=f"{base}/cdn")


class _Raw:
    """What a hand-written client does with plain ``httpx``: the baselines.

    ``post`` sends the bytes in one POST (as one ``bytes`` body, or as 1 MiB slices);
    ``multipart`` runs fal's multipart flow: 10 MiB parts, 10 threads, then complete.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=300)
        token = self.http.post(
            f"{base}/rest/storage/auth/token",
            params={"storage_type": "fal-cdn-v3"},
            json={},
            headers={"Authorization": f"Key {KEY}"},
        ).json()
        self.auth = {"Authorization": f"{token['token_type']} {token['token']}"}

    @staticmethod
    def _slices(view: memoryview) -> Iterator[bytes]:
        for i in range(0, len(view), MiB):
            yield view[i : i + MiB].tobytes()

    def post(self, data: bytes, *, sliced: bool) -> None:
        headers = {**self.auth, "Content-Type": "application/octet-stream"}
        body: bytes | Iterator[bytes] = data
        if sliced:
            body, headers["Content-Length"] = self._slices(memoryview(data)), str(len(data))
        url = f"{self.base}/cdn/files/upload"
        self.http.post(url, content=body, headers=headers).raise_for_status()

    def multipart(self, data: bytes) -> None:
        started = self.http.post(f"{self.base}/cdn/files/upload/multipart", headers=self.auth)
        access_url, upload_id = started.json()["access_url"], started.json()["uploadId"]
        view = memoryview(data)
        part_size = 10 * MiB

        def put(number: int) -> dict[str, object]:
            part = view[(number - 1) * part_size : number * part_size]
            headers = {**self.auth, "Content-Length": str(len(part))}
            url = f"{access_url}/multipart/{upload_id}/{number}"
            response = self.http.put(url, content=self._slices(part), headers=headers)
            response.raise_for_status()
            return {"partNumber": number, "etag": response.headers["etag"]}

        count = -(-len(data) // part_size)
        with ThreadPoolExecutor(10) as pool:
            parts = list(pool.map(put, range(1, count + 1)))
        url = f"{access_url}/multipart/{upload_id}/complete"
        self.http.post(url, json={"parts": parts}, headers=self.auth).raise_for_status()


def _timings(
    base: str, flavours: list[tuple[str, Callable[[], object]]], repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and client-CPU seconds per run of each flavour, ``repeat`` rounds, every flavour
    once per round. The server's stored files are dropped after every run (untimed).

    CPU time of this process (the client; the server is another process) barely moves when
    other work shares the machine, so it is the steadier measure of the client's own cost.
    """
    wall: dict[str, list[float]] = {name: [] for name, _ in flavours}
    cpu: dict[str, list[float]] = {name: [] for name, _ in flavours}
    for _, run in flavours:
        run()  # warm up connections and the token
        httpx.delete(f"{base}/bench/files")
    for _ in range(repeat):
        for name, run in flavours:
            started, cpu_started = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
            httpx.delete(f"{base}/bench/files")
    return wall, cpu


def throughput(base: str, directory: Path, sizes: list[int], repeat: int) -> None:
    from fal_typed.files._upload import upload

    client = _client(base)
    raw = _Raw(base)
    print(
        f"{'size':>9} {'flavour':<26} {'best MB/s':>10} {'median MB/s':>12} "
        f"{'vs raw, same flow':>18} {'client CPU s/GiB':>17}"
    )
    for size in sizes:
        data = os.urandom(size)
        path = directory / f"payload-{size}.bin"
        path.write_bytes(data)
        multipart = size > 100 * MiB
        flavours: list[tuple[str, Callable[[], object]]] = [
            ("raw POST (bytes)", lambda data=data: raw.post(data, sliced=False)),
            ("raw POST (1 MiB slices)", lambda data=data: raw.post(data, sliced=True)),
        ]
        if multipart:
            flavours.append(("raw multipart (10 threads)", lambda data=data: raw.multipart(data)))
        flavours += [
            ("upload(bytes)", lambda data=data: upload(data, client=client)),
            ("upload(Path)", lambda path=path: upload(path, client=client)),
        ]
        times, cpu = _timings(base, flavours, repeat)
        same_flow = [flavours[2][0]] if multipart else [flavours[0][0], flavours[1][0]]
        raw_best = max(size / min(times[name]) for name in same_flow) / 1e6
        for name, _ in flavours:
            rate = size / min(times[name]) / 1e6
            median_rate = size / statistics.median(times[name]) / 1e6
            ratio = f"{rate / raw_best:.2f}x" if name.startswith("upload") else ""
            cpu_per_gib = min(cpu[name]) / (size / (1 << 30))
            print(
                f"{size // MiB:>6}MiB {name:<26} {rate:>10.0f} {median_rate:>12.0f} "
                f"{ratio:>18} {cpu_per_gib:>13.2f}"
            )
        path.unlink()
    client.close()


_RSS_CHILD = """
import asyncio, sys
from pathlib import Path
from fal_typed import Client
from fal_typed.files._upload import upload, upload_async

def high_water_kb():
    # VmHWM: this process's own peak (ru_maxrss can carry the parent's over fork/exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

base, path, flavour = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
client = Client({key!r}, rest_url=base + "/rest", cdn_url=base + "/cdn")
before = high_water_kb()
if flavour == "sync":
    url = upload(path, client=client)
else:
    async def main():
        url = await upload_async(path, client=client)
        await client.aclose()
        return url
    url = asyncio.run(main())
after = high_water_kb()
print(before, after, url)
"""


def peak_rss(base: str, directory: Path, size: int) -> None:
    path = directory / "sparse-1GiB.bin"
    with path.open("wb") as out:
        out.truncate(size)  # sparse: no disk blocks, reads return zeros
    try:
        for flavour in ("sync", "async"):
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", _RSS_CHILD.format(key=KEY), base, str(path), flavour],
                capture_output=True,
                text=True,
                check=True,
            )
            elapsed = time.perf_counter() - started
            before_kb, after_kb, _ = result.stdout.split()
            print(
                f"{size // MiB} MiB upload ({flavour}): peak RSS {int(after_kb) / 1024:.0f} MB "
                f"(after imports {int(before_kb) / 1024:.0f} MB), {size / elapsed / 1e6:.0f} MB/s incl. start-up"
            )
    finally:
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--repeat", type=int, help="rounds per size (default 3; --quick: 2)")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    sizes = [16 * MiB, 64 * MiB] if args.quick else [16 * MiB, 100 * MiB, 200 * MiB]
    repeat = args.repeat or (2 if args.quick else 3)
    shm = Path("/dev/shm")
    with (
        tempfile.TemporaryDirectory(prefix="fal-typed-bench-") as tmp,
        tempfile.TemporaryDirectory(
            prefix="fal-typed-bench-server-", dir=shm if shm.is_dir() else None
        ) as server_dir,
    ):
        workdir = Path(tmp)
        server, base = _start_server(server_dir)
        try:
            print(
                f"== upload throughput on loopback (server in its own process, {os.cpu_count()} cores)"
            )
            throughput(base, workdir, sizes, repeat)
            print("== peak memory")
            peak_rss(base, workdir, 256 * MiB if args.quick else 1024 * MiB)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
