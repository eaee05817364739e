"""Saving output files: atomic, nothing left behind, names a server chose made safe, umask honoured,
``save("dir/")`` creating the folder. Files served by the local server, over real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fal_typed import Client, InvalidArgumentError
from fal_typed.files._names import MAX_NAME_LENGTH, output_file_name, safe_file_name
from fal_typed.files._output import FileOutput
from fal_typed.files._save import remove_stale_parts
from fal_typed.files._upload import upload

from ..peers.sse import ScriptedPeer, drip, serving
from .conftest import StorageServer

DATA = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64


class Image(FileOutput):
    url: str
    file_name: str | None = None
    content_type: str | None = None


@pytest.fixture
def url(server: StorageServer, client: Client) -> str:
    return upload(DATA, file_name="result.png", client=client)


def debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize(
    ("given", "saved_as"),
    [
        (".bashrc", "bashrc.png"),  # no dotfile; the content type gives the extension
        ("../../.ssh/authorized_keys", "authorized_keys.png"),
        ("..\\..\\evil.png", "evil.png"),
        ("a b/c:d*e?.png", "c_d_e_.png"),
        ("...", "result.png"),  # nothing usable: the URL's name
        ("x" * 250 + ".png", "x" * (MAX_NAME_LENGTH - 4) + ".png"),
        ("名前.png", "_.png"),
        # Windows opens a device for these, whatever the extension or case: not a file
        ("con.txt", "_con.txt"),
        ("NUL", "_NUL.png"),
        ("com1.png", "_com1.png"),
        ("Lpt9.tar.gz", "_Lpt9.tar.gz"),
        ("console.png", "console.png"),
    ],
)
def test_a_name_the_server_chose_is_made_safe(
    url: str, client: Client, tmp_path: Path, given: str, saved_as: str
) -> None:
    (tmp_path / ".bashrc").write_text("mine")
    target = Image(url=url, file_name=given, content_type="image/png").save(tmp_path, client=client)
    assert target == tmp_path / saved_as and target.read_bytes() == DATA
    assert (tmp_path / ".bashrc").read_text() == "mine"
    assert debris(tmp_path) == []


def test_names_are_made_safe_the_same_way_in_the_library_and_the_cli() -> None:
    from fal_typed.cli._output import _file_name  # pyright: ignore[reportPrivateUsage]

    for name in (".bashrc", "../x.png", "y" * 300, "", None, "clip"):
        node = {"file_name": name, "content_type": "video/mp4"}
        library = output_file_name("https://h/f/z.mp4", name, "video/mp4", fallback="output-1")
        assert _file_name("https://h/f/z.mp4", node, 1) == library
    assert safe_file_name("..") is None and safe_file_name(".") is None


@pytest.mark.parametrize("bad", ["https://[oops/a.png", "https://a]b/c.png"])
def test_a_url_urlsplit_cannot_read_gives_no_name_and_no_raw_value_error(
    tmp_path: Path, bad: str
) -> None:
    """A server-written URL urlsplit refuses ('Invalid IPv6 URL') raised ValueError out of
    save() into a folder, the CLI's --save and a batch's file naming, before any download; it
    now gives no name (the file_name, or the fallback, is used) and the download says what is
    wrong with the URL."""
    from fal_typed import FalError
    from fal_typed.batch._downloads import _extension  # pyright: ignore[reportPrivateUsage]
    from fal_typed.cli._output import _file_name  # pyright: ignore[reportPrivateUsage]

    assert output_file_name(bad, None, "image/png", fallback="output-1") == "output-1.png"
    assert _file_name(bad, {"content_type": "image/png"}, 1) == "output-1.png"
    assert _extension(bad, {"content_type": "image/png"}) == ".png"
    assert _extension("x", {"file_name": "//[x.png", "content_type": "image/png"}) == ".png"
    from fal_typed.files._protocol import signed_query

    assert signed_query(bad + "?X-Sig=abcdef") == (bad + "?X-Sig=abcdef",)  # scrubbed whole
    with pytest.raises(FalError):
        Image(url=bad, content_type="image/png").save(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_save_into_a_path_ending_with_a_separator_creates_the_folder(
    url: str, client: Client, tmp_path: Path, mode: str
) -> None:
    image = Image(url=url, file_name="cat.png")
    folder = tmp_path / "new" / "outputs"
    if mode == "sync":
        target = image.save(f"{folder}/", client=client)
    else:
        target = asyncio.run(image.asave(f"{folder}{os.sep}", client=client))
    assert target == folder / "cat.png" and target.read_bytes() == DATA


def test_save_into_an_existing_folder_keeps_the_name_and_a_missing_parent_is_refused(
    url: str, client: Client, tmp_path: Path
) -> None:
    image = Image(url=url, file_name="cat.png")
    assert image.save(tmp_path, client=client) == tmp_path / "cat.png"
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        image.save(tmp_path / "missing" / "cat.png", client=client)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgumentError, match="file is a file, not a folder"):
        image.save(f"{tmp_path / 'file'}/", client=client)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_get_the_mode_the_umask_gives(
    url: str, client: Client, tmp_path: Path, umask: int
) -> None:
    previous = os.umask(umask)
    try:
        target = Image(url=url).save(tmp_path / "out.png", client=client)
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_files_of_the_target_are_removed_others_kept(
    url: str, client: Client, tmp_path: Path
) -> None:
    stale = tmp_path / f".out.png.{_dead_pid()}.0123abcd.part"
    live = tmp_path / f".out.png.{os.getppid()}.0123abcd.part"  # a writer that still runs
    ours = tmp_path / f".out.png.{os.getpid()}.89abcdef.part"  # another thread of ours
    other_target = tmp_path / f".out.png.1.{_dead_pid()}.0123abcd.part"  # of "out.png.1"
    for path in (stale, live, ours, other_target):
        path.write_bytes(b"partial")
    Image(url=url).save(tmp_path / "out.png", client=client)
    assert not stale.exists()
    assert live.exists() and ours.exists() and other_target.exists()
    assert remove_stale_parts(tmp_path / "out.png") == 0


@pytest.fixture
def dripping() -> Iterator[ScriptedPeer]:
    with serving() as peer:
        peer.script = drip(10_000, interval=0.05)
        yield peer


def test_a_save_killed_mid_way_leaves_no_debris_next_time(
    dripping: ScriptedPeer, url: str, client: Client, tmp_path: Path
) -> None:
    target = tmp_path / "out.png"
    code = textwrap.dedent(
        f"""
        from fal_typed import Client
        from fal_typed.files._output import FileOutput

        class Image(FileOutput):
            url: str

        Image(url={dripping.url + "/files/slow.png"!r}).save({str(target)!r}, client=Client("k"))
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not debris(tmp_path):
            assert time.monotonic() < deadline and child.poll() is None, "no save started"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert len(debris(tmp_path)) == 1 and not target.exists()  # what a kill leaves
    Image(url=url).save(target, client=client)  # the next save of the same target
    assert target.read_bytes() == DATA
    assert debris(tmp_path) == []


# -- targets that are not regular files: a save renames over what is there ------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the socket file stays


def _device(path: Path) -> None:
    """A character device like /dev/null (1, 3), made in the test's own folder: root only."""
    import stat

    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))


_IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SPECIAL_FILES = [
    pytest.param(_fifo, "a named pipe (FIFO)", id="fifo"),
    pytest.param(_socket, "a socket", id="socket"),
    pytest.param(
        _device,
        "a character device",
        id="device",
        marks=pytest.mark.skipif(not _IS_ROOT, reason="mknod needs root"),
    ),
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize(("make", "kind"), SPECIAL_FILES)
@pytest.mark.parametrize("how", ["save", "asave", "save into its folder"])
def test_a_special_file_at_the_target_is_refused_and_left_as_it_is(
    url: str, client: Client, tmp_path: Path, make: object, kind: str, how: str
) -> None:
    """save("/dev/null") run as root renamed a regular file over the device node."""
    import stat

    assert callable(make)
    target = tmp_path / ("result.png" if how == "save into its folder" else "special")
    make(target)
    before = os.lstat(target)
    image = Image(url=url, file_name="result.png")
    with pytest.raises(InvalidArgumentError) as caught:
        if how == "asave":
            asyncio.run(image.asave(target, client=client))
        elif how == "save":
            image.save(target, client=client)
        else:
            image.save(tmp_path, client=client)
    assert f"it is {kind}, not a regular file" in str(caught.value)
    after = os.lstat(target)
    assert (
        stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    )
    assert debris(tmp_path) == []


def test_a_folder_named_like_the_file_in_the_save_folder_is_refused(
    url: str, client: Client, tmp_path: Path
) -> None:
    (tmp_path / "result.png").mkdir()
    with pytest.raises(InvalidArgumentError, match="it is a directory, not a regular file"):
        Image(url=url, file_name="result.png").save(tmp_path, client=client)


def test_a_symbolic_link_at_the_target_is_replaced_not_written_through(
    url: str, client: Client, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    (tmp_path / "link.png").symlink_to(elsewhere)
    saved = Image(url=url).save(tmp_path / "link.png", client=client)
    assert saved.read_bytes() == DATA and not saved.is_symlink()
    assert elsewhere.read_text() == "untouched"


@pytest.mark.parametrize("path", [3, b"out.png", None])
def test_a_path_of_another_kind_is_refused_naming_it(
    url: str, client: Client, path: object
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"path must be a str or an os\.PathLike of str"):
        Image(url=url).save(path, client=client)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
