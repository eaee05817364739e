"""Where requests go: fal's hosts, or the local server's path prefixes.

The local server (``fal-typed serve``) answers for every fal host on one port, each under a path
prefix, so one base URL stands for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_OPENAPI_URL",
    "LOCAL_OPENAPI_PATH",
    "LOCAL_PLATFORM_PREFIX",
    "Hosts",
]

#: fal's per-endpoint OpenAPI documents (``?endpoint_id=<id>``).
DEFAULT_OPENAPI_URL = "https://fal.ai/api/openapi/queue/openapi.json"
#: fal's Platform API (the model catalog, pricing, usage...).
DEFAULT_API_URL = "https://api.fal.ai"

#: The per-endpoint OpenAPI URL of fal.ai, under the local server.
LOCAL_OPENAPI_PATH = "/fal/api/openapi/queue/openapi.json"
#: The platform API (api.fal.ai), under the local server.
LOCAL_PLATFORM_PREFIX = "/api"


@dataclass(frozen=True)
class Hosts:
    """Every base URL of fal (the defaults) or of a local server (:meth:`local`)."""

    queue_url: str = "https://queue.fal.run"
    run_url: str = "https://fal.run"
    rest_url: str = "https://rest.fal.ai"
    cdn_url: str = "https://v3.fal.media"
    realtime_url: str = "wss://fal.run"
    openapi_url: str = DEFAULT_OPENAPI_URL
    api_url: str = DEFAULT_API_URL

    @classmethod
    def local(cls, base_url: str) -> Hosts:
        """The hosts of a local server at ``base_url`` (``http://127.0.0.1:8000``)."""
        base = base_url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"base URL must start with http:// or https://, got {base_url!r}")
        ws = "ws" + base[len("http") :]
        return cls(
            queue_url=f"{base}/queue",
            run_url=f"{base}/run",
            rest_url=f"{base}/rest",
            cdn_url=f"{base}/cdn",
            realtime_url=f"{ws}/run",
            openapi_url=base + LOCAL_OPENAPI_PATH,
            api_url=base + LOCAL_PLATFORM_PREFIX,
        )
