"""What an endpoint wheel carries beside its module, for use without a checkout.

* ``endpoint.json``: the endpoint's id, module, title, category and description, so listing and
  searching the installed endpoints (``fal_typed.search``, ``fal-typed list``) reads one small
  file per endpoint and imports nothing;
* ``openapi.json``: its OpenAPI document, compact (no layout), which the local server
  (``LocalFal()``, ``fal-typed serve``) serves.

Both go in the endpoint's package directory, ``fal_endpoints/<module>/``, whatever layout the
generated module itself has.
"""

from __future__ import annotations

from fal_typed._installed import DOCUMENT_FILE, INDEX_FILE, compact_document, index_record

from ._sources import EndpointSource

__all__ = ["endpoint_data_files"]


def endpoint_data_files(package: str, source: EndpointSource) -> dict[str, bytes]:
    """The data files of the endpoint wheel whose package directory is ``package``."""
    return {
        f"{package}/{DOCUMENT_FILE}": compact_document(source.schema_path.read_bytes()),
        f"{package}/{INDEX_FILE}": index_record(source.endpoint_id, source.category, source.about),
    }
