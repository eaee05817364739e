"""The guides' Python examples run: every ```python (or ```py) block of each guide below, in
order, in one namespace, against the local fal server made the default client (as a reader with a
key would run them against fal). Blocks titled ``fal-client`` show the other client's code and are
not run; the names they use are checked against fal-client instead. webhooks.md, proxy.md and
costs.md are run by the tests of their families (they need a receiver, a proxy, the Platform API
set up), from the same blocks (:mod:`tests.docs.guides`).

What a guide writes outside its examples is checked too: each call written in its prose and tables
against the real signature, each ``fal-typed`` command line and option against the real command
line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import pytest
from fal_endpoints import flux_dev

import fal_typed
from fal_typed import (
    Client,
    FileOutput,
    Limits,
    RequestHandle,
    RetryPolicy,
    Stream,
    batch,
    platform,
    webhooks,
)
from fal_typed.proxy import FalProxy
from fal_typed.testing import LocalFal
from fal_typed.testing._platform import PlatformService
from fal_typed.testing._webhooks import WebhookDispatcher, WebhookSettings

from .guides import (
    DOCS,
    cli_problems,
    forget_files,
    free_names,
    python_blocks,
    run_blocks,
    top_level_arguments,
    written_call_problems,
)

GUIDES = [
    "index.md",
    "quickstart.md",
    "migrating-from-fal-client.md",
    "streaming.md",
    "notebooks.md",
    "any-endpoint.md",
    "local-server.md",
    "files.md",
    "batch.md",
    "schema-changes.md",
]
#: Guides whose examples the tests of their family run (each module reads the guide's blocks
#: with :func:`tests.docs.guides.python_blocks` and runs every one of them).
RUN_ELSEWHERE = {
    "webhooks.md": "tests/webhooks/test_docs.py",
    "proxy.md": "tests/proxy/test_docs.py",
    "costs.md": "tests/platform/test_docs.py",
}
#: The local files a guide's examples read, made in the directory they run in (as a reader has
#: their own clip.mp4 beside their script).
FILES: dict[str, dict[str, bytes]] = {
    "files.md": {
        "clip.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(64),
        "a.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64),
        "edges.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
    },
    "batch.md": {
        "prompts.csv": b'prompt,seed\na cat,1\na cat in a hat,2\n"a cat, asleep",3\n',
    },
}


def blocks(guide: str) -> list[str]:
    return [block.code for block in python_blocks(guide)]


@pytest.fixture
def run_guide(
    local_fal: LocalFal, local_fal_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    fal_typed.set_default_client(local_fal_client)
    ran: list[Any] = []

    def run(guide: str) -> dict[str, Any]:
        for name, content in FILES.get(guide, {}).items():
            (tmp_path / name).write_bytes(content)
        found = python_blocks(guide)
        ran.extend(found)
        return run_blocks(found, {"__name__": guide})

    try:
        yield run
    finally:
        forget_files(ran)
        fal_typed.set_default_client(None)


@pytest.mark.parametrize("guide", GUIDES)
def test_every_block_of_the_guide_runs(guide: str, run_guide: Any) -> None:
    assert blocks(guide), f"{guide} has no Python example"
    run_guide(guide)


def test_every_guide_with_python_examples_is_run() -> None:
    """A guide added with examples, or an example added as ```py to a guide run elsewhere, is
    run: the guides run elsewhere read their blocks with the same function."""
    with_examples = {p.name for p in DOCS.glob("*.md") if python_blocks(p.name)}
    assert with_examples - set(GUIDES) - set(RUN_ELSEWHERE) == set()
    root = DOCS.parent
    for guide, module in RUN_ELSEWHERE.items():
        source = (root / module).read_text(encoding="utf-8")
        assert f'python_blocks("{guide}")' in source, f"{module} does not run {guide}'s blocks"


def test_the_quickstart_results_are_typed(
    run_guide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("quickstart.md")
    flux_dev = namespace["flux_dev"]
    assert isinstance(namespace["out"], flux_dev.Output)
    assert Path("cat.jpg").stat().st_size > 0
    assert "['num_images', 'output_format']" in capsys.readouterr().out


def test_the_migration_example_refuses_bad_input_before_sending(
    run_guide: Any, local_fal: LocalFal, capsys: pytest.CaptureFixture[str]
) -> None:
    run_guide("migrating-from-fal-client.md")
    out = capsys.readouterr().out
    assert "before sending: ['num_inference_steps']" in out
    assert "sampling" not in out  # the local server's default behaviour has no logs


def test_a_hand_described_endpoint_keeps_what_it_does_not_describe(
    run_guide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("any-endpoint.md")
    out = namespace["out"]
    assert type(out).__name__ == "NewModelOutput" and out.images
    assert "seed" in (out.model_extra or {})
    assert "['fal-ai/flux/dev'" in capsys.readouterr().out  # the typo's suggestions


def test_the_batch_example_runs_every_row_once(
    run_guide: Any, local_fal: LocalFal, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run_guide("batch.md")
    summary = namespace["job"].summary()
    assert summary.complete, summary
    assert len(local_fal.requests_for("submit")) == 3
    assert sorted(Path("out/files").iterdir()), "no output file was downloaded"
    assert (Path("out") / "results.jsonl").read_text().count("\n") == 3
    printed = capsys.readouterr().out  # the loop's line per row, then the summary
    assert len(re.findall(r"^\S+ completed ", printed, flags=re.M)) == 3, printed


def test_the_streaming_limits_example_builds_its_client(run_guide: Any) -> None:
    limits = run_guide("streaming.md")["client"].limits
    assert limits.max_sse_event_bytes == 16 * 1024 * 1024 and limits.realtime_open_timeout == 20.0


#: Signatures the local server's guide writes out, and what they document.
SIGNATURE = re.compile(r"`(Fault\.\w+|Failure|LocalFal|inject)\(([^`]*)\)`")


def _top_level_names(arguments: str) -> list[str]:
    """The parameter names of a written-out signature or call (``a, b=1, *, c=None``): each
    argument's name before its top-level ``=``, or the argument itself when it is a name."""
    names = (argument.split("=", 1)[0].strip() for argument in top_level_arguments(arguments))
    return [name for name in names if name.isidentifier()]


def test_the_local_server_guide_names_real_parameters() -> None:
    """Every parameter the guide writes in a signature exists: a renamed keyword
    (``status`` for ``status_code``) fails here, not in a reader's code."""
    import inspect

    from fal_typed.testing import Failure, Fault

    owners: dict[str, Any] = {"Failure": Failure, "LocalFal": LocalFal, "inject": LocalFal.inject}
    text = " ".join((DOCS / "local-server.md").read_text(encoding="utf-8").split())
    found = SIGNATURE.findall(text)
    assert len(found) >= 10, found
    wrong: list[str] = []
    for owner, arguments in found:
        target = (
            getattr(Fault, owner.split(".", 1)[1]) if owner.startswith("Fault.") else owners[owner]
        )
        parameters = inspect.signature(target).parameters
        wrong += [
            f"{owner}: {name}" for name in _top_level_names(arguments) if name not in parameters
        ]
    assert wrong == []


#: What the names a guide writes in calls stand for (``""``: where a bare name is looked up).
TYPED: dict[str, Any] = {
    "flux_dev": flux_dev,
    "fal_typed": fal_typed,
    "Client": Client,
    "Limits": Limits,
    "RetryPolicy": RetryPolicy,
    "handle": RequestHandle,
    "events": Stream,
    "conn": flux_dev.Realtime,
}
FAL_CLIENT: dict[str, Any] = {
    "fal_client": fal_client,
    "SyncClient": fal_client.SyncClient,
    "handle": fal_client.SyncRequestHandle,
    "conn": fal_client.RealtimeConnection,
    "": (fal_client,),
}
OWNERS: dict[str, dict[str, Any]] = {
    "index.md": TYPED,
    "quickstart.md": {**TYPED, "": (flux_dev,)},
    "migrating-from-fal-client.md": {**TYPED, "": (flux_dev, FileOutput)},
    "streaming.md": {**TYPED, "": (flux_dev, Stream, flux_dev.Realtime)},
    "any-endpoint.md": TYPED,
    "webhooks.md": {
        **TYPED,
        "webhooks": webhooks,
        "verifier": webhooks.WebhookVerifier,
        "configure": WebhookSettings,  # local_fal.webhooks.configure(**changes) sets these
        "": (webhooks, webhooks.WebhookVerifier, webhooks.Deduplicator, WebhookDispatcher),
    },
    "costs.md": {
        **TYPED,
        "platform": platform.Platform,
        "Platform": platform.Platform,
        "LocalFal": LocalFal,
        "configure": PlatformService.configure,  # local_fal.platform.configure(...)
        "batch": batch,
        "": (platform,),
    },
    "batch.md": {**TYPED, "batch": batch, "Journal": batch.Journal, "job": batch.AsyncJob},
    "proxy.md": {**TYPED, "FalProxy": FalProxy, "": (platform,)},
}
#: Fewest calls each guide's check must find (it would pass vacuously if the parsing broke).
CHECKED_CALLS = {
    "index.md": 0,
    "quickstart.md": 9,
    "migrating-from-fal-client.md": 60,
    "streaming.md": 15,
    "any-endpoint.md": 1,
    "webhooks.md": 19,
    "costs.md": 15,
    "batch.md": 4,
    "proxy.md": 4,
}


@pytest.mark.parametrize("guide", sorted(OWNERS))
def test_the_calls_a_guide_writes_exist_with_those_parameters(guide: str) -> None:
    """`flux_dev.status(request_id, with_logs=True)` in a table is code a reader types: each
    written call (and each call of a fal-client block, against fal-client) names a real function
    and parameters it has."""
    checked, problems = written_call_problems(guide, OWNERS[guide], FAL_CLIENT)
    assert problems == []
    assert checked >= CHECKED_CALLS[guide]


#: The guides' ``fal-typed`` command lines and options, and the fewest each must show.
CLI_GUIDES = {"any-endpoint.md": 5, "batch.md": 35, "costs.md": 10, "proxy.md": 2}


@pytest.mark.parametrize("guide", sorted(CLI_GUIDES))
def test_the_command_lines_a_guide_shows_exist(guide: str) -> None:
    checked, problems = cli_problems(guide)
    assert problems == []
    assert checked >= CLI_GUIDES[guide]


def test_the_batch_guide_names_real_options_of_batch_run() -> None:
    """batch.md gives each command-line option's Python twin in parentheses (`--max-cost USD`
    (`max_cost=`), (`webhook=True, webhook_listen=(host, port)`)): each is a parameter of
    ``batch.run`` and of ``batch.run_async``."""
    import inspect

    text = re.sub(r"^```.*?^```$", "", (DOCS / "batch.md").read_text(), flags=re.S | re.M)
    written = {
        argument.split("=", 1)[0]
        for span in re.findall(r"\(`([a-z_]+=[^`]*)`", " ".join(text.split()))
        for argument in top_level_arguments(span)
    }
    assert len(written) >= 10, written
    for function in (batch.run, batch.run_async):
        assert written - set(inspect.signature(function).parameters) == set()


#: Names a guide's blocks share on purpose: the cells of one notebook, the local server a
#: guide's setup block opens. A block that continues a file (``# name.py, continued``) may use
#: what that file defines.
SHARED_NAMES: dict[str, set[str]] = {"notebooks.md": {"out"}, "local-server.md": {"fal"}}


@pytest.mark.parametrize("guide", [*GUIDES, *RUN_ELSEWHERE])
def test_each_example_imports_what_it_uses(guide: str) -> None:
    """Run in order, a block may lean on an import of an earlier one; a reader who copies that
    block alone would get a NameError. Each block defines or imports every name it uses."""
    missing = {
        block.where: names
        for block in python_blocks(guide)
        if "continued" not in block.code.splitlines()[0]
        if (names := set(free_names(block.code)) - SHARED_NAMES.get(guide, set()))
    }
    assert missing == {}
