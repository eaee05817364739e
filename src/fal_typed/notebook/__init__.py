"""Notebooks: results, files, statuses and logs that show themselves, and live progress.

In Jupyter (any IPython kernel) a result shows its files as a gallery and its other fields as a
table; an output file shows as an image (its bytes kept in the notebook), a video or audio player,
or a link with its size and type; a status or a log line reads as a line. A ``subscribe`` keeps one
display up to date with its queue position and logs, unless ``on_queue_update`` is given.

Nothing here imports IPython until a notebook asks for a display.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel

from .. import _jupyter
from .._checks import check_bool
from .._errors import InvalidArgumentError
from ._progress import Progress

if TYPE_CHECKING:
    from ..files._output import FileOutput

__all__ = ["Gallery", "Progress", "auto_progress", "gallery", "progress"]


def auto_progress(enabled: bool = True) -> None:
    """Whether ``subscribe`` shows its progress by itself in a Jupyter kernel (default: yes)."""
    _jupyter.auto_progress = check_bool("enabled", enabled)


def progress(endpoint_id: str | None = None, *, max_logs: int = 10) -> Progress:
    """A progress display to pass as ``on_queue_update`` (and its ``on_enqueue``).

    ``p = progress("fal-ai/flux/dev"); flux_dev.subscribe(..., with_logs=True,
    on_enqueue=p.on_enqueue, on_queue_update=p)``: in a notebook one display updates in place,
    in a terminal one line is printed per change.
    """
    return Progress(endpoint_id, max_logs=max_logs)


class Gallery:
    """Files side by side in a notebook, each captioned with where it came from."""

    def __init__(self, items: list[tuple[str, FileOutput]]) -> None:
        from ..files._output import FileOutput

        # Checked here, not when the notebook renders it (where the error would name nothing).
        given = cast("object", items)
        if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise InvalidArgumentError(
                f"items must be a list of (caption, file) pairs, got {type(given).__name__}"
            )
        pairs: list[object] = list(cast("Iterable[object]", given))
        for index, pair in enumerate(pairs):
            kind = type(pair).__name__
            fields = cast("tuple[object, ...]", pair) if isinstance(pair, tuple) else ()
            if not (
                len(fields) == 2
                and isinstance(fields[0], str)
                and isinstance(fields[1], FileOutput)
            ):
                raise InvalidArgumentError(
                    f"items[{index}] must be a (caption, file) pair: a str and a FileOutput, "
                    f"got {kind}"
                )
        self.items: list[tuple[str, FileOutput]] = cast("list[tuple[str, FileOutput]]", pairs)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Gallery({len(self.items)} files)"

    def _repr_html_(self) -> str:
        from ._html import gallery_html

        return gallery_html(self.items)


def gallery(*items: BaseModel | Iterable[BaseModel]) -> Gallery:
    """Every output file in ``items`` (results, files, lists of either) as one gallery:
    ``gallery(out.images)``, ``gallery(out1, out2)``."""
    from ._html import collect_files

    found: list[tuple[str, FileOutput]] = []
    for index, given in enumerate(items):
        item = _gallery_item(given, index)
        prefix = f"[{index}]" if len(items) > 1 else ""
        found.extend(collect_files(item, prefix))
    return Gallery(found)


def _gallery_item(item: object, index: int) -> object:
    """A result, a file or a list of them (any iterable but a string: a generator is read once
    here), or an error naming the item: anything else was skipped, so ``gallery(url)`` or
    ``gallery(f for f in files)`` showed an empty gallery without a word."""
    if isinstance(item, BaseModel):
        return item
    if isinstance(item, Iterable) and not isinstance(item, (str, bytes, bytearray)):
        entries = list(cast("Iterable[object]", item))
        for inner, entry in enumerate(entries):
            if not isinstance(entry, (BaseModel, list, tuple)):
                raise InvalidArgumentError(
                    f"gallery: item {index}[{inner}] is {type(entry).__name__}, not a result or "
                    "a file (give out.images, or the result itself)"
                )
        return entries
    hint = " (a URL: give the file, out.images[0], not its .url)" if isinstance(item, str) else ""
    raise InvalidArgumentError(
        f"gallery: item {index} is {type(item).__name__}, not a result, a file or a list of "
        f"them{hint}"
    )
