"""`UploadSettings`: the tunables of uploads, with fal's own defaults, validated when built.

The process-wide default applies to automatic uploads of call inputs (which take no per-call
options); ``upload()`` also accepts ``settings=`` for one call.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._checks import check_bool, check_count, check_seconds
from .._errors import InvalidArgumentError

__all__ = ["MiB", "UploadSettings", "configure_uploads", "upload_settings"]

MiB = 1 << 20


@dataclass(frozen=True)
class UploadSettings:
    """How files are uploaded.

    - ``multipart_threshold``: files larger than this go multipart (fal: 100 MiB); up to it, one POST.
    - ``part_size``: size of each multipart part but the last (fal: 10 MiB).
    - ``max_concurrency``: parts of one file in flight at once (fal: 10).
    - ``attempts``: tries per part and per single-body request before giving up (>= 1); a failed
      part is retried on its own, the file is never restarted.
    - ``retry_backoff``: first retry delay in seconds, doubled per retry with jitter (capped at 5 s).
    - ``fallback``: when the CDN flow fails, try fal's storage initiate + PUT flow.
    - ``data_uri_threshold``: automatic uploads of call inputs smaller than this many bytes are
      sent inline as ``data:`` URIs instead; ``0`` (the default) turns this off, because fal
      recommends URLs for anything above a few KB.
    - ``max_parallel_files``: automatic uploads of one call run this many files at once.
    - ``max_file_bytes``: the largest local file (path or file object) accepted as an upload
      (16 GiB); a larger one is refused before anything is read or sent, and a pipe given as a
      file object is read no further than this.
    - ``local_file_strings``: whether a string given for a file field of a call may name a local
      file, uploaded like a ``Path`` (``image_url="cat.jpg"``). Off by default: a service passing
      its users' strings into file fields would otherwise upload whatever local file they name
      (``"~/.aws/credentials"``) to fal's storage. Off, such a string is refused without the
      filesystem being looked at; pass ``Path("cat.jpg")`` instead. The command line and batch
      input files always read their file options as local files: there the strings are the
      user's own.
    """

    multipart_threshold: int = 100 * MiB
    part_size: int = 10 * MiB
    max_concurrency: int = 10
    attempts: int = 4
    retry_backoff: float = 0.1
    fallback: bool = True
    data_uri_threshold: int = 0
    max_parallel_files: int = 4
    max_file_bytes: int = 16 * 1024 * MiB
    local_file_strings: bool = False

    def __post_init__(self) -> None:
        positive = (
            "multipart_threshold",
            "part_size",
            "max_concurrency",
            "attempts",
            "max_parallel_files",
            "max_file_bytes",
        )
        # Checked at run time: settings often come from config files or the environment.
        for name in (*positive, "data_uri_threshold"):
            least = 0 if name == "data_uri_threshold" else 1
            check_count(f"UploadSettings.{name}", getattr(self, name), minimum=least)
        for name in ("fallback", "local_file_strings"):
            check_bool(f"UploadSettings.{name}", getattr(self, name))
        check_seconds("UploadSettings.retry_backoff", self.retry_backoff)


_current = UploadSettings()


def upload_settings() -> UploadSettings:
    """The process-wide upload settings."""
    return _current


def configure_uploads(**changes: Any) -> UploadSettings:
    """Change process-wide upload settings, e.g. ``configure_uploads(data_uri_threshold=65536)``.

    Unknown names or invalid values raise :class:`~fal_typed.InvalidArgumentError` (a
    ``ValueError``) naming them, and change nothing. Returns the new settings.
    """
    global _current
    known = {spec.name for spec in dataclasses.fields(UploadSettings)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidArgumentError(
            f"unknown upload setting {', '.join(map(repr, unknown))}; "
            f"the settings are {', '.join(sorted(known))}"
        )
    _current = dataclasses.replace(_current, **changes)
    return _current
