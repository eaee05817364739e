"""Base classes of the generated pydantic models.

Inputs are strict: an unknown field or a value outside the schema is rejected before any request
is sent. Outputs are lenient: a field or enum value fal adds later must not break parsing of a
result the user has already paid for, so unknown fields are kept (``model_extra``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["InputModel", "OutputModel"]


class InputModel(BaseModel):
    """Base of every generated input model: validates strictly, forbids unknown fields."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        protected_namespaces=(),
        defer_build=True,
        validate_default=False,
    )


class OutputModel(BaseModel):
    """Base of every generated output model: keeps unknown fields, never drops data."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="allow",
        populate_by_name=True,
        protected_namespaces=(),
        defer_build=True,
    )

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> tuple[dict[str, object], dict[str, object]]:
        """In a notebook: the result's files as a gallery, its other fields as a table."""
        from .notebook._html import output_html

        return {"text/html": output_html(self)}, {}
