"""Things a newcomer hands a file field or ``upload()`` that have a ``read`` but are no file: a
class (``io.BytesIO`` not called), a module (``os``, whose ``os.read`` needs a descriptor), a
text stream or any object whose ``read()`` gives text or something else. Each is refused with a
FileInputError (or, in a call, the field's InputValidationError) naming it, before any request:
they raised a raw TypeError from inside the upload, or said a class was a closed file."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest
from fal_endpoints import moondream2

from fal_typed import FileInputError, InputValidationError
from fal_typed.files import upload
from fal_typed.testing import LocalFal


class _ReadsText:
    """A non-seekable reader that gives str (a wrapper around a text stream)."""

    def read(self, size: int = -1) -> str:
        return "text"


class _ReadsNumbers:
    def read(self, size: int = -1) -> int:
        return 5


class _SeekableText(io.RawIOBase):
    """A seekable stream whose read() gives str: its content is sniffed before anything is sent."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 10 if whence == os.SEEK_END else 0

    def tell(self) -> int:
        return 0

    def read(self, size: int = -1) -> str:  # pyright: ignore[reportIncompatibleMethodOverride]
        return "abc"


NOT_FILES: list[tuple[str, Callable[[], object], str]] = [
    ("the class io.BytesIO", lambda: io.BytesIO, "cannot upload the class BytesIO"),
    ("the class io.FileIO", lambda: io.FileIO, "cannot upload the class FileIO"),
    ("the module os", lambda: os, "cannot upload the module os"),
    ("the module io", lambda: io, "cannot upload the module io"),
    ("a reader of str", _ReadsText, "read() returned str, not bytes"),
    ("a reader of int", _ReadsNumbers, "read() returned int, not bytes"),
    ("a seekable reader of str", _SeekableText, "read() returned str, not bytes"),
]
_IDS = [case[0] for case in NOT_FILES]


@pytest.mark.parametrize(("what", "value", "message"), NOT_FILES, ids=_IDS)
def test_upload_refuses_them_saying_what_they_are(
    local_fal: LocalFal, what: str, value: Callable[[], object], message: str
) -> None:
    with local_fal.client() as client, pytest.raises(FileInputError) as caught:
        upload(value(), client=client)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert message in str(caught.value)
    assert local_fal.requests_for() == []


@pytest.mark.parametrize(("what", "value", "message"), NOT_FILES, ids=_IDS)
def test_a_file_field_refuses_them_naming_the_field_before_any_request(
    local_fal: LocalFal, what: str, value: Callable[[], object], message: str
) -> None:
    with local_fal.client() as client, pytest.raises((FileInputError, InputValidationError)) as e:
        moondream2.run(image_url=value(), client=client)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    error = e.value
    if isinstance(error, InputValidationError):  # a class or module is no upload source at all
        assert error.fields == ["image_url"]
        assert "expected a URL string or a local file" in error.errors[0]["msg"]
    else:
        assert isinstance(error, FileInputError) and error.field == "image_url"
        assert message in str(error)
    assert local_fal.requests_for() == []
