"""fal_typed: typed, validated clients for fal.ai endpoints.

Attributes load on first use (PEP 562): ``import fal_typed`` costs next to nothing, and each
name imports only the module defining it, so listing installed endpoints imports no client code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
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
        PossiblyAcceptedTimeoutError,
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
    "PossiblyAcceptedTimeoutError",
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

#: Public name -> the module defining it (relative to this package).
_LAZY: Final[dict[str, str]] = {
    "Client": "._client",
    "default_client": "._client",
    "set_default_client": "._client",
    "Endpoint": "._endpoint",
    "AuthenticationError": "._errors",
    "FalConnectionError": "._errors",
    "FalError": "._errors",
    "FalHTTPError": "._errors",
    "FalTimeoutError": "._errors",
    "FalValidationError": "._errors",
    "InputValidationError": "._errors",
    "InvalidArgumentError": "._errors",
    "MissingCredentialsError": "._errors",
    "NotFoundError": "._errors",
    "OutputValidationError": "._errors",
    "PossiblyAcceptedError": "._errors",
    "PossiblyAcceptedTimeoutError": "._errors",
    "ProtocolError": "._errors",
    "RateLimitError": "._errors",
    "RequestCancelledError": "._errors",
    "ServerError": "._errors",
    "AsyncRequestHandle": "._handle",
    "RequestHandle": "._handle",
    "EndpointInfo": "._installed",
    "installed_endpoints": "._installed",
    "search": "._installed",
    "Limits": "._limits",
    "use_local_server": "._local",
    "InputModel": "._models",
    "OutputModel": "._models",
    "UnknownEndpointError": "._registry",
    "endpoint": "._registry",
    "RetryPolicy": "._retry",
    "Completed": "._status",
    "InProgress": "._status",
    "Log": "._status",
    "Queued": "._status",
    "Status": "._status",
    "AsyncStream": "._stream",
    "Stream": "._stream",
    "NOT_GIVEN": "._types",
    "NotGiven": "._types",
    "UntypedInput": "._untyped",
    "UntypedOutput": "._untyped",
    "untyped": "._untyped",
    "AccessRule": ".files",
    "DownloadError": ".files",
    "FileInput": ".files",
    "FileInputError": ".files",
    "FileOutput": ".files",
    "Lifecycle": ".files",
    "UploadError": ".files",
    "UploadSettings": ".files",
    "configure_uploads": ".files",
    "decode_data_uri": ".files",
    "encode": ".files",
    "encode_file": ".files",
    "upload": ".files",
    "upload_async": ".files",
    "upload_settings": ".files",
    "module_name": ".naming",
    "AsyncRealtimeConnection": ".realtime",
    "RealtimeConnection": ".realtime",
    "RealtimeError": ".realtime",
}


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` (or the submodule ``name``) the first time it is used."""
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    if name.startswith("__"):
        raise AttributeError(name)
    try:  # ``fal_typed.files`` after a bare ``import fal_typed``, as when everything loaded eagerly
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
