"""What one endpoint wheel is built from: its OpenAPI document and its generated module.

The document gives the id, the description and links (``info.x-fal-metadata``), and the input
fields the README lists; the module (``generated/fal_endpoints/<module>/__init__.py``, beside its
``py.typed``) is packaged byte for byte. Documents are read leniently
(fal's corpus has known defects): a missing or odd optional field only thins the README.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fal_typed.naming import module_name

__all__ = ["EndpointSource", "InputField", "load_endpoint", "schema_path_for"]


@dataclass(frozen=True)
class InputField:
    """One input field as the README shows it."""

    name: str
    required: bool
    default: str | None
    description: str


@dataclass(frozen=True)
class EndpointSource:
    """Everything an endpoint wheel needs besides the version stamp."""

    endpoint_id: str
    module: str
    schema_path: Path
    module_path: Path
    schema_sha256: str
    category: str | None
    about: str | None
    links: tuple[tuple[str, str], ...]
    inputs: tuple[InputField, ...]


def schema_path_for(schemas_dir: Path, endpoint_id: str) -> Path:
    """The document for ``endpoint_id`` (file names are ids with ``/`` replaced by ``__``)."""
    return schemas_dir / (endpoint_id.strip("/").replace("/", "__") + ".json")


def _dict(value: object) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    """A non-blank string, stripped; anything else (missing, wrong type, blank) is ``None``."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


_LINKS = (
    ("Playground", "playgroundUrl"),
    ("Documentation", "documentationUrl"),
    ("Thumbnail", "thumbnailUrl"),
)


def _links(meta: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    links: list[tuple[str, str]] = []
    for label, key in _LINKS:
        url = _text(meta.get(key))
        # Some documents carry browser-only ``blob:`` URLs; only real web links are kept.
        if url and url.startswith(("https://", "http://")) and not any(c.isspace() for c in url):
            links.append((label, url))
    return tuple(links)


def _input_schema(document: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    post = _dict(_dict(_dict(document.get("paths")).get("/" + endpoint_id)).get("post"))
    body = _dict(_dict(_dict(post.get("requestBody")).get("content")).get("application/json"))
    ref = _dict(body.get("schema")).get("$ref")
    prefix = "#/components/schemas/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        return {}
    return _dict(_dict(_dict(document.get("components")).get("schemas")).get(ref[len(prefix) :]))


def _inputs(schema: dict[str, Any]) -> tuple[InputField, ...]:
    properties = _dict(schema.get("properties"))
    required_raw = schema.get("required")
    required = (
        {r for r in cast("list[object]", required_raw) if isinstance(r, str)}
        if isinstance(required_raw, list)
        else set[str]()
    )
    order_raw = schema.get("x-fal-order-properties")
    order = (
        [o for o in cast("list[object]", order_raw) if isinstance(o, str)]
        if isinstance(order_raw, list)
        else []
    )
    names = [n for n in order if n in properties] + [n for n in properties if n not in order]
    # Required first, as the generated functions take them.
    names.sort(key=lambda n: n not in required)
    fields: list[InputField] = []
    for name in names:
        prop = _dict(properties[name])
        default = json.dumps(prop["default"], ensure_ascii=False) if "default" in prop else None
        fields.append(
            InputField(name, name in required, default, _text(prop.get("description")) or "")
        )
    return tuple(fields)


def load_endpoint(schema_path: Path, generated_dir: Path) -> EndpointSource:
    """Read one document; raise ``ValueError`` when it cannot name an endpoint."""
    raw = schema_path.read_bytes()
    try:
        document = _dict(json.loads(raw))
    except ValueError as exc:
        raise ValueError(f"{schema_path}: not valid JSON ({exc})") from None
    meta = _dict(_dict(document.get("info")).get("x-fal-metadata"))
    endpoint_id = _text(meta.get("endpointId"))
    if endpoint_id is None:
        raise ValueError(f"{schema_path}: info.x-fal-metadata.endpointId is missing")
    module = module_name(endpoint_id)
    return EndpointSource(
        endpoint_id=endpoint_id,
        module=module,
        schema_path=schema_path,
        module_path=generated_dir / module / "__init__.py",
        schema_sha256=hashlib.sha256(raw).hexdigest(),
        category=_text(meta.get("category")),
        about=_text(meta.get("about")),
        links=_links(meta),
        inputs=_inputs(_input_schema(document, endpoint_id)),
    )
