"""``fal-typed serve``: the local fal-compatible server in the foreground, for offline work."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from rich.console import Console
from rich.markup import escape

__all__ = ["run_server"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(
    schemas: Path | None,
    *,
    host: str,
    port: int,
    key: str | None,
    console: Console,
    revision: str | None = None,
) -> None:
    """Serve until interrupted. ``ValueError`` for bad settings, ``OSError`` if it cannot bind."""
    from ..testing import DEFAULT_KEY, LocalFal

    if schemas is not None and not schemas.is_dir():
        raise ValueError(f"{schemas} is not a directory (see --schemas)")
    server = LocalFal(schemas, revision=revision, port=port, host=host, key=key)

    def ready(fal: LocalFal) -> None:
        source = fal.schemas_source or "no schemas directory"
        lines = [
            f"local fal server listening on {fal.base_url}",
            f"  {len(fal.state.catalog)} endpoints from {source}",
            f"  queue {fal.queue_url}, run {fal.run_url}, rest {fal.rest_url}, cdn {fal.cdn_url},"
            f" platform API {fal.api_url}",
            f"  accepts {'only the key given with --key' if key else f'any key, e.g. {DEFAULT_KEY}'}",
            f"  point Python and the command line at it: export FAL_TYPED_BASE_URL={fal.base_url}",
        ]
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if not _is_loopback(host):
            console.print(
                f"[yellow]warning: {escape(host)} is not loopback: others can call this server[/yellow]"
            )
        console.print("Press Ctrl+C to stop.", highlight=False)
        console.file.flush()

    server.serve_forever(on_ready=ready)
