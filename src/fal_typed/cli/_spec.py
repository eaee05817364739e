"""Where ``fal-typed call`` finds an endpoint's input schema.

The endpoint's document in the schemas directory comes first (it is what ``fetch`` keeps up to
date); without one, the generated module's ``Input`` model gives the schema, and its docstring
the description.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import click

from .._endpoint import Endpoint
from ..catalog._corpus import document_filename
from ..naming import module_name
from ._options import SchemaError, input_schema

__all__ = ["EndpointSpec", "generated_endpoint", "load_spec"]


@dataclass(frozen=True)
class EndpointSpec:
    """An endpoint's input schema and where it came from."""

    endpoint_id: str
    root: dict[str, Any]
    """The document ``$ref`` pointers resolve against."""
    schema: dict[str, Any] | None
    """The input object schema; None when the document's is unusable (then only --input-json)."""
    description: str
    problem: str | None = None


def generated_endpoint(endpoint_id: str) -> tuple[Endpoint[Any, Any], str] | None:
    """The generated module's endpoint object and description, if the module is installed."""
    try:
        module = importlib.import_module(f"fal_endpoints.{module_name(endpoint_id)}")
    except ImportError:
        return None
    endpoint: Endpoint[Any, Any] | None = getattr(module, "endpoint", None)
    if not isinstance(endpoint, Endpoint):
        return None
    # The module docstring: a title line, then the endpoint's description.
    paragraphs = [p for p in (inspect.getdoc(module) or "").split("\n\n") if p.strip()]
    return endpoint, paragraphs[1] if len(paragraphs) > 1 else f"Call {endpoint_id}."


def _about(document: Mapping[str, Any]) -> str:
    value: Any = document
    for key in ("info", "x-fal-metadata", "about"):
        value = cast("dict[str, Any]", value).get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def load_spec(endpoint_id: str, schemas_dir: Path) -> EndpointSpec:
    """Find the input schema of ``endpoint_id``; ``click.UsageError`` when there is none."""
    try:
        path = schemas_dir / document_filename(endpoint_id)
    except ValueError as exc:
        from ._errors import as_typed

        raise click.UsageError(as_typed(str(exc))) from None
    if path.is_file():
        try:
            document = json.loads(path.read_bytes())
        except ValueError as exc:
            raise click.UsageError(f"{path} is not valid JSON ({exc})") from None
        root = cast("dict[str, Any]", document) if isinstance(document, dict) else {}
        description = _about(root) or f"Call {endpoint_id}."
        try:
            return EndpointSpec(endpoint_id, root, input_schema(root, endpoint_id), description)
        except SchemaError as exc:
            return EndpointSpec(endpoint_id, root, None, description, problem=str(exc))
    generated = generated_endpoint(endpoint_id)
    if generated is not None:
        endpoint, description = generated
        schema = endpoint.Input.model_json_schema(by_alias=True)
        return EndpointSpec(endpoint_id, schema, schema, description)
    suggestions = _close_ids(endpoint_id, schemas_dir)
    hint = f"did you mean {' or '.join(map(repr, suggestions))}? If not, " if suggestions else ""
    raise click.UsageError(
        f"unknown endpoint {endpoint_id!r}: no {path} and no generated module "
        f"fal_endpoints.{module_name(endpoint_id)} ({hint}run 'fal-typed fetch {endpoint_id}')"
    )


def _close_ids(endpoint_id: str, schemas_dir: Path) -> list[str]:
    """Ids close to a mistyped one, among the installed endpoints and the schemas directory's:
    a typo is answered with the id meant, not only with a fetch of one that does not exist."""
    from .._installed import installed_endpoints
    from .._registry import close_ids
    from ..catalog._corpus import iter_document_paths

    stored = (path.stem.replace("__", "/") for path in iter_document_paths(schemas_dir))
    installed = (info.endpoint_id for info in installed_endpoints())
    return close_ids(endpoint_id, [*stored, *installed])
