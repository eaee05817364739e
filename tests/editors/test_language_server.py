"""What VS Code shows, asked of basedpyright's language server as an editor asks it.

Over a checkout with three generated endpoints: completion inside a call offers every input
field (named arguments come before any other completion; pyright orders them alphabetically,
whatever the module does), the signature shown while typing lists the input fields first,
then ``extra_body`` and the call options, and the hover carries each field's type, allowed
values, range and default, and the call options.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from installs import REPO
from language_server import LanguageServer, basedpyright_langserver

from codegen.load import read_document
from codegen.normalise import normalise
from codegen.plan import FieldPlan, plan

pytestmark = pytest.mark.xdist_group("editors-venvs")

SOURCE = """\
from fal_endpoints import flux_dev, kling_video_o1_image_to_video as kling
flux_dev.subscribe(
kling.subscribe_async(prompt="a cat",
"""
SUBSCRIBE_OPTIONS = [
    "extra_body", "with_logs", "on_enqueue", "on_queue_update", "webhook_url", "priority",
    "hint", "start_timeout", "client_timeout", "headers", "client",
]  # fmt: skip


def fields(checkout: Path, document: str) -> list[FieldPlan]:
    read = read_document(checkout / "schemas" / document)
    return list(plan(normalise(read.data), read.source).fields)


@pytest.fixture(scope="module")
def editor(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Editor]:
    root = tmp_path_factory.mktemp("workspace")
    extra = [str(checkout / "src"), str(checkout / "generated")]
    (root / "pyrightconfig.json").write_text(f'{{"extraPaths": {extra!r}}}'.replace("'", '"'))
    settings = {"python": {"pythonPath": sys.executable}}
    with LanguageServer(basedpyright_langserver(), root, settings=settings) as server:
        server.initialize()
        uri = server.open(root / "probe.py", SOURCE)
        yield Editor(server, uri)


class Editor:
    def __init__(self, server: LanguageServer, uri: str) -> None:
        self.server, self.uri = server, uri

    def end_of(self, line: int) -> tuple[int, int]:
        return line, len(SOURCE.splitlines()[line])

    def signature(self, line: int) -> list[str]:
        """The parameter labels of the signature shown at the end of ``line``."""
        helped: dict[str, Any] = self.server.at(
            "textDocument/signatureHelp", self.uri, self.end_of(line)
        )
        shown = helped["signatures"][helped.get("activeSignature", 0)]
        labels: list[str] = []
        for parameter in shown["parameters"]:
            label = parameter["label"]
            text = label if isinstance(label, str) else shown["label"][label[0] : label[1]]
            labels.append(text.split(":")[0].split("=")[0].strip())
        return [label for label in labels if label not in ("*", "/")]


def test_completion_offers_every_field_before_any_other_name(
    editor: Editor, checkout: Path
) -> None:
    labels = editor.server.completion_labels(editor.uri, editor.end_of(1))
    named = [label.removesuffix("=") for label in labels if label.endswith("=")]
    keywords = [f.keyword for f in fields(checkout, "fal-ai__flux__dev.json")]
    assert set(named) == {*keywords, *SUBSCRIBE_OPTIONS}
    assert labels[: len(named)] == [f"{name}=" for name in named]  # named arguments lead
    assert named == sorted(named)  # pyright's own order, the same for every module


def test_the_signature_lists_the_fields_first_then_the_call_options(
    editor: Editor, checkout: Path
) -> None:
    keywords = [f.keyword for f in fields(checkout, "fal-ai__flux__dev.json")]
    assert keywords[0] == "prompt"
    assert editor.signature(1) == [*keywords, *SUBSCRIBE_OPTIONS]
    kling = [f.keyword for f in fields(checkout, "fal-ai__kling-video__o1__image-to-video.json")]
    assert editor.signature(2) == [*kling, *SUBSCRIBE_OPTIONS]  # the async twin alike


def test_the_hover_documents_types_values_ranges_defaults_and_call_options(
    editor: Editor,
) -> None:
    hover = editor.server.at("textDocument/hover", editor.uri, (1, len("flux_dev.sub")))
    text: str = hover["contents"]["value"]
    assert "prompt: str,\n" in text and "num_inference_steps: int = 28," in text
    assert "    num_inference_steps: The number of inference steps to perform.\n" in text
    assert "        int, 1 to 50; default 28.\n" in text
    assert '"landscape_4_3", "landscape_16_9"; default "landscape_4_3".' in text
    assert "        str; required.\n" in text
    assert "Call options:\n" in text and "    client_timeout: Seconds for the whole call" in text
    assert "**fields" not in text


def test_the_definition_is_the_checkouts_module(editor: Editor, checkout: Path) -> None:
    """The module analysed is the checkout's package (``<module>/__init__.py``), not another
    copy found on the interpreter's path (the repository's own, say)."""
    found = editor.server.at("textDocument/definition", editor.uri, (1, len("flux_dev.sub")))
    (location,) = found if isinstance(found, list) else [found]
    target = location.get("uri") or location["targetUri"]
    module = checkout / "generated" / "fal_endpoints" / "flux_dev" / "__init__.py"
    assert target == module.as_uri()
    assert module.resolve().parents[3] != REPO
