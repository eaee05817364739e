"""Which strings are endpoint ids, and the one rule from an endpoint id to a Python module name.

**The id grammar** (:func:`check_endpoint_id`). An id that names a document of the catalog and a
generated module is ``owner/app[/path...]``: two or more segments joined by single ``/``, each
segment an ASCII letter or digit followed by ASCII letters, digits, ``.``, ``_`` or ``-``, at most
200 characters in all, and an id the runtime can address (``workflows/`` and ``comfy/`` ids name
an owner and an app after the namespace, see ``_urls.py``). Every one of the 1,621 ids fal has
published fits it. Ids are read from the network (catalog records, documents), so the check is a
full match (no ``$`` that lets a trailing newline through) and allows no control characters,
quotes, backslashes or non-ASCII look-alikes: an id that passes can be written anywhere as it is.

**The module name rule** (:func:`module_name`).

The rule is a pure function of the id (so adding ids never renames an existing module) and is
collision-free over every id fal has published (``tests/test_naming.py`` checks the full list):

1. Split the id on ``/``. The first segment is the owner.
2. Each remaining segment is lower-cased, every run of characters outside ``[a-z0-9]`` becomes a
   single ``_``, and the segments are joined with ``_`` (runs of ``_`` collapse to one, so the
   body never contains ``__``).
3. For the owner ``fal-ai`` the body is the name (``fal-ai/flux/dev`` -> ``flux_dev``). Any other
   owner is normalised the same way and joined to the body with ``__``
   (``bytedance/seedream/v4`` -> ``bytedance__seedream_v4``, distinct from
   ``fal-ai/bytedance/seedream/v4`` -> ``bytedance_seedream_v4``).
4. A name starting with a digit gets the prefix ``m_``; a Python keyword gets a trailing ``_``.
5. An id with capital letters gets ``_`` and the first 6 hex digits of its SHA-256 appended, so
   ids that differ only in case stay distinct on case-insensitive file systems
   (``CassetteAI/music-generator`` -> ``cassetteai__music_generator_c78a56``).
"""

from __future__ import annotations

import hashlib
import keyword
import re

from ._errors import InvalidArgumentError
from ._urls import NAMESPACES, PADDED_HINT, is_padded

__all__ = ["check_endpoint_id", "module_name", "split_endpoint_id"]

# fal's longest id has 62 characters; 200 keeps its file and module names under 255 bytes.
_MAX_LENGTH = 200

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_UNDERSCORES = re.compile(r"_+")
_FAL_OWNER = "fal-ai"


def _normalise(segment: str) -> str:
    return _UNDERSCORES.sub("_", _NON_ALNUM.sub("_", segment.lower())).strip("_")


def check_endpoint_id(endpoint_id: object) -> str:
    """Return ``endpoint_id`` if it fits the id grammar (module docstring), else raise
    :class:`~fal_typed.InvalidArgumentError` (a ``ValueError``) naming it (shown with ``repr``,
    so no control character reaches a terminal)."""
    if not isinstance(endpoint_id, str):
        raise InvalidArgumentError(f"invalid endpoint id {endpoint_id!r}: expected a string")
    if len(endpoint_id) > _MAX_LENGTH:
        raise InvalidArgumentError(
            f"invalid endpoint id {endpoint_id[:40]!r}...: longer than {_MAX_LENGTH} characters"
        )
    if not _ID.fullmatch(endpoint_id):
        if is_padded(endpoint_id) and _ID.fullmatch(endpoint_id.strip()):  # stripping fixes it
            raise InvalidArgumentError(f"invalid endpoint id {endpoint_id!r}{PADDED_HINT}")
        raise InvalidArgumentError(
            f"invalid endpoint id {endpoint_id!r}: expected 'owner/app[/path...]' made of "
            "ASCII letters, digits, '.', '_' and '-', each segment starting with a letter or digit"
        )
    namespace, *rest = endpoint_id.split("/")
    if namespace in NAMESPACES and len(rest) < 2:
        raise InvalidArgumentError(
            f"invalid endpoint id {endpoint_id!r}: expected '{namespace}/owner/app[/path...]'"
        )
    return endpoint_id


def split_endpoint_id(endpoint_id: str) -> list[str]:
    """Split an endpoint id into its segments, rejecting ids that cannot name an endpoint."""
    if not isinstance(endpoint_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"invalid endpoint id {endpoint_id!r}: expected a string")
    segments = endpoint_id.strip("/").split("/")
    if len(segments) < 2 or any(not s for s in segments):
        raise InvalidArgumentError(
            f"invalid endpoint id {endpoint_id!r}: expected 'owner/app[/path...]'"
        )
    return segments


def module_name(endpoint_id: str) -> str:
    """Return the ``fal_endpoints`` module name for ``endpoint_id`` (see the module docstring)."""
    owner, *rest = split_endpoint_id(endpoint_id)
    body = _UNDERSCORES.sub("_", "_".join(_normalise(s) for s in rest)).strip("_")
    name = body if owner == _FAL_OWNER else f"{_normalise(owner)}__{body}"
    if not name or name[0].isdigit():
        name = f"m_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    if endpoint_id != endpoint_id.lower():
        name += "_" + hashlib.sha256(endpoint_id.encode()).hexdigest()[:6]
    return name
