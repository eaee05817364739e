"""`Endpoint`: the runtime object behind each generated module.

A generated module (``fal_endpoints.flux_dev``) holds its typed models and thin typed functions;
every function builds the request body with :meth:`Endpoint.arguments` and hands it to the
endpoint object, which speaks the protocol through a :class:`~fal_typed.Client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ._errors import InputValidationError
from ._types import NotGiven

__all__ = ["Endpoint"]

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


class Endpoint(Generic[InputT, OutputT]):
    """One fal endpoint: its id, its input and output models, and the calls that reach it."""

    endpoint_id: str
    Input: type[InputT]
    Output: type[OutputT]

    def __init__(self, endpoint_id: str, input_model: type[InputT], output_model: type[OutputT]) -> None:
        self.endpoint_id = endpoint_id
        self.Input = input_model
        self.Output = output_model

    def __repr__(self) -> str:
        return f"Endpoint({self.endpoint_id!r})"

    def arguments(
        self,
        input: InputT | Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate the caller's input and return the JSON body to send.

        ``input`` is an ``Input`` instance or a mapping; ``fields`` are keyword arguments (those
        left as ``NOT_GIVEN`` are dropped, so the server applies its own defaults); ``extra_body``
        is merged in unvalidated, for fields the schema does not know yet. Raises
        :class:`InputValidationError` naming every bad field, before any network I/O.
        """
        given = {k: v for k, v in (fields or {}).items() if not isinstance(v, NotGiven)}
        if input is not None and given:
            raise InputValidationError(
                self.endpoint_id,
                [{"loc": (name,), "msg": "given both in the Input instance and as a keyword argument", "type": "duplicate"} for name in sorted(given)],
            )
        try:
            if isinstance(input, self.Input):
                model = input
                if not given:
                    # Re-validate: the instance may have been built with model_construct or mutated.
                    model = self.Input.model_validate(input.model_dump(exclude_unset=True, by_alias=True, round_trip=True))
            elif input is not None:
                model = self.Input.model_validate(input)
            else:
                model = self.Input.model_validate(given)
        except ValidationError as exc:
            raise InputValidationError.from_pydantic(self.endpoint_id, exc) from None
        body = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if extra_body:
            body.update(extra_body)
        return body
