"""The endpoints the local server serves: one fal OpenAPI document per endpoint, loaded lazily.

Documents come from a directory (file ``owner__app__path.json`` is endpoint ``owner/app/path``)
and, by default, from the installed endpoint packages (``fal_endpoints/<module>/openapi.json``,
found by ``fal_typed._installed``), so a wheels-only install serves what it has. Startup only
lists them; a document is parsed and normalised the first time its endpoint is used.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._checks import path_text
from .._errors import InvalidArgumentError
from ..catalog._git import GitError, documents_at
from ._json import as_dict
from ._schema import COMPONENT_PREFIX, SchemaValidator, normalise_components

__all__ = [
    "EndpointCatalog",
    "EndpointSchema",
    "app_root",
    "default_documents",
    "default_schemas_dir",
    "resolve_endpoint",
    "schemas_at_revision",
    "split_path",
]

logger = logging.getLogger("fal_typed.testing")

_NAMESPACES: Final = frozenset({"workflows", "comfy"})
_LEGACY_ID: Final = re.compile(r"^([0-9]+)-([a-zA-Z0-9-]+)$")
SCHEMAS_ENV: Final = "FAL_TYPED_SCHEMAS"


def split_path(path: str) -> list[str]:
    """Non-empty segments of a URL path, with fal's legacy ``<digits>-<slug>`` id expanded."""
    segments = [s for s in path.split("/") if s]
    if len(segments) == 1:
        match = _LEGACY_ID.match(segments[0])
        if match:
            return [match.group(1), match.group(2)]
    return segments


def app_root(endpoint_id: str) -> str:
    """``[namespace/]owner/alias``: the part of an id that status/result/cancel URLs use."""
    segments = split_path(endpoint_id)
    width = 3 if segments and segments[0] in _NAMESPACES else 2
    return "/".join(segments[:width])


def default_documents() -> dict[str, Path]:
    """The documents installed beside the endpoint modules (wheels, ``fal-typed add``)."""
    from .._installed import installed_documents

    return installed_documents()


def default_schemas_dir() -> Path | None:
    """``$FAL_TYPED_SCHEMAS`` if set, else the ``schemas/`` folder of a source checkout, if any."""
    configured = os.environ.get(SCHEMAS_ENV)
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[3] / "schemas"
    if checkout.is_dir() and any(checkout.glob("*.json")):
        return checkout
    return None


def schemas_at_revision(
    directory: str | os.PathLike[str] | None, revision: str
) -> tempfile.TemporaryDirectory[str]:
    """The documents of ``directory`` (default: :func:`default_schemas_dir`) as git recorded
    them at ``revision``, written into a new temporary directory (removed with the object).

    ``ValueError`` names the problem: no directory, not in a git repository, unknown revision.
    """
    source = Path(directory) if directory is not None else default_schemas_dir()
    if source is None:
        raise ValueError("a revision needs a schemas directory inside a git checkout")
    try:
        documents = documents_at(source, revision)
    except GitError as exc:
        raise ValueError(f"cannot read {source} at {revision!r}: {exc}") from None
    target = tempfile.TemporaryDirectory(prefix="fal-typed-schemas-")
    for name, data in documents.items():
        (Path(target.name) / name).write_bytes(data)
    return target


def _ref_name(ref: Any) -> str | None:
    if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
        return ref[len(COMPONENT_PREFIX) :]
    return None


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        node = as_dict(node).get(key)
    return node


@dataclass
class EndpointSchema:
    """One endpoint's normalised input and output schemas, with a validator for any subschema."""

    endpoint_id: str
    components: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    input_name: str | None = None
    output_name: str | None = None
    validator: SchemaValidator = field(init=False)

    def __post_init__(self) -> None:
        self.validator = SchemaValidator(self.components)

    @classmethod
    def from_document(cls, endpoint_id: str, document: Mapping[str, Any]) -> EndpointSchema:
        raw_components = _dig(document, "components", "schemas")
        components = normalise_components(as_dict(raw_components))
        input_name, output_name = _io_names(endpoint_id, document, components)
        return cls(
            endpoint_id=endpoint_id,
            components=components,
            input_schema=_component_or_any(components, input_name),
            output_schema=_component_or_any(components, output_name),
            input_name=input_name,
            output_name=output_name,
        )

    @classmethod
    def permissive(cls, endpoint_id: str) -> EndpointSchema:
        """An endpoint without a document (a user handler, or a broken file): anything goes."""
        return cls(endpoint_id=endpoint_id, components={}, input_schema={}, output_schema={})

    def input_errors(self, body: Any) -> list[dict[str, Any]]:
        """422 ``detail`` entries for a request body (empty when it is valid)."""
        return self.validator.details(self.input_schema, body)


def _component_or_any(components: Mapping[str, Any], name: str | None) -> dict[str, Any]:
    schema = components.get(name) if name else None
    return as_dict(schema)


def _io_names(
    endpoint_id: str, document: Mapping[str, Any], components: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """The Input/Output component names, from the submit and result paths (names as fallback)."""
    paths = document.get("paths")
    input_name = output_name = None
    if isinstance(paths, dict):
        path_items: dict[str, Any] = paths  # pyright: ignore[reportUnknownVariableType]
        submit = path_items.get("/" + endpoint_id)
        input_name = _ref_name(
            _dig(submit, "post", "requestBody", "content", "application/json", "schema", "$ref")
        )
        for path, item in path_items.items():
            if path.endswith("/requests/{request_id}"):
                output_name = _ref_name(
                    _dig(
                        item,
                        "get",
                        "responses",
                        "200",
                        "content",
                        "application/json",
                        "schema",
                        "$ref",
                    )
                )
                break
    if input_name is None:
        input_name = next((n for n in components if n.endswith("Input")), None)
    if output_name is None:
        output_name = next((n for n in components if n.endswith("Output")), None)
    return input_name, output_name


def _schemas_dir(directory: object) -> Path | None:
    """The schemas directory given, or None; an empty path (which is the working directory)
    or one of another kind is refused naming it."""
    if directory is None:
        return None
    if not isinstance(directory, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"schemas_dir must be a directory path, got {type(directory).__name__}"
        )
    text = path_text(directory)  # pyright: ignore[reportUnknownArgumentType]
    if text is None:
        raise InvalidArgumentError("schemas_dir must be a str path, not bytes")
    if not text.strip():
        raise InvalidArgumentError(
            "schemas_dir must not be empty (for the working directory, give '.')"
        )
    return Path(text)


class EndpointCatalog:
    """Endpoint ids from a directory of documents and from ``documents`` (``{id: path}``, the
    installed endpoints' own documents; the directory's win); parsed on first use and cached."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None,
        documents: Mapping[str, Path] | None = None,
    ) -> None:
        self.directory: Path | None = _schemas_dir(directory)
        self.installed: dict[str, Path] = dict(documents or {})
        """The documents given beside the directory (installed endpoint packages)."""
        self._files: dict[str, Path] = dict(self.installed)
        if self.directory is not None:
            if self.directory.exists() and not self.directory.is_dir():
                raise NotADirectoryError(
                    f"schemas directory {self.directory} is a file: give the directory of "
                    "endpoint documents (schemas/) it is in"
                )
            if not self.directory.is_dir():
                raise FileNotFoundError(f"schemas directory not found: {self.directory}")
            for path in self.directory.glob("*.json"):
                if "__" in path.stem:
                    self._files[path.stem.replace("__", "/")] = path
        self._loaded: dict[str, EndpointSchema] = {}
        self._lock = threading.Lock()

    @property
    def endpoint_ids(self) -> frozenset[str]:
        return frozenset(self._files)

    def __contains__(self, endpoint_id: object) -> bool:
        return endpoint_id in self._files

    def __len__(self) -> int:
        return len(self._files)

    def get(self, endpoint_id: str) -> EndpointSchema | None:
        """The endpoint's schemas, or None if the catalog has no document for it."""
        path = self._files.get(endpoint_id)
        if path is None:
            return None
        with self._lock:
            loaded = self._loaded.get(endpoint_id)
            if loaded is None:
                loaded = self._load(endpoint_id, path)
                self._loaded[endpoint_id] = loaded
            return loaded

    @staticmethod
    def _load(endpoint_id: str, path: Path) -> EndpointSchema:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(document, dict):
                raise ValueError("the document is not a JSON object")
            doc: dict[str, Any] = document  # pyright: ignore[reportUnknownVariableType]
            return EndpointSchema.from_document(endpoint_id, doc)
        except (OSError, ValueError) as exc:
            logger.warning(
                "cannot load the schema of %s (%s); serving it without validation", endpoint_id, exc
            )
            return EndpointSchema.permissive(endpoint_id)


def resolve_endpoint(
    segments: list[str], is_known: Callable[[str], bool]
) -> tuple[str, str] | None:
    """Longest known endpoint id that prefixes ``segments``, and the sub-path after it."""
    for width in range(len(segments), 1, -1):
        candidate = "/".join(segments[:width])
        if is_known(candidate):
            return candidate, "/".join(segments[width:])
    return None
