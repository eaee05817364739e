"""The public API, pinned: every name importable from each public module.

Moving modules (the layout) or refactoring must not drop a name users import. A name missing
here is a break; a new name fails too, so adding to the public API is a decision made in this
file, not a side effect. Update ``PUBLIC_API`` when a change is meant.
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

PUBLIC_API: dict[str, tuple[str, ...]] = {
    "fal_typed": (
        "AccessRule",
        "AsyncRealtimeConnection",
        "AsyncRequestHandle",
        "AsyncStream",
        "AuthenticationError",
        "Client",
        "Completed",
        "Endpoint",
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
        "NOT_GIVEN",
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
        "UploadError",
        "UploadSettings",
        "configure_uploads",
        "decode_data_uri",
        "default_client",
        "encode",
        "encode_file",
        "endpoint",
        "module_name",
        "set_default_client",
        "upload",
        "upload_async",
        "upload_settings",
    ),
    "fal_typed.files": (
        "AccessRule",
        "ExpiresIn",
        "FileInput",
        "FileInputError",
        "FileOutput",
        "Lifecycle",
        "UploadData",
        "UploadError",
        "UploadSettings",
        "configure_uploads",
        "decode_data_uri",
        "encode",
        "encode_file",
        "upload",
        "upload_async",
        "upload_settings",
    ),
    "fal_typed.realtime": (
        "AsyncRealtimeConnection",
        "RealtimeConnection",
        "RealtimeError",
    ),
    "fal_typed.catalog": (
        "Change",
        "ChangeKind",
        "Changelog",
        "DocumentInfo",
        "EndpointDiff",
        "FetchReport",
        "FetchSettings",
        "Impact",
        "Outcome",
        "diff_document_sets",
        "diff_documents",
        "diff_folders",
        "diff_since",
        "document_filename",
        "fetch_catalog",
        "fetch_endpoints",
        "iter_document_paths",
        "read_info",
        "render_json",
        "render_markdown",
        "render_text",
    ),
    "fal_typed.webhooks": (
        "DEFAULT_DEDUP_TTL",
        "DEFAULT_JWKS_URL",
        "DEFAULT_TOLERANCE",
        "Deduplicator",
        "FutureTimestampError",
        "IdempotencyStore",
        "InvalidSignatureError",
        "JWKSCache",
        "JWKSFetchError",
        "MAX_CACHE_TTL",
        "MalformedHeaderError",
        "MemoryIdempotencyStore",
        "MissingHeadersError",
        "REQUEST_ID_HEADER",
        "SIGNATURE_HEADER",
        "SignedHeaders",
        "StaleTimestampError",
        "SupportsWebhookRequest",
        "TIMESTAMP_HEADER",
        "TimestampError",
        "USER_ID_HEADER",
        "WebhookBody",
        "WebhookError",
        "WebhookHandler",
        "WebhookPayloadError",
        "WebhookResult",
        "WebhookSenders",
        "WebhookVerificationError",
        "WebhookVerifier",
        "parse",
        "parse_async",
        "receive",
        "verify",
        "verify_async",
        "webhook_endpoint",
    ),
    "fal_typed.platform": (
        "DEFAULT_CLOCK_SKEW",
        "DEFAULT_SETTLE_DELAY",
        "Adopted",
        "AsyncPlatform",
        "Attempt",
        "Estimate",
        "NotFound",
        "NotYetKnown",
        "Platform",
        "Settlement",
        "UsageLine",
        "UsageReport",
        "estimate_cost",
        "estimate_cost_async",
        "format_cost",
        "models",
        "prices",
        "prices_async",
        "reconcile",
        "reconcile_async",
        "same_json",
        "settle",
        "settle_async",
        "usage",
        "usage_async",
    ),
    "fal_typed.proxy": (
        "Authenticate",
        "BillableCall",
        "CORS",
        "CallerLimits",
        "DEFAULT_ALLOWED_URLS",
        "DEFAULT_MAX_INPUT_BYTES",
        "DEFAULT_PROXY_TIMEOUT",
        "EXPOSED_HEADERS",
        "FAL_DOMAINS",
        "FalProxy",
        "KeySource",
        "OnCall",
        "Operation",
        "ProxyCall",
        "STAND_IN_TOKEN",
        "SpendCap",
        "anyone",
    ),
    "fal_typed.testing": (
        "Behaviour",
        "CompletedRequest",
        "DEFAULT_KEY",
        "Failure",
        "Fault",
        "FaultRule",
        "Handler",
        "LocalFal",
        "LogLine",
        "RecordedRequest",
    ),
    "fal_typed.testing.pytest_plugin": (
        "local_fal",
        "local_fal_client",
        "local_fal_options",
    ),
    "fal_typed.cli": (
        "app",
        "main",
    ),
    "fal_typed.naming": (
        "check_endpoint_id",
        "module_name",
        "split_endpoint_id",
    ),
    # What generated modules (and so endpoint wheels built for this runtime) import: public, so
    # a wheel built against one runtime version keeps working with the next compatible one.
    "fal_typed.keywords": (
        "NOT_GIVEN",
        "keyword_call",
    ),
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_every_pinned_name_is_importable_and_nothing_else_is_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    pinned = set(PUBLIC_API[module_name])
    missing = sorted(pinned - exported)
    added = sorted(exported - pinned)
    assert not missing, f"{module_name} no longer exports {missing} (a break for users)"
    assert not added, f"{module_name} exports {added}: pin them in PUBLIC_API if they are meant"
    unresolved = [name for name in pinned if not hasattr(module, name)]
    assert not unresolved, f"{module_name}.__all__ names {unresolved}, which do not exist"


def test_the_command_line_entry_point_is_the_pinned_one() -> None:
    """pyproject's ``fal-typed = "fal_typed.cli:main"`` and ``python -m fal_typed.cli``."""
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts["fal-typed"] == "fal_typed.cli:main"
    assert importlib.util.find_spec("fal_typed.cli.__main__") is not None
