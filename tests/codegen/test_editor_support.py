"""What editors see: jedi (IPython, Jupyter) completes every field of a call, and pyright
(VS Code) types the results and rejects bad keywords, on a sample of the committed package.

Both list completions in their own fixed order (jedi alphabetically among every name in scope,
pyright's named arguments alphabetically before everything else): no module can reorder them.
What the module decides is the signature, shown while the call is typed (jedi's call
signature, pyright's signature help and hover): the input fields first, required ones leading,
then ``extra_body`` and the call options.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jedi  # pyright: ignore[reportMissingTypeStubs]
import pytest
from codegen_helpers import GENERATED, REPO, Endpoint, corpus, every_nth, planned

JEDI_SAMPLE = every_nth(corpus(), 60)
PYRIGHT_SAMPLE = every_nth(corpus(), 25)
# Checked against this interpreter's packages, whether or not its virtualenv is activated.
PYRIGHT = [sys.executable, "-m", "basedpyright", "--outputjson", "--pythonpath", sys.executable]


@pytest.mark.parametrize("endpoint", JEDI_SAMPLE, ids=lambda e: e.module)
def test_jedi_completes_every_field_name_of_subscribe(endpoint: Endpoint) -> None:
    code = f"from fal_endpoints import {endpoint.module}\n{endpoint.module}.subscribe("
    completions = jedi.Script(code).complete(2, len(f"{endpoint.module}.subscribe("))
    offered = {c.name.removesuffix("=") for c in completions if c.name.endswith("=")}
    fields = {field.keyword for field in planned(endpoint).fields}
    assert fields and fields <= offered


def test_jedi_shows_types_and_defaults_in_the_signature() -> None:
    code = "from fal_endpoints import flux_dev\nflux_dev.subscribe("
    (signature,) = jedi.Script(code).get_signatures(2, len("flux_dev.subscribe("))
    described = {p.name: p.description for p in signature.params}
    assert described["prompt"] == "param prompt: str"
    assert described["num_images"] == "param num_images: int=1"
    assert described["seed"] == "param seed: int | None=None"


@pytest.mark.parametrize("endpoint", JEDI_SAMPLE, ids=lambda e: e.module)
def test_jedi_signature_lists_the_fields_first_then_the_call_options(endpoint: Endpoint) -> None:
    code = f"from fal_endpoints import {endpoint.module}\n{endpoint.module}.subscribe("
    (signature,) = jedi.Script(code).get_signatures(2, len(f"{endpoint.module}.subscribe("))
    names = [p.name for p in signature.params]
    fields = [field.keyword for field in planned(endpoint).fields]
    assert names[: len(fields)] == fields
    assert names[len(fields)] == "extra_body" and names[-1] == "client"
    docstring = signature.docstring()
    assert all(f"    {name}: " in docstring for name in [*fields, "with_logs", "client"])


def test_ipython_completes_from_the_live_module_too() -> None:
    """IPython and Jupyter ask jedi about live objects: the module's function shows the declared
    signature (``keyword_call`` keeps it, with the docstring, on the function it returns)."""
    from fal_endpoints import flux_dev

    interpreter = jedi.Interpreter("flux_dev.subscribe(", [{"flux_dev": flux_dev}])
    offered = {c.name.removesuffix("=") for c in interpreter.complete() if c.name.endswith("=")}
    assert offered >= {"prompt", "image_size", "num_images", "with_logs", "client"}
    (signature,) = interpreter.get_signatures()
    assert [p.name for p in signature.params][:3] == ["prompt", "image_size", "num_inference_steps"]
    assert "int, 1 to 50; default 28." in signature.docstring()


REVEAL = """
from fal_endpoints import flux_dev
{imports}


async def main() -> None:
    reveal_type(flux_dev.subscribe(prompt="a cat", num_images=2, image_size="square"))
    reveal_type(await flux_dev.subscribe_async(prompt="a cat"))
    reveal_type(flux_dev.endpoint.subscribe(flux_dev.Input(prompt="a cat")))
    reveal_type(flux_dev.submit(prompt="a cat"))
    reveal_type(await flux_dev.submit_async(prompt="a cat"))
    reveal_type(flux_dev.run(prompt="a cat"))
    reveal_type(flux_dev.stream(prompt="a cat"))
    reveal_type(flux_dev.result("request-id"))
    reveal_type(flux_dev.status("request-id"))
    flux_dev.subscribe(prompt=1)  # error: wrong type
    flux_dev.subscribe(prompt="a cat", image_size="huge")  # error: not in the Literal
    flux_dev.subscribe(prompt="a cat", num_step=3)  # error: no such field
{sample}
"""


def test_pyright_types_results_and_rejects_bad_arguments(tmp_path: Path) -> None:
    imports = "\n".join(f"from fal_endpoints import {e.module}" for e in PYRIGHT_SAMPLE)
    sample = "\n".join(
        f"    reveal_type({e.module}.endpoint.subscribe({e.module}.Input.model_construct()))"
        for e in PYRIGHT_SAMPLE
    )
    (tmp_path / "probe.py").write_text(
        REVEAL.format(imports=imports, sample=sample), encoding="utf-8"
    )
    config = {
        "include": ["probe.py"],
        "pythonVersion": "3.10",
        "typeCheckingMode": "standard",
        "extraPaths": [str(REPO / "src"), str(GENERATED)],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    diagnostics = _pyright(tmp_path)

    revealed = [d["message"] for d in diagnostics if d["severity"] == "information"]
    assert revealed[:9] == [
        'Type of "flux_dev.subscribe(prompt="a cat", num_images=2, image_size="square")" is "FluxDevOutput"',
        'Type of "await flux_dev.subscribe_async(prompt="a cat")" is "FluxDevOutput"',
        'Type of "flux_dev.endpoint.subscribe(flux_dev.Input(prompt="a cat"))" is "FluxDevOutput"',
        'Type of "flux_dev.submit(prompt="a cat")" is "RequestHandle[FluxDevOutput]"',
        'Type of "await flux_dev.submit_async(prompt="a cat")" is "AsyncRequestHandle[FluxDevOutput]"',
        'Type of "flux_dev.run(prompt="a cat")" is "FluxDevOutput"',
        'Type of "flux_dev.stream(prompt="a cat")" is "Stream[FluxDevOutput]"',
        'Type of "flux_dev.result("request-id")" is "FluxDevOutput"',
        'Type of "flux_dev.status("request-id")" is "Queued | InProgress | Completed"',
    ]
    for endpoint, message in zip(PYRIGHT_SAMPLE, revealed[9:], strict=True):
        assert message.endswith(f'is "{planned(endpoint).output_class}"'), message

    errors = [
        (d["range"]["start"]["line"] + 1, d.get("rule"))
        for d in diagnostics
        if d["severity"] == "error"
    ]
    lines = {text.split("#")[0].strip(): n for n, text in enumerate(REVEAL.splitlines(), start=1)}
    offset = len(PYRIGHT_SAMPLE) - 1  # the imports line expands to one line per sampled module
    expected = {
        lines["flux_dev.subscribe(prompt=1)"] + offset,
        lines['flux_dev.subscribe(prompt="a cat", image_size="huge")'] + offset,
        lines['flux_dev.subscribe(prompt="a cat", num_step=3)'] + offset,
    }
    assert {line for line, _ in errors} == expected, errors


def _pyright(project: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [*PYRIGHT, "-p", str(project)],
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
    )
    report = json.loads(done.stdout)
    diagnostics: list[dict[str, Any]] = report["generalDiagnostics"]
    return diagnostics
