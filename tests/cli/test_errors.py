"""How the command ends: one line per error, an exit status by kind, ``--debug`` for more."""

from __future__ import annotations

from pathlib import Path

import pytest

from fal_typed import (
    AuthenticationError,
    FalConnectionError,
    FalHTTPError,
    FileInputError,
    InputValidationError,
    MissingCredentialsError,
    PossiblyAcceptedError,
)
from fal_typed.cli import _list, main
from fal_typed.cli._errors import (
    AUTH,
    FAILED,
    INTERNAL,
    INTERRUPTED,
    UNREACHABLE,
    USAGE,
    debug_requested,
    describe,
    exit_status,
)

from .helpers import REPO, run_cli


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (FalHTTPError("boom", status_code=500), FAILED),
        (PossiblyAcceptedError("sent, answer lost"), FAILED),
        (FalConnectionError("refused"), UNREACHABLE),
        (AuthenticationError("no", status_code=401), AUTH),
        (MissingCredentialsError("no key"), USAGE),
        (InputValidationError("fal-ai/flux/dev", [{"loc": ("x",), "msg": "bad"}]), USAGE),
        (FileInputError("no such file: a.png", field="image_url"), USAGE),
        (ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn"), USAGE),
        (OSError("disk full"), FAILED),
        (RuntimeError("a bug"), INTERNAL),
        (KeyboardInterrupt(), INTERRUPTED),
    ],
)
def test_exit_status_by_kind(error: BaseException, status: int) -> None:
    assert exit_status(error) == status
    assert "\n" not in describe(error)


def test_missing_extras_say_what_to_install() -> None:
    missing = ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
    assert describe(missing) == "uvicorn is not installed: pip install 'fal-typed[server]'"
    bug = RuntimeError("line one\nline two")
    assert (
        describe(bug)
        == "RuntimeError: line one line two (a bug in fal-typed; --debug shows the traceback)"
    )


def test_debug_is_read_anywhere_before_a_double_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAL_TYPED_DEBUG", raising=False)
    assert debug_requested(["list", "--debug", "flux"]) == (True, ["list", "flux"])
    assert debug_requested(["call", "x", "--", "--debug"]) == (
        False,
        ["call", "x", "--", "--debug"],
    )
    monkeypatch.setenv("FAL_TYPED_DEBUG", "1")
    assert debug_requested(["list"]) == (True, ["list"])


def _broken(*args: object, **kwargs: object) -> object:
    raise RuntimeError("something unexpected")


def test_an_unexpected_error_is_one_line_and_status_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FAL_TYPED_DEBUG", raising=False)
    monkeypatch.setattr("fal_typed.cli.matching", _broken)
    with pytest.raises(SystemExit) as ended:
        main(["list"])
    assert ended.value.code == INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "RuntimeError: something unexpected" in err and "--debug" in err

    with pytest.raises(RuntimeError, match="something unexpected"):
        main(["--debug", "list"])
    assert _list is not None


def test_the_help_documents_the_statuses() -> None:
    run = run_cli("--help")
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    for words in ("2 bad usage", "3 fal unreachable", "4 key refused", "70 a bug", "--debug"):
        assert words in text, words


def test_call_help_shows_no_null_defaults() -> None:
    for endpoint_id in (
        "fal-ai/flux/dev",
        "fal-ai/flux-general",
        "fal-ai/kling-video/o1/image-to-video",
    ):
        run = run_cli("call", endpoint_id, "--help")
        assert run.returncode == 0, run.stderr
        assert "null" not in run.stdout and "default: None" not in run.stdout
    assert "[default: jpeg]" in " ".join(
        run_cli("call", "fal-ai/flux/dev", "--help").stdout.split()
    )


_NO_KEY = "no fal API key: set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or pass --key"


def _key_commands(tmp_path: Path) -> list[list[str]]:
    """Every command that needs a key, with arguments that are otherwise right."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"prompt": "a cat"}\n', encoding="utf-8")
    return [
        ["price", "fal-ai/flux/dev"],
        ["usage"],
        ["call", "fal-ai/flux/dev", "--prompt", "a cat"],
        ["batch", "run", "fal-ai/flux/dev", str(rows), "--journal", str(tmp_path / "j.db")],
    ]


@pytest.mark.parametrize(
    ("env", "detail"),
    [({}, ""), ({"FAL_KEY_ID": "id"}, " (FAL_KEY_ID is set but FAL_KEY_SECRET is not")],
)
def test_a_missing_key_is_said_the_same_way_by_every_command(
    tmp_path: Path, env: dict[str, str], detail: str
) -> None:
    """price and usage said "pass Client(key=...)", the library's advice, to a shell; each
    command that needs a key had its own copy of the words. Nothing is sent (exit 2)."""
    for command in _key_commands(tmp_path):
        run = run_cli(*command, cwd=REPO, **env)
        assert run.returncode == 2, (command, run.stderr)
        assert f"Error: {_NO_KEY}{detail}" in run.stderr, (command, run.stderr)
        assert "Client(key=...)" not in run.stderr and "Traceback" not in run.stderr


def test_describe_says_a_missing_key_in_the_command_line_s_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """describe() is the one place: an error no command catches (main's last resort) says it
    too, not the library's "pass Client(key=...)"."""
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAL_KEY", " ")
    error = MissingCredentialsError("no fal API key found: pass Client(key=...) or set FAL_KEY")
    assert describe(error) == f"{_NO_KEY} (FAL_KEY is set but blank)"
    assert exit_status(error) == USAGE


def test_a_servers_error_text_reaches_the_terminal_without_escape_sequences() -> None:
    """A FalError's message may be a server's error body: its escape sequences (the title set,
    the screen cleared) were printed as they came, in the one line 'Error: ...'."""
    from fal_typed._errors import error_for_response

    body = {"detail": "\x1b]0;pwned\x07\x1b[2Jno runner \u202eavailable\x9b31m"}
    error = error_for_response(500, body, {})
    line = describe(error)
    assert "no runner" in line and "available" in line
    assert not any(c in line for c in "\x1b\x07\x9b\u202e"), repr(line)
