"""fal_typed: typed, validated clients for fal.ai endpoints."""

from ._client import Client, default_client, set_default_client
from ._endpoint import Endpoint
from ._errors import (
    AuthenticationError,
    FalConnectionError,
    FalError,
    FalHTTPError,
    FalTimeoutError,
    FalValidationError,
    InputValidationError,
    InvalidArgumentError,
    MissingCredentialsError,
    NotFoundError,
    OutputValidationError,
    PossiblyAcceptedError,
    ProtocolError,
    RateLimitError,
    RequestCancelledError,
    ServerError,
)
from ._handle import AsyncRequestHandle, RequestHandle
from ._installed import EndpointInfo, installed_endpoints, search
from ._limits import Limits
from ._local import use_local_server
from ._models import InputModel, OutputModel
from ._registry import UnknownEndpointError, endpoint
from ._retry import RetryPolicy
from ._status import Completed, InProgress, Log, Queued, Status
from ._stream import AsyncStream, Stream
from ._types import NOT_GIVEN, NotGiven
from ._untyped import UntypedInput, UntypedOutput, untyped
from .files import (
    AccessRule,
    DownloadError,
    FileInput,
    FileInputError,
    FileOutput,
    Lifecycle,
    UploadError,
    UploadSettings,
    configure_uploads,
    decode_data_uri,
    encode,
    encode_file,
    upload,
    upload_async,
    upload_settings,
)
from .naming import module_name
from .realtime import AsyncRealtimeConnection, RealtimeConnection, RealtimeError

__all__ = [
    "NOT_GIVEN",
    "AccessRule",
    "AsyncRealtimeConnection",
    "AsyncRequestHandle",
    "AsyncStream",
    "AuthenticationError",
    "Client",
    "Completed",
    "DownloadError",
    "Endpoint",
    "EndpointInfo",
    "FalConnectionError",
    "FalError",
    "FalHTTPError",
    "FalTimeoutError",
    "FalValidationError",
    "FileInput",
    "FileInputError",
    "FileOutput",
    "InProgress",
    "InputModel",
    "InputValidationError",
    "InvalidArgumentError",
    "Lifecycle",
    "Limits",
    "Log",
    "MissingCredentialsError",
    "NotFoundError",
    "NotGiven",
    "OutputModel",
    "OutputValidationError",
    "PossiblyAcceptedError",
    "ProtocolError",
    "Queued",
    "RateLimitError",
    "RealtimeConnection",
    "RealtimeError",
    "RequestCancelledError",
    "RequestHandle",
    "RetryPolicy",
    "ServerError",
    "Status",
    "Stream",
    "UnknownEndpointError",
    "UntypedInput",
    "UntypedOutput",
    "UploadError",
    "UploadSettings",
    "configure_uploads",
    "decode_data_uri",
    "default_client",
    "encode",
    "encode_file",
    "endpoint",
    "installed_endpoints",
    "module_name",
    "search",
    "set_default_client",
    "untyped",
    "upload",
    "upload_async",
    "upload_settings",
    "use_local_server",
]
