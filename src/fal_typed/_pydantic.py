"""pydantic's classes the calls use, each read where it is needed and no sooner.

pydantic loads with a call's models, not with the runtime, so the runtime cannot import its
names at module level; and an import statement inside a function costs every call that runs
it (importlib's Python for a package, a formatted ``AttributeError`` for a plain module). These
accessors import when called: in an ``except`` clause, which Python evaluates only once
something was raised, a call that succeeds never runs one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from pydantic_core import PydanticSerializationError

__all__ = ["base_model", "serialization_error", "validation_error"]


def base_model() -> type[BaseModel]:
    from pydantic import BaseModel

    return BaseModel


def validation_error() -> type[ValidationError]:
    from pydantic import ValidationError

    return ValidationError


def serialization_error() -> type[PydanticSerializationError]:
    from pydantic_core import PydanticSerializationError

    return PydanticSerializationError
