"""What importing costs, as structure rather than time: which modules each entry point loads.

Each case runs in a fresh interpreter and reports the modules it added to ``sys.modules``. An
endpoint module imports the runtime's queue path only: no pydantic (its models load at their
first use), no realtime (websockets, msgpack), no webhooks (cryptography), no CLI (typer), no
status-stream reader (httpx_sse), no asyncio for a sync program, and no other endpoint module. Listing installed endpoints imports no endpoint
module and no HTTP or validation library; ``fal-typed --help`` and ``fal-typed list`` load the
CLI without the runtime. (Timings are in ``bench/bench_startup.py``; here nothing is timed.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Modules an endpoint import must not add beyond what ``import httpx, pydantic`` loads (httpx's
# own CLI extra, when installed, imports click and rich: those count as httpx's, not ours).
NOT_FOR_AN_ENDPOINT = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "fal_typed._models",
    "fal_typed.realtime",
    "asyncio",
    "concurrent.futures",
    "cryptography",
    "websockets",
    "msgpack",
    "httpx_sse",
    "typer",
    "rich",
    "click",
    "difflib",
    "fal_typed.cli",
    "fal_typed.batch",
    "fal_typed.platform",
    "fal_typed.webhooks",
    "fal_typed.notebook",
    "fal_typed.testing",
    "fal_typed.catalog",
    "fal_typed.files._resolve",
    "fal_typed.files._download",
    "fal_typed.files._source",
    "fal_typed._untyped",
    "fal_typed._registry",
)
# The runtime itself: what listing endpoints and the CLI's help must not load.
RUNTIME = ("httpx", "pydantic", "asyncio", "fal_typed._client", "fal_typed._endpoint")


def _added_modules(code: str, *, before: str = "") -> list[str]:
    """Modules that ``code`` adds to ``sys.modules`` in a fresh interpreter (after ``before``)."""
    script = (
        "import sys, json\n"
        f"{before}\n"
        "base = set(sys.modules)\n"
        "try:\n"
        f"    exec({code!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write('\\nMODULES=' + json.dumps(sorted(set(sys.modules) - base)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parent,  # no schemas/ here: the installed endpoints list
    )
    return json.loads(done.stderr.rsplit("MODULES=", 1)[1])


def _loaded(modules: list[str], families: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f + ".") for f in families)]


@pytest.mark.parametrize("module", ["flux_dev", "fast_sdxl", "whisper"])
def test_one_endpoint_module_imports_only_the_queue_runtime(module: str) -> None:
    added = _added_modules(f"from fal_endpoints import {module}", before="import httpx")
    assert f"fal_endpoints.{module}" in added  # the case measures something
    assert not _loaded(added, NOT_FOR_AN_ENDPOINT)
    others = [m for m in added if m.startswith("fal_endpoints.") and m != f"fal_endpoints.{module}"]
    assert not others, f"importing {module} imported its models or other endpoints: {others}"


def test_an_endpoints_models_load_at_their_first_use_and_its_realtime_code_does_not() -> None:
    added = _added_modules(
        "from fal_endpoints import flux_dev\n"
        "assert flux_dev.Input(prompt='a cat').prompt == 'a cat'\n"
        "assert flux_dev.endpoint.Output is flux_dev.FluxDevOutput"
    )
    assert {"fal_endpoints.flux_dev._models", "pydantic"} <= set(added)
    assert not _loaded(added, ("fal_endpoints.flux_dev._realtime", "fal_typed.realtime"))


def test_an_endpoints_realtime_classes_load_with_the_first_connection() -> None:
    added = _added_modules(
        "from fal_endpoints import flux_dev\n"
        "connection = flux_dev.realtime()\n"
        "assert type(connection) is flux_dev.Realtime"
    )
    assert {"fal_endpoints.flux_dev._realtime", "fal_typed.realtime._connection"} <= set(added)


def test_the_runtime_alone_imports_nothing_until_a_name_is_used() -> None:
    added = _added_modules("import fal_typed")
    assert "fal_typed" in added
    assert not _loaded(added, RUNTIME + NOT_FOR_AN_ENDPOINT)


def test_a_name_of_the_runtime_imports_its_own_module_only() -> None:
    added = _added_modules("from fal_typed import installed_endpoints, module_name, Limits")
    assert "fal_typed._installed" in added
    assert not _loaded(added, (*RUNTIME, "fal_typed.files", "fal_typed.realtime"))


def test_listing_installed_endpoints_imports_no_endpoint_module() -> None:
    added = _added_modules(
        "import fal_typed\nfound = fal_typed.installed_endpoints()\nassert len(found) > 100"
    )
    assert not [m for m in added if m.startswith("fal_endpoints.")]
    assert not _loaded(added, RUNTIME)


def _cli(*argv: str) -> list[str]:
    return _added_modules(
        f"import sys\nsys.argv = ['fal-typed', *{list(argv)!r}]\n"
        "from fal_typed.cli import main\nmain()"
    )


def test_the_cli_help_loads_typer_but_not_the_runtime() -> None:
    added = _cli("--help")
    assert "typer" in added  # the help was built
    assert not _loaded(added, (*RUNTIME, "fal_typed.catalog._fetch", "websockets", "msgpack"))
    assert not [m for m in added if m.startswith("fal_endpoints.")]


@pytest.mark.parametrize("argv", [["list"], ["list", "flux", "dev"], ["list", "--json", "whisper"]])
def test_the_cli_list_loads_neither_the_runtime_nor_typer(argv: list[str]) -> None:
    added = _cli(*argv)
    assert "fal_typed._installed" in added  # the listing ran
    assert not _loaded(added, (*RUNTIME, "typer", "fal_typed.cli._app", "fal_typed.catalog._fetch"))
    assert not [m for m in added if m.startswith("fal_endpoints.")]
