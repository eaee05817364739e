"""Write a wheel archive byte for byte the same every time.

A wheel is a zip file whose last member is ``<name>-<version>.dist-info/RECORD``, listing every
other member with its SHA-256 and size (the wheel spec, PEP 427 / PEP 491). Reproducibility comes
from what is left out of the bytes: members are sorted, every timestamp is one fixed date, every
permission is ``0644``, the creating system is always Unix and the compression level is fixed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ZIP_EPOCH", "record_hash", "wheel_bytes", "write_wheel"]

# The earliest date a zip entry can carry is 1980-01-01; one day later keeps any timezone
# conversion a reader applies from underflowing.
ZIP_EPOCH = (1980, 1, 2, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_UNIX = 3
_LEVEL = 6


def record_hash(data: bytes) -> str:
    """Return the ``sha256=<urlsafe base64, unpadded>`` form RECORD uses."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _check_member(name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid wheel member name {name!r}")


def _record(files: Mapping[str, bytes], record_name: str) -> bytes:
    lines = [f"{name},{record_hash(data)},{len(data)}" for name, data in files.items()]
    lines.append(f"{record_name},,")
    return ("\n".join(lines) + "\n").encode("utf-8")


def wheel_bytes(files: Mapping[str, bytes], dist_info: str) -> bytes:
    """Return the wheel archive holding ``files`` plus a generated ``<dist_info>/RECORD``.

    ``files`` maps archive paths to contents and must already contain ``<dist_info>/METADATA``
    and ``<dist_info>/WHEEL``. Package files come first, then ``.dist-info``, RECORD last.
    """
    record_name = f"{dist_info}/RECORD"
    for name in files:
        _check_member(name)
    missing = [f"{dist_info}/{n}" for n in ("METADATA", "WHEEL") if f"{dist_info}/{n}" not in files]
    if missing:
        raise ValueError(f"wheel is missing {', '.join(missing)}")
    if record_name in files:
        raise ValueError(f"{record_name} is written by the archive writer, do not pass it")
    ordered = dict(
        sorted(files.items(), key=lambda item: (item[0].startswith(dist_info + "/"), item[0]))
    )
    ordered[record_name] = _record(ordered, record_name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in ordered.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = _FILE_MODE
            info.create_system = _UNIX
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=_LEVEL)
    return buffer.getvalue()


def write_wheel(path: Path, files: Mapping[str, bytes], dist_info: str) -> Path:
    """Write :func:`wheel_bytes` to ``path`` atomically (a reader never sees half a wheel)."""
    data = wheel_bytes(files, dist_info)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path
