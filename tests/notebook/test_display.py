"""How results, files, statuses and logs show in a notebook (IPython's display protocol), and the
live progress of ``subscribe``: the HTML and MIME bundles, checked as a frontend receives them
(through IPython's own formatter), with files served by the local fal server."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from fal_endpoints import flux_dev
from IPython.core.formatters import DisplayFormatter

import fal_typed
from fal_typed import Client, Completed, FileOutput, InProgress, Log, OutputModel, Queued
from fal_typed.notebook import Progress, auto_progress, gallery, progress
from fal_typed.testing import LocalFal
from fal_typed.testing._media import jpeg, png

PNG = png(4, 3, (200, 10, 10))


class Image(FileOutput):
    url: str
    width: int | None = None
    height: int | None = None
    content_type: str | None = None


class File(FileOutput):
    url: str
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None


class Result(OutputModel):
    images: list[Image]
    video: File | None = None
    seed: int
    prompt: str


def bundle(obj: object) -> dict[str, Any]:
    """What a Jupyter frontend receives for ``obj`` (IPython's formatter, every MIME type)."""
    data, _ = DisplayFormatter().format(obj)
    return data


@pytest.fixture
def default_local(local_fal_client: Client) -> Iterator[Client]:
    fal_typed.set_default_client(local_fal_client)
    try:
        yield local_fal_client
    finally:
        fal_typed.set_default_client(None)


def data_uri(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def test_an_image_shows_as_its_own_bytes() -> None:
    image = Image(url=data_uri(PNG, "image/png"), width=4, height=3)
    data, metadata = DisplayFormatter().format(image)
    assert data["image/png"] == PNG  # the kernel sends it base64-encoded; the notebook keeps it
    assert "text/html" not in data  # so frontends show the image itself, not a link to it
    assert metadata["image/png"] == {"width": 4, "height": 3}


def test_a_served_image_is_downloaded_and_embedded(
    default_local: Client, local_fal: LocalFal
) -> None:
    out = flux_dev.subscribe(prompt="a cat", num_images=1, output_format="jpeg")
    data = bundle(out.images[0])
    kind = next(key for key in data if key.startswith("image/"))
    assert kind in ("image/png", "image/jpeg")
    assert data[kind] == out.images[0].read()


def test_an_unreachable_image_falls_back_to_its_url(default_local: Client) -> None:
    image = Image(url="http://127.0.0.1:9/gone.png", width=8, height=8)
    html = bundle(image)["text/html"]
    assert '<img src="http://127.0.0.1:9/gone.png"' in html and "8x8" in html


def test_an_image_type_jupyter_cannot_render_is_embedded_as_html() -> None:
    webp = b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(16)
    html = bundle(Image(url=data_uri(webp, "image/webp")))["text/html"]
    assert html.startswith('<img src="data:image/webp;base64,')


def test_video_and_audio_are_players_other_files_are_links() -> None:
    video = File(url="https://cdn.example/v/clip.mp4", content_type="video/mp4", file_size=6308)
    audio = File(url="https://cdn.example/a/speech.wav", file_name="speech.wav")
    other = File(url="https://cdn.example/m/mesh.glb", file_size=3 * 1024 * 1024)
    assert bundle(video)["text/html"].startswith('<video src="https://cdn.example/v/clip.mp4"')
    assert "controls" in bundle(video)["text/html"] and "6.2 KiB" in bundle(video)["text/html"]
    assert bundle(audio)["text/html"].startswith('<audio src="https://cdn.example/a/speech.wav"')
    link = bundle(other)["text/html"]
    assert link.startswith('<a href="https://cdn.example/m/mesh.glb"')
    assert "mesh.glb, 3.0 MiB" in link


def test_what_a_server_sent_is_escaped_and_only_web_urls_are_sources() -> None:
    hostile = File(
        url="javascript:alert(1)",
        content_type="text/plain",
        file_name='<img src=x onerror="alert(1)">',
    )
    html = bundle(hostile)["text/html"]
    assert "javascript:" not in html and "<img" not in html and "no downloadable URL" in html
    quoted = File(url='https://cdn.example/a".png', file_name="<b>.txt")
    html = bundle(quoted)["text/html"]
    assert 'href="https://cdn.example/a&quot;.png"' in html and "&lt;b&gt;.txt" in html


def test_a_result_is_a_gallery_of_its_files_and_a_table_of_the_rest() -> None:
    out = Result(
        images=[Image(url=data_uri(PNG, "image/png")), Image(url="https://cdn.example/2.jpg")],
        video=File(url="https://cdn.example/v.mp4", content_type="video/mp4"),
        seed=42,
        prompt="<a cat>",
        nsfw=[False],  # a field fal added later: kept, and shown
    )
    html = bundle(out)["text/html"]
    assert html.count("<figure") == 3 and "<video" in html
    assert "<code>images[1]</code>" in html and "<code>video</code>" in html
    assert "<code>seed</code></td><td><code>42</code>" in html
    assert "&#x27;&lt;a cat&gt;&#x27;" in html  # the value's repr, escaped
    assert "<code>nsfw</code>" in html
    assert "text/plain" in bundle(out)  # the usual repr stays for consoles


def test_gallery_gathers_files_from_results_and_lists() -> None:
    first = Result(images=[Image(url="https://cdn.example/1.png")], seed=1, prompt="a")
    second = Result(images=[Image(url="https://cdn.example/2.png")], seed=2, prompt="b")
    both = gallery(first, second)
    assert len(both) == 2 and "<code>[1].images[0]</code>" in both._repr_html_()
    assert len(gallery(first.images + second.images)) == 2


def test_statuses_and_logs_read_as_lines() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    log = Log(message="sampling <28> steps", level="INFO", timestamp=when)
    assert bundle(log)["text/html"] == (
        "<div><code>03:04:05.678</code> <strong>INFO</strong> "
        "<span style='white-space:pre-wrap'>sampling &lt;28&gt; steps</span></div>"
    )
    assert "2 requests ahead" in bundle(Queued(position=2))["text/html"]
    assert "next in line" in bundle(Queued(position=0))["text/html"]
    running = bundle(InProgress(logs=[log, Log(message="oops", level="ERROR")]))["text/html"]
    assert "Running" in running and "sampling &lt;28&gt; steps" in running
    assert 'style="color:#c62828"' in running
    done = bundle(Completed(metrics={"inference_time": 1.234}))["text/html"]
    assert "Completed</strong> in 1.23 s" in done
    failed = bundle(Completed(error="<b>No runner</b>", error_type="runner_scheduling_failure"))
    assert "Failed</strong>: &lt;b&gt;No runner&lt;/b&gt;" in failed["text/html"]
    assert "runner_scheduling_failure" in failed["text/html"]


def test_progress_outside_a_notebook_prints_one_line_per_change() -> None:
    lines: list[str] = []
    tracker = Progress("fal-ai/flux/dev", notebook=False, write=lines.append, min_interval=0)
    tracker.on_enqueue("req-1")
    tracker(Queued(position=1))
    tracker(Queued(position=1))  # no change: no line
    tracker(InProgress(logs=[Log(message="loading")]))
    tracker(InProgress(logs=[Log(message="sampling")]))
    tracker(Completed(metrics={}))
    states = [line.rsplit(" (", 1)[0] for line in lines]
    assert states == [
        "fal-ai/flux/dev req-1: submitted",
        "fal-ai/flux/dev req-1: queued, 1 ahead",
        "fal-ai/flux/dev req-1: running",
        "  INFO loading",
        "  INFO sampling",
        "fal-ai/flux/dev req-1: completed",
    ]
    assert [log.message for log in tracker.logs] == ["loading", "sampling"]


HOSTILE = "\x1b]0;pwned\x07\x1b[2Jcleared\x9b31m \u202eevil\r\nline two\x00"


def test_progress_outside_a_notebook_writes_no_escape_sequence_a_model_sent() -> None:
    """A model's log lines and error reach the terminal: an escape sequence in them (set the
    title, clear the screen, forge a link) was written as it came, and acted."""
    from fal_typed.cli._live import LiveStatus  # pyright: ignore[reportPrivateUsage]

    lines: list[str] = []
    tracker = Progress("fal-ai/flux/dev", notebook=False, write=lines.append, min_interval=0)
    tracker(InProgress(logs=[Log(message=HOSTILE, level="INFO\x1b[8m")]))
    tracker(Completed(error=HOSTILE, error_type="internal_error"))
    shown = "\n".join([*lines, repr(tracker)])
    assert "cleared" in shown and "evil" in shown and "line two" in shown
    assert not any(c in shown for c in "\x1b\x9b\x07\x00\u202e\r"), repr(shown)

    import io

    from rich.console import Console

    out = io.StringIO()
    live = LiveStatus(Console(file=out, force_terminal=True, color_system=None), show_logs=True)
    live.update(Completed(logs=[Log(message=HOSTILE)], error=HOSTILE))
    text = out.getvalue()
    assert "cleared" in text and "line two" in text
    assert not any(c in text for c in "\x07\x9b\x00\u202e"), repr(text)
    assert "\x1b]" not in text and "\x1b[2J" not in text, repr(text)


def test_progress_html_keeps_the_last_lines_and_counts_the_rest() -> None:
    tracker = Progress("fal-ai/flux/dev", notebook=False, write=lambda _: None, max_logs=2)
    tracker.on_enqueue("req-1")
    tracker(InProgress(logs=[Log(message=f"step {i}") for i in range(5)]))
    html = tracker._repr_html_()
    assert "3 earlier lines" in html and "step 4" in html and "step 2" not in html
    tracker(Completed(error="boom", error_type="internal_error"))
    assert "Failed" in tracker._repr_html_() and "step 4" in tracker._repr_html_()


def test_subscribe_outside_a_kernel_shows_nothing(
    default_local: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    flux_dev.subscribe(prompt="a cat")
    assert capsys.readouterr().out == ""
    assert progress("fal-ai/flux/dev").endpoint_id == "fal-ai/flux/dev"


def test_subscribe_in_a_kernel_updates_one_display(
    default_local: Client, local_fal: LocalFal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in shell with a kernel: subscribe draws one display and updates it in place."""
    import IPython
    import IPython.display

    shown: list[str] = []
    updates: list[str] = []

    class Handle:
        def update(self, obj: Progress) -> None:
            updates.append(obj._repr_html_())

    def display(obj: Progress, display_id: bool = False) -> Handle:
        assert display_id is True
        shown.append(obj._repr_html_())
        return Handle()

    class Shell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(IPython.display, "display", display)
    local_fal.configure(queue_position=1, queue_step=0.05, processing_time=0.2, logs=["sampling"])
    flux_dev.subscribe(prompt="a cat", with_logs=True)
    assert len(shown) == 1 and updates, "one display, updated in place"
    assert "Completed" in updates[-1] and "sampling" in updates[-1]

    seen: list[object] = []
    flux_dev.subscribe(prompt="a cat", on_queue_update=seen.append)  # the caller's own callback
    assert len(shown) == 1 and seen
    auto_progress(False)
    try:
        flux_dev.subscribe(prompt="a cat")
        assert len(shown) == 1
    finally:
        auto_progress(True)


def test_importing_fal_typed_imports_no_ipython() -> None:
    code = (
        "import sys, fal_typed, fal_typed.notebook; from fal_endpoints import flux_dev; "
        "print('IPython' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_jpeg_bytes_are_image_jpeg() -> None:
    photo = jpeg(4, 4, (10, 200, 10))
    assert bundle(Image(url=data_uri(photo, "image/jpeg")))["image/jpeg"] == photo
