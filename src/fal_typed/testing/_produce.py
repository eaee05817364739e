"""What a request to an endpoint yields: the user's handler output, a configured failure, or an
output synthesised from the endpoint's schema. Shared by the queue, ``run`` and streaming routes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._controls import Controls, Failure
from ._endpoints import EndpointCatalog, EndpointSchema
from ._filestore import FileStore
from ._json import as_dict
from ._synth import synthesize_output

__all__ = ["Outcome", "Producer"]

logger = logging.getLogger("fal_typed.testing")


@dataclass(frozen=True)
class Outcome:
    """An HTTP status, JSON body and headers, plus the status's ``error``/``error_type`` if failed."""

    status_code: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @classmethod
    def from_failure(cls, failure: Failure) -> Outcome:
        headers = dict(failure.headers)
        headers.setdefault("x-fal-error-type", failure.error_type)
        return cls(failure.status_code, failure.body, headers, failure.message, failure.error_type)


class Producer:
    """Turns ``(endpoint id, arguments)`` into an :class:`Outcome`; see the module docstring."""

    def __init__(
        self,
        catalog: EndpointCatalog,
        controls: Controls,
        files: FileStore,
        cdn_url: Callable[[], str],
    ) -> None:
        self.catalog = catalog
        self.controls = controls
        self.files = files
        self._cdn_url = cdn_url

    def is_known(self, endpoint_id: str) -> bool:
        return endpoint_id in self.catalog or self.controls.has_handler(endpoint_id)

    def schema(self, endpoint_id: str) -> EndpointSchema:
        """The endpoint's schemas (permissive for handler-only endpoints)."""
        return self.catalog.get(endpoint_id) or EndpointSchema.permissive(endpoint_id)

    def input_errors(self, endpoint_id: str, arguments: Any) -> list[dict[str, Any]]:
        """422 ``detail`` entries for ``arguments`` (empty when valid)."""
        return self.schema(endpoint_id).input_errors(arguments)

    def store_file(self, data: bytes, content_type: str, file_name: str) -> str:
        """Serve ``data`` from the CDN prefix; returns its URL."""
        stored = self.files.put(data, content_type=content_type, file_name=file_name)
        return f"{self._cdn_url()}/files/{stored.key}"

    def synthesize(self, endpoint_id: str, arguments: Any) -> Any:
        """An output valid against the endpoint's output schema (blocking: CPU and file writes)."""
        return synthesize_output(self.schema(endpoint_id), arguments, self.store_file)

    async def produce(self, endpoint_id: str, arguments: Any) -> Outcome:
        """The outcome of running ``endpoint_id`` on ``arguments`` (after validation passed)."""
        configured = self.controls.behaviour(endpoint_id).failure
        if configured is not None:
            return Outcome.from_failure(configured)
        handler = self.controls.handler(endpoint_id)
        if handler is None:
            output = await asyncio.to_thread(self.synthesize, endpoint_id, arguments)
            return Outcome(200, output)
        given = as_dict(arguments).copy()
        if not isinstance(arguments, dict):
            given = {"input": arguments}
        try:
            if inspect.iscoroutinefunction(handler):
                result = await handler(given)
            else:
                result = await asyncio.to_thread(handler, given)
                if inspect.isawaitable(result):
                    result = await result
        except Failure as failure:
            return Outcome.from_failure(failure)
        except Exception as exc:
            logger.exception("the handler for %s raised", endpoint_id)
            return Outcome.from_failure(
                Failure(500, f"{type(exc).__name__}: {exc}", error_type="internal_server_error")
            )
        if isinstance(result, Failure):
            return Outcome.from_failure(result)
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            detail = f"the handler for {endpoint_id} returned a value that is not JSON: {exc}"
            return Outcome.from_failure(Failure(500, detail, error_type="internal_server_error"))
        return Outcome(200, result)
