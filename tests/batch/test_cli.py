"""``fal-typed batch run`` / ``batch status`` as a user runs them (subprocesses, local server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fal_typed._local import LOCAL_KEY, key_for
from fal_typed.testing import LocalFal

from .conftest import accepted_by_prompt, cli


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_run_resume_and_status(local_fal: LocalFal, tmp_path: Path) -> None:
    _jsonl(tmp_path / "p.jsonl", [{"prompt": f"cli {i}", "image_size": "square"} for i in range(6)])
    args = [
        "run",
        "fal-ai/flux/dev",
        "p.jsonl",
        "--journal",
        "j.db",
        "--out",
        "out",
        "--concurrency",
        "4",
    ]
    first = cli(args, base_url=local_fal.base_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "6 rows: completed 6" in first.stderr and "results: out/results.jsonl" in first.stderr
    again = cli(args, base_url=local_fal.base_url, cwd=tmp_path)
    assert again.returncode == 0 and "(0 finished" in again.stderr
    assert accepted_by_prompt(local_fal) == {f"cli {i}": 1 for i in range(6)}
    status = cli(["status", "j.db"], base_url=local_fal.base_url, cwd=tmp_path)
    assert status.returncode == 0
    assert "fal-ai/flux/dev: 6 rows" in status.stdout and "completed    6" in status.stdout
    as_json = json.loads(
        cli(["status", "j.db", "--json"], base_url=local_fal.base_url, cwd=tmp_path).stdout
    )
    assert as_json["counts"] == {"completed": 6} and as_json["ambiguous"] == []
    assert (tmp_path / "out/index.html").is_file() and len(
        list((tmp_path / "out/files").iterdir())
    ) == 6


def test_csv_cells_are_converted_by_the_schema(local_fal: LocalFal, tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(
        "id,prompt,num_images,guidance_scale,enable_safety_checker,image_size\n"
        'a,a cat,2,3.5,false,"{""width"": 64, ""height"": 32}"\n'
        "b,a dog,1,,true,square\n"
    )
    done = cli(
        [
            "run",
            "fal-ai/flux/dev",
            "p.csv",
            "--journal",
            "j.db",
            "--key-field",
            "id",
            "--no-download",
            "--out",
            "o",
        ],
        base_url=local_fal.base_url,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    bodies = {r.json()["prompt"]: r.json() for r in local_fal.requests_for("submit")}
    assert bodies["a cat"] == {
        "prompt": "a cat",
        "num_images": 2,
        "guidance_scale": 3.5,
        "enable_safety_checker": False,
        "image_size": {"width": 64, "height": 32},
    }
    assert bodies["a dog"] == {
        "prompt": "a dog",
        "num_images": 1,
        "enable_safety_checker": True,
        "image_size": "square",
    }
    keys = [
        json.loads(line)["key"] for line in (tmp_path / "o/results.jsonl").read_text().splitlines()
    ]
    assert keys == ["a", "b"]


def test_dry_run_and_invalid_rows_send_nothing(local_fal: LocalFal, tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text(
        json.dumps({"prompt": "fine"})
        + "\n"
        + json.dumps({"prompt": "too many", "num_images": 9})
        + "\n"
        + "not json\n"
        + json.dumps({"promt": "typo"})
        + "\n"
    )
    dry = cli(
        ["run", "fal-ai/flux/dev", "p.jsonl", "--journal", "j.db", "--dry-run"],
        base_url=local_fal.base_url,
        cwd=tmp_path,
    )
    assert dry.returncode == 2
    assert "4 rows: 1 valid, 3 invalid" in dry.stdout
    assert "p.jsonl:2" in dry.stdout and "num_images" in dry.stdout
    assert "p.jsonl:3" in dry.stdout and "not JSON" in dry.stdout
    assert "p.jsonl:4" in dry.stdout and "promt" in dry.stdout
    assert not (tmp_path / "j.db").exists()
    run = cli(
        ["run", "fal-ai/flux/dev", "p.jsonl", "--journal", "j.db"],
        base_url=local_fal.base_url,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and "3 of 4 rows are invalid; nothing was sent" in run.stderr
    assert not local_fal.requests_for("submit")
    skipped = cli(
        ["run", "fal-ai/flux/dev", "p.jsonl", "--journal", "j.db", "--skip-invalid"],
        base_url=local_fal.base_url,
        cwd=tmp_path,
    )
    assert skipped.returncode == 1  # some rows are invalid: not every row completed
    assert "completed 1, invalid 3" in skipped.stderr
    assert len(local_fal.requests_for("submit")) == 1


def test_usage_errors(local_fal: LocalFal, tmp_path: Path) -> None:
    missing = cli(
        ["run", "fal-ai/flux/dev", "nope.jsonl", "--journal", "j.db"],
        base_url=local_fal.base_url,
        cwd=tmp_path,
    )
    assert missing.returncode == 2 and "nope.jsonl does not exist" in missing.stderr
    unknown = cli(
        ["run", "fal-ai/no-such-thing", "x.jsonl", "--journal", "j.db"],
        base_url=local_fal.base_url,
        cwd=tmp_path,
    )
    assert unknown.returncode == 2 and "no generated module" in unknown.stderr
    no_journal = cli(
        ["run", "fal-ai/flux/dev", "x.jsonl"], base_url=local_fal.base_url, cwd=tmp_path
    )
    assert no_journal.returncode == 2 and "--journal" in no_journal.stderr


def _env_without_key(**extra: str) -> dict[str, str]:
    """The environment with no fal key in it (and no local server unless ``extra`` says)."""
    drop = {"FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "FAL_TYPED_BASE_URL"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "COLUMNS": "200", **extra}


def _command(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fal_typed.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("how", ["environment", "option"])
def test_a_local_server_needs_no_key_for_a_batch_as_for_every_command(
    local_fal: LocalFal, tmp_path: Path, how: str
) -> None:
    """README "Offline first": without FAL_KEY the local key is sent to FAL_TYPED_BASE_URL (or
    --base-url). ``call`` did; ``batch run`` refused with "no fal API key"."""
    _jsonl(tmp_path / "p.jsonl", [{"prompt": "keyless", "image_size": "square"}])
    if how == "environment":
        env, option = _env_without_key(FAL_TYPED_BASE_URL=local_fal.base_url), []
    else:
        env, option = _env_without_key(), ["--base-url", local_fal.base_url]
    commands = [
        ["batch", "run", "fal-ai/flux/dev", "p.jsonl", "--journal", "j.db", "--quiet", *option],
        ["call", "fal-ai/flux/dev", "--prompt", "keyless call", *option],
    ]
    for args in commands:
        done = _command(args, env, tmp_path)
        assert done.returncode == 0, (args, done.stderr)
    assert accepted_by_prompt(local_fal) == {"keyless": 1, "keyless call": 1}


def test_without_a_local_server_a_batch_still_needs_a_key(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    _jsonl(tmp_path / "p.jsonl", [{"prompt": "a cat"}])
    done = _command(
        ["batch", "run", "fal-ai/flux/dev", "p.jsonl", "--journal", "j.db"],
        _env_without_key(),
        tmp_path,
    )
    assert done.returncode == 2 and "no fal API key" in done.stderr
    assert not (tmp_path / "j.db").exists()


@pytest.mark.parametrize(
    ("given", "base_url", "environment", "sent"),
    [
        ("id:given", "http://127.0.0.1:1", {}, "id:given"),  # a key given always wins
        (None, "http://127.0.0.1:1", {}, LOCAL_KEY),  # a local server, no key: the local one
        (None, "http://127.0.0.1:1", {"FAL_KEY": "env:key"}, None),  # the environment's
        (None, "http://127.0.0.1:1", {"FAL_KEY_ID": "id"}, None),
        (None, None, {}, None),  # fal itself: the environment's, or none (refused later)
        (None, "", {}, None),
    ],
)
def test_the_key_rule_every_command_shares(
    monkeypatch: pytest.MonkeyPatch,
    given: str | None,
    base_url: str | None,
    environment: dict[str, str],
    sent: str | None,
) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert key_for(given, base_url) == sent
