"""The bases of the Platform API's models: the runtime's, built on first use.

The Platform API has some 200 models and a program uses a handful, so each one builds its
validator the first time it validates (pydantic's ``defer_build``) instead of at import.
Otherwise they are :class:`fal_typed.InputModel` (strict) and :class:`fal_typed.OutputModel`
(lenient), whose subclasses they are.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict

from .._models import InputModel as StrictModel
from .._models import OutputModel as LenientModel

__all__ = ["InputModel", "OutputModel"]


class InputModel(StrictModel):
    """:class:`fal_typed.InputModel`, built on first use (pydantic merges the two configs)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(defer_build=True)


class OutputModel(LenientModel):
    """:class:`fal_typed.OutputModel`, built on first use (pydantic merges the two configs)."""

    model_config: ClassVar[ConfigDict] = ConfigDict(defer_build=True)
