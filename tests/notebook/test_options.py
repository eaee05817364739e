"""``notebook.progress`` / ``Progress`` / ``auto_progress`` options, refused where given.

Before: ``max_logs`` took 1.5, "3", -1 and True (failing later inside the display's slicing,
or showing the wrong lines), ``min_interval`` took NaN (never redrawn again) and
``auto_progress("no")`` switched the display on.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fal_typed import FileOutput, InvalidArgumentError, notebook
from fal_typed.notebook import Progress


@pytest.mark.parametrize("value", [1.5, "3", True, None])
def test_max_logs_must_be_an_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        notebook.progress(max_logs=value)  # type: ignore[arg-type]
    assert caught.value.message == f"max_logs must be an int, got {type(value).__name__}"


@given(st.integers(max_value=-1))
def test_max_logs_must_not_be_negative(value: int) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^max_logs must be >= 0"):
        notebook.progress(max_logs=value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1, "0.2", True])
def test_min_interval_must_be_finite_seconds(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^min_interval must be"):
        Progress(min_interval=value, write=print)  # type: ignore[arg-type]


def test_write_must_be_callable() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^write must be callable, got str"):
        Progress(write="stdout")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["no", 0, None])
def test_auto_progress_takes_a_bool(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^enabled must be True or False"):
        notebook.auto_progress(value)  # type: ignore[arg-type]


def test_valid_options_are_kept() -> None:
    progress = Progress(max_logs=0, min_interval=0, write=print)
    assert progress.max_logs == 0 and progress.min_interval == 0


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (5, "items must be a list of (caption, file) pairs, got int"),
        ("a.png", "items must be a list of (caption, file) pairs, got str"),
        (["a.png"], "items[0] must be a (caption, file) pair: a str and a FileOutput, got str"),
        (
            [("a", "b")],
            "items[0] must be a (caption, file) pair: a str and a FileOutput, got tuple",
        ),
    ],
)
def test_a_gallery_is_built_from_caption_and_file_pairs(items: object, message: str) -> None:
    """Before, any items were kept and failed when the notebook rendered the gallery."""
    with pytest.raises(InvalidArgumentError) as caught:
        notebook.Gallery(items)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_a_gallery_of_pairs_is_kept_as_given() -> None:
    image = FileOutput(url="https://v3.fal.media/files/a.png", content_type="image/png")
    gallery = notebook.Gallery([("images[0]", image)])
    assert gallery.items == [("images[0]", image)] and len(gallery) == 1
    assert "a.png" in gallery._repr_html_()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (("https://x.test/a.png",), "gallery: item 0 is str, not a result, a file or a list"),
        ((5,), "gallery: item 0 is int, not a result, a file or a list of them"),
        (([1],), "gallery: item 0[0] is int, not a result or a file"),
        ((None,), "gallery: item 0 is NoneType"),
    ],
)
def test_gallery_refuses_what_holds_no_result_or_file(
    items: tuple[object, ...], message: str
) -> None:
    """They were skipped: gallery(out.images[0].url) showed an empty gallery without a word."""
    with pytest.raises(InvalidArgumentError) as caught:
        notebook.gallery(*items)  # type: ignore[arg-type]
    assert caught.value.message.startswith(message)


def test_gallery_reads_any_iterable_of_files() -> None:
    """A generator (the signature's Iterable) was skipped: only lists and tuples were read."""

    files = [FileOutput(url="https://x.test/a.png"), FileOutput(url="https://x.test/b.png")]
    assert len(notebook.gallery(f for f in files).items) == 2
    assert len(notebook.gallery([files]).items) == 2
