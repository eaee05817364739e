"""The endpoints installed here, listed and searched without importing one endpoint module.

Endpoint modules live in the ``fal_endpoints`` namespace package, whose portions (one
``fal_endpoints/`` folder per ``sys.path`` entry that has one) are read in the order ``import``
reads them, so the first portion holding a module is the one listed, as it is the one imported:

* a package ``<module>/`` holding ``endpoint.json`` (:func:`index_record`: id, module, title,
  category, description) and usually ``openapi.json``, the endpoint's document, which the local
  server serves: what each endpoint wheel installs, and what ``fal-typed add`` writes into a
  project;
* the generated package of a source checkout, whose ``_index`` module lists its endpoints (their
  documents are the checkout's ``schemas/``), in either layout (``<module>.py`` or
  ``<module>/__init__.py``).

A listing reads one small file per endpoint (or the checkout's index, once): ~1,000 endpoints
list in a few tens of milliseconds (``bench/bench_installed.py``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from ._errors import InvalidArgumentError
from .naming import check_endpoint_id, module_name

__all__ = [
    "DOCUMENT_FILE",
    "INDEX_FILE",
    "EndpointInfo",
    "InstalledEndpoint",
    "category_note",
    "compact_document",
    "display_name",
    "index_record",
    "installed_documents",
    "installed_endpoints",
    "namespace_portions",
    "rank",
    "scan",
    "search",
]

NAMESPACE: Final = "fal_endpoints"
INDEX_FILE: Final = "endpoint.json"
"""In ``fal_endpoints/<module>/``: what listing and searching need to know about the endpoint."""
DOCUMENT_FILE: Final = "openapi.json"
"""In ``fal_endpoints/<module>/``: the endpoint's OpenAPI document (compact), for the local server."""
_CHECKOUT_INDEX: Final = "_index"
_MAX_RECORD_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class EndpointInfo:
    """One installed endpoint: what it is called, where its module is and what it does."""

    endpoint_id: str
    """fal's id, e.g. ``fal-ai/flux/dev``."""
    module: str
    """The module: ``from fal_endpoints import <module>``."""
    title: str
    """A short human name, e.g. ``Flux Dev``."""
    category: str
    """fal's category, e.g. ``text-to-image`` (``unknown`` when the document has none)."""
    description: str
    """The endpoint's description (its first line, for a checkout's generated package)."""


@dataclass(frozen=True)
class InstalledEndpoint:
    """An :class:`EndpointInfo` and where it was found."""

    info: EndpointInfo
    portion: Path
    """The ``fal_endpoints/`` folder holding its module."""
    document: Path | None
    """Its OpenAPI document, when installed beside the module (``openapi.json``)."""


_SEPARATORS: Final = re.compile(r"[/_\-\s]+")


def display_name(endpoint_id: str) -> str:
    """A title made from an id, owner left out: ``fal-ai/flux/dev`` -> ``Flux Dev``."""
    path = endpoint_id.strip("/").split("/", 1)[-1]
    return " ".join(word[:1].upper() + word[1:] for word in _SEPARATORS.split(path) if word)


def index_record(endpoint_id: str, category: str | None, description: str | None) -> bytes:
    """The ``endpoint.json`` of an endpoint package (written by the wheel builder and ``add``)."""
    record = {
        "endpoint_id": endpoint_id,
        "module": module_name(endpoint_id),
        "title": display_name(endpoint_id),
        "category": category or "unknown",
        "description": (description or "").strip(),
    }
    return (json.dumps(record, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def compact_document(raw: bytes) -> bytes:
    """An endpoint's document as ``openapi.json`` holds it: same content and key order, no
    layout (about a third smaller before compression)."""
    return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def namespace_portions() -> list[Path]:
    """The ``fal_endpoints/`` folders on ``sys.path``, in import order (none: an empty list)."""
    try:
        spec = importlib.util.find_spec(NAMESPACE)
    except (ImportError, ValueError):
        return []
    locations = spec.submodule_search_locations if spec is not None else None
    return [Path(location) for location in locations or ()]


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _read_record(package: Path) -> EndpointInfo | None:
    """The package's ``endpoint.json``, if it has a sound one (its id names this package)."""
    try:
        with open(package / INDEX_FILE, "rb") as handle:
            raw = handle.read(_MAX_RECORD_BYTES + 1)
    except OSError:  # no such file, or the entry is a module file, not a package
        return None
    if len(raw) > _MAX_RECORD_BYTES:
        return None
    try:
        record: object = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    fields = cast("dict[str, Any]", record)
    try:
        endpoint_id = check_endpoint_id(_text(fields, "endpoint_id"))
        expected = module_name(endpoint_id)
    except ValueError:
        return None
    if expected != package.name:
        return None
    return EndpointInfo(
        endpoint_id=endpoint_id,
        module=expected,
        title=_text(fields, "title") or display_name(endpoint_id),
        category=_text(fields, "category") or "unknown",
        description=_text(fields, "description"),
    )


_checkout_indexes: dict[tuple[str, int], list[tuple[str, str, str, str]]] = {}


def _checkout_index(path: Path) -> list[tuple[str, str, str, str]]:
    """``(id, module, category, description)`` rows of a checkout's generated ``_index``, loaded
    from that very file (cached while it is unchanged)."""
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return []
    cached = _checkout_indexes.get(stamp)
    if cached is not None:
        return cached
    spec = importlib.util.spec_from_file_location(
        f"_fal_typed_checkout_index_{len(_checkout_indexes)}", path
    )
    rows: list[tuple[str, str, str, str]] = []
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:  # a broken or foreign _index: list nothing from it
            return []
        endpoints: object = getattr(module, "ENDPOINTS", {})
        if isinstance(endpoints, dict):
            for endpoint_id, entry in cast("dict[object, object]", endpoints).items():
                if isinstance(endpoint_id, str) and isinstance(entry, tuple):
                    fields = [str(part) for part in cast("tuple[object, ...]", entry)[:3]]
                    if len(fields) == 3:
                        rows.append((endpoint_id, fields[0], fields[1], fields[2]))
    _checkout_indexes[stamp] = rows
    return rows


def _scan_portion(portion: Path) -> Iterator[InstalledEndpoint]:
    try:
        names = set(os.listdir(portion))
    except OSError:
        return
    listed: set[str] = set()
    for name in sorted(names):
        if name.startswith((".", "_")) or name.endswith((".py", ".pyc", ".json")):
            continue
        package = portion / name
        info = _read_record(package)
        if info is None:
            continue
        listed.add(info.module)
        document = package / DOCUMENT_FILE
        yield InstalledEndpoint(info, portion, document if document.is_file() else None)
    for index_name in (f"{_CHECKOUT_INDEX}.py", f"{_CHECKOUT_INDEX}/__init__.py"):
        index = portion / index_name
        if not index.is_file():
            continue
        for endpoint_id, module, category, description in _checkout_index(index):
            if module in listed or not (f"{module}.py" in names or module in names):
                continue
            listed.add(module)
            info = EndpointInfo(
                endpoint_id, module, display_name(endpoint_id), category or "unknown", description
            )
            yield InstalledEndpoint(info, portion, None)
        break


def scan() -> list[InstalledEndpoint]:
    """Every installed endpoint once, from the first portion holding its module, sorted by id."""
    found: dict[str, InstalledEndpoint] = {}
    for portion in namespace_portions():
        for entry in _scan_portion(portion):
            found.setdefault(entry.info.module, entry)
    return sorted(found.values(), key=lambda e: e.info.endpoint_id)


def installed_endpoints() -> list[EndpointInfo]:
    """Every endpoint whose module is installed (wheels, a checkout, ``fal-typed add``), by id.

    Nothing is imported: each endpoint package's ``endpoint.json`` is read, or a checkout's
    index.
    """
    return [entry.info for entry in scan()]


def installed_documents() -> dict[str, Path]:
    """``{endpoint id: its installed OpenAPI document}`` (what the local server serves)."""
    return {e.info.endpoint_id: e.document for e in scan() if e.document is not None}


def _score(info: EndpointInfo, words: list[str], query: str) -> int | None:
    """How well ``info`` matches (higher is better), or ``None`` if a word is missing."""
    endpoint_id, module = info.endpoint_id.lower(), info.module.lower()
    if query in (endpoint_id, module):
        return 1_000
    segments = set(re.split(r"[/_\-]+", endpoint_id)) | set(module.split("_"))
    title, category = info.title.lower(), info.category.lower()
    description = info.description.lower()
    score = 0
    for word in words:
        if word in segments:
            score += 8
        elif word in endpoint_id or word in module:
            score += 4
        elif word in title:
            score += 2
        elif word in category:
            score += 1
        elif word not in description:
            return None
    return score


def _wanted_category(category: str) -> str:
    """``category`` as matched: in lower case, spaces around it ignored (``Text-To-Image``)."""
    wanted = category.strip().lower()
    if not wanted:
        raise InvalidArgumentError(
            f"category {category!r} is empty: leave it out to list every category"
        )
    return wanted


def category_note(category: str, infos: Sequence[EndpointInfo]) -> str | None:
    """For a listing that came out empty: that none of ``infos`` has ``category``, the close
    ones and every category they have; None when one has it. A typo ('text-to-imag') listed
    nothing, as if the category were empty; a category real but not installed must stay an
    empty listing (scripts loop over fal's categories), so this is said, not raised."""
    wanted = _wanted_category(category)
    known = sorted({info.category for info in infos if info.category})
    if wanted in {name.lower() for name in known}:
        return None
    import difflib

    close = difflib.get_close_matches(wanted, known, n=3)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    return f"no endpoint listed has the category {category!r}: {hint}the categories are " + (
        ", ".join(known) or "none"
    )


def rank(
    infos: Iterable[EndpointInfo], query: str = "", *, category: str | None = None
) -> list[EndpointInfo]:
    """``infos`` matching every word of ``query`` (and ``category``), best first (see
    :func:`search`); an empty query keeps them all, sorted by id."""
    text = " ".join(query.lower().split())
    words = text.split()
    infos = list(infos)
    wanted = None if category is None else _wanted_category(category)
    scored: list[tuple[int, EndpointInfo]] = []
    for info in infos:
        if wanted is not None and info.category.lower() != wanted:
            continue
        score = _score(info, words, text)
        if score is not None:
            scored.append((score, info))
    # Equal scores: the shorter id first (``fal-ai/flux/dev`` before ``fal-ai/flux-1/dev``).
    scored.sort(
        key=lambda item: (-item[0], len(item[1].endpoint_id) if words else 0, item[1].endpoint_id)
    )
    return [info for _, info in scored]


def search(query: str = "", *, category: str | None = None) -> list[EndpointInfo]:
    """Installed endpoints matching every word of ``query`` (case-insensitive) in their id,
    module, title, category or description, best first; ``category`` keeps one category only.

    A word that is a whole segment of the id (or of the module name) counts most, then a part
    of the id or module, the title, the category, the description. ``search("flux dev")``
    puts ``fal-ai/flux/dev`` (module ``flux_dev``) first; an exact id or module name always
    comes first. An empty query lists every endpoint, by id.
    """
    if not isinstance(query, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"query must be a string, got {type(query).__name__}")
    if category is not None and not isinstance(category, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidArgumentError(f"category must be a string, got {type(category).__name__}")
    return rank(installed_endpoints(), query, category=category)
