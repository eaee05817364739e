"""The one rule from a fal endpoint id to a Python module name.

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

__all__ = ["module_name", "split_endpoint_id"]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_UNDERSCORES = re.compile(r"_+")
_FAL_OWNER = "fal-ai"


def _normalise(segment: str) -> str:
    return _UNDERSCORES.sub("_", _NON_ALNUM.sub("_", segment.lower())).strip("_")


def split_endpoint_id(endpoint_id: str) -> list[str]:
    """Split an endpoint id into its segments, rejecting ids that cannot name an endpoint."""
    segments = endpoint_id.strip("/").split("/")
    if len(segments) < 2 or any(not s for s in segments):
        raise ValueError(f"invalid endpoint id {endpoint_id!r}: expected 'owner/app[/path...]'")
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
