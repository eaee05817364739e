"""``fal_typed.untyped(id)``: any endpoint id, any day, without a generated module.

fal adds models every week; until ``fal-typed add ID`` (or a new wheel) brings a typed module,
an endpoint can still be called through the same :class:`Endpoint` machinery: a dict in, the
queue, retries, typed errors, local files uploaded (and strings in file fields judged by the
same rule, see ``files/_strings.py``), only with open models: fal validates the fields.
``fal_typed.endpoint(id)`` stays strict (an unknown id is an error, never a silent fallback), so
a typo in typed code is still caught before anything is sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict

from ._endpoint import Endpoint
from ._models import InputModel, OutputModel
from ._urls import parse_endpoint_id

__all__ = ["UntypedInput", "UntypedOutput", "untyped"]


class UntypedInput(InputModel):
    """The input of an endpoint without a generated module: any field, judged by fal."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow")


class UntypedOutput(OutputModel):
    """The output of an endpoint without a generated module: every field fal sent, as sent.

    ``out["images"]`` (or ``out.model_dump()``) reads them; nothing is dropped or converted.
    """

    def __getitem__(self, field: str) -> Any:
        extra = self.model_extra or {}
        if field not in extra:
            raise KeyError(field)
        return extra[field]

    def __contains__(self, field: object) -> bool:
        return field in (self.model_extra or {})


def untyped(endpoint_id: str) -> Endpoint[UntypedInput, UntypedOutput]:
    """An :class:`Endpoint` for any id, with open models: ``untyped("fal-ai/new-model")
    .subscribe({"prompt": "a cat", "image_url": Path("in.png")})``.

    Every call of a generated endpoint is there (subscribe, submit, run, stream, realtime,
    status, result, cancel...), with the same retries, errors and uploads. A malformed id is an
    :class:`InvalidArgumentError` at once; an id fal does not know is a ``NotFoundError`` from fal.
    """
    parse_endpoint_id(endpoint_id)  # a malformed id fails here, before any request
    return Endpoint(endpoint_id.strip("/"), UntypedInput, UntypedOutput)
