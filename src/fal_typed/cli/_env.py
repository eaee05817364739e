"""Environment variables the host options read: apart from ``_call`` (which imports the whole
runtime), so commands declaring these options load fast."""

from __future__ import annotations

__all__ = ["HOST_ENV"]

#: Environment variables the host options read (the first one points at a local server).
HOST_ENV = {
    "base_url": "FAL_TYPED_BASE_URL",
    "queue_url": "FAL_TYPED_QUEUE_URL",
    "run_url": "FAL_TYPED_RUN_URL",
    "rest_url": "FAL_TYPED_REST_URL",
    "cdn_url": "FAL_TYPED_CDN_URL",
}
