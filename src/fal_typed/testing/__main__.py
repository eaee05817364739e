"""``python -m fal_typed.testing [--port 8765] [--schemas DIR] [--revision REV] [--key KEY]``: run
the local server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._server import LocalFal

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fal_typed.testing",
        description="Serve a fal-compatible API on loopback for tests and offline development.",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on (0: any free port; default 8765)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--schemas",
        metavar="DIR",
        default=None,
        help="directory of fal OpenAPI documents (default: $FAL_TYPED_SCHEMAS or the checkout's schemas/)",
    )
    parser.add_argument(
        "--revision",
        metavar="REV",
        default=None,
        help="serve the schemas directory as committed at this git revision (e.g. HEAD~1)",
    )
    parser.add_argument(
        "--key", default=None, help="accept only this API key (default: any non-empty key)"
    )
    return parser


def print_ready(server: LocalFal) -> None:
    """Tell the user where the server listens and how to point clients at it."""
    source = server.schemas_source or "no schemas directory (handlers only)"
    print(f"local fal server listening on {server.base_url}", flush=True)
    print(f"  {len(server.state.catalog)} endpoints from {source}")
    print(f"  queue    {server.queue_url}")
    print(f"  run      {server.run_url}")
    print(f"  rest     {server.rest_url}")
    print(f"  cdn      {server.cdn_url}")
    print(f"  realtime {server.realtime_url}")
    print(
        "  any non-empty key is accepted"
        if server.key is None
        else "  only the key given with --key is accepted"
    )
    print("Press Ctrl+C to stop.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server in the foreground until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        server = LocalFal(
            args.schemas, revision=args.revision, port=args.port, host=args.host, key=args.key
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        server.serve_forever(on_ready=print_ready)
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
