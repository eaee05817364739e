"""examples/quickstart.ipynb runs for real: nbclient executes it in an IPython kernel against the
local fal server (the notebook starts LocalFal itself), and the outputs a frontend would show are
checked as MIME bundles: an image as image/png or image/jpeg bytes, a video as an HTML player,
the live progress as one display updated in place, statuses as lines, a gallery."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def outputs_of(cells: list[Any], source_start: str) -> list[Any]:
    (cell,) = [c for c in cells if c.source.startswith(source_start)]
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def test_the_shipped_notebook_has_no_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_an_image_output_is_its_bytes(executed: list[Any]) -> None:
    (shown,) = outputs_of(executed, "out.images[0]")
    kind = next(key for key in shown.data if key in ("image/png", "image/jpeg"))
    data = base64.b64decode(shown.data[kind])
    assert data.startswith(b"\x89PNG" if kind == "image/png" else b"\xff\xd8\xff")
    assert "text/html" not in shown.data


def test_a_video_output_is_a_player(executed: list[Any]) -> None:
    _progress, shown = outputs_of(executed, "from fal_endpoints import kling_video")
    html = shown.data["text/html"]
    assert html.startswith('<video src="http://127.0.0.1:') and " controls " in html
    assert "video/mp4" in html


def test_subscribe_shows_one_live_display_that_ends_completed(executed: list[Any]) -> None:
    progress, result = outputs_of(executed, "from fal_endpoints import flux_dev")
    assert progress.output_type == "display_data"  # updated in place, one output
    html = progress.data["text/html"]
    assert "fal-ai/flux/dev" in html and "Completed" in html
    assert "loading weights" in html and "decoding" in html  # the logs, live
    gallery = result.data["text/html"]
    assert gallery.count("<figure") == 2 and "<code>images[1]</code>" in gallery
    assert "<code>seed</code>" in gallery


def test_a_status_reads_as_lines(executed: list[Any]) -> None:
    (shown,) = outputs_of(executed, "handle = flux_dev.submit")
    html = shown.data["text/html"]
    assert "Completed" in html and "sampling 28 steps" in html


def test_several_results_make_one_gallery(executed: list[Any]) -> None:
    (shown,) = outputs_of(executed, "from fal_typed.notebook import gallery")
    html = shown.data["text/html"]
    assert html.count("<img ") == 3 and "<code>[2].images[0]</code>" in html
