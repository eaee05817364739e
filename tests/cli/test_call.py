"""``fal-typed call`` in a subprocess against the local fal server."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from fal_typed.testing import DEFAULT_KEY, Failure, LocalFal

from ..signals import sigint_for_children
from .helpers import LocalServer, cli_command, cli_env, copy_corpus, run_cli

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


def call(server: LocalServer, *args: str, key: str = DEFAULT_KEY) -> Any:
    return run_cli(
        "call", *args, "--schemas", str(server.served),
        FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=key,
    )  # fmt: skip


def test_enum_number_list_and_file_options_reach_the_model_and_files_are_saved(
    server: LocalServer, tmp_path: Path
) -> None:
    song = tmp_path / "song.wav"
    song.write_bytes(WAV)
    received: list[dict[str, Any]] = []

    def demucs(arguments: dict[str, Any]) -> dict[str, Any]:
        received.append(arguments)
        url = arguments["audio_url"]
        return {
            "vocals": {"url": url, "content_type": "audio/wav", "file_name": "vocals.wav"},
            "drums": {"url": url, "content_type": "audio/wav", "file_name": "drums.wav"},
        }

    server.fal.handler("fal-ai/demucs", demucs)
    out = tmp_path / "stems"

    run = call(
        server, "fal-ai/demucs",
        "--audio-url", str(song), "--model", "htdemucs", "--stems", "vocals", "--stems", "drums",
        "--shifts", "2", "--overlap", "0.5", "--output-format", "wav", "--save", str(out),
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    [arguments] = received
    uploaded = arguments.pop("audio_url")
    assert arguments == {
        "model": "htdemucs",
        "stems": ["vocals", "drums"],
        "shifts": 2,
        "overlap": 0.5,
        "output_format": "wav",
    }
    assert uploaded.startswith(server.fal.cdn_url)  # uploaded to the server's storage
    assert httpx.get(uploaded).content == WAV
    result = json.loads(run.stdout)
    assert result["vocals"]["url"] == uploaded and result["drums"]["file_name"] == "drums.wav"
    assert sorted(p.name for p in out.iterdir()) == ["drums.wav", "vocals.wav"]
    assert (out / "vocals.wav").read_bytes() == WAV
    assert f"uploading {song}" in run.stderr and f"saved {out / 'vocals.wav'}" in run.stderr


def test_a_list_of_local_files_is_uploaded_in_order(server: LocalServer, tmp_path: Path) -> None:
    images = [tmp_path / "front.png", tmp_path / "back.png"]
    for index, image in enumerate(images):
        image.write_bytes(PNG + bytes([index]))
    received: list[dict[str, Any]] = []

    def rodin(arguments: dict[str, Any]) -> dict[str, Any]:
        received.append(arguments)
        front, back = arguments["input_image_urls"]
        return {
            "model_mesh": {"url": front, "file_name": "mesh.glb"},
            "seed": arguments["seed"],
            "textures": [{"url": back, "content_type": "image/png"}],
        }

    server.fal.handler("fal-ai/hyper3d/rodin/v2", rodin)
    out = tmp_path / "out"

    run = call(
        server, "fal-ai/hyper3d/rodin/v2",
        "--input-image-urls", str(images[0]), "--input-image-urls", str(images[1]),
        "--material", "PBR", "--seed", "7", "--bbox-condition", "1", "--bbox-condition", "2",
        "--save", str(out),
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    [arguments] = received
    urls = arguments.pop("input_image_urls")
    assert arguments == {"material": "PBR", "seed": 7, "bbox_condition": [1, 2]}
    assert [httpx.get(u).content for u in urls] == [PNG + b"\x00", PNG + b"\x01"]
    assert json.loads(run.stdout)["seed"] == 7
    saved = {p.name: p.read_bytes() for p in out.iterdir()}
    texture = Path(urls[1].rsplit("/", 1)[1]).name  # no file_name: named after the URL
    assert saved == {"mesh.glb": PNG + b"\x00", texture: PNG + b"\x01"}


def test_local_files_inside_json_objects_are_uploaded(tmp_path: Path) -> None:
    """File fields nested in JSON (``controlnets[].control_image_url``) and given by
    ``--input-json`` take local paths too; a missing one is a usage error naming where."""
    edges, reference = tmp_path / "edges.png", tmp_path / "reference.png"
    edges.write_bytes(PNG + b"edges")
    reference.write_bytes(PNG + b"reference")
    weights = "https://example.com/controlnet.safetensors"
    served = copy_corpus(tmp_path / "served", ["fal-ai/flux-general"])
    with LocalFal(served) as fal:

        def flux_general(*args: str) -> Any:
            return run_cli(
                "call", "fal-ai/flux-general", "--prompt", "a lighthouse", *args,
                "--schemas", str(served), FAL_TYPED_BASE_URL=fal.base_url, FAL_KEY=DEFAULT_KEY,
            )  # fmt: skip

        run = flux_general(
            "--controlnets", json.dumps({"path": weights, "control_image_url": str(edges)}),
            "--input-json", json.dumps({"reference_image_url": str(reference)}),
        )  # fmt: skip

        assert run.returncode == 0, run.stderr
        [submit] = fal.requests_for("submit", endpoint_id="fal-ai/flux-general")
        sent = json.loads(submit.body)
        [controlnet] = sent["controlnets"]
        assert controlnet["path"] == weights  # a URL in a file field is sent as is
        assert httpx.get(controlnet["control_image_url"]).content == PNG + b"edges"
        assert httpx.get(sent["reference_image_url"]).content == PNG + b"reference"
        assert f"uploading {edges}" in run.stderr and f"uploading {reference}" in run.stderr

        sent_before = len(fal.requests)
        missing = flux_general(
            "--controlnets", json.dumps({"path": weights, "control_image_url": "gone.png"})
        )
        assert missing.returncode == 2 and "Traceback" not in missing.stderr
        assert (
            "invalid value for '--controlnets' (at controlnets.0.control_image_url): "
            "'gone.png' is neither a URL nor an existing file"
        ) in missing.stderr
        assert len(fal.requests) == sent_before  # nothing uploaded, nothing submitted


def test_via_run_and_via_stream_reach_the_run_host(server: LocalServer) -> None:
    run = call(server, "fal-ai/flux/dev", "--prompt", "a cat", "--via", "run")

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["prompt"] == "a cat"
    [direct] = server.fal.requests_for("run", endpoint_id="fal-ai/flux/dev")
    assert json.loads(direct.body) == {"prompt": "a cat"}
    assert server.fal.requests_for("submit") == []  # not through the queue
    assert "running" in run.stderr and "request id" not in run.stderr

    server.fal.streams.configure("fal-ai/flux/dev", partial_events=2)
    streamed = call(server, "fal-ai/flux/dev", "--prompt", "a cat", "--via", "stream")

    assert streamed.returncode == 0, streamed.stderr
    events = [
        json.loads(line.split(" ", 1)[1])
        for line in streamed.stderr.splitlines()
        if line.startswith("event ")
    ]
    *partials, last = events  # every event is shown as it arrives, the final one too
    assert [(e["partial"], e["index"]) for e in partials] == [(True, 0), (True, 1)]
    final = json.loads(streamed.stdout)  # the typed final output
    assert final["prompt"] == "a cat" and "partial" not in final and last == final


def test_synthesised_result_printed_as_a_table(server: LocalServer, tmp_path: Path) -> None:
    out = tmp_path / "images"

    run = call(
        server,
        "fal-ai/flux/dev",
        "--prompt",
        "a cat",
        "--num-images",
        "2",
        "--table",
        "--save",
        str(out),
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1].split() == ["┃", "field", "┃", "value", "┃"]
    assert "images" in run.stdout and run.stdout.count(server.fal.cdn_url) == 2
    saved = sorted(out.iterdir())
    assert len(saved) == 2
    for path in saved:
        with Image.open(path) as image:  # real image files, whole
            image.verify()
    [submit] = server.fal.requests_for("submit", endpoint_id="fal-ai/flux/dev")
    assert json.loads(submit.body) == {"prompt": "a cat", "num_images": 2}


def test_queue_position_state_and_logs_are_shown_live(server: LocalServer) -> None:
    server.fal.configure(
        "fal-ai/flux/dev", queue_position=2, queue_step=0.4, processing_time=0.4,
        logs=["loading weights", "sampling 28 steps"],
    )  # fmt: skip

    run = call(server, "fal-ai/flux/dev", "--prompt", "a cat")

    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith("request id: ")
    assert "in queue, position 2" in lines and "in queue, position 0" in lines
    assert (
        lines.index("in queue, position 2") < lines.index("in progress") < lines.index("completed")
    )
    assert any("loading weights" in line for line in lines)
    assert any("sampling 28 steps" in line for line in lines)

    quiet = call(server, "fal-ai/flux/dev", "--prompt", "a cat", "--no-logs")
    assert quiet.returncode == 0 and "loading weights" not in quiet.stderr


def test_input_json_gives_fields_and_options_win(server: LocalServer, tmp_path: Path) -> None:
    payload = tmp_path / "input.json"
    payload.write_text(
        json.dumps({"prompt": "from json", "seed": 1, "image_size": {"width": 512, "height": 256}})
    )

    run = call(server, "fal-ai/flux/dev", "--input-json", f"@{payload}", "--seed", "42")

    assert run.returncode == 0, run.stderr
    [submit] = server.fal.requests_for("submit")
    assert json.loads(submit.body) == {
        "prompt": "from json",
        "seed": 42,
        "image_size": {"width": 512, "height": 256},
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fal-ai/flux/dev", "--prompt", "x", "--num-images", "9"], "Invalid value for '--num-images': 9 is not in the range 1<=x<=4"),
        (["fal-ai/flux/dev", "--prompt", "x", "--output-format", "gif"], "Invalid value for '--output-format': 'gif' is not one of 'jpeg', 'png'"),
        (["fal-ai/flux/dev", "--prompt", "x", "--seed", "abc"], "Invalid value for '--seed': 'abc' is not a valid integer"),
        (["fal-ai/flux/dev", "--num-images", "2"], "missing required option: --prompt"),
        (["fal-ai/flux/dev", "--prompt", "x", "--image-size", '{"width": "big"}'], "invalid value for '--image-size'"),
        (["fal-ai/flux/dev", "--prompt", "x", "--no-such-option", "1"], "No such option '--no-such-option'"),
        (["fal-ai/flux/dev", "--input-json", "{bad"], "Invalid value for '--input-json': --input-json is not valid JSON"),
        (["fal-ai/flux/dev", "--input-json", '{"prompt": 5}'], "invalid value for '--prompt': 5 is not of type 'string'"),
        (["fal-ai/demucs", "--audio-url", "missing.wav"], "'missing.wav' is neither a URL nor an existing file"),
        (["fal-ai/no-such/model", "--prompt", "x"], "unknown endpoint 'fal-ai/no-such/model'"),
        (["fal-ai/flux/devv", "--prompt", "x"], "(did you mean 'fal-ai/flux/dev'"),
        (["fal-ai/demuc", "--help"], "did you mean 'fal-ai/demucs'"),
        (["FAL-AI/FLUX/DEV", "--prompt", "x"], "did you mean 'fal-ai/flux/dev'"),
        (["fal-ai/flux/dev", "--prompt", "x", "--save", "/proc/no-such-dir/out"], "Invalid value for '--save': cannot create"),
        (["fal-ai/flux/dev", "--prompt", "x", "--timeout", "nan"], "Invalid value for '--timeout': must be a finite number of seconds, got 'nan'"),
        (["fal-ai/flux/dev", "--prompt", "x", "--timeout", "inf"], "Invalid value for '--timeout': must be a finite number of seconds, got 'inf'"),
        (["fal-ai/flux/dev", "--prompt", "x", "--timeout", "0"], "Invalid value for '--timeout': must be > 0 seconds, got '0'"),
        (["fal-ai/flux/dev", "--prompt", "x", "--timeout", "soon"], "Invalid value for '--timeout': must be a number of seconds, got 'soon'"),
        (["not-an-id"], "invalid endpoint id"),
        ([], "Usage: fal-typed call ENDPOINT_ID"),
    ],
)  # fmt: skip
def test_bad_values_exit_2_with_a_clear_message_and_send_nothing(
    server: LocalServer, args: list[str], message: str
) -> None:
    run = call(server, *args)

    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert server.fal.requests == []


def test_help_lists_the_endpoints_fields(server: LocalServer) -> None:
    run = call(server, "fal-ai/flux/dev", "--help")

    assert run.returncode == 0, run.stderr
    for text in ("FLUX.1 [dev]", "Input fields:", "--prompt TEXT", "[required]", "--num-images INTEGER RANGE",
                 "[default: 1]", "1<=x<=4", "[jpeg|png]", "--sync-mode / --no-sync-mode", "Call options:", "--save"):  # fmt: skip
        assert text in run.stdout, text
    assert run.stdout.index("--prompt") < run.stdout.index("--image-size")  # required first
    assert server.fal.requests == []


def test_a_failed_request_exits_1_with_fals_message(server: LocalServer) -> None:
    server.fal.configure(
        "fal-ai/flux/dev", failure=Failure(500, "GPU on fire", error_type="internal_server_error")
    )

    run = call(server, "fal-ai/flux/dev", "--prompt", "a cat")

    assert run.returncode == 1
    assert "GPU on fire" in run.stderr and "Traceback" not in run.stderr


def test_the_key_never_appears_in_output(served: Path) -> None:
    secret = "wrong-key-id:s3cr3t-never-print-me"
    with LocalFal(served, key="right-key-id:right-secret") as fal:
        server = LocalServer(fal, served, fal.state.extensions["catalog"])  # type: ignore[arg-type]
        rejected = call(server, "fal-ai/flux/dev", "--prompt", "a cat", key=secret)
        # Toward fal (no base URL), a missing key is found before anything is sent.
        unset = run_cli(
            "call", "fal-ai/flux/dev", "--prompt", "a cat", "--schemas", str(served)
        )  # fmt: skip

    assert rejected.returncode == 4  # the key was refused (cli/_errors.py)
    assert "s3cr3t" not in rejected.stderr + rejected.stdout
    assert "401" in rejected.stderr or "invalid key" in rejected.stderr
    assert unset.returncode == 2 and "no fal API key: set FAL_KEY" in unset.stderr
    assert [r.operation for r in fal.requests] == ["queue.submit"]  # only the rejected call's


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--key", '"id:secret"'], {}, "Error: --key is wrapped in quotes: remove them"),
        ([], {"FAL_KEY": "'id:secret'"}, "Error: FAL_KEY is wrapped in quotes: remove them"),
        ([], {"FAL_KEY": "id:s\u00e9cret"}, "Error: FAL_KEY must be printable ASCII"),
        ([], {"FAL_KEY_ID": "id"}, "(FAL_KEY_ID is set but FAL_KEY_SECRET is not: set both"),
        ([], {"FAL_KEY_SECRET": "secret"}, "(FAL_KEY_SECRET is set but FAL_KEY_ID is not"),
    ],
)
def test_a_key_as_shells_and_env_files_mangle_it_is_refused_saying_which(
    server: LocalServer, args: list[str], env: dict[str, str], message: str
) -> None:
    """Toward fal (no base URL): nothing is sent, the exit status is 2, the source is named."""
    run = run_cli(
        "call", "fal-ai/flux/dev", "--prompt", "a cat", *args, "--schemas", str(server.served), **env
    )  # fmt: skip
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and '"id:secret"' not in run.stderr
    assert server.fal.requests == []


def test_ctrl_c_cancels_the_queued_request(server: LocalServer) -> None:
    server.fal.configure("fal-ai/flux/dev", hold="queue")
    with sigint_for_children():
        process = subprocess.Popen(
            cli_command(
                "call", "fal-ai/flux/dev", "--prompt", "a cat", "--schemas", str(server.served)
            ),
            env=cli_env(FAL_TYPED_BASE_URL=server.base_url, FAL_KEY=DEFAULT_KEY),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not server.fal.requests_for("status_stream") and time.monotonic() < deadline:
            time.sleep(0.02)
        [submit] = server.fal.requests_for("submit")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)

    assert process.returncode == 130
    assert f"interrupted: cancelled request {submit.request_id}" in stderr
    assert [r.request_id for r in server.fal.requests_for("cancel")] == [submit.request_id]
    assert "Traceback" not in stderr


def test_timeout_gives_up_and_cancels(server: LocalServer) -> None:
    server.fal.configure("fal-ai/flux/dev", hold="queue")

    run = call(server, "fal-ai/flux/dev", "--prompt", "a cat", "--timeout", "1")

    assert run.returncode == 1
    assert "did not complete within the 1s client_timeout" in run.stderr
    assert len(server.fal.requests_for("cancel")) == 1
    assert "Traceback" not in run.stderr


PROBE_MODULE = '''"""Typed client for the fal endpoint `fal-ai/cli-fallback/probe`.

Echo a word back, for the command line's generated-module fallback.
"""

from typing import Literal

from pydantic import Field

from fal_typed import Endpoint, InputModel, OutputModel


class ProbeInput(InputModel):
    word: str = Field(description="The word to echo.")
    times: int = Field(2, ge=1, le=3, description="How often to echo it.")
    mode: Literal["upper", "lower"] = "lower"


class ProbeOutput(OutputModel):
    echo: list[str]


endpoint = Endpoint("fal-ai/cli-fallback/probe", ProbeInput, ProbeOutput)
'''


def test_without_a_document_the_generated_input_model_gives_the_options(
    server: LocalServer, tmp_path: Path
) -> None:
    package = tmp_path / "site" / "fal_endpoints"  # joins the fal_endpoints namespace package
    package.mkdir(parents=True)
    (package / "cli_fallback_probe.py").write_text(PROBE_MODULE)
    received: list[dict[str, Any]] = []

    def probe(arguments: dict[str, Any]) -> dict[str, Any]:
        received.append(arguments)
        return {"echo": [arguments["word"]] * arguments["times"]}

    server.fal.handler("fal-ai/cli-fallback/probe", probe)
    empty = tmp_path / "no-schemas"
    empty.mkdir()
    env = {
        "FAL_TYPED_BASE_URL": server.base_url,
        "FAL_KEY": DEFAULT_KEY,
        "PYTHONPATH": str(package.parent),
    }

    shown = run_cli("call", "fal-ai/cli-fallback/probe", "--help", "--schemas", str(empty), **env)
    bad = run_cli(
        "call",
        "fal-ai/cli-fallback/probe",
        "--word",
        "hi",
        "--times",
        "5",
        "--schemas",
        str(empty),
        **env,
    )
    good = run_cli(
        "call", "fal-ai/cli-fallback/probe", "--word", "hi", "--times", "3", "--mode", "upper",
        "--schemas", str(empty), **env,
    )  # fmt: skip

    assert shown.returncode == 0, shown.stderr
    assert "Echo a word back" in shown.stdout and "--times INTEGER RANGE" in shown.stdout
    assert "[upper|lower]" in shown.stdout and "[required]" in shown.stdout
    assert (
        bad.returncode == 2
        and "Invalid value for '--times': 5 is not in the range 1<=x<=3" in bad.stderr
    )
    assert good.returncode == 0, good.stderr
    assert received == [{"word": "hi", "times": 3, "mode": "upper"}]
    assert json.loads(good.stdout) == {"echo": ["hi", "hi", "hi"]}


def test_an_unreadable_input_schema_leaves_input_json(server: LocalServer, tmp_path: Path) -> None:
    endpoint_id = "openrouter/router/openai/v1/chat/completions"  # its input $ref dangles upstream
    schemas = copy_corpus(tmp_path / "schemas", [endpoint_id])
    received: list[dict[str, Any]] = []
    server.fal.handler(endpoint_id, lambda arguments: received.append(arguments) or {"ok": True})
    env = {"FAL_TYPED_BASE_URL": server.base_url, "FAL_KEY": DEFAULT_KEY}

    shown = run_cli("call", endpoint_id, "--help", "--schemas", str(schemas), **env)
    sent = run_cli(
        "call",
        endpoint_id,
        "--input-json",
        '{"model": "m", "messages": []}',
        "--schemas",
        str(schemas),
        **env,
    )

    assert shown.returncode == 0 and "give the input with --input-json" in shown.stdout
    assert "dangling $ref" in shown.stdout and "Input fields:" not in shown.stdout
    assert sent.returncode == 0, sent.stderr
    assert received == [{"model": "m", "messages": []}] and json.loads(sent.stdout) == {"ok": True}
