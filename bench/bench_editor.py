"""What typed calls cost in the editor: type checkers and the language server, against fal-client.

    python bench/bench_editor.py [--runs N]

The same small user script (three endpoints, a few calls each) is written twice: against
fal-typed's generated modules and against fal-client (``fal_client.subscribe(id, arguments=
{...})``). Each is checked, in a scratch directory with no project configuration, by
basedpyright (the CLI; pyright's ``standard`` mode) and by mypy (a fresh cache each run, as on a
first run; then again warm), both resolving imports through this interpreter (the editable
install: src/ and generated/ on its path). Printed per run: the median wall time and the peak
memory (RSS of the checker's process tree), and the same for a script holding one pydantic
model (the floor of anything built on pydantic). Then basedpyright's language server is started
as an editor starts it, a file opened and completion asked inside a call: the time from the
server's start to that first answer, at ``flux_dev.subscribe(``, at ``fal_client.subscribe(``
and at ``print(`` (the server's own floor).

Targets (issue 13): within 1.3x of the fal-client script for both checkers; first completion
under 3 s. Times are wall-clock and move with the machine's load (printed first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "editors"))

from language_server import first_completion  # noqa: E402

BIN = Path(sys.executable).parent
PYTHON_SETTINGS = {"python": {"pythonPath": sys.executable}}  # the editor's interpreter setting

FAL_TYPED = """\
from fal_endpoints import flux_dev, flux_general
from fal_endpoints import kling_video_o1_image_to_video as kling


def main() -> None:
    out = flux_dev.subscribe(prompt="a cat", image_size="landscape_4_3", num_images=2)
    print(out.images[0].url, out.seed)
    lora = flux_general.LoraWeight(path="https://example.com/lora", scale=0.8)
    general = flux_general.subscribe(prompt="a cat", loras=[lora], num_inference_steps=20)
    print(general.images[0].url)
    handle = kling.submit(prompt="a cat walks", start_image_url="https://example.com/cat.png")
    video = handle.result()
    print(video.video.url)
"""

FAL_CLIENT = """\
import fal_client


def main() -> None:
    out = fal_client.subscribe(
        "fal-ai/flux/dev",
        arguments={"prompt": "a cat", "image_size": "landscape_4_3", "num_images": 2},
    )
    print(out["images"][0]["url"], out["seed"])
    lora = {"path": "https://example.com/lora", "scale": 0.8}
    general = fal_client.subscribe(
        "fal-ai/flux-general",
        arguments={"prompt": "a cat", "loras": [lora], "num_inference_steps": 20},
    )
    print(general["images"][0]["url"])
    handle = fal_client.submit(
        "fal-ai/kling-video/o1/image-to-video",
        arguments={"prompt": "a cat walks", "start_image_url": "https://example.com/cat.png"},
    )
    video = handle.get()
    print(video["video"]["url"])
"""


# The floor under any script using pydantic models: one model, one call.
PYDANTIC_ONLY = """\
from pydantic import BaseModel


class Image(BaseModel):
    url: str


def main() -> None:
    print(Image(url="https://example.com/cat.png").url)
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    output: str


def measure(command: list[str], cwd: Path) -> Run:
    """Run ``command``; wall time and the peak RSS of its process tree (``wait4``: the child's
    own and its waited-for children's maximum)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0  # reaped by wait4 above
    return Run(time.perf_counter() - started, usage.ru_maxrss / 1024, output)


def basedpyright(scratch: Path, script: Path) -> Run:
    (scratch / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "standard"}))
    run = measure(
        [str(BIN / "basedpyright"), "--pythonpath", sys.executable, "--outputjson", script.name],
        scratch,
    )
    summary = json.loads(run.output)["summary"]
    assert summary["errorCount"] == 0, run.output[-2000:]
    return run


def mypy(scratch: Path, script: Path, *, cache: Path) -> Run:
    run = measure(
        [
            str(BIN / "mypy"),
            "--config-file=",
            "--python-executable",
            sys.executable,
            "--cache-dir",
            str(cache),
            script.name,
        ],
        scratch,
    )
    assert "Success" in run.output, run.output[-2000:]
    return run


def median(runs: list[Run]) -> tuple[float, float]:
    return statistics.median(r.seconds for r in runs), statistics.median(r.peak_mb for r in runs)


SCRIPTS = (("fal-typed", FAL_TYPED), ("fal-client", FAL_CLIENT), ("pydantic", PYDANTIC_ONLY))


def compare(name: str, check: Callable[[Path, Path], Run], runs: int, scratch: Path) -> None:
    """Median of ``runs`` checks of each script, interleaved (a change in the machine's load
    then weighs on every script alike)."""
    scripts: dict[str, Path] = {}
    for label, text in SCRIPTS:
        folder = scratch / "".join(c if c.isalnum() else "-" for c in f"{name}-{label}")
        folder.mkdir()
        scripts[label] = folder / "user.py"
        scripts[label].write_text(text)
    measured: dict[str, list[Run]] = {label: [] for label in scripts}
    for _ in range(runs):
        for label, script in scripts.items():
            measured[label].append(check(script.parent, script))
    figures = {label: median(found) for label, found in measured.items()}
    typed, client, floor = figures["fal-typed"], figures["fal-client"], figures["pydantic"]
    print(
        f"{name:<18} fal-typed {typed[0]:6.2f} s {typed[1]:5.0f} MB | "
        f"fal-client {client[0]:6.2f} s {client[1]:5.0f} MB | "
        f"ratio {typed[0] / client[0]:.2f}x time, {typed[1] / client[1]:.2f}x memory (target 1.3x) | "
        f"one pydantic model alone {floor[0]:6.2f} s {floor[1]:5.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.runs} runs each")
    with tempfile.TemporaryDirectory(prefix="bench-editor-") as tmp:
        scratch = Path(tmp)
        compare("basedpyright", basedpyright, args.runs, scratch)
        counter = iter(range(10_000))

        def cold(folder: Path, script: Path) -> Run:
            return mypy(folder, script, cache=folder / f".cache-{next(counter)}")

        def warm(folder: Path, script: Path) -> Run:
            mypy(folder, script, cache=folder / ".warm")  # fills the cache, not measured
            return mypy(folder, script, cache=folder / ".warm")

        compare("mypy (cold cache)", cold, args.runs, scratch)
        compare("mypy (warm cache)", warm, args.runs, scratch)

        # The same question asked of three scripts: the language server's own floor (a builtin),
        # fal-client's call, and fal-typed's.
        probes = {
            "fal-typed flux_dev.subscribe(": (
                "from fal_endpoints import flux_dev\nflux_dev.subscribe(",
                (1, len("flux_dev.subscribe(")),
            ),
            "fal-client fal_client.subscribe(": (
                "import fal_client\nfal_client.subscribe(",
                (1, len("fal_client.subscribe(")),
            ),
            "a builtin print(": ("print(", (0, len("print("))),
        }
        for label, (source, position) in probes.items():
            answers = []
            for attempt in range(args.runs):
                root = scratch / f"lsp-{len(answers)}-{attempt}-{label.split()[0]}"
                root.mkdir()
                answer = first_completion(root, source, position, settings=PYTHON_SETTINGS)
                assert any(name.endswith("=") for name in answer.labels), answer.labels[:20]
                answers.append(answer)
            first = statistics.median(a.seconds for a in answers)
            print(
                f"first completion in basedpyright-langserver at {label:<34} {first:5.2f} s "
                "median from the server's start (target < 3 s; runs "
                + ", ".join(f"{a.seconds:.2f}" for a in answers)
                + f"); initialize {statistics.median(a.initialized for a in answers):.2f} s,"
                f" the next completion {statistics.median(a.again for a in answers):.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
