"""fal's Platform API (api.fal.ai/v1): prices, spend, request history, typed.

The whole API, generated from fal's OpenAPI document (``codegen/platform``): ``Platform`` and
``AsyncPlatform`` have one method per operation, and ``fal_typed.platform.models`` one class
per schema::

    from fal_typed.platform import Platform

    platform = Platform()                       # the default client: FAL_KEY, api.fal.ai
    platform.get_pricing(endpoint_id=["fal-ai/flux/dev"]).prices[0].unit_price
    for item in platform.iter_list_requests_by_endpoint(endpoint_id="fal-ai/flux/dev"):
        ...                                     # every page, fetched as you go

And the questions people ask every day, answered in one call (each with an ``_async`` twin):

- :func:`prices`: unit prices; :func:`estimate_cost`: what N calls will cost (an
  :class:`Estimate`);
- :func:`usage`: what was spent over a period, by endpoint (a :class:`UsageReport`);
- :func:`reconcile` / :func:`settle`: whether a request that may have been accepted (a
  :class:`~fal_typed.PossiblyAcceptedError`) was: :class:`Adopted` (its request id),
  :class:`NotFound` (safe to send again) or :class:`NotYetKnown`.

Every call takes ``client=`` (default: the default client); its ``api_url`` says where the
Platform API is (``LocalFal.client()`` points it at the local server).
"""

from . import models
from ._costs import Estimate, estimate_cost, estimate_cost_async, format_cost, prices, prices_async
from ._generated.client import AsyncPlatform, Platform
from ._reconcile import (
    DEFAULT_CLOCK_SKEW,
    DEFAULT_SETTLE_DELAY,
    Adopted,
    Attempt,
    NotFound,
    NotYetKnown,
    Settlement,
    reconcile,
    reconcile_async,
    same_json,
    settle,
    settle_async,
)
from ._usage import UsageLine, UsageReport, usage, usage_async

__all__ = [
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
]
