"""The models of fal's Platform API, one class per schema of its OpenAPI document (generated:
see ``fal_typed.platform._generated.models``, whose names this module re-exports)."""

from ._generated.models import *  # noqa: F403
from ._generated.models import __all__ as __all__
