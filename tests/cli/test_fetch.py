"""``fal-typed fetch`` in a subprocess against the local server's schema URLs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest
from starlette.responses import Response

from ..catalog.hostile import (
    HostileCatalog,
    document,
    json_answer,
    nested,
    page,
    raw_answer,
    record,
)
from ..signals import sigint_for_children
from .helpers import (
    REPO,
    SAMPLE_IDS,
    SCHEMAS,
    LocalServer,
    cli_command,
    cli_env,
    copy_corpus,
    filename,
    run_cli,
)


def documents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}


def test_single_ids_reproduce_the_served_documents_byte_for_byte(
    server: LocalServer, tmp_path: Path
) -> None:
    flux = server.served / filename("fal-ai/flux/dev")
    flux.write_text(
        flux.read_text(encoding="utf-8").replace('"default": 3.5,', '"default": 3.50,'),
        encoding="utf-8",
    )
    target = tmp_path / "schemas"
    ids = ["fal-ai/flux/dev", "alibaba/happy-horse/reference-to-video", "fal-ai/turbo-flux-trainer"]

    run = run_cli("fetch", *ids, "--schemas", str(target), "--base-url", server.base_url)

    assert run.returncode == 0, run.stderr
    assert documents(target) == {
        filename(i): (server.served / filename(i)).read_bytes() for i in ids
    }
    assert "added 3, changed 0, removed 0, unchanged 0" in run.stderr
    # Number lexemes (3.50, 1e-7) and unescaped non-ASCII text survive the round trip.
    assert '"default": 3.50,' in (target / filename(ids[0])).read_text(encoding="utf-8")
    trainer = (target / filename(ids[2])).read_text(encoding="utf-8")
    assert '"minimum": 1e-7,' in trainer
    assert not (target / filename(ids[1])).read_bytes().isascii()


def test_refetch_reports_unchanged_and_rewrites_nothing(
    server: LocalServer, tmp_path: Path
) -> None:
    target = tmp_path / "schemas"
    assert (
        run_cli(
            "fetch",
            "fal-ai/flux/dev",
            "fal-ai/demucs",
            "--schemas",
            str(target),
            "--base-url",
            server.base_url,
        ).returncode
        == 0
    )
    before = {p.name: p.stat().st_mtime_ns for p in target.glob("*.json")}

    run = run_cli("fetch", "--schemas", str(target), "--base-url", server.base_url)

    assert run.returncode == 0, run.stderr
    assert "added 0, changed 0, removed 0, unchanged 2" in run.stderr
    assert {p.name: p.stat().st_mtime_ns for p in target.glob("*.json")} == before


def test_a_changed_document_is_reported_and_replaced(server: LocalServer, tmp_path: Path) -> None:
    target = copy_corpus(tmp_path / "schemas", ["fal-ai/flux/dev"])
    served = server.served / filename("fal-ai/flux/dev")
    document = json.loads(served.read_text(encoding="utf-8"))
    document["info"]["x-fal-metadata"]["about"] = "A new description from fal."
    served.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    run = run_cli(
        "fetch", "fal-ai/flux/dev", "--schemas", str(target), "--base-url", server.base_url
    )

    assert run.returncode == 0, run.stderr
    assert "changed 1" in run.stderr and "~ fal-ai/flux/dev" in run.stderr
    assert (target / filename("fal-ai/flux/dev")).read_bytes() == served.read_bytes()


def test_the_paged_catalog_reproduces_every_document_and_prunes_the_removed(
    server: LocalServer, tmp_path: Path
) -> None:
    server.settings.expansion_failed = {"fal-ai/qwen-3-guard"}
    server.settings.fail_times = 1  # every URL (each page) fails once with a 503 first
    target = tmp_path / "schemas"
    stale = copy_corpus(target, ["fal-ai/flux/dev"]) / filename("fal-ai/wan-ati")
    stale.write_text(
        '{"openapi": "3.0.4", "info": {"x-fal-metadata": {"endpointId": "fal-ai/wan-ati"}}}\n'
    )
    kept = target / filename("fal-ai/qwen-3-guard")
    kept.write_text('{"old": true}\n')

    run = run_cli("fetch", "--all", "--schemas", str(target), "--base-url", server.base_url)

    assert run.returncode == 0, run.stderr
    expected = {
        filename(i): (server.served / filename(i)).read_bytes()
        for i in SAMPLE_IDS
        if i != "fal-ai/qwen-3-guard"
    }
    expected[kept.name] = b'{"old": true}\n'  # its record had no document: skipped, not removed
    assert documents(target) == expected
    assert "added 10, changed 0, removed 1, unchanged 1, skipped 1, failed 0" in run.stderr
    assert "- fal-ai/wan-ati" in run.stderr
    assert "fal-ai/qwen-3-guard: expansion_failed" in run.stderr
    assert "HTTP 503" in run.stderr  # the retries were reported
    assert server.catalog.requests == 2 * 3  # 12 records in pages of 5, each page tried twice


def test_keep_removed_reports_without_deleting(server: LocalServer, tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    target.mkdir()
    stale = target / filename("fal-ai/wan-ati")
    stale.write_text('{"info": {"x-fal-metadata": {"endpointId": "fal-ai/wan-ati"}}}\n')

    run = run_cli(
        "fetch", "--all", "--keep-removed", "--schemas", str(target), "--base-url", server.base_url
    )

    assert run.returncode == 0, run.stderr
    assert stale.exists()
    assert (
        "no longer listed (kept, --keep-removed)" in run.stderr and "- fal-ai/wan-ati" in run.stderr
    )


def test_a_category_fetch_touches_only_that_category(server: LocalServer, tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    other = copy_corpus(target, ["fal-ai/demucs"]) / filename("fal-ai/demucs")
    gone = target / filename("fal-ai/old-image-model")
    gone.write_text(
        '{"info": {"x-fal-metadata": {"endpointId": "fal-ai/old-image-model", "category": "text-to-image"}}}\n'
    )

    run = run_cli(
        "fetch",
        "--category",
        "text-to-image",
        "--schemas",
        str(target),
        "--base-url",
        server.base_url,
    )

    assert run.returncode == 0, run.stderr
    names = set(documents(target))
    assert (
        filename("fal-ai/flux/dev") in names
        and filename("fal-ai/kling-image/o3/text-to-image") in names
    )
    assert other.exists() and not gone.exists()
    assert filename("fal-ai/hyper3d/rodin/v2") not in names  # image-to-3d


def test_a_catalog_that_cannot_be_listed_removes_nothing(
    server: LocalServer, tmp_path: Path
) -> None:
    server.settings.fail_times = 100
    server.settings.fail_status = 429
    target = tmp_path / "schemas"
    keep = copy_corpus(target, ["fal-ai/flux/dev"]) / filename("fal-ai/flux/dev")

    run = run_cli(
        "fetch", "--all", "--attempts", "2", "--schemas", str(target), "--base-url", server.base_url
    )

    assert run.returncode == 1
    assert keep.exists()
    assert "HTTP 429" in run.stderr and "nothing was removed" in run.stderr
    assert "Traceback" not in run.stderr


def test_failed_ids_are_reported_and_the_others_written(
    server: LocalServer, tmp_path: Path
) -> None:
    target = tmp_path / "schemas"

    run = run_cli(
        "fetch",
        "fal-ai/flux/dev",
        "fal-ai/does-not-exist",
        "--schemas",
        str(target),
        "--base-url",
        server.base_url,
    )

    assert run.returncode == 1
    assert "fal-ai/does-not-exist: HTTP 404" in run.stderr
    assert documents(target) == {
        filename("fal-ai/flux/dev"): (server.served / filename("fal-ai/flux/dev")).read_bytes()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fal-ai/../x"], "invalid endpoint id"),
        (["flux"], "invalid endpoint id"),
        (["fal-ai/flux/dev", "--all"], "not both"),
        (["--concurrency", "0"], "Invalid value for '--concurrency'"),
        (["fal-ai/flux/dev", "--key", "id:se cret"], "key must not contain whitespace"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    server: LocalServer, tmp_path: Path, args: list[str], message: str
) -> None:
    run = run_cli(
        "fetch", *args, "--schemas", str(tmp_path / "schemas"), "--base-url", server.base_url
    )

    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert server.catalog.requests == 0


def test_a_fetch_killed_midway_leaves_the_directory_consistent(
    server: LocalServer, tmp_path: Path
) -> None:
    ids = [f"fal-ai/slow-{n:02d}/model" for n in range(40)]
    template = (server.served / filename("fal-ai/flux/dev")).read_text(encoding="utf-8")
    for endpoint_id in ids:
        (server.served / filename(endpoint_id)).write_text(
            template.replace("fal-ai/flux/dev", endpoint_id), encoding="utf-8"
        )
    target = tmp_path / "schemas"
    target.mkdir()
    for endpoint_id in ids[::2]:  # old versions the fetch replaces
        (target / filename(endpoint_id)).write_text('{"old": "document"}\n')
    server.settings.delay = 0.3

    process = subprocess.Popen(
        cli_command(
            "fetch",
            *ids,
            "--concurrency",
            "2",
            "--schemas",
            str(target),
            "--base-url",
            server.base_url,
        ),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill once some, but not all, documents have been written.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            written = [
                p for p in target.glob("*.json") if p.read_bytes() != b'{"old": "document"}\n'
            ]
            if written:
                break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    contents = documents(target)
    fresh = [n for n, data in contents.items() if data != b'{"old": "document"}\n']
    assert 0 < len(fresh) < len(ids)
    for name, data in contents.items():
        json.loads(data)  # every document is whole
        assert data in (b'{"old": "document"}\n', (server.served / name).read_bytes())
    for path in target.iterdir():  # an interrupted write leaves at most hidden, non-.json debris
        is_debris = path.name.startswith(".fal-typed-") and path.name.endswith(".tmp")
        assert is_debris or path.name in contents

    server.settings.delay = 0.0
    (target / ".fal-typed-x.json.abc123.tmp").write_text('{"half": ')  # debris of an older kill
    rerun = run_cli("fetch", *ids, "--schemas", str(target), "--base-url", server.base_url)
    assert rerun.returncode == 0, rerun.stderr
    assert documents(target) == {
        filename(i): (server.served / filename(i)).read_bytes() for i in ids
    }
    assert sorted(p.name for p in target.iterdir()) == sorted(
        filename(i) for i in ids
    )  # no debris left


def test_ctrl_c_stops_the_fetch_with_whole_documents(server: LocalServer, tmp_path: Path) -> None:
    server.settings.delay = 0.3
    target = tmp_path / "schemas"
    with sigint_for_children():
        process = subprocess.Popen(
            cli_command(
                "fetch",
                *SAMPLE_IDS,
                "--concurrency",
                "1",
                "--schemas",
                str(target),
                "--base-url",
                server.base_url,
            ),
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not list(target.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)

    assert process.returncode == 130
    assert "interrupted: every document written so far is complete" in stderr
    assert "Traceback" not in stderr
    written = documents(target)
    assert 0 < len(written) < len(SAMPLE_IDS)
    assert all(data == (server.served / name).read_bytes() for name, data in written.items())


def test_a_key_is_sent_to_fal_and_never_shown(server: LocalServer, tmp_path: Path) -> None:
    server.settings.fail_times = 1  # a retry is reported: the key must not be in that line either

    run = run_cli(
        "fetch", "fal-ai/flux/dev", "--key", "key-id:s3cret-value",
        "--schemas", str(tmp_path / "schemas"), "--base-url", server.base_url,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert "s3cret" not in run.stdout + run.stderr
    sent = server.fal.requests_for("catalog.openapi")
    assert len(sent) == 2 and all(
        r.headers.get("authorization", "").startswith("Key") for r in sent
    )


def test_an_unusable_schemas_directory_is_reported(server: LocalServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    run = run_cli(
        "fetch",
        "fal-ai/flux/dev",
        "--schemas",
        str(blocker / "schemas"),
        "--base-url",
        server.base_url,
    )

    assert run.returncode == 1
    assert "cannot use" in run.stderr and "Not a directory" in run.stderr
    assert "Traceback" not in run.stderr


# -- a hostile catalog: the limits' flags, what reaches the terminal, and the whole refresh loop --


def hostile_document(endpoint_id: str, payload: str) -> dict[str, Any]:
    """flux_dev's document renamed ``endpoint_id``, with ``payload`` in every place the
    generator reads text from: metadata, titles, descriptions, enum values, defaults, patterns,
    names of components and properties, examples."""
    document: dict[str, Any] = json.loads((SCHEMAS / filename("fal-ai/flux/dev")).read_text())
    text = json.dumps(document).replace("fal-ai/flux/dev", json.dumps(endpoint_id)[1:-1])
    document = json.loads(text)
    document["info"]["title"] = payload
    meta = document["info"]["x-fal-metadata"]
    meta.update(about=payload, category=payload, playgroundUrl=payload, documentationUrl=payload)
    schemas = document["components"]["schemas"]
    schemas[payload] = {"type": "object", "description": payload, "title": payload}
    schemas["FluxDevInput"]["description"] = payload
    schemas["FluxDevInput"]["properties"].update(
        {
            payload: {"type": "string", "description": payload, "default": payload},
            "choice": {"type": "string", "enum": [payload, "plain"], "default": payload},
            "checked": {"type": "string", "pattern": payload, "examples": [payload]},
            "nested": {"$ref": f"#/components/schemas/{payload}", "description": payload},
            "huge": {"type": "number", "default": "@inf", "maximum": "@nan"},
        }
    )
    return document


def served(document: dict[str, Any]) -> dict[str, Any]:
    """What a server sends for ``document``: non-finite numbers written as JSON's extensions."""
    text = json.dumps(document).replace('"@inf"', "1e400").replace('"@nan"', "NaN")
    return cast("dict[str, Any]", json.loads(text))


def import_each(out: Path, sentinel: Path) -> dict[str, str]:
    """Import every generated module in a fresh interpreter; module -> "ok" or the error."""
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(out)!r})\n"
        "results = {}\n"
        f"for name in {sorted(p.parent.name for p in (out / 'fal_endpoints').glob('*/__init__.py'))!r}:\n"
        "    try:\n"
        "        importlib.import_module('fal_endpoints.' + name)\n"
        "        results[name] = 'ok'\n"
        "    except Exception as exc:\n"
        "        results[name] = repr(exc)\n"
        "print(json.dumps(results))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=sentinel.parent, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cast("dict[str, str]", json.loads(done.stdout))


def test_a_hostile_catalog_gets_no_code_through_fetch_and_generate(tmp_path: Path) -> None:
    sentinel = tmp_path / "PWNED"
    touch = f'__import__("pathlib").Path({str(sentinel)!r}).touch()'
    payload = f'x"""\n{touch}\n"""\'\'\'\\\x00\r\x0c\u2028\x1b[2J{{{{ {touch} }}}}#'
    forged_id = f'fal-ai/x"""; {touch}; """'
    flux = json.loads((SCHEMAS / filename("fal-ai/flux/dev")).read_text())
    hostile_records = [
        record("fal-ai/flux/dev", flux),
        record("fal-ai/evil", served(hostile_document("fal-ai/evil", payload))),
        record("fal-ai/flux/schnell", hostile_document(forged_id, "forged")),  # names another id
        record(forged_id, hostile_document(forged_id, "forged")),  # not an id
    ]
    schemas, out = tmp_path / "schemas", tmp_path / "generated"
    body = json.dumps({"models": hostile_records, "has_more": False})  # with 1e400 as Infinity
    with HostileCatalog() as hostile:
        hostile.pages = lambda cursor: Response(body, media_type="application/json")
        fetched = run_cli(
            "fetch", "--all", "--schemas", str(schemas), "--base-url", hostile.base_url
        )

    assert fetched.returncode == 1  # the forged document failed
    assert 'fal-ai/flux/schnell: the document is for \'fal-ai/x"""; __import__' in fetched.stderr
    assert "\x1b" not in fetched.stderr
    assert sorted(p.name for p in schemas.iterdir()) == [
        "fal-ai__evil.json",
        "fal-ai__flux__dev.json",
    ]  # nothing of the refused records was written

    generated = run_cli(
        "generate", "--schemas", str(schemas), "--out", str(out), "--jobs", "1", cwd=REPO
    )

    assert generated.returncode == 0, generated.stderr
    assert "2 modules from 2 documents" in generated.stdout
    for dropped in (  # reported, and left out of the models so the module imports
        "pattern of Checked 'x",
        "default of Huge holds a number Python cannot write (inf has no Python literal)",
        "maximum of Huge holds a number Python cannot write (nan has no Python literal)",
    ):
        assert f"warning: fal-ai__evil.json: {dropped}" in generated.stderr
    assert import_each(out, sentinel) == {"_index": "ok", "evil": "ok", "flux_dev": "ok"}
    assert not sentinel.exists()


def test_a_forged_document_for_one_endpoint_is_not_written(tmp_path: Path) -> None:
    sentinel = tmp_path / "PWNED"
    forged = f'fal-ai/x"""; __import__("pathlib").Path({str(sentinel)!r}).touch(); """'
    with HostileCatalog() as hostile:
        hostile.documents["fal-ai/flux/dev"] = json_answer(hostile_document(forged, "x"))
        hostile.documents["fal-ai/other"] = raw_answer(
            "\x1b[2J\x1b]8;;http://evil.example\x07gone\x1b]8;;\x07", status=404
        )
        run = run_cli(
            "fetch", "fal-ai/flux/dev", "fal-ai/other",
            "--schemas", str(tmp_path / "schemas"), "--base-url", hostile.base_url,
        )  # fmt: skip

    assert run.returncode == 1
    assert "fal-ai/flux/dev: the document is for" in run.stderr
    assert "fal-ai/other: HTTP 404: gone" in run.stderr
    assert "\x1b" not in run.stderr and "\x07" not in run.stderr
    assert list((tmp_path / "schemas").iterdir()) == []


def test_the_limit_flags_reach_the_fetch(tmp_path: Path) -> None:
    with HostileCatalog() as hostile:
        hostile.pages = lambda cursor: page([], str(int(cursor or 0) + 1))
        hostile.documents["fal-ai/slow"] = hostile.trickle(b'{"openapi": "3.0.4"}', 5.0)
        hostile.documents["fal-ai/big"] = json_answer(document("fal-ai/big", pad="x" * 5000))
        hostile.documents["fal-ai/deep"] = raw_answer(nested(20))
        target, url = str(tmp_path / "schemas"), hostile.base_url

        pages = run_cli(
            "fetch", "--all", "--max-pages", "3", "--schemas", target, "--base-url", url
        )
        ids = run_cli(
            "fetch", "fal-ai/slow", "fal-ai/big", "fal-ai/deep",
            "--response-timeout", "0.5", "--max-document-size", "4KiB", "--max-depth", "10",
            "--schemas", target, "--base-url", url,
        )  # fmt: skip
        requests = len(hostile.requests)

    assert pages.returncode == 1 and "more than 3 pages (the limit)" in pages.stderr
    assert "nothing was removed" in pages.stderr
    assert ids.returncode == 1
    assert "fal-ai/slow: no whole answer within 0.5 s" in ids.stderr
    assert "fal-ai/big: the answer is larger than 4,096 bytes" in ids.stderr
    assert "fal-ai/deep: the response is nested deeper than 10 levels" in ids.stderr
    assert requests == 3 + 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a__b/c", "a/b/c"], "would share the file a__b__c.json"),
        (["fal-ai/x\n"], "invalid endpoint id"),
        (["fal-ai/flux/dev", "--max-document-size", "8XB"], "invalid size '8XB'"),
        (["fal-ai/flux/dev", "--max-pages", "0"], "Invalid value for '--max-pages'"),
    ],
)
def test_bad_ids_and_limits_are_refused_before_any_request(
    tmp_path: Path, args: list[str], message: str
) -> None:
    with HostileCatalog() as hostile:
        run = run_cli(
            "fetch", *args, "--schemas", str(tmp_path / "schemas"), "--base-url", hostile.base_url
        )
        requests = hostile.requests

    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert requests == []


def test_document_text_reaches_no_terminal_raw(tmp_path: Path) -> None:
    """Names, descriptions and values of a document hold what its server wrote: the changelog a
    fetch prints and ``list`` show them without escape sequences."""
    old = hostile_document("fal-ai/evil", "plain")
    new = hostile_document("fal-ai/evil", "\x1b[2J\x1b]8;;http://evil.example\x07x\x1b]8;;\x07")
    new["components"]["schemas"]["FluxDevInput"]["properties"]["steps\x1b[31m"] = {"type": "string"}
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / filename("fal-ai/evil")).write_text(json.dumps(old), encoding="utf-8")
    with HostileCatalog() as hostile:
        hostile.documents["fal-ai/evil"] = json_answer(new)
        fetched = run_cli(
            "fetch", "fal-ai/evil", "--schemas", str(schemas), "--base-url", hostile.base_url
        )
    listed = run_cli("list", "--schemas", str(schemas))

    assert fetched.returncode == 0, fetched.stderr
    assert "What changed for code" in fetched.stderr and "steps" in fetched.stderr
    assert listed.returncode == 0 and "fal-ai/evil" in listed.stdout
    for output in (fetched.stderr, listed.stdout):
        assert not any(c in output for c in "\x1b\x07\x9b"), output
