"""Files that are not what they are given as: the user's to fix, never "a bug in fal-typed".

An input file that is not UTF-8 (a latin-1 export) or not CSV, a ``--journal`` or ``batch status``
path that is the input file, another program's database, a folder or nothing: each is refused
naming the file and what is wrong (for bytes that are not UTF-8: the line and the byte offset),
with exit status 2 on the command line, before anything is sent, and without changing the file.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fal_endpoints import flux_dev

from fal_typed import Client, batch
from fal_typed.testing import LocalFal

from .conftest import cli, cli_command, cli_env, rows

LATIN1_CSV = b"prompt\ncaf\xe9\n"


def _jsonl_with_latin1_at(tmp_path: Path, good_lines: int) -> tuple[Path, int]:
    """A JSONL file whose line ``good_lines + 1`` holds a latin-1 byte; and that byte's offset."""
    good = b"".join(b'{"prompt": "row %d"}\n' % i for i in range(good_lines))
    path = tmp_path / "rows.jsonl"
    path.write_bytes(good + b'{"prompt": "caf\xe9"}\n' + b'{"prompt": "after"}\n')
    return path, len(good) + len(b'{"prompt": "caf')


@pytest.mark.parametrize("good_lines", [0, 3, 2000], ids=["first-line", "early", "past-a-chunk"])
def test_bytes_that_are_not_utf8_are_named_by_file_line_and_offset(
    local_fal: LocalFal, client: Client, tmp_path: Path, good_lines: int
) -> None:
    """Past the decoder's first chunk (8 KiB) its own offset is wrong: the file is scanned."""
    path, offset = _jsonl_with_latin1_at(tmp_path, good_lines)
    expected = f"rows.jsonl is not UTF-8: byte 0xe9 at line {good_lines + 1} (byte offset {offset})"
    with pytest.raises(batch.InputFileError, match=re.escape(expected)):
        batch.validate(flux_dev, path)
    with pytest.raises(batch.InputFileError, match="not UTF-8"):
        batch.run(flux_dev, path, journal=tmp_path / "j.db", client=client).wait()
    assert local_fal.requests_for("submit") == []


def test_a_latin1_csv_is_refused_by_the_command_line_with_status_2(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    (tmp_path / "latin1.csv").write_bytes(LATIN1_CSV)
    for extra in (["--dry-run"], ["--out", "out"]):
        done = cli(
            ["run", "fal-ai/flux/dev", "latin1.csv", "--journal", "j.db", *extra],
            base_url=local_fal.base_url,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "latin1.csv is not UTF-8: byte 0xe9 at line 2 (byte offset 10)" in done.stderr
        assert "bug" not in done.stderr
    assert local_fal.requests_for("submit") == []


def test_standard_input_that_is_not_utf8_is_refused(local_fal: LocalFal, tmp_path: Path) -> None:
    done = subprocess.run(
        cli_command("run", "fal-ai/flux/dev", "-", "--journal", "j.db", "--dry-run"),
        input=b'{"prompt": "caf\xe9"}\n',
        cwd=tmp_path,
        env=cli_env(local_fal.base_url),
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2 and "standard input is not UTF-8: byte 0xe9" in stderr


def test_a_file_that_is_not_csv_is_named_with_its_line(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    limit = csv.field_size_limit()
    path.write_text("prompt\nfine\n" + "x" * (limit + 1) + "\n")
    with pytest.raises(batch.InputFileError, match=r"huge.csv is not valid CSV at line 3: field"):
        batch.validate(flux_dev, path)


def test_the_input_file_as_journal_is_refused_and_left_as_it_was(
    local_fal: LocalFal, tmp_path: Path
) -> None:
    data = b'{"prompt": "a cat"}\n'
    (tmp_path / "rows.jsonl").write_bytes(data)
    for args in (
        ["run", "fal-ai/flux/dev", "rows.jsonl", "--journal", "rows.jsonl", "--out", "out"],
        ["run", "fal-ai/flux/dev", "rows.jsonl", "--journal", "rows.jsonl", "--dry-run"],
        ["status", "rows.jsonl"],
    ):
        done = cli(args, base_url=local_fal.base_url, cwd=tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert (
            "rows.jsonl is not a batch journal: SQLite cannot read it (file is not a database)"
            in done.stderr
        )
    assert (tmp_path / "rows.jsonl").read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]
    assert local_fal.requests_for("submit") == []


def test_status_of_a_folder_or_of_nothing_says_which(local_fal: LocalFal, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    folder = cli(["status", "folder"], base_url=local_fal.base_url, cwd=tmp_path, timeout=60)
    assert folder.returncode == 2 and "folder is a folder, not a journal file" in folder.stderr
    nothing = cli(["status", "none.db"], base_url=local_fal.base_url, cwd=tmp_path, timeout=60)
    assert nothing.returncode == 2 and "none.db does not exist" in nothing.stderr
    assert not (tmp_path / "none.db").exists()


def test_status_reads_no_journal_into_being(tmp_path: Path) -> None:
    with pytest.raises(batch.JournalError, match=r"missing\.db does not exist"):
        batch.status(tmp_path / "missing.db")
    assert list(tmp_path.iterdir()) == []


def test_another_programs_database_is_not_written_into(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
    db.close()
    before = path.read_bytes()
    with pytest.raises(batch.JournalError, match=r"app\.db is not a batch journal: .*tables users"):
        batch.run(flux_dev, rows(1), journal=path, client=client).wait()
    with pytest.raises(batch.JournalError, match=r"app\.db is not a batch journal"):
        batch.status(path)
    assert path.read_bytes() == before


def test_a_journal_is_still_a_journal(client: Client, tmp_path: Path) -> None:
    """The check looks at tables: an existing journal (and an empty new file) still opens."""
    journal = tmp_path / "j.db"
    assert batch.run(flux_dev, rows(2), journal=journal, client=client).wait().complete
    assert batch.status(journal).counts == {"completed": 2}
    empty = tmp_path / "empty.db"
    empty.touch()
    assert batch.run(flux_dev, rows(1), journal=empty, client=client).wait().complete
