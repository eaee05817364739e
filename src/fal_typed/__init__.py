"""fal_typed: typed, validated clients for fal.ai endpoints."""

from ._endpoint import Endpoint
from ._errors import (
    AuthenticationError,
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    FalValidationError,
    InputValidationError,
    MissingCredentialsError,
    NotFoundError,
    RateLimitError,
    RequestCancelledError,
    ServerError,
)
from ._models import InputModel, OutputModel
from ._realtime import AsyncRealtimeConnection, RealtimeConnection
from ._stream import AsyncStream, Stream
from ._types import NOT_GIVEN, NotGiven
from .naming import module_name

__all__ = [
    "NOT_GIVEN",
    "AsyncRealtimeConnection",
    "AsyncStream",
    "AuthenticationError",
    "Endpoint",
    "FalConnectionError",
    "FalError",
    "FalHTTPError",
    "FalTimeoutError",
    "FalValidationError",
    "InputModel",
    "InputValidationError",
    "MissingCredentialsError",
    "NotFoundError",
    "NotGiven",
    "OutputModel",
    "RateLimitError",
    "RealtimeConnection",
    "RequestCancelledError",
    "ServerError",
    "Stream",
    "module_name",
]
